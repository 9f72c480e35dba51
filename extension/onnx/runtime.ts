// Running ONNX models with onnxruntime-node: sessions (CUDA execution provider first when asked,
// the CPU one otherwise or when CUDA cannot start), shapes measured on a zeros input, top
// predictions for an image, per-layer activations (a second session whose model has the chosen
// values added as graph outputs) and occlusion maps. It runs in the engine process (host.ts) and
// in the CLI, never in the extension host. onnxruntime-node is loaded on first use, so the engine
// process starts without it.
import type * as OrtModule from 'onnxruntime-node';

import { buildLayerTable, valuesWithoutShape, type OnnxLayerTable } from './layers';
import { onnxMessages } from './messages';
import { encodeOnnx, inlineExternalData, nodeLabel, readOnnxFile, withExtraOutputs, type OnnxModel, type OnnxValueInfo } from './model';
import { dataTypeName, OnnxDataType } from './schema';

export type Ort = typeof OrtModule;
type Session = OrtModule.InferenceSession;
type OrtTensor = OrtModule.Tensor;

let loaded: Ort | undefined;
/** onnxruntime-node, required at run time (the bundles keep it external: dist/node_modules in the VSIX). */
export function loadOnnxRuntime(): Ort {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded ??= require('onnxruntime-node') as Ort;
  return loaded;
}

export interface CreatedSession {
  session: Session;
  provider: 'cuda' | 'cpu';
  /** Said to the user when CUDA was asked for and could not be used. */
  notice: string | null;
}

export async function createSession(ort: Ort, bytes: Uint8Array, preferCuda: boolean): Promise<CreatedSession> {
  if (preferCuda) {
    try {
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cuda'], logSeverityLevel: 4 });
      return { session, provider: 'cuda', notice: null };
    } catch (error) {
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
      return { session, provider: 'cpu', notice: onnxMessages.cudaFallback(firstLine(error)) };
    }
  }
  return { session: await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] }), provider: 'cpu', notice: null };
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** A zeros tensor for a graph input (symbolic or unknown dims become 1). */
function zerosFor(ort: Ort, info: OnnxValueInfo): OrtTensor {
  const dims = (info.shape ?? []).map((d) => (typeof d === 'number' ? d : 1));
  const count = dims.reduce((a, b) => a * b, 1);
  switch (info.elemType) {
    case OnnxDataType.INT64: return new ort.Tensor('int64', new BigInt64Array(count), dims);
    case OnnxDataType.INT32: return new ort.Tensor('int32', new Int32Array(count), dims);
    case OnnxDataType.BOOL: return new ort.Tensor('bool', new Uint8Array(count), dims);
    case OnnxDataType.UINT8: return new ort.Tensor('uint8', new Uint8Array(count), dims);
    case OnnxDataType.DOUBLE: return new ort.Tensor('float64', new Float64Array(count), dims);
    default: return new ort.Tensor('float32', new Float32Array(count), dims);
  }
}

function graphInputs(model: OnnxModel): OnnxValueInfo[] {
  const initializers = new Set(model.graph.initializers.map((t) => t.name));
  return model.graph.inputs.filter((input) => !initializers.has(input.name));
}

/**
 * Shapes of the given values, measured by running the model on zeros with them added as graph
 * outputs. Throws what onnxruntime said when the model cannot run that way.
 */
export async function measureShapes(ort: Ort, model: OnnxModel, names: readonly string[]): Promise<Map<string, number[]>> {
  const { session } = await createSession(ort, encodeOnnx(withExtraOutputs(model, names)), false);
  try {
    const feeds: Record<string, OrtTensor> = {};
    for (const input of graphInputs(model)) feeds[input.name] = zerosFor(ort, input);
    const results = await session.run(feeds);
    const shapes = new Map<string, number[]>();
    for (const name of names) {
      const value = results[name];
      if (value) shapes.set(name, [...value.dims]);
    }
    return shapes;
  } finally {
    await session.release();
  }
}

/** The layer table of a file, with the shapes the model lacks measured by onnxruntime when `ort` is given. */
export async function layerTableOf(file: string, ort: Ort | undefined): Promise<{ model: OnnxModel; table: OnnxLayerTable }> {
  const model = inlineExternalData(readOnnxFile(file), file);
  return { model, table: await completeLayerTable(model, file, ort) };
}

export async function completeLayerTable(model: OnnxModel, file: string, ort: Ort | undefined): Promise<OnnxLayerTable> {
  const missing = valuesWithoutShape(model);
  if (missing.length === 0 || !ort) return buildLayerTable(model, file, ort ? {} : { runtimeProblem: 'onnxruntime was not available' });
  try {
    return buildLayerTable(model, file, { runtimeShapes: await measureShapes(ort, model, missing) });
  } catch (error) {
    return buildLayerTable(model, file, { runtimeProblem: `onnxruntime could not run the model on zeros: ${firstLine(error)}` });
  }
}

// --- sessions for the inspector ------------------------------------------------------------------

export interface OnnxImage {
  /** Normalized CHW, the model's input without the batch dimension. */
  image: Float32Array;
  shape: number[];
  /** HWC 0..255 for showing. */
  display: Uint8Array;
  displayShape: number[];
}

/** PyTorch's usual ImageNet normalization for RGB models; gray models get pixels in [0, 1]. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

export interface OnnxLayerValue {
  /** The node's name (what the table shows). */
  id: string;
  op: string;
  /** The value onnxruntime is asked for. */
  value: string;
  /** Per-sample shape (no batch dimension). */
  shape: number[];
}

interface OpenSession {
  file: string;
  model: OnnxModel;
  main: Session;
  /** Built on first use: the model with every layer's value as an output. */
  withLayers: Session | undefined;
  inputName: string;
  /** [C, H, W]. */
  inputShape: number[];
  batchFree: boolean;
  outputName: string;
  layers: OnnxLayerValue[];
  provider: 'cuda' | 'cpu';
  preferCuda: boolean;
}

export interface OnnxOpenedSession {
  session: number;
  table: OnnxLayerTable;
  provider: 'cuda' | 'cpu';
  notice: string | null;
  inputName: string;
  inputShape: number[];
  classes: number;
  layers: OnnxLayerValue[];
  normalization: string;
}

export interface OnnxRunOutput {
  probabilities: number[];
  activations: { id: string; op: string; shape: number[]; data: Float32Array }[];
}

export interface OnnxOcclusionOutput {
  map: Float32Array;
  rows: number;
  cols: number;
  baseline: number;
}

/** Open ONNX sessions of one process, by number. */
export class OnnxSessions {
  private readonly sessions = new Map<number, OpenSession>();
  private nextId = 1;

  constructor(private readonly ort: Ort = loadOnnxRuntime()) {}

  async open(file: string, preferCuda: boolean): Promise<OnnxOpenedSession> {
    const model = inlineExternalData(readOnnxFile(file), file);
    const table = await completeLayerTable(model, file, this.ort);
    const inputs = graphInputs(model);
    if (inputs.length !== 1) throw new Error(onnxMessages.manyInputs(inputs.length));
    const input = inputs[0]!;
    if (input.elemType !== OnnxDataType.FLOAT) throw new Error(onnxMessages.notFloatInput(input.name, dataTypeName(input.elemType)));
    const shape = input.shape ?? [];
    const [, channels, height, width] = shape;
    if (shape.length !== 4 || (channels !== 1 && channels !== 3) || typeof height !== 'number' || typeof width !== 'number') {
      throw new Error(onnxMessages.notImageInput(input.name, shape.map(String).join(', ')));
    }
    const created = await createSession(this.ort, encodeOnnx(model), preferCuda);
    const shapes = new Map(table.layers.flatMap((layer) => layer.outputs.map((o) => [o.name, o.shape] as const)));
    const layers: OnnxLayerValue[] = [];
    model.graph.nodes.forEach((node, index) => {
      const value = node.outputs[0];
      const measured = value ? shapes.get(value) : undefined;
      if (!value || !measured || !measured.every((d): d is number => typeof d === 'number')) return;
      // Shape-only helpers (Constant, Shape) are not layers worth a picture.
      if (node.opType === 'Constant' || node.opType === 'Shape') return;
      layers.push({ id: nodeLabel(node, index), op: node.opType, value, shape: measured.length > 1 ? measured.slice(1) : measured });
    });
    const outputName = model.graph.outputs[0]?.name ?? '';
    const outputShape = table.outputs[0]?.shape ?? [];
    const classes = typeof outputShape[outputShape.length - 1] === 'number' ? (outputShape[outputShape.length - 1] as number) : 0;
    const id = this.nextId++;
    this.sessions.set(id, {
      file, model, main: created.session, withLayers: undefined, inputName: input.name, inputShape: [channels, height, width],
      batchFree: typeof shape[0] !== 'number', outputName, layers, provider: created.provider, preferCuda,
    });
    return {
      session: id, table, provider: created.provider, notice: created.notice, inputName: input.name, inputShape: [channels, height, width], classes, layers,
      normalization: channels === 3 ? `ImageNet mean/std (${IMAGENET_MEAN.join(', ')} / ${IMAGENET_STD.join(', ')})` : 'pixels scaled to [0, 1]',
    };
  }

  /** [C, H, W] of the session's input. */
  inputShapeOf(sessionId: number): number[] {
    return [...this.get(sessionId).inputShape];
  }

  /** Planar C×H×W bytes (already fitted to the input) normalized for the model. */
  imageFromPixels(sessionId: number, pixels: Uint8Array): OnnxImage {
    const session = this.get(sessionId);
    const [channels = 3, height = 1, width = 1] = session.inputShape;
    const plane = height * width;
    const image = new Float32Array(channels * plane);
    const display = new Uint8Array(plane * channels);
    for (let c = 0; c < channels; c++) {
      const mean = channels === 3 ? IMAGENET_MEAN[c]! : 0;
      const std = channels === 3 ? IMAGENET_STD[c]! : 1;
      for (let i = 0; i < plane; i++) {
        const byte = pixels[c * plane + i] ?? 0;
        image[c * plane + i] = (byte / 255 - mean) / std;
        display[i * channels + c] = byte;
      }
    }
    return { image, shape: [channels, height, width], display, displayShape: [height, width, channels] };
  }

  async run(sessionId: number, image: Float32Array, layerIds?: readonly string[]): Promise<OnnxRunOutput> {
    const session = this.get(sessionId);
    const wanted = layerIds ? session.layers.filter((l) => layerIds.includes(l.id)) : session.layers;
    let results: Record<string, OrtTensor>;
    if (wanted.length > 0) {
      // One session with every layer's value as an output, built once and reused for any subset.
      if (!session.withLayers) {
        const bytes = encodeOnnx(withExtraOutputs(session.model, session.layers.map((l) => l.value)));
        session.withLayers = (await createSession(this.ort, bytes, session.provider === 'cuda')).session;
      }
      results = await session.withLayers.run(this.feeds(session, image, 1), [session.outputName, ...wanted.map((l) => l.value)]);
    } else {
      results = await session.main.run(this.feeds(session, image, 1));
    }
    const output = results[session.outputName];
    return {
      probabilities: output ? probabilitiesOf(output.data as Float32Array) : [],
      activations: wanted.flatMap((layer) => {
        const value = results[layer.value];
        return value ? [{ id: layer.id, op: layer.op, shape: layer.shape, data: Float32Array.from(value.data as Float32Array) }] : [];
      }),
    };
  }

  /** Baseline probability of `classIndex` minus the one with a patch set to the mean colour (0 after normalization). */
  async occlusion(sessionId: number, image: Float32Array, classIndex: number, patch: number, stride: number): Promise<OnnxOcclusionOutput> {
    const session = this.get(sessionId);
    const [channels = 1, height = 1, width = 1] = session.inputShape;
    const rows = Math.max(1, Math.floor((height - patch) / stride) + 1);
    const cols = Math.max(1, Math.floor((width - patch) / stride) + 1);
    const baseline = (await this.classProbabilities(session, [image]))[0]![classIndex] ?? 0;
    const map = new Float32Array(rows * cols);
    const positions = Array.from({ length: rows * cols }, (_, k) => k);
    // A batch-free model takes many occluded copies per run; a fixed batch of 1 takes them one by one.
    const batch = session.batchFree ? 16 : 1;
    for (let start = 0; start < positions.length; start += batch) {
      const chunk = positions.slice(start, start + batch);
      const copies = chunk.map((k) => {
        const copy = Float32Array.from(image);
        const top = Math.floor(k / cols) * stride;
        const left = (k % cols) * stride;
        for (let c = 0; c < channels; c++) {
          for (let y = top; y < Math.min(height, top + patch); y++) copy.fill(0, c * height * width + y * width + left, c * height * width + y * width + Math.min(width, left + patch));
        }
        return copy;
      });
      const probabilities = await this.classProbabilities(session, copies);
      chunk.forEach((k, i) => {
        map[k] = baseline - (probabilities[i]![classIndex] ?? 0);
      });
    }
    return { map, rows, cols, baseline };
  }

  async close(sessionId: number): Promise<void> {
    const session = this.sessions.get(sessionId);
    this.sessions.delete(sessionId);
    await session?.main.release();
    await session?.withLayers?.release();
  }

  private async classProbabilities(session: OpenSession, images: Float32Array[]): Promise<number[][]> {
    const joined = new Float32Array(images.length * (images[0]?.length ?? 0));
    images.forEach((image, i) => joined.set(image, i * image.length));
    const results = await session.main.run(this.feeds(session, joined, images.length));
    const output = results[session.outputName];
    if (!output) return images.map(() => []);
    const data = output.data as Float32Array;
    const per = data.length / images.length;
    return images.map((_, i) => probabilitiesOf(data.subarray(i * per, (i + 1) * per)));
  }

  private feeds(session: OpenSession, data: Float32Array, batch: number): Record<string, OrtTensor> {
    return { [session.inputName]: new this.ort.Tensor('float32', data, [batch, ...session.inputShape]) };
  }

  private get(id: number): OpenSession {
    const session = this.sessions.get(id);
    if (!session) throw new Error(onnxMessages.unknownSession(id));
    return session;
  }
}

/** Softmax of scores; an output that already is a distribution (non-negative, sums to 1) is kept. */
export function probabilitiesOf(scores: ArrayLike<number>): number[] {
  const values = Array.from(scores);
  const sum = values.reduce((a, b) => a + b, 0);
  if (values.every((v) => v >= 0 && v <= 1) && Math.abs(sum - 1) < 1e-4) return values;
  const max = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / total);
}

/** The k most probable classes, best first. */
export function topPredictions(probabilities: readonly number[], k: number): { classIndex: number; probability: number }[] {
  return probabilities
    .map((probability, classIndex) => ({ classIndex, probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}
