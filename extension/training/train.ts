// A training run driven from the extension or CLI process: the engine process does the steps
// (EngineRuns), this side paces them in small chunks (so a cancel or a crash loses little),
// turns them into events and writes every event, and a safetensors checkpoint after each epoch,
// to the run store.
import type { EngineClient } from '../engine/client';
import type { TrainingDataSpec } from '../engine/protocol';
import type { EngineGraphSpec } from './lower';
import type { RunStore } from './runStore';
import { encodeSafetensors } from './safetensors';

export type TrainingEvent =
  | { type: 'start'; run_dir: string; data: string; train_samples: number; validation_samples: number; batches_per_epoch: number }
  | { type: 'step'; epoch: number; step: number; loss: number; lr: number; images_per_s: number }
  | { type: 'epoch'; epoch: number; train_loss: number; train_acc: number; val_loss: number | null; val_acc: number | null }
  | { type: 'checkpoint'; epoch: number; step: number; path: string }
  | { type: 'done'; epochs: number; steps: number; seconds: number }
  | { type: 'error'; message: string };

export interface TrainingOptions {
  spec: EngineGraphSpec;
  data: TrainingDataSpec;
  epochs: number;
  batch: number;
  /** Stop after this many optimizer steps in all (a short run); default: the whole epochs. */
  maxSteps?: number;
  validationFraction: number;
  augment: boolean;
  seed: number;
}

/** Steps per request: small enough that a cancel or a crash loses little, large enough to keep IPC cheap. */
const STEPS_PER_REQUEST = 8;
const REQUEST_TIMEOUT_MS = 10 * 60_000;

export async function runTraining(client: EngineClient, options: TrainingOptions, store: RunStore, onEvent: (event: TrainingEvent) => void): Promise<TrainingEvent> {
  const emit = (event: TrainingEvent): void => {
    store.append(event);
    onEvent(event);
  };
  const started = Date.now();
  let steps = 0;
  let epochsDone = 0;
  let run: number | undefined;
  try {
    const opened = await client.request('trainOpen', {
      spec: JSON.stringify(options.spec), seed: options.seed, data: options.data, batch: options.batch,
      validationFraction: options.validationFraction, augment: options.augment,
    }, REQUEST_TIMEOUT_MS);
    run = opened.run;
    emit({ type: 'start', run_dir: store.dir, data: opened.dataName, train_samples: opened.trainSamples, validation_samples: opened.validationSamples, batches_per_epoch: opened.batchesPerEpoch });
    const maxSteps = options.maxSteps ?? Infinity;
    for (let epoch = 0; epoch < options.epochs && steps < maxSteps; epoch++) {
      let lossSum = 0;
      let lossCount = 0;
      for (;;) {
        const wanted = Math.min(STEPS_PER_REQUEST, maxSteps - steps);
        if (wanted <= 0) break;
        const chunk = await client.request('trainSteps', { run, epoch, steps: wanted }, REQUEST_TIMEOUT_MS);
        chunk.losses.forEach((loss, i) => {
          steps++;
          lossSum += loss;
          lossCount++;
          const ms = chunk.stepMs[i] ?? 0;
          emit({ type: 'step', epoch: epoch + 1, step: steps, loss, lr: chunk.learningRates[i] ?? 0, images_per_s: ms > 0 ? ((chunk.batchSizes[i] ?? 0) * 1000) / ms : 0 });
        });
        if (chunk.epochDone) break;
      }
      const evaluation = await client.request('trainEvaluate', { run }, REQUEST_TIMEOUT_MS);
      emit({
        type: 'epoch', epoch: epoch + 1,
        train_loss: lossCount ? lossSum / lossCount : evaluation.trainLoss, train_acc: evaluation.trainAccuracy,
        val_loss: evaluation.validationLoss, val_acc: evaluation.validationAccuracy,
      });
      epochsDone++;
      const state = await client.request('trainState', { run }, REQUEST_TIMEOUT_MS);
      const checkpoint = store.writeCheckpoint(`epoch-${epoch + 1}.safetensors`, encodeSafetensors(state, { format: 'pt', epoch: String(epoch + 1), step: String(steps) }));
      emit({ type: 'checkpoint', epoch: epoch + 1, step: steps, path: checkpoint });
    }
    const done: TrainingEvent = { type: 'done', epochs: epochsDone, steps, seconds: (Date.now() - started) / 1000 };
    emit(done);
    return done;
  } catch (error) {
    const failed: TrainingEvent = { type: 'error', message: error instanceof Error ? error.message : String(error) };
    emit(failed);
    return failed;
  } finally {
    if (run !== undefined) await client.request('trainClose', { run }).catch(() => undefined);
  }
}
