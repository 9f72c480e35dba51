// Where a resumed run starts: the weights of a checkpoint and the counters in its metadata.
// Checkpoints written by train.ts carry `epoch` (epochs completed), `step` (optimizer steps in all)
// and `epoch_step` (steps already done in the next epoch, non-zero for a checkpoint written on
// cancel). A state_dict from elsewhere (PyTorch) has none of them and starts at step 0.
//
// The optimizer's state (momentum buffers, Adam moments, per-parameter and schedule step counts)
// lives beside each checkpoint in `<name>.optimizer.safetensors`, so the model file stays a plain
// state_dict. A checkpoint without one (from PyTorch, or an older run) resumes with a fresh optimizer.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { RunStore } from './runStore';
import type { OptimizerState } from '../engine/protocol';
import { decodeSafetensors, safetensorsMetadata, type CheckpointTensor } from './safetensors';

/** `format` metadata of the optimizer-state files. */
export const OPTIMIZER_STATE_FORMAT = 'netlens-optimizer';

/** `epoch-3.safetensors` → `epoch-3.optimizer.safetensors`. */
export function optimizerCheckpointName(checkpoint: string): string {
  return checkpoint.replace(/\.safetensors$/, '') + '.optimizer.safetensors';
}

export interface ResumePoint {
  checkpoint: string;
  /** The run folder the checkpoint belongs to; the resumed run appends to it. */
  runDir: string | undefined;
  tensors: CheckpointTensor[];
  epochsDone: number;
  step: number;
  /** Steps already taken in epoch `epochsDone` (0-based), to be skipped over in its data. */
  epochStep: number;
  /** The optimizer's state saved with the checkpoint, when there is one. */
  optimizer?: { file: string; type: string; state: OptimizerState };
}

/** Reads `RUN_DIR` (its latest checkpoint) or a checkpoint file; throws naming the file and what is wrong. */
export function readResumePoint(target: string): ResumePoint {
  const absolute = path.resolve(target);
  if (!fs.existsSync(absolute)) throw new Error(`--resume ${target}: no such run folder or checkpoint`);
  if (fs.statSync(absolute).isDirectory()) {
    const store = RunStore.open(absolute);
    const candidates = store.checkpoints().map((file) => ({ file, step: counters(file, safetensorsMetadata(fs.readFileSync(file), file)).step }));
    if (candidates.length === 0) throw new Error(`--resume ${target}: the run has no checkpoint to resume from`);
    candidates.sort((a, b) => b.step - a.step || fs.statSync(b.file).mtimeMs - fs.statSync(a.file).mtimeMs);
    return readCheckpoint(candidates[0]!.file, absolute);
  }
  return readCheckpoint(absolute, RunStore.runDirOfCheckpoint(absolute));
}

function readCheckpoint(file: string, runDir: string | undefined): ResumePoint {
  const bytes = fs.readFileSync(file);
  const tensors = decodeSafetensors(bytes, file);
  const optimizer = readOptimizerState(optimizerCheckpointName(file));
  return { checkpoint: file, runDir, tensors, ...counters(file, safetensorsMetadata(bytes, file)), ...(optimizer ? { optimizer } : {}) };
}

function readOptimizerState(file: string): ResumePoint['optimizer'] {
  if (!fs.existsSync(file)) return undefined;
  const bytes = fs.readFileSync(file);
  const metadata = safetensorsMetadata(bytes, file);
  if (metadata['format'] !== OPTIMIZER_STATE_FORMAT) throw new Error(`${file}: not a Netlens optimizer-state file (format '${metadata['format'] ?? ''}')`);
  const steps = metadata['steps'] ?? '';
  if (!/^[0-9]+$/.test(steps)) throw new Error(`${file}: metadata 'steps' is '${steps}', not a whole number`);
  return { file, type: metadata['optimizer'] ?? '', state: { steps: Number(steps), tensors: decodeSafetensors(bytes, file) } };
}

function counters(file: string, metadata: Record<string, string>): { epochsDone: number; step: number; epochStep: number } {
  const count = (key: string): number => {
    const text = metadata[key];
    if (text === undefined) return 0;
    if (!/^[0-9]+$/.test(text)) throw new Error(`${file}: metadata '${key}' is '${text}', not a whole number`);
    return Number(text);
  };
  return { epochsDone: count('epoch'), step: count('step'), epochStep: count('epoch_step') };
}
