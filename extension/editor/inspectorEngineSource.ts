// Adapts the engine's inference session to the Activations page's messages: one inspector
// source per panel, holding the engine session and the image on show. No vscode here: the
// panel, the benchmark and the tests drive it the same way. Another source (ONNX models) only
// has to produce the same messages.
import * as path from 'node:path';

import type { EngineClient } from '../engine/client';
import type { EngineRequestMap, InferImage, InferOpened, TrainingDataSpec } from '../engine/protocol';
import type { EngineGraphSpec } from '../training/lower';
import type { InspectorImage, ToInspector } from '../../webviews/activations/protocol';

export type InspectorEngine = Pick<EngineClient, 'request'>;

export interface InspectorSourceOptions {
  /** The model's engine spec (prepareModel's), used for the session and to find the first convolution. */
  spec: EngineGraphSpec;
  seed: number;
  /** A run's safetensors checkpoint; initial weights without it. */
  checkpoint?: string;
  /** Where samples come from; the engine's built-in test data for the input shape without it. */
  data?: TrainingDataSpec;
  /** Panel heading, e.g. "LeNet5 — lenet5.py". */
  title: string;
  weightsLabel: string;
}

/**
 * Activation values sent per image at most (64 MB of float32): every layer of CIFAR-sized models,
 * the first layers of an ImageNet-sized one (VGG-16 at 224×224 has ~15 M values in its first block).
 */
const ACTIVATION_BUDGET = 16 * 1024 * 1024;

/** Images and maps of a CIFAR-sized model are a few MB at most; inference on 2 cores stays well under this. */
const REQUEST_TIMEOUT_MS = 120_000;

export class EngineInspectorSource {
  /** Shared by all sources, so a page's request about an earlier session's image never matches a newer one. */
  private static lastToken = 0;
  private current: { token: number; image: Float32Array } | undefined;

  private constructor(
    private readonly engine: InspectorEngine,
    private readonly options: InspectorSourceOptions,
    private readonly opened: InferOpened,
  ) {}

  static async open(engine: InspectorEngine, options: InspectorSourceOptions): Promise<EngineInspectorSource> {
    const opened = await engine.request(
      'inferOpen',
      { spec: JSON.stringify(options.spec), seed: options.seed, ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}), ...(options.data ? { data: options.data } : {}) },
      REQUEST_TIMEOUT_MS,
    );
    return new EngineInspectorSource(engine, options, opened);
  }

  get dataSamples(): number {
    return this.opened.dataSamples;
  }

  sessionMessage(): ToInspector {
    return {
      type: 'session',
      session: {
        title: this.options.title,
        weights: this.options.weightsLabel,
        inputShape: this.opened.inputShape,
        classNames: this.opened.classNames,
        dataSamples: this.opened.dataSamples,
        dataName: dataName(this.options.data),
        layers: this.opened.layers,
      },
    };
  }

  /** Sample `index` of the data set, run through the model. */
  async sample(index: number): Promise<ToInspector> {
    const image = await this.engine.request('inferSample', { session: this.opened.session, index }, REQUEST_TIMEOUT_MS);
    return this.run(image, `sample ${index} of ${dataName(this.options.data)}`);
  }

  /** A PNG or JPEG file, fitted to the model's input by the engine, run through the model. */
  async imageFile(file: string): Promise<ToInspector> {
    const image = await this.engine.request('inferImageFile', { session: this.opened.session, path: file }, REQUEST_TIMEOUT_MS);
    return this.run(image, path.basename(file));
  }

  /** Saliency of `classIndex` for the image `token`; undefined when a newer image replaced it. */
  async saliency(token: number, classIndex: number): Promise<ToInspector | undefined> {
    const current = this.current;
    if (!current || current.token !== token) return undefined;
    const started = performance.now();
    const result = await this.engine.request('inferSaliency', { session: this.opened.session, image: current.image, classIndex }, REQUEST_TIMEOUT_MS);
    return {
      type: 'saliency',
      saliency: { token, classIndex, shape: result.shape, gradient: result.gradient, sourceMs: performance.now() - started },
    };
  }

  async occlusion(token: number, classIndex: number, patch: number, stride: number): Promise<ToInspector | undefined> {
    const current = this.current;
    if (!current || current.token !== token) return undefined;
    const started = performance.now();
    const result = await this.engine.request(
      'inferOcclusion',
      { session: this.opened.session, image: current.image, classIndex, patch, stride },
      REQUEST_TIMEOUT_MS,
    );
    return {
      type: 'occlusion',
      occlusion: { token, classIndex, patch, stride, rows: result.rows, cols: result.cols, map: result.map, baseline: result.baseline, sourceMs: performance.now() - started },
    };
  }

  /** The first convolution's weights as filters, or undefined for a model without one. */
  async filters(): Promise<ToInspector | undefined> {
    const conv = this.options.spec.nodes.find((node) => node.op === 'conv2d' && node.params?.['weight'] !== undefined);
    const weight = conv?.params?.['weight'];
    if (!conv || weight === undefined) return undefined;
    const [tensor] = await this.readState([weight]);
    if (!tensor || tensor.shape.length !== 4) return undefined;
    return { type: 'filters', filters: { layer: conv.id, shape: tensor.shape, data: tensor.data } };
  }

  /** Parameters or buffers of the session's model by state_dict name, as the engine holds them. */
  readState(names: string[]): Promise<EngineRequestMap['inferState']['result']> {
    return this.engine.request('inferState', { session: this.opened.session, names }, REQUEST_TIMEOUT_MS);
  }

  async close(): Promise<void> {
    await this.engine.request('inferClose', { session: this.opened.session }).catch(() => undefined);
  }

  private async run(image: InferImage, source: string): Promise<ToInspector> {
    const token = ++EngineInspectorSource.lastToken;
    this.current = { token, image: image.image };
    const started = performance.now();
    const { shown, omitted } = layersWithinBudget(this.opened.layers, ACTIVATION_BUDGET);
    const result = await this.engine.request(
      'inferRun',
      { session: this.opened.session, image: image.image, ...(omitted.length > 0 ? { layers: shown } : {}) },
      REQUEST_TIMEOUT_MS,
    );
    const sourceMs = performance.now() - started;
    const [height = 1, width = 1, channels = 1] = image.displayShape;
    const label = image.className ?? (image.label === null ? null : `class ${image.label}`);
    const message: InspectorImage = {
      token, source, width, height, channels: channels === 3 ? 3 : 1, pixels: image.display, label,
      probabilities: Float32Array.from(result.probabilities),
      activations: result.activations.map((activation) => ({ id: activation.id, op: activation.op, shape: perSample(activation.shape), data: activation.data })),
      ...(omitted.length > 0 ? { omittedLayers: omitted } : {}),
      sourceMs,
    };
    return { type: 'image', image: message };
  }
}

/** Layers in model order, each taken when its values still fit `budget`; the others are named as left out. */
export function layersWithinBudget(layers: readonly { id: string; shape: number[] }[], budget: number): { shown: string[]; omitted: string[] } {
  const shown: string[] = [];
  const omitted: string[] = [];
  let used = 0;
  for (const layer of layers) {
    const size = layer.shape.reduce((product, dim) => product * dim, 1);
    if (used + size <= budget) {
      shown.push(layer.id);
      used += size;
    } else {
      omitted.push(layer.id);
    }
  }
  return { shown, omitted };
}

/** Shapes come per sample; a stray leading batch of 1 on a 4-D map is dropped all the same. */
function perSample(shape: number[]): number[] {
  return shape.length === 4 && shape[0] === 1 ? shape.slice(1) : shape;
}

/** The data set in words, for the sample picker and captions. */
export function dataName(data: TrainingDataSpec | undefined): string {
  if (!data || data.kind === 'default') return 'the built-in test images';
  const first = data.paths?.[0];
  return first ? path.basename(first) : data.kind;
}
