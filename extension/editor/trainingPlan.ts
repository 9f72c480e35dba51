// The choices of "Netlens: Train Model…" as plain data (what to train on, how long, with what),
// their one-line summary, and the memory check before a run starts. No `vscode` here: the
// command (trainingCommand.ts) asks the user, this decides.
import type { MemoryReport } from '../analysis/reportTypes';
import type { OptimizerName } from '../cli/args';
import { formatBytes } from '../cli/table';
import { trainingCommandMessages } from './trainingMessages';

export type TrainingDataChoice =
  | { kind: 'default' }
  /** An image folder (one sub-folder per class), or files: an IDX pair, CIFAR .bin files, a .npy/.npz file. */
  | { kind: 'paths'; paths: string[] };

export type TrainingDevice = 'cpu' | 'cuda';

export interface TrainingPlan {
  data: TrainingDataChoice;
  epochs: number;
  batch: number;
  optimizer: OptimizerName;
  lr: number;
  device: TrainingDevice;
}

/** The learning rate each optimizer starts from unless the user gives one (as `netlens train`). */
export const defaultLearningRates: Record<OptimizerName, number> = { sgd: 0.01, momentum: 0.01, adam: 0.001, adamw: 0.001, rmsprop: 0.01 };

export function defaultPlan(): TrainingPlan {
  return { data: { kind: 'default' }, epochs: 1, batch: 32, optimizer: 'momentum', lr: defaultLearningRates.momentum, device: 'cpu' };
}

/** A remembered plan as read back from workspaceState: anything malformed falls back to the default. */
export function restorePlan(saved: unknown): TrainingPlan {
  const plan = defaultPlan();
  if (typeof saved !== 'object' || saved === null) return plan;
  const s = saved as Partial<Record<keyof TrainingPlan, unknown>>;
  const positiveInteger = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  if (positiveInteger(s.epochs)) plan.epochs = s.epochs;
  if (positiveInteger(s.batch)) plan.batch = s.batch;
  const optimizers: readonly OptimizerName[] = ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop'];
  const optimizer = optimizers.find((o) => o === s.optimizer);
  if (optimizer) plan.optimizer = optimizer;
  plan.lr = typeof s.lr === 'number' && Number.isFinite(s.lr) && s.lr > 0 ? s.lr : defaultLearningRates[plan.optimizer];
  if (s.device === 'cpu' || s.device === 'cuda') plan.device = s.device;
  const data = s.data as { kind?: unknown; paths?: unknown } | undefined;
  if (data?.kind === 'paths' && Array.isArray(data.paths) && data.paths.length > 0 && data.paths.every((p) => typeof p === 'string')) {
    plan.data = { kind: 'paths', paths: data.paths as string[] };
  }
  return plan;
}

export function dataSummary(data: TrainingDataChoice, baseName: (file: string) => string): string {
  return data.kind === 'default' ? 'built-in shapes data' : data.paths.map(baseName).join(', ');
}

export function planSummary(plan: TrainingPlan, baseName: (file: string) => string): string {
  return `${dataSummary(plan.data, baseName)} · ${plan.epochs} epoch${plan.epochs === 1 ? '' : 's'} · batch ${plan.batch} · ${plan.optimizer} lr ${plan.lr} · ${plan.device}`;
}

export type MemoryVerdict =
  | { fits: true; peakBytes: number; capacityBytes: number }
  | { fits: false; peakBytes: number; capacityBytes: number; largestBatch: number; message: string };

/**
 * Whether the analyzer's training peak (float32, the plan's batch and optimizer) fits the
 * device, and if not the largest batch that does (from the report's max_batch table, which the
 * caller asks for with maxBatchTable at the same capacity).
 */
export function checkMemory(model: string, memory: MemoryReport, plan: TrainingPlan, capacityBytes: number, deviceLabel: string): MemoryVerdict {
  const peakBytes = memory.training_peak_bytes;
  if (peakBytes <= capacityBytes) return { fits: true, peakBytes, capacityBytes };
  const entry = memory.max_batch?.entries.find((e) => e.optimizer === plan.optimizer && e.dtype === 'float32');
  // The analyzer takes the capacity in decimal GB, so the round trip may be off in the last bits.
  const sameCapacity = memory.max_batch !== undefined && Math.abs(memory.max_batch.capacity_bytes - capacityBytes) <= capacityBytes * 1e-9;
  const largestBatch = entry && sameCapacity ? Math.min(entry.batch, plan.batch - 1) : 0;
  return {
    fits: false, peakBytes, capacityBytes, largestBatch,
    message: trainingCommandMessages.doesNotFit(model, plan.batch, plan.optimizer, formatBytes(peakBytes), deviceLabel, formatBytes(capacityBytes), largestBatch),
  };
}
