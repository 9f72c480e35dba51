// Adapts an ONNX session in the engine process (onnxruntime) to the Activations page's messages,
// as EngineInspectorSource does for models the engine runs itself. No vscode here.
import * as path from 'node:path';

import type { EngineRequestMap, InferImage } from '../engine/protocol';
import type { OnnxOpenedSession } from '../onnx/runtime';
import type { InspectorImage, ToInspector } from '../../webviews/activations/protocol';
import { layersWithinBudget, type InspectorEngine } from './inspectorEngineSource';

/** Activation values sent per image at most, as for the engine's own sessions (64 MB of float32). */
const ACTIVATION_BUDGET = 16 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 120_000;

export type { OnnxOpenedSession };

export class OnnxInspectorSource {
  private static lastToken = 1_000_000;
  private current: { token: number; image: Float32Array } | undefined;
  /** The latest image's probabilities, for the ONNX page's top predictions. */
  lastProbabilities: number[] = [];

  constructor(
    private readonly engine: InspectorEngine,
    readonly opened: OnnxOpenedSession,
    private readonly title: string,
  ) {}

  static async open(engine: InspectorEngine, file: string): Promise<OnnxInspectorSource> {
    const opened = await engine.request('onnxOpen', { path: file }, REQUEST_TIMEOUT_MS);
    return new OnnxInspectorSource(engine, opened, path.basename(file));
  }

  get dataSamples(): number {
    return 0;
  }

  sessionMessage(): ToInspector {
    return {
      type: 'session',
      session: {
        title: this.title,
        weights: `ONNX model, onnxruntime ${this.opened.provider.toUpperCase()}`,
        inputShape: this.opened.inputShape,
        classNames: [],
        dataSamples: 0,
        dataName: 'image files',
        layers: this.opened.layers.map((layer) => ({ id: layer.id, op: layer.op, shape: layer.shape })),
      },
    };
  }

  sample(_index: number): Promise<ToInspector> {
    return Promise.resolve({ type: 'error', message: 'An ONNX model has no data set to draw samples from; open an image file.' });
  }

  async imageFile(file: string): Promise<ToInspector> {
    const image = await this.engine.request('onnxImageFile', { session: this.opened.session, path: file }, REQUEST_TIMEOUT_MS);
    return this.run(image, path.basename(file));
  }

  saliency(_token: number, _classIndex: number): Promise<ToInspector | undefined> {
    // onnxruntime-node runs inference only: there is no gradient to show.
    return Promise.resolve({ type: 'error', message: 'Saliency needs gradients, which onnxruntime does not compute; use the occlusion map.' });
  }

  async occlusion(token: number, classIndex: number, patch: number, stride: number): Promise<ToInspector | undefined> {
    const current = this.current;
    if (!current || current.token !== token) return undefined;
    const started = performance.now();
    const result: EngineRequestMap['onnxOcclusion']['result'] = await this.engine.request(
      'onnxOcclusion', { session: this.opened.session, image: current.image, classIndex, patch, stride }, REQUEST_TIMEOUT_MS,
    );
    return {
      type: 'occlusion',
      occlusion: { token, classIndex, patch, stride, rows: result.rows, cols: result.cols, map: result.map, baseline: result.baseline, sourceMs: performance.now() - started },
    };
  }

  filters(): Promise<ToInspector | undefined> {
    return Promise.resolve(undefined);
  }

  async close(): Promise<void> {
    await this.engine.request('onnxClose', { session: this.opened.session }).catch(() => undefined);
  }

  private async run(image: InferImage, source: string): Promise<ToInspector> {
    const token = ++OnnxInspectorSource.lastToken;
    this.current = { token, image: image.image };
    const started = performance.now();
    const { shown, omitted } = layersWithinBudget(this.opened.layers, ACTIVATION_BUDGET);
    const result = await this.engine.request('onnxRun', { session: this.opened.session, image: image.image, layers: shown }, REQUEST_TIMEOUT_MS);
    this.lastProbabilities = result.probabilities;
    const [height = 1, width = 1, channels = 1] = image.displayShape;
    const message: InspectorImage = {
      token, source, width, height, channels: channels === 3 ? 3 : 1, pixels: image.display, label: null,
      probabilities: Float32Array.from(result.probabilities),
      activations: result.activations.map((a) => ({ id: a.id, op: a.op, shape: a.shape, data: a.data })),
      ...(omitted.length > 0 ? { omittedLayers: omitted } : {}),
      sourceMs: performance.now() - started,
    };
    return { type: 'image', image: message };
  }
}
