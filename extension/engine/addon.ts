// Loading the native add-on (netlens.node) and checking what it returns, so nothing untyped
// leaves this module. Used by the engine process; tests use it to check the add-on directly.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { EngineSessionInfo, EngineSessionOptions, NativeEngineInfo } from './protocol';

export interface NativeAddon {
  engineInfo(): NativeEngineInfo;
  /** The op names the engine runs (the graph spec's op set). */
  engineOps(): string[];
  /**
   * `new Engine(specJson, seed, session)`: throws the core's message for a bad spec; on device cuda
   * also for an op, loss or optimizer the CUDA executor lacks, a machine it cannot run on, bf16 on a
   * GPU older than Ampere, or a memory plan that does not fit (each message says what to use instead).
   */
  createEngine(specJson: string, seed: number, session?: EngineSessionOptions): NativeEngine;
  /** `new Dataset(spec)`: throws a message naming the file and the problem for bad data. */
  openDataset(spec: NativeDatasetSpec): NativeDataset;
  /** A PNG/JPEG scaled to cover height×width and centre-cropped: planar C×H×W bytes. */
  readImageForModel(path: string, options: { channels: number; height: number; width: number }): { shape: number[]; pixels: Uint8Array };
}

/** A tensor crossing the binding: JS-owned buffers. */
export interface NativeTensor {
  shape: number[];
  data: Float32Array;
}

/** The binding's Engine (native/binding/engine_binding.cpp). */
export interface NativeEngine {
  stateNames(): string[];
  isTrainable(name: string): boolean;
  getState(name: string): NativeTensor;
  setState(name: string, value: NativeTensor): void;
  setTraining(training: boolean): void;
  forward(inputs: Record<string, NativeTensor>): Record<string, NativeTensor>;
  /** `corrects[i]`: rows of batch i whose top class score (before the step) is the label; -1 without a cross-entropy loss. */
  trainSteps(batches: Record<string, NativeTensor>[]): { losses: number[]; learningRates: number[]; corrects: number[] };
  /** Node values (or graph inputs) of the last forward, by id. */
  values(ids: string[]): Record<string, NativeTensor>;
  /** Shapes of every node value of the last forward, without copying the data. */
  valueShapes(): Record<string, number[]>;
  /** Back-propagates seed gradients of node values after forward(); returns the float inputs' gradients. */
  backward(seeds: Record<string, NativeTensor>): Record<string, NativeTensor>;
  /** Optimizer state as "<parameter>.<slot>" tensors (torch.optim slot names, plus "<parameter>.step") and the step count. */
  optimizerState(): NativeOptimizerState;
  setOptimizerState(state: NativeOptimizerState): void;
  /**
   * Up to `steps` optimizer steps on the loader's next batches (they never cross into JS). On cuda
   * the next batch is taken and staged while the GPU runs the current step, and stepMs is the time
   * between step ends; on the CPU each step's own time.
   */
  trainFromLoader(loader: NativeBatchLoader, steps: number): NativeLoaderSteps;
  sessionInfo(): EngineSessionInfo;
}

export interface NativeLoaderSteps {
  losses: number[];
  learningRates: number[];
  corrects: number[];
  stepMs: number[];
  batchSizes: number[];
  /** The loader's epoch ran out before `steps` steps. */
  epochDone: boolean;
}

export interface NativeOptimizerState {
  steps: number;
  tensors: { name: string; shape: number[]; data: Float32Array }[];
}

export interface NativeDatasetSpec {
  kind: 'default' | 'idx' | 'cifar' | 'folder' | 'npy';
  paths?: string[];
  options?: { variant?: string; split?: string; seed?: number; size?: number[]; channels?: number; layout?: string };
}

export interface NativeDatasetInfo {
  name: string;
  count: number;
  shape: number[];
  classes: number;
  classNames: string[];
  mean: number[];
  std: number[];
}

/** One sample as stored: pixels scaled to [0, 1] (not normalized), C×H×W. */
export interface NativeSample {
  shape: number[];
  image: Float32Array;
  label: number;
}

export interface NativeBatch {
  shape: number[];
  images: Float32Array;
  labels: Int32Array;
  index: number;
}

export interface NativeBatchLoader {
  next(): NativeBatch | null;
  startEpoch(epoch: number): void;
  close(): void;
  readonly batchesPerEpoch: number;
  readonly sampleCount: number;
}

export interface NativeLoaderOptions {
  batchSize?: number;
  shuffle?: boolean;
  dropLast?: boolean;
  seed?: number;
  indices?: Int32Array | number[];
  cropPadding?: number;
  horizontalFlip?: boolean;
  normalize?: boolean;
}

/** The binding's Dataset (native/binding/data_binding.cpp). */
export interface NativeDataset {
  info(): NativeDatasetInfo;
  sample(index: number): NativeSample;
  validationSplit(options: { fraction: number; seed?: number; stratified?: boolean }): { train: Int32Array; validation: Int32Array };
  loader(options?: NativeLoaderOptions): NativeBatchLoader;
}

/** Add-on locations under an extension (or repository) root, in the order they are tried. */
export function addonCandidates(root: string): string[] {
  return [
    // A fresh `npm install` / cmake-js build in a checkout wins over a possibly stale copy in dist/.
    path.join(root, 'native', 'build', 'Release', 'netlens.node'),
    // Where scripts/build.mjs copies it, and so where it lives inside the VSIX.
    path.join(root, 'dist', 'native', 'netlens.node'),
  ];
}

export interface AddonLocation {
  /** The first candidate that exists, if any. */
  path: string | undefined;
  tried: string[];
}

/** NETLENS_ADDON_PATH (when set) overrides the search. */
export function findAddon(root: string, env: NodeJS.ProcessEnv = process.env): AddonLocation {
  const override = env['NETLENS_ADDON_PATH'];
  const tried = override ? [override] : addonCandidates(root);
  return { path: tried.find((candidate) => fs.existsSync(candidate)), tried };
}

const stringFields = [
  'version', 'deviceName', 'computeCapability', 'gpuError', 'cudnnVersion', 'cudnnStatus', 'cudaExecutorStatus', 'cpuModel',
  'cpuFeatures', 'cpuBlas',
] as const;
const numberFields = [
  'deviceCount', 'totalMemoryBytes', 'freeMemoryBytes', 'driverVersion', 'runtimeVersion', 'cpuThreads',
] as const;
const booleanFields = ['cudaCompiled', 'gpuPresent', 'cudnnCompiled', 'cudnnAvailable', 'cudaExecutorAvailable'] as const;

/** Checks the binding's object field by field; an add-on from another build fails loudly here. */
export function parseNativeEngineInfo(value: unknown): NativeEngineInfo {
  if (typeof value !== 'object' || value === null) {
    throw new Error(`engineInfo() returned ${value === null ? 'null' : typeof value}, expected an object`);
  }
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of stringFields) if (typeof record[field] !== 'string') problems.push(`${field} is not a string`);
  for (const field of numberFields) if (typeof record[field] !== 'number') problems.push(`${field} is not a number`);
  for (const field of booleanFields) if (typeof record[field] !== 'boolean') problems.push(`${field} is not a boolean`);
  if (problems.length > 0) throw new Error(`engineInfo() returned an unexpected object: ${problems.join(', ')}`);
  return {
    version: record['version'] as string,
    cudaCompiled: record['cudaCompiled'] as boolean,
    gpuPresent: record['gpuPresent'] as boolean,
    deviceCount: record['deviceCount'] as number,
    deviceName: record['deviceName'] as string,
    computeCapability: record['computeCapability'] as string,
    totalMemoryBytes: record['totalMemoryBytes'] as number,
    freeMemoryBytes: record['freeMemoryBytes'] as number,
    driverVersion: record['driverVersion'] as number,
    runtimeVersion: record['runtimeVersion'] as number,
    gpuError: record['gpuError'] as string,
    cudnnCompiled: record['cudnnCompiled'] as boolean,
    cudnnAvailable: record['cudnnAvailable'] as boolean,
    cudnnVersion: record['cudnnVersion'] as string,
    cudnnStatus: record['cudnnStatus'] as string,
    cudaExecutorAvailable: record['cudaExecutorAvailable'] as boolean,
    cudaExecutorStatus: record['cudaExecutorStatus'] as string,
    cpuThreads: record['cpuThreads'] as number,
    cpuModel: record['cpuModel'] as string,
    cpuFeatures: record['cpuFeatures'] as string,
    cpuBlas: record['cpuBlas'] as string,
  };
}

/** Loads the add-on; throws with the loader's own message (missing file, bad ELF, undefined symbol). */
export function loadAddon(addonPath: string): NativeAddon {
  const module: { exports: unknown } = { exports: {} };
  // process.dlopen rather than require(): a bundler must not try to resolve a runtime path.
  process.dlopen(module, path.resolve(addonPath));
  const exported = module.exports as { engineInfo?: unknown; engineOps?: unknown; Engine?: unknown; Dataset?: unknown; readImageForModel?: unknown };
  const engineInfo = exported.engineInfo;
  if (typeof engineInfo !== 'function') {
    throw new Error(`${addonPath} does not export engineInfo(); it is not a Netlens engine add-on`);
  }
  const { engineOps, Engine, Dataset, readImageForModel } = exported;
  // An older add-on without the engine still answers engineInfo; the rest fails when used.
  const missing = (what: string): never => {
    throw new Error(`${addonPath} does not export ${what}; rebuild the add-on (npm run build:native)`);
  };
  return {
    engineInfo: () => parseNativeEngineInfo((engineInfo as () => unknown)()),
    engineOps: () => {
      if (typeof engineOps !== 'function') return missing('engineOps()');
      const ops: unknown = (engineOps as () => unknown)();
      if (!Array.isArray(ops) || !ops.every((op): op is string => typeof op === 'string')) throw new Error('engineOps() did not return a list of names');
      return ops;
    },
    createEngine: (specJson, seed, session) => {
      if (typeof Engine !== 'function') return missing('Engine');
      return new (Engine as new (spec: string, seed: number, session?: EngineSessionOptions) => NativeEngine)(specJson, seed, session);
    },
    openDataset: (spec) => {
      if (typeof Dataset !== 'function') return missing('Dataset');
      return new (Dataset as new (spec: NativeDatasetSpec) => NativeDataset)(spec);
    },
    readImageForModel: (file, options) => {
      if (typeof readImageForModel !== 'function') return missing('readImageForModel()');
      return (readImageForModel as NativeAddon['readImageForModel'])(file, options);
    },
  };
}
