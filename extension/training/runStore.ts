// The run store: `.netlens/runs/<id>/` with config.json (what was run, with what) and
// checkpoints/ (safetensors after each epoch), metrics.jsonl (every training event, one JSON object a line, appended as it happens so a
// crash keeps the metrics written so far).
import * as fs from 'node:fs';
import * as path from 'node:path';

export class RunStore {
  private constructor(
    readonly id: string,
    readonly dir: string,
  ) {}

  /** Creates a fresh run folder under `<root>/.netlens/runs/`; the id sorts by start time. */
  static create(root: string, config: unknown, now: Date = new Date()): RunStore {
    const runs = path.join(root, '.netlens', 'runs');
    fs.mkdirSync(runs, { recursive: true });
    const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
    let id = stamp;
    for (let n = 2; fs.existsSync(path.join(runs, id)); n++) id = `${stamp}-${n}`;
    const dir = path.join(runs, id);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '');
    return new RunStore(id, dir);
  }

  /** Writes `checkpoints/<name>` and returns its path. */
  writeCheckpoint(name: string, bytes: Buffer): string {
    const folder = path.join(this.dir, 'checkpoints');
    fs.mkdirSync(folder, { recursive: true });
    const file = path.join(folder, name);
    // Written beside and renamed, so a crash never leaves a half-written checkpoint under the final name.
    fs.writeFileSync(`${file}.partial`, bytes);
    fs.renameSync(`${file}.partial`, file);
    return file;
  }

  append(event: object): void {
    fs.appendFileSync(path.join(this.dir, 'metrics.jsonl'), JSON.stringify(event) + '\n');
  }
}
