// The typed messages between the extension (EngineClient) and the engine process (host.ts).
// Both sides import this file only for types and the few constants below; no runtime state.

import type { OnnxLayerTable } from '../onnx/layers';
import type { OnnxOpenedSession } from '../onnx/runtime';

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
  /** The CUDA executor can train here (GPU, cuDNN with convolutions, cuBLAS, built with cuDNN headers). */
  cudaExecutorAvailable: boolean;
  /** "CUDA executor ready on <device>", or what is missing ("no GPU: …", "cuDNN: … not found"). */
  cudaExecutorStatus: string;
  cpuThreads: number;
  cpuModel: string;
  cpuFeatures: string;
  /** The CPU backend's kernel library, or the built-in kernels and why ("oneDNN 2.6.3 (OpenMP build) convolutions, built-in AVX2 GEMM, 2 threads"). */
  cpuBlas: string;
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

/** Where a training or bench session runs: the CPU engine, or the CUDA executor in strict fp32, TF32 or bf16 mixed precision. */
export type EngineDevice = 'cpu' | 'cuda';
/** tf32 and bf16 (mixed precision, fp32 master weights) on device cuda only. */
export type EnginePrecision = 'fp32' | 'tf32' | 'bf16';
export interface EngineSessionOptions {
  device: EngineDevice;
  precision: EnginePrecision;
  /** Replay the training step as a CUDA graph (default true; device cuda only). */
  cudaGraph?: boolean;
  /** Time each convolution's cuDNN algorithms once, cached per shape (default false; device cuda only). */
  autotune?: boolean;
  /** The autotuning cache file (default $XDG_CACHE_HOME/netlens/cudnn-autotune.json; 'none': in memory only). */
  autotuneCache?: string;
  /** NHWC activations and [K, R, S, C] filters around cuDNN's convolutions (default false; device cuda only). */
  channelsLast?: boolean;
}
/** What a session runs on: for cuda the static memory plan, the cuDNN algorithms it chose (and whether timed or cached) and fused epilogues. */
export interface EngineSessionInfo {
  device: EngineDevice;
  precision: EnginePrecision;
  cudaGraph: boolean;
  autotune: boolean;
  channelsLast: boolean;
  /** Bytes of the one device allocation (0 on the CPU). */
  memoryPlanBytes: number;
  memoryPlan: string;
  algorithms: string;
}

/** `bench`: timed training steps on synthetic data (random inputs, random labels). */
export interface BenchParams {
  /** The engine graph spec (JSON text) with its loss and optimizer. */
  spec: string;
  seed: number;
  /** Default: cpu, fp32. */
  session?: EngineSessionOptions;
  batch: number;
  steps: number;
  warmupSteps: number;
  /** Labels are drawn from 0..classes-1. */
  classes: number;
}
export interface BenchResult {
  /** Wall time of each timed step, in milliseconds. */
  stepMs: number[];
  session: EngineSessionInfo;
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
  /** Default: cpu, fp32. */
  session?: EngineSessionOptions;
}
export interface TrainOpened {
  run: number;
  dataName: string;
  sampleShape: number[];
  classes: number;
  trainSamples: number;
  validationSamples: number;
  batchesPerEpoch: number;
  session: EngineSessionInfo;
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
  /** Rows of each step's batch the model classified right (before that step's update); -1 without a cross-entropy loss. */
  corrects: number[];
  /** The epoch's data is used up. */
  epochDone: boolean;
}
/**
 * `trainEvaluate`: loss and accuracy in eval mode on the validation data and, unless `train` is
 * false, on as many training samples (null when skipped).
 */
export interface TrainEvaluation {
  trainLoss: number | null;
  trainAccuracy: number | null;
  validationLoss: number | null;
  validationAccuracy: number | null;
}

/** `inferOpen`: builds a model in eval mode for inspection; the session lives in the engine process. */
export interface InferOpenParams {
  spec: string;
  seed: number;
  /** A safetensors state_dict written by a run; without it the seed's initial weights are used. */
  checkpoint?: string;
  /** Where `inferSample` draws images from and how image files are normalized. */
  data?: TrainingDataSpec;
}
export interface InferOpened {
  session: number;
  /** One sample's shape (CHW), without the batch dimension. */
  inputShape: number[];
  classes: number;
  /** One name per class when the data set has them, else empty. */
  classNames: string[];
  /** Every node whose activation `inferRun` can return, with its per-sample shape. */
  layers: { id: string; op: string; shape: number[] }[];
  /** Samples available to `inferSample` (0 without `data`). */
  dataSamples: number;
  weights: 'checkpoint' | 'initial';
}
/** One image ready for the model (`image`, normalized CHW) and for showing (`display`, HWC uint8). */
export interface InferImage {
  image: Float32Array;
  shape: number[];
  display: Uint8Array;
  /** [height, width, channels] with channels 1 (gray) or 3 (RGB). */
  displayShape: number[];
  label: number | null;
  className: string | null;
}
export interface InferRunResult {
  /** Softmax of the model's output for the one image. */
  probabilities: number[];
  activations: { id: string; op: string; shape: number[]; data: Float32Array }[];
}
export interface InferSaliencyResult {
  /** d(class logit)/d(input), same layout as the image. */
  gradient: Float32Array;
  shape: number[];
}
export interface InferOcclusionResult {
  /** Row-major [rows, cols]: baseline probability minus the probability with the patch greyed out. */
  map: Float32Array;
  rows: number;
  cols: number;
  /** The class probability of the unoccluded image. */
  baseline: number;
}

export interface OptimizerState {
  steps: number;
  tensors: { name: string; shape: number[]; data: Float32Array }[];
}

// --- ONNX models (extension/onnx/engineRequests.ts): onnxruntime runs in this process too. ---
/** `onnxExport`: the spec's model with the checkpoint's weights, written to `out` once onnxruntime agrees with the engine. */
export interface OnnxExportParams {
  spec: string;
  seed: number;
  checkpoint?: string;
  out: string;
}
export interface OnnxExportResult {
  out: string;
  bytes: number;
  nodes: number;
  initializers: number;
  opset: number;
  /** Worst relative error of onnxruntime's outputs against the engine's forward, over all outputs. */
  maxRelativeError: number;
  outputs: { output: string; relativeError: number }[];
  /** Rows of the verification input. */
  verifiedBatch: number;
}
export interface OnnxRequestMap {
  /** The layer table of a .onnx file, with the shapes the model lacks measured by onnxruntime. */
  onnxTable: { params: { path: string }; result: OnnxLayerTable };
  /** An inference session (CUDA provider first when `preferCuda`, by default when the engine sees a GPU). */
  onnxOpen: { params: { path: string; preferCuda?: boolean }; result: OnnxOpenedSession };
  onnxImageFile: { params: { session: number; path: string }; result: InferImage };
  onnxRun: { params: { session: number; image: Float32Array; layers?: string[] }; result: InferRunResult };
  onnxOcclusion: { params: { session: number; image: Float32Array; classIndex: number; patch: number; stride: number }; result: InferOcclusionResult };
  onnxClose: { params: { session: number }; result: Record<string, never> };
  onnxExport: { params: OnnxExportParams; result: OnnxExportResult };
}

/** Requests the extension may send, keyed by kind, with their parameters and results. */
export interface EngineRequestMap extends OnnxRequestMap {
  hello: { params: Record<string, never>; result: EngineHello };
  engineOps: { params: Record<string, never>; result: string[] };
  bench: { params: BenchParams; result: BenchResult };
  trainOpen: { params: TrainOpenParams; result: TrainOpened };
  trainSteps: { params: TrainStepsParams; result: TrainStepsResult };
  trainEvaluate: { params: { run: number; train?: boolean }; result: TrainEvaluation };
  /** The run's parameters and buffers by state_dict name (for checkpoints). */
  trainState: { params: { run: number }; result: { name: string; shape: number[]; data: Float32Array }[] };
  /** Sets the run's parameters and buffers from a checkpoint (`source` names it in errors); every state name must be given, with its shape. */
  trainLoadState: { params: { run: number; source: string; tensors: { name: string; shape: number[]; data: Float32Array }[] }; result: Record<string, never> };
  /** The optimizer's state: "<parameter>.<slot>" tensors (torch.optim slot names, "<parameter>.step") and its step count. */
  trainOptimizerState: { params: { run: number }; result: OptimizerState };
  /** Restores trainOptimizerState's answer (`source` names it in errors); refused whole when it is not this model's optimizer's. */
  trainLoadOptimizerState: { params: { run: number; source: string; state: OptimizerState }; result: Record<string, never> };
  trainClose: { params: { run: number }; result: Record<string, never> };
  inferOpen: { params: InferOpenParams; result: InferOpened };
  /** Sample `index` of the session's data set. */
  inferSample: { params: { session: number; index: number }; result: InferImage };
  /** A PNG/JPEG file, resized and centre-cropped to the input shape, normalized like the data set. */
  inferImageFile: { params: { session: number; path: string }; result: InferImage };
  inferRun: { params: { session: number; image: Float32Array; layers?: string[] }; result: InferRunResult };
  inferSaliency: { params: { session: number; image: Float32Array; classIndex: number }; result: InferSaliencyResult };
  inferOcclusion: {
    params: { session: number; image: Float32Array; classIndex: number; patch: number; stride: number };
    result: InferOcclusionResult;
  };
  /** Parameters or buffers of the session's model by state_dict name (the inspector shows first-layer filters). */
  inferState: { params: { session: number; names: string[] }; result: { name: string; shape: number[]; data: Float32Array }[] };
  inferClose: { params: { session: number }; result: Record<string, never> };
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
