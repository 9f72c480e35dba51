// The typed messages between the extension (EngineClient) and the engine process (host.ts).
// Both sides import this file only for types and the few constants below; no runtime state.

/** What the native add-on reports about the machine, as the binding returns it. */
export interface NativeEngineInfo {
  version: string;
  cudaCompiled: boolean;
  gpuPresent: boolean;
  deviceCount: number;
  deviceName: string;
  computeCapability: string;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  /** CUDA version the driver supports, e.g. 13000 for 13.0; 0 when there is no driver. */
  driverVersion: number;
  /** CUDA runtime linked into the engine; 0 in a CPU-only build. */
  runtimeVersion: number;
  /** Why there is no GPU; empty when one is present. */
  gpuError: string;
  cudnnCompiled: boolean;
  cudnnAvailable: boolean;
  cudnnVersion: string;
  cudnnStatus: string;
  cpuThreads: number;
  cpuModel: string;
  cpuFeatures: string;
}

/** The answer to `hello`: the add-on's report plus what only the process knows. */
export interface EngineHello extends NativeEngineInfo {
  addonPath: string;
  pid: number;
  nodeVersion: string;
  napiVersion: string;
}

/** A data set for training, as the add-on's Dataset takes it. */
export interface TrainingDataSpec {
  kind: 'default' | 'idx' | 'cifar' | 'folder' | 'npy';
  paths?: string[];
  options?: { variant?: string; split?: string; seed?: number; size?: number[]; channels?: number };
}

/** `bench`: timed training steps on synthetic data (random inputs, random labels). */
export interface BenchParams {
  /** The engine graph spec (JSON text) with its loss and optimizer. */
  spec: string;
  seed: number;
  batch: number;
  steps: number;
  warmupSteps: number;
  /** Labels are drawn from 0..classes-1. */
  classes: number;
}
export interface BenchResult {
  /** Wall time of each timed step, in milliseconds. */
  stepMs: number[];
}

/** `trainOpen`: builds the engine and the loaders of one training run; the run lives in the engine process. */
export interface TrainOpenParams {
  spec: string;
  seed: number;
  data: TrainingDataSpec;
  batch: number;
  /** Share of the training data held out for validation (0 for none). */
  validationFraction: number;
  /** Random crop (padding 4) and horizontal flip, for 32×32 colour images. */
  augment: boolean;
}
export interface TrainOpened {
  run: number;
  dataName: string;
  sampleShape: number[];
  classes: number;
  trainSamples: number;
  validationSamples: number;
  batchesPerEpoch: number;
}
/** `trainSteps`: up to `steps` optimizer steps of `epoch` (a new epoch reshuffles). */
export interface TrainStepsParams {
  run: number;
  epoch: number;
  steps: number;
  /** Batches of `epoch` to pass over first without stepping (a run resumed mid-epoch). */
  skip?: number;
}
export interface TrainStepsResult {
  losses: number[];
  learningRates: number[];
  /** Wall time of each step in milliseconds. */
  stepMs: number[];
  batchSizes: number[];
  /** The epoch's data is used up. */
  epochDone: boolean;
}
/** `trainEvaluate`: loss and accuracy in eval mode on the validation data and on as many training samples. */
export interface TrainEvaluation {
  trainLoss: number;
  trainAccuracy: number;
  validationLoss: number | null;
  validationAccuracy: number | null;
}

/** Requests the extension may send, keyed by kind, with their parameters and results. */
export interface EngineRequestMap {
  hello: { params: Record<string, never>; result: EngineHello };
  engineOps: { params: Record<string, never>; result: string[] };
  bench: { params: BenchParams; result: BenchResult };
  trainOpen: { params: TrainOpenParams; result: TrainOpened };
  trainSteps: { params: TrainStepsParams; result: TrainStepsResult };
  trainEvaluate: { params: { run: number }; result: TrainEvaluation };
  /** The run's parameters and buffers by state_dict name (for checkpoints). */
  trainState: { params: { run: number }; result: { name: string; shape: number[]; data: Float32Array }[] };
  /** Sets the run's parameters and buffers from a checkpoint (`source` names it in errors); every state name must be given, with its shape. */
  trainLoadState: { params: { run: number; source: string; tensors: { name: string; shape: number[]; data: Float32Array }[] }; result: Record<string, never> };
  trainClose: { params: { run: number }; result: Record<string, never> };
  /** Only honoured when the host runs with NETLENS_ENGINE_TEST=1: aborts the process. */
  crashForTest: { params: Record<string, never>; result: never };
}

export type EngineRequestKind = keyof EngineRequestMap;

export interface EngineRequest<K extends EngineRequestKind = EngineRequestKind> {
  type: 'request';
  id: number;
  kind: K;
  params: EngineRequestMap[K]['params'];
}

export type EngineResponse =
  | { type: 'response'; id: number; ok: true; result: EngineRequestMap[EngineRequestKind]['result'] }
  | { type: 'response'; id: number; ok: false; error: string };

/** Sent once by the host after start: either the add-on loaded, or why it did not. */
export type EngineStartup =
  | { type: 'ready'; addonPath: string; pid: number }
  | { type: 'startupFailed'; addonPath: string; error: string };

export type HostToClientMessage = EngineResponse | EngineStartup;
export type ClientToHostMessage = EngineRequest;

/** Environment variable carrying the add-on path to the host (argv[2] is accepted too). */
export const ADDON_PATH_ENV = 'NETLENS_ADDON_PATH';
/** Enables test-only requests such as `crashForTest`. */
export const ENGINE_TEST_ENV = 'NETLENS_ENGINE_TEST';

export function isHostToClientMessage(value: unknown): value is HostToClientMessage {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'response' || type === 'ready' || type === 'startupFailed';
}

export function isClientToHostMessage(value: unknown): value is ClientToHostMessage {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as { type?: unknown; id?: unknown; kind?: unknown };
  return message.type === 'request' && typeof message.id === 'number' && typeof message.kind === 'string';
}
