// Which trained weights the inspector can show for a model: the runs of the workspace run store
// (.netlens/runs/<id>/) whose config names the same file (and entry), each with its newest
// finished checkpoint. Plain files only, no vscode, so tests read a real run folder.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { TrainingDataSpec } from '../engine/protocol';

export interface InspectableRun {
  id: string;
  dir: string;
  /** The newest finished checkpoint of the run. */
  checkpoint: string;
  /** When that checkpoint was written. */
  written: Date;
  status: string;
  entry: string;
  seed: number;
  data: TrainingDataSpec | undefined;
}

interface RunConfigFile {
  file?: unknown;
  entry?: unknown;
  seed?: unknown;
  data?: unknown;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function newestCheckpoint(runDir: string): { file: string; written: Date } | undefined {
  const folder = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(folder)) return undefined;
  let newest: { file: string; written: Date } | undefined;
  for (const name of fs.readdirSync(folder)) {
    // `.partial` files are checkpoints still being written.
    if (!name.endsWith('.safetensors')) continue;
    const file = path.join(folder, name);
    const written = fs.statSync(file).mtime;
    if (!newest || written > newest.written || (written.getTime() === newest.written.getTime() && name > path.basename(newest.file))) {
      newest = { file, written };
    }
  }
  return newest;
}

/**
 * Runs under `<root>/.netlens/runs` of the model in `file` (and `entry`, when given) that have a
 * checkpoint, newest first. Unreadable or foreign folders are passed over.
 */
export function inspectableRuns(root: string, file: string, entry?: string): InspectableRun[] {
  const runsDir = path.join(root, '.netlens', 'runs');
  if (!fs.existsSync(runsDir)) return [];
  const wanted = path.resolve(file);
  const runs: InspectableRun[] = [];
  for (const id of fs.readdirSync(runsDir)) {
    const dir = path.join(runsDir, id);
    const config = readJson(path.join(dir, 'config.json')) as RunConfigFile | undefined;
    if (typeof config !== 'object' || config === null || typeof config.file !== 'string') continue;
    if (path.resolve(root, config.file) !== wanted) continue;
    const runEntry = typeof config.entry === 'string' ? config.entry : '';
    if (entry !== undefined && runEntry !== entry) continue;
    const checkpoint = newestCheckpoint(dir);
    if (!checkpoint) continue;
    const status = readJson(path.join(dir, 'status.json')) as { status?: unknown } | undefined;
    runs.push({
      id,
      dir,
      checkpoint: checkpoint.file,
      written: checkpoint.written,
      status: typeof status?.status === 'string' ? status.status : 'unknown',
      entry: runEntry,
      seed: typeof config.seed === 'number' ? config.seed : 0,
      data: typeof config.data === 'object' && config.data !== null ? (config.data as TrainingDataSpec) : undefined,
    });
  }
  return runs.sort((a, b) => b.written.getTime() - a.written.getTime() || b.id.localeCompare(a.id));
}

/**
 * The data to draw samples from when inspecting a run: its own data set, but the held-out split
 * of the built-in one (undefined lets the engine pick the built-in test split for the input shape).
 */
export function inspectionData(run: InspectableRun | undefined): TrainingDataSpec | undefined {
  if (!run?.data || run.data.kind === 'default') return undefined;
  return run.data;
}

/** "run 20261127-101500 · epoch-3.safetensors (completed)" */
export function runWeightsLabel(run: InspectableRun): string {
  return `run ${run.id} · ${path.basename(run.checkpoint)} (${run.status})`;
}

export function initialWeightsLabel(seed: number): string {
  return `initial weights (seed ${seed}, untrained)`;
}
