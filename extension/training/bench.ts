// `netlens bench`: timed training steps of a lowered model in the engine process, summarized as
// the contract's JSON (median and minimum step time after warm-up, images per second).
import type { EngineClient } from '../engine/client';
import type { EngineDevice, EnginePrecision } from '../engine/protocol';
import type { EngineGraphSpec } from './lower';
import { isGpuOutOfMemory, trainingMessages } from './messages';

export interface BenchOptions {
  spec: EngineGraphSpec;
  device: EngineDevice;
  /** Default fp32. */
  precision?: EnginePrecision;
  /** cuDNN autotuning (device cuda only; default off). */
  autotune?: boolean;
  /** NHWC activations on the GPU (device cuda only; default off). */
  channelsLast?: boolean;
  /** The analyzer's training-peak estimate, shown beside a GPU out-of-memory error. */
  estimatedPeakBytes?: number;
  batch: number;
  steps: number;
  classes: number;
  warmupSteps?: number;
  seed?: number;
}

/** The `netlens bench --json` document (ARCHITECTURE.md). */
export interface BenchReport {
  device: string;
  batch: number;
  steps: number;
  step_ms_median: number;
  step_ms_min: number;
  images_per_s: number;
}

const DEFAULT_WARMUP_STEPS = 2;
/** A timed step can take long on big models; the request waits this long per step. */
const STEP_TIMEOUT_MS = 60_000;

export async function runBench(client: EngineClient, options: BenchOptions): Promise<BenchReport> {
  const warmupSteps = options.warmupSteps ?? DEFAULT_WARMUP_STEPS;
  let stepMs: number[];
  try {
    ({ stepMs } = await client.request(
      'bench',
      {
        spec: JSON.stringify(options.spec), seed: options.seed ?? 0, batch: options.batch, steps: options.steps, warmupSteps, classes: Math.max(1, options.classes),
        session: { device: options.device, precision: options.precision ?? 'fp32', ...(options.autotune ? { autotune: true } : {}),
          ...(options.channelsLast ? { channelsLast: true } : {}) },
      },
      STEP_TIMEOUT_MS * (options.steps + warmupSteps + 1),
    ));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (isGpuOutOfMemory(message)) throw new Error(trainingMessages.gpuOutOfMemory(message, options.estimatedPeakBytes));
    throw error;
  }
  const median = medianOf(stepMs);
  return {
    device: options.device,
    batch: options.batch,
    steps: options.steps,
    step_ms_median: round(median),
    step_ms_min: round(Math.min(...stepMs)),
    images_per_s: round(median > 0 ? (options.batch * 1000) / median : 0),
  };
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
