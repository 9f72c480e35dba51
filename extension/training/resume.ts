// Where a resumed run starts: the weights of a checkpoint and the counters in its metadata.
// Checkpoints written by train.ts carry `epoch` (epochs completed), `step` (optimizer steps in all)
// and `epoch_step` (steps already done in the next epoch, non-zero for a checkpoint written on
// cancel). A state_dict from elsewhere (PyTorch) has none of them and starts at step 0.
//
// Only weights and buffers are restored: the engine add-on does not expose its optimizer state
// (momentum buffers, Adam moments, step count), so a resumed run's optimizer starts fresh.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { RunStore } from './runStore';
import { decodeSafetensors, safetensorsMetadata, type CheckpointTensor } from './safetensors';

export interface ResumePoint {
  checkpoint: string;
  /** The run folder the checkpoint belongs to; the resumed run appends to it. */
  runDir: string | undefined;
  tensors: CheckpointTensor[];
  epochsDone: number;
  step: number;
  /** Steps already taken in epoch `epochsDone` (0-based), to be skipped over in its data. */
  epochStep: number;
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
  return { checkpoint: file, runDir, tensors, ...counters(file, safetensorsMetadata(bytes, file)) };
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
