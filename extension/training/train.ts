// A training run driven from the extension or CLI process: the engine process does the steps
// (EngineRuns), this side paces them in small chunks (so a cancel or a crash loses little),
// turns them into events and writes every event, and a safetensors checkpoint after each epoch
// and on cancel, to the run store, with the run's status (running, completed, cancelled, failed).
import type { EngineClient } from '../engine/client';
import type { EngineSessionOptions, TrainingDataSpec } from '../engine/protocol';
import type { EngineGraphSpec } from './lower';
import type { RunStore } from './runStore';
import { OPTIMIZER_STATE_FORMAT, optimizerCheckpointName, type ResumePoint } from './resume';
import { RunControl } from './runControl';
import { encodeSafetensors } from './safetensors';
import { isGpuOutOfMemory, trainingMessages } from './messages';

export type TrainingEvent =
  | {
    type: 'start'; run_dir: string; data: string; train_samples: number; validation_samples: number; batches_per_epoch: number;
    resumed_from?: { checkpoint: string; epoch: number; step: number };
    /** Runs on the GPU only: the precision and the CUDA executor's static memory plan. */
    gpu?: { precision: string; cuda_graph: boolean; autotune: boolean; channels_last: boolean; memory_plan_bytes: number };
  }
  | { type: 'step'; epoch: number; step: number; loss: number; lr: number; images_per_s: number }
  | { type: 'epoch'; epoch: number; train_loss: number; train_acc: number; val_loss: number | null; val_acc: number | null }
  | { type: 'checkpoint'; epoch: number; step: number; path: string }
  | { type: 'done'; epochs: number; steps: number; seconds: number; status: 'completed' | 'cancelled' }
  | { type: 'error'; message: string };

export interface TrainingOptions {
  spec: EngineGraphSpec;
  data: TrainingDataSpec;
  epochs: number;
  batch: number;
  /** Stop once this many optimizer steps are done in all (a resumed run counts its earlier ones); default: the whole epochs. */
  maxSteps?: number;
  validationFraction: number;
  augment: boolean;
  seed: number;
  /** Cancel and pause; checked between chunks of steps. */
  control?: RunControl;
  /** Start from a checkpoint's weights and counters instead of from the initialization. */
  resume?: ResumePoint;
  /** Where the engine trains (default cpu, fp32). */
  session?: EngineSessionOptions;
  /** The analyzer's training-peak estimate for this model and batch, shown beside a GPU out-of-memory error. */
  estimatedPeakBytes?: number;
}

/** Steps per request: small enough that a cancel or a crash loses little, large enough to keep IPC cheap. */
const STEPS_PER_REQUEST = 8;
const REQUEST_TIMEOUT_MS = 10 * 60_000;

export async function runTraining(client: EngineClient, options: TrainingOptions, store: RunStore, onEvent: (event: TrainingEvent) => void): Promise<TrainingEvent> {
  const emit = (event: TrainingEvent): void => {
    store.append(event);
    onEvent(event);
  };
  const control = options.control ?? new RunControl();
  const resume = options.resume;
  const started = Date.now();
  let steps = resume?.step ?? 0;
  let epochsDone = resume?.epochsDone ?? 0;
  let lastCheckpointStep = resume ? steps : -1;
  let run: number | undefined;
  store.setStatus('running', steps);
  // The metadata says where a resume starts: `epoch` whole epochs done, then `epoch_step` steps into the next.
  const writeCheckpoint = async (name: string, completedEpochs: number, epochStep: number): Promise<void> => {
    const state = await client.request('trainState', { run: run! }, REQUEST_TIMEOUT_MS);
    const optimizer = await client.request('trainOptimizerState', { run: run! }, REQUEST_TIMEOUT_MS);
    // The optimizer's state goes beside the model file, not into it, so the model file stays a plain
    // state_dict (load_state_dict(strict=True) takes it as it is). It is written first: a model file
    // that exists always has its optimizer file.
    store.writeCheckpoint(optimizerCheckpointName(name), encodeSafetensors(optimizer.tensors, {
      format: OPTIMIZER_STATE_FORMAT, optimizer: options.spec.optimizer?.type ?? '', steps: String(optimizer.steps),
    }));
    const metadata = { format: 'pt', epoch: String(completedEpochs), step: String(steps), epoch_step: String(epochStep) };
    const file = store.writeCheckpoint(name, encodeSafetensors(state, metadata));
    lastCheckpointStep = steps;
    emit({ type: 'checkpoint', epoch: epochsDone, step: steps, path: file });
  };
  try {
    const opened = await client.request('trainOpen', {
      spec: JSON.stringify(options.spec), seed: options.seed, data: options.data, batch: options.batch,
      validationFraction: options.validationFraction, augment: options.augment, ...(options.session ? { session: options.session } : {}),
    }, REQUEST_TIMEOUT_MS);
    run = opened.run;
    if (resume) {
      await client.request('trainLoadState', { run, source: resume.checkpoint, tensors: resume.tensors }, REQUEST_TIMEOUT_MS);
      if (resume.optimizer) {
        if (resume.optimizer.type !== (options.spec.optimizer?.type ?? '')) {
          throw new Error(`${resume.optimizer.file}: it holds ${resume.optimizer.type} state but this run uses ${options.spec.optimizer?.type ?? 'no optimizer'}; resume with the same optimizer`);
        }
        await client.request('trainLoadOptimizerState', { run, source: resume.optimizer.file, state: resume.optimizer.state }, REQUEST_TIMEOUT_MS);
      }
    }
    emit({
      type: 'start', run_dir: store.dir, data: opened.dataName, train_samples: opened.trainSamples, validation_samples: opened.validationSamples, batches_per_epoch: opened.batchesPerEpoch,
      ...(resume ? { resumed_from: { checkpoint: resume.checkpoint, epoch: resume.epochsDone, step: resume.step } } : {}),
      ...(opened.session.device === 'cuda'
        ? { gpu: { precision: opened.session.precision, cuda_graph: opened.session.cudaGraph, autotune: opened.session.autotune, channels_last: opened.session.channelsLast, memory_plan_bytes: opened.session.memoryPlanBytes } }
        : {}),
    });
    const maxSteps = options.maxSteps ?? Infinity;
    for (let epoch = epochsDone; epoch < options.epochs && steps < maxSteps && !control.cancelled; epoch++) {
      // A checkpoint written on cancel sits mid-epoch: its epoch's data is passed over up to there.
      let skip = resume && epoch === resume.epochsDone ? resume.epochStep : 0;
      let epochStep = skip;
      let lossSum = 0;
      let lossCount = 0;
      // Train accuracy comes from the steps themselves (the model as each batch met it), so no
      // extra pass over the training data is needed.
      let correctSum = 0;
      let correctSamples = 0;
      let epochDone = false;
      while (!epochDone) {
        await control.waitUntilNotPaused();
        if (control.cancelled) break;
        const wanted = Math.min(STEPS_PER_REQUEST, maxSteps - steps);
        if (wanted <= 0) break;
        const chunk = await client.request('trainSteps', { run, epoch, steps: wanted, ...(skip > 0 ? { skip } : {}) }, REQUEST_TIMEOUT_MS);
        skip = 0;
        chunk.losses.forEach((loss, i) => {
          steps++;
          epochStep++;
          lossSum += loss;
          lossCount++;
          const correct = chunk.corrects[i] ?? -1;
          if (correct >= 0) {
            correctSum += correct;
            correctSamples += chunk.batchSizes[i] ?? 0;
          }
          const ms = chunk.stepMs[i] ?? 0;
          emit({ type: 'step', epoch: epoch + 1, step: steps, loss, lr: chunk.learningRates[i] ?? 0, images_per_s: ms > 0 ? ((chunk.batchSizes[i] ?? 0) * 1000) / ms : 0 });
        });
        epochDone = chunk.epochDone;
      }
      if (control.cancelled && !epochDone) {
        if (steps !== lastCheckpointStep) await writeCheckpoint(`step-${steps}.safetensors`, epoch, epochStep);
        break;
      }
      const measured = correctSamples > 0 && lossCount > 0;
      const evaluation = await client.request('trainEvaluate', { run, train: !measured }, REQUEST_TIMEOUT_MS);
      emit({
        type: 'epoch', epoch: epoch + 1,
        train_loss: measured ? lossSum / lossCount : evaluation.trainLoss ?? NaN,
        train_acc: measured ? correctSum / correctSamples : evaluation.trainAccuracy ?? NaN,
        val_loss: evaluation.validationLoss, val_acc: evaluation.validationAccuracy,
      });
      epochsDone++;
      // --max-steps can end the run inside an epoch: that checkpoint is named by its step (a resumed
      // run cut again inside the same epoch must not overwrite it) and resumes inside the epoch.
      if (epochDone) await writeCheckpoint(`epoch-${epoch + 1}.safetensors`, epoch + 1, 0);
      else await writeCheckpoint(`step-${steps}.safetensors`, epoch, epochStep);
    }
    const status = control.cancelled ? 'cancelled' : 'completed';
    const done: TrainingEvent = { type: 'done', epochs: epochsDone, steps, seconds: (Date.now() - started) / 1000, status };
    emit(done);
    store.setStatus(status, steps);
    return done;
  } catch (error) {
    const engineMessage = error instanceof Error ? error.message : String(error);
    const message = isGpuOutOfMemory(engineMessage) ? trainingMessages.gpuOutOfMemory(engineMessage, options.estimatedPeakBytes) : engineMessage;
    const failed: TrainingEvent = { type: 'error', message };
    emit(failed);
    store.setStatus('failed', steps, message);
    return failed;
  } finally {
    if (run !== undefined) await client.request('trainClose', { run }).catch(() => undefined);
  }
}
