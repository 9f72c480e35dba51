// The engine-process side of the ONNX requests (host.ts dispatches them here): layer tables with
// onnxruntime-measured shapes, inspector sessions, and the verified export (engine forward vs
// onnxruntime on the exported model). onnxruntime-node is loaded on the first ONNX request.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { NativeAddon, NativeEngine, NativeTensor } from '../engine/addon';
import type { EngineRequest, EngineRequestMap, InferImage, InferOcclusionResult, InferRunResult, OnnxExportParams, OnnxExportResult } from '../engine/protocol';
import { checkStateFits } from '../training/engineRuns';
import { TARGET_INPUT, type EngineGraphSpec } from '../training/lower';
import { decodeSafetensors } from '../training/safetensors';
import { version } from '../../package.json';
import { exportToOnnx, relativeError, type ExportTensor } from './export';
import type { OnnxLayerTable } from './layers';
import { onnxMessages } from './messages';
import { decodeOnnx, encodeOnnx } from './model';
import { createSession, layerTableOf, loadOnnxRuntime, OnnxSessions, type OnnxOpenedSession, type Ort } from './runtime';

export type OnnxRequestKind = 'onnxTable' | 'onnxOpen' | 'onnxImageFile' | 'onnxRun' | 'onnxOcclusion' | 'onnxClose' | 'onnxExport';

/** Batch of the verification input: more than one row checks the symbolic batch dimension too. */
const VERIFY_BATCH = 2;
const TOLERANCE = 1e-4;

export class OnnxEngineRequests {
  private ortModule: Ort | undefined;
  private sessionsInstance: OnnxSessions | undefined;

  constructor(private readonly addon: NativeAddon) {}

  private get ort(): Ort {
    this.ortModule ??= loadOnnxRuntime();
    return this.ortModule;
  }

  private get sessions(): OnnxSessions {
    this.sessionsInstance ??= new OnnxSessions(this.ort);
    return this.sessionsInstance;
  }

  async answer(request: EngineRequest): Promise<EngineRequestMap[OnnxRequestKind]['result']> {
    switch (request.kind) {
      case 'onnxTable': {
        const params = request.params as EngineRequestMap['onnxTable']['params'];
        return (await layerTableOf(params.path, this.ort)).table satisfies OnnxLayerTable;
      }
      case 'onnxOpen': {
        const params = request.params as EngineRequestMap['onnxOpen']['params'];
        const preferCuda = params.preferCuda ?? this.addon.engineInfo().gpuPresent;
        return (await this.sessions.open(params.path, preferCuda)) satisfies OnnxOpenedSession;
      }
      case 'onnxImageFile': {
        const params = request.params as EngineRequestMap['onnxImageFile']['params'];
        return this.imageFile(params.session, params.path);
      }
      case 'onnxRun': {
        const params = request.params as EngineRequestMap['onnxRun']['params'];
        return (await this.sessions.run(params.session, params.image, params.layers)) satisfies InferRunResult;
      }
      case 'onnxOcclusion': {
        const params = request.params as EngineRequestMap['onnxOcclusion']['params'];
        return (await this.sessions.occlusion(params.session, params.image, params.classIndex, params.patch, params.stride)) satisfies InferOcclusionResult;
      }
      case 'onnxClose': {
        const params = request.params as EngineRequestMap['onnxClose']['params'];
        await this.sessions.close(params.session);
        return {};
      }
      case 'onnxExport':
        return exportVerified(this.addon, this.ort, request.params as OnnxExportParams);
      default:
        throw new Error(`'${request.kind}' is not an ONNX request`);
    }
  }

  private imageFile(session: number, file: string): InferImage {
    const shape = this.sessions.inputShapeOf(session);
    const [channels = 3, height = 1, width = 1] = shape;
    const read = this.addon.readImageForModel(file, { channels, height, width });
    const image = this.sessions.imageFromPixels(session, read.pixels);
    return { ...image, label: null, className: null };
  }
}

function loadCheckpointInto(engine: NativeEngine, file: string): void {
  if (!fs.existsSync(file)) throw new Error(`${file}: the checkpoint does not exist`);
  const tensors = decodeSafetensors(fs.readFileSync(file), file);
  checkStateFits(engine, tensors, file);
  const given = new Map(tensors.map((tensor) => [tensor.name, tensor]));
  for (const name of engine.stateNames()) engine.setState(name, given.get(name)!);
}

/** Deterministic, varied input values: 1.5·sin(0.1·i + row); token ids cycle through the vocabulary. */
function verificationInputs(spec: EngineGraphSpec): { engine: Record<string, NativeTensor>; shapes: Record<string, number[]> } {
  const vocabulary = Math.min(...spec.nodes.filter((n) => n.op === 'embedding').map((n) => (typeof n.attrs['num_embeddings'] === 'number' ? n.attrs['num_embeddings'] : 1)), 1 << 30);
  const engine: Record<string, NativeTensor> = {};
  const shapes: Record<string, number[]> = {};
  for (const input of spec.inputs.filter((i) => i.name !== TARGET_INPUT)) {
    const shape = [VERIFY_BATCH, ...input.shape.slice(1)];
    const count = shape.reduce((a, b) => a * b, 1);
    const data = input.dtype === 'int64'
      ? Float32Array.from({ length: count }, (_, i) => (i * 7 + 3) % vocabulary)
      : Float32Array.from({ length: count }, (_, i) => 1.5 * Math.sin(0.1 * i + Math.floor(i / (count / VERIFY_BATCH))));
    engine[input.name] = { shape, data };
    shapes[input.name] = shape;
  }
  return { engine, shapes };
}

export async function exportVerified(addon: NativeAddon, ort: Ort, params: OnnxExportParams): Promise<OnnxExportResult> {
  const spec = JSON.parse(params.spec) as EngineGraphSpec;
  const engine = addon.createEngine(params.spec, params.seed);
  engine.setTraining(false);
  if (params.checkpoint !== undefined) loadCheckpointInto(engine, params.checkpoint);
  const inputs = verificationInputs(spec);
  const expected = engine.forward(inputs.engine);
  const shapes: Record<string, readonly number[]> = { ...engine.valueShapes(), ...inputs.shapes };
  const state = new Map<string, ExportTensor>(engine.stateNames().map((name) => [name, engine.getState(name)]));
  const model = exportToOnnx({ spec, state, shapes, producerVersion: version });
  const bytes = encodeOnnx(model);
  // What is written must read back as a valid model.
  decodeOnnx(bytes, params.out);

  const { session } = await createSession(ort, bytes, false);
  const feeds: Record<string, InstanceType<Ort['Tensor']>> = {};
  for (const input of spec.inputs.filter((i) => i.name !== TARGET_INPUT)) {
    const given = inputs.engine[input.name]!;
    feeds[input.name] = input.dtype === 'int64'
      ? new ort.Tensor('int64', BigInt64Array.from(given.data, (v) => BigInt(v)), given.shape)
      : new ort.Tensor('float32', given.data, given.shape);
  }
  const results = await session.run(feeds);
  await session.release();
  let worst = 0;
  const errors: { output: string; relativeError: number }[] = [];
  for (const output of spec.outputs) {
    const actual = results[output]?.data as Float32Array | undefined;
    const reference = expected[output]?.data;
    const error = actual && reference ? relativeError(actual, reference) : Infinity;
    errors.push({ output, relativeError: error });
    if (error > TOLERANCE || !Number.isFinite(error)) throw new Error(onnxMessages.exportMismatch(error, output));
    worst = Math.max(worst, error);
  }
  fs.mkdirSync(path.dirname(path.resolve(params.out)), { recursive: true });
  fs.writeFileSync(params.out, bytes);
  return {
    out: path.resolve(params.out), bytes: bytes.length, nodes: model.graph.nodes.length, initializers: model.graph.initializers.length,
    opset: model.opsets[0]?.version ?? 0, maxRelativeError: worst, outputs: errors, verifiedBatch: VERIFY_BATCH,
  };
}
