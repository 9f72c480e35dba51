// The run store: `.netlens/runs/<id>/` with config.json (what was run, with what),
// status.json (running, completed, cancelled or failed, rewritten as it changes),
// checkpoints/ (safetensors after each epoch and on cancel), metrics.jsonl (every training event, one JSON object a line, appended as it happens so a
// crash keeps the metrics written so far).
import * as fs from 'node:fs';
import * as path from 'node:path';

export type RunStatus = 'running' | 'completed' | 'cancelled' | 'failed';

export interface RunStatusRecord {
  status: RunStatus;
  /** Optimizer steps done so far. */
  steps: number;
  /** Why the run failed, for a failed run. */
  message?: string;
  updated: string;
}

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

  /** An existing run folder (to resume it: metrics.jsonl goes on where it stopped). */
  static open(dir: string): RunStore {
    const absolute = path.resolve(dir);
    if (!fs.existsSync(path.join(absolute, 'metrics.jsonl'))) throw new Error(`${absolute} is not a Netlens run folder (it has no metrics.jsonl)`);
    return new RunStore(path.basename(absolute), absolute);
  }

  /** The run folder that holds a checkpoint written by a run store, if it is one. */
  static runDirOfCheckpoint(checkpoint: string): string | undefined {
    const folder = path.dirname(path.resolve(checkpoint));
    if (path.basename(folder) !== 'checkpoints') return undefined;
    const runDir = path.dirname(folder);
    return fs.existsSync(path.join(runDir, 'metrics.jsonl')) ? runDir : undefined;
  }

  /** Finished model checkpoint files of this run (never a `.partial` one, nor the optimizer files beside them). */
  checkpoints(): string[] {
    const folder = path.join(this.dir, 'checkpoints');
    if (!fs.existsSync(folder)) return [];
    return fs.readdirSync(folder)
      .filter((name) => name.endsWith('.safetensors') && !name.endsWith('.optimizer.safetensors'))
      .map((name) => path.join(folder, name));
  }

  setStatus(status: RunStatus, steps: number, message?: string): void {
    const record: RunStatusRecord = { status, steps, ...(message === undefined ? {} : { message }), updated: new Date().toISOString() };
    const file = path.join(this.dir, 'status.json');
    fs.writeFileSync(`${file}.partial`, JSON.stringify(record, null, 2) + '\n');
    fs.renameSync(`${file}.partial`, file);
  }

  /** The recorded status; a run folder without one predates status.json or never started. */
  status(): RunStatusRecord | undefined {
    const file = path.join(this.dir, 'status.json');
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as RunStatusRecord) : undefined;
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
