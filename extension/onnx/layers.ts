// The layer table of an ONNX model, like the model summary of a PyTorch file: one row per node
// with its op, its outputs' shapes and the parameters it reads from the initializers.
//
// Shapes come from the model's own shape information (graph inputs/outputs, value_info); values
// the model says nothing about can be filled from onnxruntime (a run on zeros with those values
// added as graph outputs, done by the caller) and each shape says where it came from.
// Parameters: a float initializer a node reads is a weight or a bias by the op's input position
// (Conv's input 1 is the weight, input 2 the bias); BatchNormalization's running statistics are
// buffers, as in PyTorch; integer initializers (shapes, axes) are constants, not parameters. An
// initializer read by several nodes counts once, at its first reader. Scalars are constants.
import { elementCount, nodeLabel, type OnnxDim, type OnnxModel, type OnnxTensor, type OnnxValueInfo } from './model';
import { dataTypeName, OnnxDataType } from './schema';

export type ShapeSource = 'model' | 'runtime' | 'unknown';
export type InitializerRole = 'weight' | 'bias' | 'buffer' | 'constant';

export interface OnnxLayerOutput {
  name: string;
  shape: OnnxDim[] | null;
  source: ShapeSource;
}

export interface OnnxLayerInitializer {
  name: string;
  role: InitializerRole;
  shape: number[];
  /** False when an earlier node already counted it. */
  counted: boolean;
}

export interface OnnxLayerRow {
  index: number;
  /** The node's name, or "#index OpType" for an unnamed node. */
  name: string;
  opType: string;
  domain: string;
  outputs: OnnxLayerOutput[];
  initializers: OnnxLayerInitializer[];
  weightParams: number;
  biasParams: number;
  /** Elements of non-trainable float state (running mean/var). */
  bufferElements: number;
}

export interface OnnxLayerTable {
  file: string;
  producer: string;
  irVersion: number;
  opsets: { domain: string; version: number }[];
  inputs: { name: string; type: string; shape: OnnxDim[] | null }[];
  outputs: { name: string; type: string; shape: OnnxDim[] | null; source: ShapeSource }[];
  layers: OnnxLayerRow[];
  totals: { params: number; weightParams: number; biasParams: number; bufferElements: number; constantElements: number; initializerBytes: number; nodes: number };
  /** Where the shapes came from overall, said to the user. */
  shapeNote: string;
}

/** Op → role of the initializer at each input position (positions not listed: weight when float). */
const ROLES: Record<string, readonly (InitializerRole | undefined)[]> = {
  Conv: [undefined, 'weight', 'bias'],
  ConvTranspose: [undefined, 'weight', 'bias'],
  Gemm: [undefined, 'weight', 'bias'],
  BatchNormalization: [undefined, 'weight', 'bias', 'buffer', 'buffer'],
  InstanceNormalization: [undefined, 'weight', 'bias'],
  LayerNormalization: [undefined, 'weight', 'bias'],
  GroupNormalization: [undefined, 'weight', 'bias'],
  LSTM: [undefined, 'weight', 'weight', 'bias'],
  GRU: [undefined, 'weight', 'weight', 'bias'],
  RNN: [undefined, 'weight', 'weight', 'bias'],
  // A bias added after a MatMul.
  Add: ['bias', 'bias'],
  Clip: [undefined, 'constant', 'constant'],
};

const FLOAT_TYPES = new Set<number>([OnnxDataType.FLOAT, OnnxDataType.FLOAT16, OnnxDataType.BFLOAT16, OnnxDataType.DOUBLE]);

function isFullShape(shape: OnnxDim[] | null | undefined): shape is OnnxDim[] {
  return Array.isArray(shape) && shape.every((d) => d !== null);
}

/** Node outputs (and graph outputs) the model gives no shape for: what a runtime pass would fill. */
export function valuesWithoutShape(model: OnnxModel): string[] {
  const known = shapeIndex(model);
  const missing: string[] = [];
  for (const node of model.graph.nodes) {
    for (const output of node.outputs) if (output !== '' && !isFullShape(known.get(output)?.shape)) missing.push(output);
  }
  return missing;
}

function shapeIndex(model: OnnxModel): Map<string, OnnxValueInfo> {
  const known = new Map<string, OnnxValueInfo>();
  for (const info of [...model.graph.inputs, ...model.graph.valueInfo, ...model.graph.outputs]) {
    const previous = known.get(info.name);
    if (!previous || (!isFullShape(previous.shape) && info.shape)) known.set(info.name, info);
  }
  return known;
}

function initializerBytes(tensor: OnnxTensor): number {
  if (tensor.raw) return tensor.raw.length;
  const count = elementCount(tensor.dims);
  return tensor.dataType === OnnxDataType.DOUBLE || tensor.dataType === OnnxDataType.INT64 ? count * 8 : count * 4;
}

export interface LayerTableOptions {
  /** Shapes measured by onnxruntime for values the model gives none (or a partial one). */
  runtimeShapes?: ReadonlyMap<string, readonly number[]>;
  /** Why runtime shapes are missing when they were asked for and could not be had. */
  runtimeProblem?: string;
}

export function buildLayerTable(model: OnnxModel, file: string, options: LayerTableOptions = {}): OnnxLayerTable {
  const known = shapeIndex(model);
  const runtime = options.runtimeShapes ?? new Map<string, readonly number[]>();
  const initializers = new Map(model.graph.initializers.map((t) => [t.name, t]));
  const counted = new Set<string>();
  const sources = { model: 0, runtime: 0, unknown: 0 };

  const shapeOf = (name: string): OnnxLayerOutput => {
    const info = known.get(name);
    if (isFullShape(info?.shape)) {
      // A symbolic dimension ('batch') stays symbolic unless the runtime pass measured it.
      const measured = runtime.get(name);
      if (measured && info.shape.some((d) => typeof d === 'string') && measured.length === info.shape.length) {
        return { name, shape: info.shape.map((d, i) => (typeof d === 'string' ? d : measured[i] ?? d)), source: 'model' };
      }
      return { name, shape: info.shape, source: 'model' };
    }
    const measured = runtime.get(name);
    if (measured) return { name, shape: [...measured], source: 'runtime' };
    return { name, shape: info?.shape ?? null, source: 'unknown' };
  };

  const totals = { params: 0, weightParams: 0, biasParams: 0, bufferElements: 0, constantElements: 0, initializerBytes: 0, nodes: model.graph.nodes.length };
  const layers: OnnxLayerRow[] = model.graph.nodes.map((node, index) => {
    const row: OnnxLayerRow = {
      index, name: nodeLabel(node, index), opType: node.opType, domain: node.domain,
      outputs: node.outputs.filter((o) => o !== '').map(shapeOf), initializers: [], weightParams: 0, biasParams: 0, bufferElements: 0,
    };
    for (const output of row.outputs) sources[output.source] += 1;
    node.inputs.forEach((input, position) => {
      const tensor = initializers.get(input);
      if (!tensor) return;
      const isFloat = FLOAT_TYPES.has(tensor.dataType);
      // Scalars (a Clip bound, the 0.5 of an exported GELU) are constants of the formula, not parameters.
      const role: InitializerRole = !isFloat || tensor.dims.length === 0 ? 'constant' : ROLES[node.opType]?.[position] ?? 'weight';
      const first = !counted.has(input);
      counted.add(input);
      row.initializers.push({ name: input, role, shape: tensor.dims, counted: first });
      const count = elementCount(tensor.dims);
      if (!first) return;
      totals.initializerBytes += initializerBytes(tensor);
      if (role === 'weight') row.weightParams += count;
      else if (role === 'bias') row.biasParams += count;
      else if (role === 'buffer') row.bufferElements += count;
      else totals.constantElements += count;
    });
    totals.weightParams += row.weightParams;
    totals.biasParams += row.biasParams;
    totals.bufferElements += row.bufferElements;
    return row;
  });
  totals.params = totals.weightParams + totals.biasParams;

  const parts: string[] = [];
  if (sources.model > 0) parts.push(`${sources.model} from the model's shape information`);
  if (sources.runtime > 0) parts.push(`${sources.runtime} measured by onnxruntime on a zeros input (the model gives none)`);
  if (sources.unknown > 0) parts.push(`${sources.unknown} unknown${options.runtimeProblem ? ` (${options.runtimeProblem})` : ''}`);
  return {
    file,
    producer: [model.producerName, model.producerVersion].filter((s) => s !== '').join(' '),
    irVersion: model.irVersion,
    opsets: model.opsets,
    inputs: model.graph.inputs.filter((i) => !initializers.has(i.name)).map((i) => ({ name: i.name, type: dataTypeName(i.elemType), shape: i.shape })),
    outputs: model.graph.outputs.map((o) => {
      const shape = shapeOf(o.name);
      return { name: o.name, type: dataTypeName(o.elemType), shape: shape.shape, source: shape.source };
    }),
    layers,
    totals,
    shapeNote: `Output shapes: ${parts.join(', ') || 'none'}.`,
  };
}

export function formatShape(shape: readonly OnnxDim[] | null): string {
  return shape ? `[${shape.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '?';
}

/** The table as text, like `netlens analyze`'s. */
export function formatLayerTable(table: OnnxLayerTable): string {
  const header = ['#', 'Node', 'Op', 'Output shape', 'Weights', 'Bias'];
  const rows = table.layers.map((layer) => [
    String(layer.index),
    layer.name,
    layer.domain ? `${layer.domain}.${layer.opType}` : layer.opType,
    layer.outputs.map((o) => formatShape(o.shape) + (o.source === 'runtime' ? '*' : '')).join(' '),
    layer.weightParams ? layer.weightParams.toLocaleString('en-US') : '',
    layer.biasParams ? layer.biasParams.toLocaleString('en-US') : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i >= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out: string[] = [];
  out.push(`${table.file} (ONNX IR ${table.irVersion}, opset ${table.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}${table.producer ? `, from ${table.producer}` : ''})`);
  out.push(`Inputs: ${table.inputs.map((i) => `${i.name} ${i.type} ${formatShape(i.shape)}`).join(', ')}`);
  out.push(line(header));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) out.push(line(row));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  const t = table.totals;
  out.push(`Total params: ${t.params.toLocaleString('en-US')} (weights ${t.weightParams.toLocaleString('en-US')}, biases ${t.biasParams.toLocaleString('en-US')})`);
  if (t.bufferElements > 0) out.push(`Buffers (running statistics): ${t.bufferElements.toLocaleString('en-US')}`);
  out.push(`Nodes: ${t.nodes}; initializers: ${(t.initializerBytes / 1024).toFixed(1)} KiB`);
  out.push(table.shapeNote + (table.layers.some((l) => l.outputs.some((o) => o.source === 'runtime')) ? ' (* = measured by onnxruntime)' : ''));
  return `${out.join('\n')}\n`;
}
