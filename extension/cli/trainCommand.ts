// `netlens bench` and `netlens train`: analyze and lower the model here (refusing what the engine
// cannot run before anything starts), then run it in the engine process through EngineClient,
// exactly as the extension does.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { findAddon } from '../engine/addon';
import { bundledHostModule, EngineClient } from '../engine/client';
import type { EngineHello, EngineSessionOptions, TrainingDataSpec } from '../engine/protocol';
import { runBench } from '../training/bench';
import { defaultDataFor } from '../training/engineRuns';
import { LoweringError, type EngineOptimizerSpec } from '../training/lower';
import { trainingMessages } from '../training/messages';
import { prepareModel, type ModelSpecRequest, type PreparedModel } from '../training/modelSpec';
import { readResumePoint } from '../training/resume';
import { RunControl } from '../training/runControl';
import { RunStore } from '../training/runStore';
import { runTraining, type TrainingEvent } from '../training/train';
import type { InputSpec } from '../analysis/reportTypes';
import type { CommandIo } from './analyzeCommand';
import { UsageError, type OptimizerName } from './args';
import { findPythonEnvironment } from './pythonEnvironment';
import type { BenchCliOptions, DeviceName, PrecisionName, TrainCliOptions } from './trainArgs';

/** 130 for a cancelled run, as shells report a command ended by SIGINT. */
const exit = { ok: 0, failure: 1, cancelled: 130 } as const;

/** Where the engine host and the add-on are: beside the bundle (dist/), or in the source tree under tsx. */
function engineLocation(io: CommandIo): { hostModule: string; execArgv: string[]; addonPath: string } {
  const bundled = path.basename(__dirname) === 'dist';
  const root = bundled ? path.dirname(__dirname) : path.resolve(__dirname, '..', '..');
  const addon = findAddon(root, io.env);
  if (!addon.path) throw new Error(`the native engine add-on was not found (tried ${addon.tried.join(', ')}); build it with 'npm run build:native'.`);
  return bundled
    ? { hostModule: bundledHostModule(root), execArgv: [], addonPath: addon.path }
    : { hostModule: path.join(root, 'extension', 'engine', 'host.ts'), execArgv: ['--import', 'tsx'], addonPath: addon.path };
}

/** What the analyzer is asked for a model named on a command line (train, bench, infer, export). */
export function commandLineAnalysis(io: CommandIo, options: { entry?: string; inputs: InputSpec[]; pythonPath: string[] }, batch: number | undefined): ModelSpecRequest['analyze'] {
  return {
    entry: options.entry,
    inputs: options.inputs.length > 0 ? options.inputs : undefined,
    batch,
    pythonPath: options.pythonPath.map((root) => path.resolve(io.cwd, root)),
    sitePackages: findPythonEnvironment(io.env)?.sitePackages,
  };
}

/**
 * Analyzes FILE at batch 1 and lowers it for evaluation (inference, ONNX export): lowered as for
 * training, so the loss and the optimizer the spec carries stay unused in eval mode.
 */
export async function prepareEvalModel(io: CommandIo, client: EngineClient, options: { file: string; entry?: string; inputs: InputSpec[]; pythonPath: string[] }): Promise<PreparedModel> {
  return prepareModel({
    file: options.file,
    analyze: commandLineAnalysis(io, options, 1),
    engineOps: await client.request('engineOps', {}),
    optimizer: { type: 'sgd', lr: 0 },
  });
}

export async function withEngine<T>(io: CommandIo, body: (client: EngineClient) => Promise<T>): Promise<T> {
  const location = engineLocation(io);
  const client = new EngineClient({ ...location, requestTimeoutMs: 10 * 60_000 });
  try {
    await client.start();
    return await body(client);
  } finally {
    await client.dispose();
  }
}

export function optimizerSpec(name: OptimizerName, lr: number | undefined): EngineOptimizerSpec {
  switch (name) {
    case 'sgd': return { type: 'sgd', lr: lr ?? 0.01 };
    case 'momentum': return { type: 'sgd', lr: lr ?? 0.01, momentum: 0.9 };
    case 'adam': return { type: 'adam', lr: lr ?? 0.001 };
    case 'adamw': return { type: 'adamw', lr: lr ?? 0.001 };
    case 'rmsprop': return { type: 'rmsprop', lr: lr ?? 0.01 };
  }
}

export function readableFile(io: CommandIo, file: string): string {
  const absolute = path.resolve(io.cwd, file);
  if (!fs.existsSync(absolute)) throw new UsageError(`cannot read FILE '${file}': no such file.`);
  return absolute;
}

/** Lowering problems and engine refusals are the user's model, not a usage error: exit 1 with the message. */
export function reportFailure(io: CommandIo, error: unknown): number {
  if (error instanceof LoweringError || error instanceof Error) {
    io.stderr(`netlens: ${error.message}\n`);
    return exit.failure;
  }
  throw error;
}

async function prepare(io: CommandIo, client: EngineClient, options: BenchCliOptions | TrainCliOptions, optimizer: EngineOptimizerSpec, batch: number | undefined): Promise<PreparedModel> {
  return prepareModel({
    file: readableFile(io, options.file),
    analyze: commandLineAnalysis(io, options, batch),
    engineOps: await client.request('engineOps', {}),
    optimizer,
  });
}

/**
 * Refuses, before anything is analyzed or started, a device/precision pair the engine cannot run:
 * fp32 only on the CPU, cuda (fp32, tf32, bf16) only where the engine's CUDA executor can run, bf16
 * only on compute capability 8.0 or newer, --autotune and --channels-last only on cuda.
 */
export function deviceRefusal(device: DeviceName, precision: PrecisionName, hello: Pick<EngineHello, 'gpuPresent' | 'gpuError' | 'cudaExecutorAvailable' | 'cudaExecutorStatus' | 'computeCapability'>, autotune = false, channelsLast = false): string | undefined {
  if (device === 'cpu' && precision !== 'fp32') return trainingMessages.precisionNeedsGpu(precision);
  if (device === 'cpu' && autotune) return trainingMessages.autotuneNeedsGpu();
  if (device === 'cpu') return channelsLast ? trainingMessages.channelsLastNeedsGpu() : undefined;
  if (!hello.gpuPresent) return trainingMessages.cudaUnavailable(hello.gpuError || hello.cudaExecutorStatus || 'no GPU found');
  if (!hello.cudaExecutorAvailable) return trainingMessages.cudaExecutorUnavailable(hello.cudaExecutorStatus);
  // cuDNN's bf16 convolutions and cuBLAS's bf16 GEMMs need Ampere; the engine refuses too, later.
  if (precision === 'bf16' && Number.parseInt(hello.computeCapability, 10) < 8) return trainingMessages.bf16NeedsAmpere(hello.computeCapability);
  return undefined;
}

async function checkDevice(client: EngineClient, options: { device: DeviceName; precision: PrecisionName; autotune: boolean; channelsLast: boolean }): Promise<void> {
  if (options.device === 'cpu' && options.precision === 'fp32' && !options.autotune && !options.channelsLast) return;
  const refusal = deviceRefusal(options.device, options.precision, await client.hello(), options.autotune, options.channelsLast);
  if (refusal) throw new Error(refusal);
}

function sessionOf(options: { device: DeviceName; precision: PrecisionName; autotune: boolean; channelsLast: boolean }): EngineSessionOptions {
  return {
    device: options.device, precision: options.precision, ...(options.autotune ? { autotune: true } : {}), ...(options.channelsLast ? { channelsLast: true } : {}),
  };
}

export async function runBenchCommand(options: BenchCliOptions, io: CommandIo): Promise<number> {
  readableFile(io, options.file);
  try {
    return await withEngine(io, async (client) => {
      await checkDevice(client, options);
      const prepared = await prepare(io, client, options, { type: 'sgd', lr: 0.01, momentum: 0.9 }, options.batch);
      const batch = options.batch ?? prepared.spec.inputs[0]?.shape[0] ?? 1;
      const report = await runBench(client, {
        spec: prepared.spec, device: options.device, precision: options.precision, autotune: options.autotune, channelsLast: options.channelsLast, estimatedPeakBytes: prepared.model.memory.training_peak_bytes,
        batch, steps: options.steps, warmupSteps: options.warmup, classes: prepared.classes, seed: options.seed,
      });
      if (options.json) io.stdout(JSON.stringify(report) + '\n');
      else {
        io.stdout(`${prepared.model.name} on ${report.device}, batch ${report.batch}: ${report.steps} steps, median ${report.step_ms_median.toFixed(2)} ms ` +
          `(min ${report.step_ms_min.toFixed(2)} ms), ${report.images_per_s.toFixed(1)} images/s\n`);
      }
      return exit.ok;
    });
  } catch (error) {
    return reportFailure(io, error);
  }
}

/** The built-in data set that fits the model's input, or why none does. */
export function dataFor(data: string, sampleShape: readonly number[], io: CommandIo, split: 'train' | 'test' = 'train'): TrainingDataSpec {
  if (data === 'default') {
    const fitting = defaultDataFor(sampleShape, split);
    if (!fitting) throw new Error(trainingMessages.defaultDataDoesNotFit(`N, ${sampleShape.join(', ')}`));
    return fitting;
  }
  const paths = data.split(',').map((p) => path.resolve(io.cwd, p));
  for (const p of paths) if (!fs.existsSync(p)) throw new UsageError(`--data '${p}' does not exist.`);
  const first = paths[0]!;
  if (fs.statSync(first).isDirectory()) {
    const [channels, height, width] = sampleShape;
    return { kind: 'folder', paths, options: { channels, size: [height ?? 0, width ?? 0] } };
  }
  if (/\.(npy|npz)$/i.test(first)) return { kind: 'npy', paths };
  if (/\.bin$/i.test(first)) return { kind: 'cifar', paths };
  return { kind: 'idx', paths };
}

export async function runTrainCommand(options: TrainCliOptions, io: CommandIo): Promise<number> {
  readableFile(io, options.file);
  const batch = options.batch ?? 32;
  const optimizer = optimizerSpec(options.optimizer, options.lr);
  try {
    return await withEngine(io, async (client) => {
      await checkDevice(client, options);
      const prepared = await prepare(io, client, options, optimizer, batch);
      const data = dataFor(options.data, prepared.sampleShape, io);
      const resume = options.resume === undefined ? undefined : readResumePoint(path.resolve(io.cwd, options.resume));
      const store = resume?.runDir ? RunStore.open(resume.runDir) : RunStore.create(path.resolve(io.cwd, options.runsRoot ?? '.'), {
        file: path.resolve(io.cwd, options.file), entry: prepared.model.entry, model: prepared.model.name, data, epochs: options.epochs,
        batch, optimizer, max_steps: options.maxSteps ?? null, validation: options.validation, augment: options.augment, seed: options.seed,
        device: options.device, precision: options.precision, spec: prepared.spec, resumed_from: resume?.checkpoint ?? null,
      });
      const print = (event: TrainingEvent): void => {
        if (options.jsonEvents) io.stdout(JSON.stringify(event) + '\n');
        else if (event.type === 'epoch') {
          const val = event.val_acc === null ? '' : `, val loss ${event.val_loss?.toFixed(4)}, val acc ${(event.val_acc * 100).toFixed(1)}%`;
          io.stdout(`epoch ${event.epoch}: train loss ${event.train_loss.toFixed(4)}, train acc ${(event.train_acc * 100).toFixed(1)}%${val}\n`);
        } else if (event.type === 'start') {
          const where = event.gpu ? ` on cuda (${event.gpu.precision}${event.gpu.autotune ? ', autotuned' : ''}${event.gpu.channels_last ? ', channels-last' : ''}, memory plan ${(event.gpu.memory_plan_bytes / 2 ** 20).toFixed(1)} MiB)` : '';
          io.stdout(`training ${prepared.model.name} on ${event.data} (${event.train_samples} samples)${where}; run in ${event.run_dir}\n`);
        }
        else if (event.type === 'done') io.stdout(`${event.status === 'cancelled' ? 'cancelled' : 'done'}: ${event.steps} steps in ${event.seconds.toFixed(1)} s\n`);
        else if (event.type === 'error') io.stderr(`netlens: ${event.message}\n`);
      };
      // The first signal cancels cleanly (the chunk in flight finishes, a checkpoint is written);
      // the handlers stay until the run ends so a second Ctrl-C does not cut the checkpoint short.
      const control = new RunControl();
      const cancel = (): void => control.cancel();
      process.on('SIGINT', cancel);
      process.on('SIGTERM', cancel);
      try {
        const last = await runTraining(client, {
          spec: prepared.spec, data, epochs: options.epochs, batch, maxSteps: options.maxSteps,
          validationFraction: options.validation, augment: options.augment, seed: options.seed, control, resume,
          session: sessionOf(options), estimatedPeakBytes: prepared.model.memory.training_peak_bytes,
        }, store, print);
        if (last.type !== 'done') return exit.failure;
        return last.status === 'cancelled' ? exit.cancelled : exit.ok;
      } finally {
        process.off('SIGINT', cancel);
        process.off('SIGTERM', cancel);
      }
    });
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (options.jsonEvents && error instanceof Error) io.stdout(JSON.stringify({ type: 'error', message: error.message }) + '\n');
    return reportFailure(io, error);
  }
}
