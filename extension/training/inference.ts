// The engine-process side of inspecting a model: one inference session holds an engine in eval
// mode (weights from a checkpoint or the seed's initialization) and, optionally, a data set to
// draw samples from and to normalize image files like. It answers forward passes with chosen
// activations, saliency (d class logit / d input) and occlusion maps. Runs inside the engine
// process only (host.ts dispatches to it), like EngineRuns.
import * as fs from 'node:fs';

import type { NativeAddon, NativeDataset, NativeEngine, NativeTensor } from '../engine/addon';
import type {
  EngineRequest,
  EngineRequestMap,
  InferImage,
  InferOcclusionResult,
  InferOpened,
  InferOpenParams,
  InferRunResult,
  InferSaliencyResult,
} from '../engine/protocol';
import { checkStateFits, defaultDataFor } from './engineRuns';
import { TARGET_INPUT, type EngineGraphSpec } from './lower';
import { inferenceMessages } from './messages';
import { decodeSafetensors } from './safetensors';

type InferRequestKind = 'inferOpen' | 'inferSample' | 'inferImageFile' | 'inferRun' | 'inferSaliency' | 'inferOcclusion' | 'inferState' | 'inferClose';

interface InferenceSession {
  engine: NativeEngine;
  inputName: string;
  /** Per-sample input shape (no batch dimension). */
  inputShape: number[];
  outputId: string;
  classes: number;
  classNames: string[];
  layers: { id: string; op: string; shape: number[] }[];
  dataset: NativeDataset | undefined;
  dataSamples: number;
  /** Per-channel normalization the data set's loader uses (none without a data set). */
  mean: number[];
  std: number[];
}

/** Occluded copies per forward pass: large enough to amortize the call, small enough for big inputs. */
const OCCLUSION_BATCH = 32;

export class InferenceSessions {
  private readonly sessions = new Map<number, InferenceSession>();
  private nextSession = 1;

  constructor(private readonly addon: NativeAddon) {}

  answer(request: EngineRequest): EngineRequestMap[InferRequestKind]['result'] {
    switch (request.kind) {
      case 'inferOpen': return this.open(request.params as InferOpenParams);
      case 'inferSample': {
        const params = request.params as EngineRequestMap['inferSample']['params'];
        return this.sample(this.session(params.session), params.index);
      }
      case 'inferImageFile': {
        const params = request.params as EngineRequestMap['inferImageFile']['params'];
        return this.imageFile(this.session(params.session), params.path);
      }
      case 'inferRun': {
        const params = request.params as EngineRequestMap['inferRun']['params'];
        return this.run(this.session(params.session), params.image, params.layers);
      }
      case 'inferSaliency': {
        const params = request.params as EngineRequestMap['inferSaliency']['params'];
        return this.saliency(this.session(params.session), params.image, params.classIndex);
      }
      case 'inferOcclusion': {
        const params = request.params as EngineRequestMap['inferOcclusion']['params'];
        return this.occlusion(this.session(params.session), params);
      }
      case 'inferState': {
        const params = request.params as EngineRequestMap['inferState']['params'];
        return this.state(this.session(params.session), params.names);
      }
      case 'inferClose':
        this.sessions.delete((request.params as { session: number }).session);
        return {};
      default: throw new Error(`'${request.kind}' is not an inference request`);
    }
  }

  private open(params: InferOpenParams): InferOpened {
    const spec = JSON.parse(params.spec) as EngineGraphSpec;
    const input = spec.inputs.find((i) => i.name !== TARGET_INPUT);
    if (!input) throw new Error('the spec has no model input');
    const outputId = spec.outputs[0];
    if (spec.outputs.length !== 1 || outputId === undefined) throw new Error(inferenceMessages.notOneOutput(spec.outputs.length));
    const inputShape = input.shape.slice(1);
    const engine = this.addon.createEngine(params.spec, params.seed);
    engine.setTraining(false);
    if (params.checkpoint !== undefined) loadCheckpoint(engine, params.checkpoint);

    // One pass on a zero sample gives every layer's shape and the class count.
    engine.forward({ [input.name]: { shape: [1, ...inputShape], data: new Float32Array(product(inputShape)) } });
    const shapes = engine.valueShapes();
    const layers = spec.nodes.map((node) => ({ id: node.id, op: node.op, shape: (shapes[node.id] ?? []).slice(1) }));
    const outputShape = shapes[outputId] ?? [];
    if (outputShape.length !== 2) throw new Error(inferenceMessages.outputNotScores(outputShape.join(', ')));
    const classes = outputShape[1]!;

    // The built-in data without a variant is the one that fits the input (as `--data default` is).
    const wantsDefault = !params.data || (params.data.kind === 'default' && params.data.options?.variant === undefined);
    const dataSpec = wantsDefault ? defaultDataFor(inputShape, params.data?.options?.split === 'train' ? 'train' : 'test') ?? params.data : params.data;
    let dataset: NativeDataset | undefined;
    let mean: number[] = [];
    let std: number[] = [];
    let classNames: string[] = [];
    if (dataSpec) {
      dataset = this.addon.openDataset(dataSpec);
      const info = dataset.info();
      if (info.shape.length !== inputShape.length || info.shape.some((extent, i) => extent !== inputShape[i])) {
        throw new Error(inferenceMessages.dataDoesNotFit(inputShape.join('×'), info.name, info.shape.join('×')));
      }
      mean = info.mean;
      std = info.std;
      // Names that do not match the model's outputs would label its scores wrongly.
      if (info.classNames.length === classes) classNames = info.classNames;
    }
    const session = this.nextSession++;
    this.sessions.set(session, {
      engine, inputName: input.name, inputShape, outputId, classes, classNames, layers, dataset,
      dataSamples: dataset?.info().count ?? 0, mean, std,
    });
    return {
      session, inputShape, classes, classNames, layers, dataSamples: dataset?.info().count ?? 0,
      weights: params.checkpoint !== undefined ? 'checkpoint' : 'initial',
    };
  }

  private sample(session: InferenceSession, index: number): InferImage {
    if (!session.dataset) throw new Error(inferenceMessages.noData);
    if (!Number.isInteger(index) || index < 0 || index >= session.dataSamples) {
      throw new Error(inferenceMessages.sampleOutOfRange(index, session.dataSamples));
    }
    const sample = session.dataset.sample(index);
    return {
      ...this.prepared(session, sample.image, sample.shape),
      label: sample.label,
      className: session.classNames[sample.label] ?? null,
    };
  }

  private imageFile(session: InferenceSession, file: string): InferImage {
    const [channels, height, width] = session.inputShape;
    if (session.inputShape.length !== 3 || (channels !== 1 && channels !== 3)) {
      throw new Error(inferenceMessages.notAnImageModel(session.inputShape.join('×')));
    }
    if (!fs.existsSync(file)) throw new Error(inferenceMessages.noImageFile(file));
    const decoded = this.addon.readImageForModel(file, { channels: channels!, height: height!, width: width! });
    const scaled = new Float32Array(decoded.pixels.length);
    for (let i = 0; i < scaled.length; i++) scaled[i] = decoded.pixels[i]! / 255;
    return { ...this.prepared(session, scaled, decoded.shape), label: null, className: null };
  }

  /** [0, 1] pixels (C×H×W) → the normalized tensor the model takes and HWC bytes to show. */
  private prepared(session: InferenceSession, pixels: Float32Array, shape: number[]): Pick<InferImage, 'image' | 'shape' | 'display' | 'displayShape'> {
    const channels = shape.length === 3 ? shape[0]! : 1;
    const plane = pixels.length / channels;
    const image = new Float32Array(pixels.length);
    for (let c = 0; c < channels; c++) {
      const mean = session.mean[c] ?? session.mean[0] ?? 0;
      const std = session.std[c] ?? session.std[0] ?? 1;
      for (let i = 0; i < plane; i++) image[c * plane + i] = (pixels[c * plane + i]! - mean) / std;
    }
    // Data sets of floats outside [0, 1] (.npy) are stretched to the visible range for display only.
    let low = 0;
    let high = 1;
    for (const value of pixels) {
      if (value < low) low = value;
      if (value > high) high = value;
    }
    const shown = channels === 3 || channels === 1 ? channels : 1;
    const display = new Uint8Array(plane * shown);
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < shown; c++) display[i * shown + c] = Math.round(((pixels[c * plane + i]! - low) / (high - low)) * 255);
    }
    const height = shape.length === 3 ? shape[1]! : 1;
    const width = shape.length === 3 ? shape[2]! : plane;
    return { image, shape: [...shape], display, displayShape: [height, width, shown] };
  }

  private forwardOne(session: InferenceSession, image: Float32Array): void {
    if (image.length !== product(session.inputShape)) {
      throw new Error(inferenceMessages.imageSize(image.length, session.inputShape.join('×')));
    }
    session.engine.forward({ [session.inputName]: { shape: [1, ...session.inputShape], data: image } });
  }

  private run(session: InferenceSession, image: Float32Array, layers: string[] | undefined): InferRunResult {
    this.forwardOne(session, image);
    const wanted = layers ?? session.layers.map((layer) => layer.id);
    for (const id of wanted) if (!session.layers.some((layer) => layer.id === id)) throw new Error(inferenceMessages.noLayer(id));
    const values = session.engine.values([session.outputId, ...wanted.filter((id) => id !== session.outputId)]);
    const logits = values[session.outputId]!;
    return {
      probabilities: Array.from(softmax(logits.data)),
      activations: wanted.map((id) => {
        const value = values[id]!;
        return { id, op: session.layers.find((layer) => layer.id === id)!.op, shape: value.shape.slice(1), data: value.data };
      }),
    };
  }

  private saliency(session: InferenceSession, image: Float32Array, classIndex: number): InferSaliencyResult {
    checkClass(session, classIndex);
    this.forwardOne(session, image);
    const seed = new Float32Array(session.classes);
    seed[classIndex] = 1;
    const gradients = session.engine.backward({ [session.outputId]: { shape: [1, session.classes], data: seed } });
    const gradient = gradients[session.inputName];
    if (!gradient) throw new Error(inferenceMessages.noInputGradient);
    return { gradient: gradient.data, shape: gradient.shape.slice(1) };
  }

  private occlusion(session: InferenceSession, params: EngineRequestMap['inferOcclusion']['params']): InferOcclusionResult {
    checkClass(session, params.classIndex);
    const [channels, height, width] = session.inputShape;
    if (session.inputShape.length !== 3) throw new Error(inferenceMessages.notAnImageModel(session.inputShape.join('×')));
    const { patch, stride } = params;
    if (!Number.isInteger(patch) || !Number.isInteger(stride) || patch < 1 || stride < 1 || patch > height! || patch > width!) {
      throw new Error(inferenceMessages.badOcclusion(patch, stride, height!, width!));
    }
    const rows = Math.floor((height! - patch) / stride) + 1;
    const cols = Math.floor((width! - patch) / stride) + 1;
    const size = product(session.inputShape);
    if (params.image.length !== size) throw new Error(inferenceMessages.imageSize(params.image.length, session.inputShape.join('×')));
    const baseline = this.probabilities(session, [params.image], params.classIndex)[0]!;
    const map = new Float32Array(rows * cols);
    for (let start = 0; start < rows * cols; start += OCCLUSION_BATCH) {
      const count = Math.min(OCCLUSION_BATCH, rows * cols - start);
      const batch: Float32Array[] = [];
      for (let k = 0; k < count; k++) {
        const top = Math.floor((start + k) / cols) * stride;
        const left = ((start + k) % cols) * stride;
        const occluded = Float32Array.from(params.image);
        // Zero in the normalized tensor is the data set's mean colour: grey, not black.
        for (let c = 0; c < channels!; c++) {
          for (let y = top; y < top + patch; y++) occluded.fill(0, c * height! * width! + y * width! + left, c * height! * width! + y * width! + left + patch);
        }
        batch.push(occluded);
      }
      this.probabilities(session, batch, params.classIndex).forEach((probability, k) => { map[start + k] = baseline - probability; });
    }
    return { map, rows, cols, baseline };
  }

  /** The probability of `classIndex` for each image, in one forward pass. */
  private probabilities(session: InferenceSession, images: Float32Array[], classIndex: number): number[] {
    const size = product(session.inputShape);
    const data = new Float32Array(images.length * size);
    images.forEach((image, i) => data.set(image, i * size));
    const batch: NativeTensor = { shape: [images.length, ...session.inputShape], data };
    session.engine.forward({ [session.inputName]: batch });
    const logits = session.engine.values([session.outputId])[session.outputId]!;
    return images.map((_, i) => softmax(logits.data.subarray(i * session.classes, (i + 1) * session.classes))[classIndex]!);
  }

  /** Copies of named state tensors; the engine's own buffers never leave the process. */
  private state(session: InferenceSession, names: string[]): EngineRequestMap['inferState']['result'] {
    const known = new Set(session.engine.stateNames());
    return names.map((name) => {
      if (!known.has(name)) throw new Error(`the model has no parameter or buffer named '${name}'`);
      const tensor = session.engine.getState(name);
      return { name, shape: [...tensor.shape], data: Float32Array.from(tensor.data) };
    });
  }

  private session(id: number): InferenceSession {
    const session = this.sessions.get(id);
    if (!session) throw new Error(`no inference session ${id} in this engine process`);
    return session;
  }
}

/** Sets every parameter and buffer from a safetensors file, refusing one of another model before changing anything. */
function loadCheckpoint(engine: NativeEngine, file: string): void {
  if (!fs.existsSync(file)) throw new Error(inferenceMessages.noCheckpoint(file));
  const tensors = decodeSafetensors(fs.readFileSync(file), file);
  checkStateFits(engine, tensors, file);
  const given = new Map(tensors.map((tensor) => [tensor.name, tensor]));
  for (const name of engine.stateNames()) engine.setState(name, given.get(name)!);
}

function checkClass(session: InferenceSession, classIndex: number): void {
  if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= session.classes) {
    throw new Error(inferenceMessages.classOutOfRange(classIndex, session.classes));
  }
}

function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const value of logits) if (value > max) max = value;
  const result = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    result[i] = Math.exp(logits[i]! - max);
    sum += result[i]!;
  }
  for (let i = 0; i < result.length; i++) result[i] = result[i]! / sum;
  return result;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
