// What the dashboard's run list says about a run folder, from its config.json and status.json
// (written by `netlens train` or by "Netlens: Train Model…" alike). No `vscode` here.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { RunStatusRecord } from '../training/runStore';
import type { DashboardRun, DashboardRunStatus } from '../../webviews/training/protocol';

/** The memory check "Netlens: Train Model…" made before starting, kept in config.json. */
export interface RecordedMemoryCheck {
  training_peak_bytes: number;
  capacity_bytes: number;
  device: string;
}

interface RunConfig {
  file?: unknown;
  model?: unknown;
  epochs?: unknown;
  batch?: unknown;
  optimizer?: { type?: unknown; lr?: unknown; momentum?: unknown };
  data?: { kind?: unknown; paths?: unknown; options?: { variant?: unknown } };
  device?: unknown;
  max_steps?: unknown;
  memory_check?: Partial<RecordedMemoryCheck>;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function dataLabel(data: RunConfig['data']): string {
  if (!data) return '';
  if (data.kind === 'default') return typeof data.options?.variant === 'string' ? data.options.variant : 'built-in data';
  const paths = Array.isArray(data.paths) ? data.paths.filter((p): p is string => typeof p === 'string') : [];
  return paths.length > 0 ? paths.map((p) => path.basename(p)).join(', ') : String(data.kind ?? '');
}

function optimizerLabel(optimizer: RunConfig['optimizer']): string {
  if (!optimizer || typeof optimizer.type !== 'string') return '';
  const name = optimizer.type === 'sgd' && typeof optimizer.momentum === 'number' && optimizer.momentum > 0 ? 'momentum' : optimizer.type;
  return typeof optimizer.lr === 'number' ? `${name} lr ${optimizer.lr}` : name;
}

const statuses: readonly DashboardRunStatus[] = ['running', 'completed', 'cancelled', 'failed'];

export function readDashboardRun(runsDir: string, id: string): DashboardRun {
  const dir = path.join(runsDir, id);
  const config = (readJson(path.join(dir, 'config.json')) ?? {}) as RunConfig;
  const status = readJson(path.join(dir, 'status.json')) as Partial<RunStatusRecord> | undefined;
  const epochs = typeof config.epochs === 'number' ? `${config.epochs} epoch${config.epochs === 1 ? '' : 's'}` : '';
  const settings = [
    typeof config.batch === 'number' ? `batch ${config.batch}` : '',
    optimizerLabel(config.optimizer),
    epochs,
    typeof config.max_steps === 'number' ? `max ${config.max_steps} steps` : '',
    dataLabel(config.data),
    typeof config.device === 'string' ? config.device : '',
  ].filter(Boolean).join(' · ');
  const check = config.memory_check;
  const run: DashboardRun = {
    id,
    model: typeof config.model === 'string' ? config.model : '',
    file: typeof config.file === 'string' ? path.basename(config.file) : '',
    status: statuses.find((s) => s === status?.status) ?? 'unknown',
    settings,
  };
  if (typeof status?.message === 'string') run.message = status.message;
  if (typeof check?.training_peak_bytes === 'number') run.predictedPeakBytes = check.training_peak_bytes;
  if (typeof check?.capacity_bytes === 'number') run.capacityBytes = check.capacity_bytes;
  if (typeof check?.device === 'string') run.device = check.device;
  return run;
}
