// Export of an engine graph spec (a model lowered for Netlens's engine) with its weights to an
// ONNX model (opset 17). Every value keeps its engine id as its ONNX name, so activations line up;
// an op that needs several ONNX nodes (GELU, Mish, SiLU, …) names its inner values "<id>/<part>".
// The value shapes come from an engine forward pass (the spec carries none), which also declares
// them as value_info. Ops ONNX cannot express in Netlens's export (recurrent layers, max unpool,
// interpolation) are refused with the op and the node.
import type { EngineAttr, EngineGraphSpec, EngineNodeSpec } from '../training/lower';
import { TARGET_INPUT } from '../training/lower';
import { onnxMessages } from './messages';
import type { OnnxAttribute, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './model';
import { OnnxAttributeType, OnnxDataType } from './schema';

export const EXPORT_OPSET = 17;

export interface ExportTensor {
  shape: number[];
  data: Float32Array;
}

export interface ExportInputs {
  spec: EngineGraphSpec;
  /** Parameters and buffers by state_dict name (as the engine holds them). */
  state: ReadonlyMap<string, ExportTensor>;
  /** Every node's output shape from an engine forward pass, batch included. */
  shapes: Readonly<Record<string, readonly number[]>>;
  producerVersion: string;
}

/** The export refused: what and where, in words. */
export class OnnxExportError extends Error {
  constructor(message: string, readonly op: string, readonly node: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

/** Ops the export writes; the others are refused with the op. */
export const EXPORTABLE_OPS = [
  'adaptive_avg_pool2d', 'adaptive_max_pool2d', 'add', 'avg_pool2d', 'batch_norm1d', 'batch_norm2d', 'cat', 'celu', 'conv2d', 'conv_transpose2d',
  'div', 'dropout', 'elu', 'embedding', 'flatten', 'gelu', 'hardshrink', 'hardsigmoid', 'hardswish', 'hardtanh', 'identity', 'layer_norm',
  'leaky_relu', 'linear', 'local_response_norm', 'log_softmax', 'logsigmoid', 'max_pool2d', 'mean', 'mish', 'mul', 'narrow', 'permute',
  'prelu', 'relu', 'relu6', 'reshape', 'select', 'selu', 'sigmoid', 'silu', 'softmax', 'softplus', 'softshrink', 'softsign', 'sub', 'sum',
  'tanh', 'tanhshrink',
] as const;

const attrInt = (name: string, i: number): OnnxAttribute => ({ name, type: OnnxAttributeType.INT, i });
const attrInts = (name: string, ints: number[]): OnnxAttribute => ({ name, type: OnnxAttributeType.INTS, ints });
const attrFloat = (name: string, f: number): OnnxAttribute => ({ name, type: OnnxAttributeType.FLOAT, f });

function floatTensor(name: string, dims: number[], data: Float32Array): OnnxTensor {
  return { name, dims, dataType: OnnxDataType.FLOAT, raw: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

function int64Tensor(name: string, dims: number[], values: readonly number[]): OnnxTensor {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  return { name, dims, dataType: OnnxDataType.INT64, raw: new Uint8Array(data.buffer) };
}

class Builder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  /** Shapes of the inner values of ops written as several nodes, declared as value_info too. */
  readonly partShapes = new Map<string, readonly number[]>();
  private readonly names = new Set<string>();

  constructor(private readonly state: ReadonlyMap<string, ExportTensor>) {}

  add(opType: string, inputs: string[], output: string, attributes: OnnxAttribute[] = [], name = output): string {
    this.nodes.push({ name, opType, domain: '', inputs, outputs: [output], attributes });
    return output;
  }

  /** A state tensor (once, by its state_dict name), optionally reshaped or transformed. */
  weight(key: string | undefined, node: EngineNodeSpec, shape?: number[], transform?: (t: ExportTensor) => ExportTensor): string {
    if (key === undefined) throw new OnnxExportError(onnxMessages.exportAttr(node.op, node.id, 'a parameter is missing from the spec'), node.op, node.id);
    const tensor = this.state.get(key);
    if (!tensor) throw new OnnxExportError(onnxMessages.exportMissingWeight(key), node.op, node.id);
    const value = transform ? transform(tensor) : tensor;
    const name = shape || transform ? `${key}/${node.id}` : key;
    if (!this.names.has(name)) {
      this.names.add(name);
      this.initializers.push(floatTensor(name, shape ?? value.shape, value.data));
    }
    return name;
  }

  stateShape(key: string | undefined, node: EngineNodeSpec): number[] {
    const tensor = key === undefined ? undefined : this.state.get(key);
    if (!tensor) throw new OnnxExportError(onnxMessages.exportMissingWeight(key ?? '?'), node.op, node.id);
    return tensor.shape;
  }

  constFloat(name: string, values: readonly number[], dims: number[] = []): string {
    if (!this.names.has(name)) {
      this.names.add(name);
      this.initializers.push(floatTensor(name, dims, Float32Array.from(values)));
    }
    return name;
  }

  constInt64(name: string, values: readonly number[], dims: number[] = [values.length]): string {
    if (!this.names.has(name)) {
      this.names.add(name);
      this.initializers.push(int64Tensor(name, dims, values));
    }
    return name;
  }
}

function pair(value: EngineAttr | undefined, fallback: number): [number, number] {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number')) return [value[0] as number, value[1] as number];
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'number') return [value[0], value[0]];
  return [fallback, fallback];
}

function numberAttr(node: EngineNodeSpec, name: string, fallback: number): number {
  const value = node.attrs[name];
  return typeof value === 'number' ? value : fallback;
}

/** Builds the ONNX model; OnnxExportError for an op or attribute the export cannot write. */
export function exportToOnnx(inputs: ExportInputs): OnnxModel {
  const { spec, shapes } = inputs;
  const b = new Builder(inputs.state);
  const shapeOf = (value: string): readonly number[] => {
    const shape = shapes[value];
    if (!shape) throw new OnnxExportError(onnxMessages.exportAttr('value', value, 'no shape was measured'), 'value', value);
    return shape;
  };
  for (const node of spec.nodes) exportNode(b, node, shapeOf);

  const modelInputs = spec.inputs.filter((input) => input.name !== TARGET_INPUT);
  // The batch (first) dimension is left symbolic so the exported model takes any batch.
  const declared = (name: string, shape: readonly number[], elemType: number): OnnxValueInfo => ({
    name, elemType, shape: shape.map((d, i) => (i === 0 ? 'N' : d)),
  });
  const outputIds = new Set(spec.outputs);
  return {
    irVersion: 8,
    producerName: 'netlens',
    producerVersion: inputs.producerVersion,
    opsets: [{ domain: '', version: EXPORT_OPSET }],
    graph: {
      name: 'netlens',
      nodes: b.nodes,
      initializers: b.initializers,
      inputs: modelInputs.map((input) => declared(input.name, shapes[input.name] ?? input.shape, input.dtype === 'int64' ? OnnxDataType.INT64 : OnnxDataType.FLOAT)),
      outputs: spec.outputs.map((id) => declared(id, shapeOf(id), OnnxDataType.FLOAT)),
      valueInfo: [
        ...spec.nodes.filter((n) => !outputIds.has(n.id) && shapes[n.id]).map((n) => declared(n.id, shapes[n.id]!, OnnxDataType.FLOAT)),
        ...[...b.partShapes].map(([name, shape]) => declared(name, shape, OnnxDataType.FLOAT)),
      ],
    },
  };
}

function exportNode(b: Builder, node: EngineNodeSpec, shapeOf: (value: string) => readonly number[]): void {
  const id = node.id;
  const x = node.inputs[0] ?? '';
  const refuse = (detail: string): never => {
    throw new OnnxExportError(onnxMessages.exportAttr(node.op, id, detail), node.op, id);
  };
  // Inner values of elementwise expansions have the output's shape unless said otherwise.
  const part = (name: string, shape: readonly number[] = shapeOf(id)): string => {
    b.partShapes.set(`${id}/${name}`, shape);
    return `${id}/${name}`;
  };
  const scalar = (value: number): string => b.constFloat(`${id}/const_${value}`, [value]);
  const axis = (d: number, rank: number): number => (d < 0 ? d + rank : d);

  switch (node.op) {
    case 'relu': b.add('Relu', [x], id); return;
    case 'sigmoid': b.add('Sigmoid', [x], id); return;
    case 'tanh': b.add('Tanh', [x], id); return;
    case 'softsign': b.add('Softsign', [x], id); return;
    case 'hardswish': b.add('HardSwish', [x], id); return;
    case 'hardsigmoid': b.add('HardSigmoid', [x], id, [attrFloat('alpha', 1 / 6), attrFloat('beta', 0.5)]); return;
    case 'selu': b.add('Selu', [x], id); return;
    case 'elu': b.add('Elu', [x], id, [attrFloat('alpha', numberAttr(node, 'alpha', 1))]); return;
    case 'celu': b.add('Celu', [x], id, [attrFloat('alpha', numberAttr(node, 'alpha', 1))]); return;
    case 'leaky_relu': b.add('LeakyRelu', [x], id, [attrFloat('alpha', numberAttr(node, 'negative_slope', 0.01))]); return;
    case 'relu6': b.add('Clip', [x, scalar(0), scalar(6)], id); return;
    case 'hardtanh': b.add('Clip', [x, scalar(numberAttr(node, 'min_val', -1)), scalar(numberAttr(node, 'max_val', 1))], id); return;
    case 'hardshrink': b.add('Shrink', [x], id, [attrFloat('lambd', numberAttr(node, 'lambd', 0.5)), attrFloat('bias', 0)]); return;
    case 'softshrink': {
      const lambd = numberAttr(node, 'lambd', 0.5);
      b.add('Shrink', [x], id, [attrFloat('lambd', lambd), attrFloat('bias', lambd)]);
      return;
    }
    case 'silu': b.add('Mul', [x, b.add('Sigmoid', [x], part('sigmoid'))], id); return;
    case 'mish': b.add('Mul', [x, b.add('Tanh', [b.add('Softplus', [x], part('softplus'))], part('tanh'))], id); return;
    case 'tanhshrink': b.add('Sub', [x, b.add('Tanh', [x], part('tanh'))], id); return;
    case 'logsigmoid': {
      // log σ(x) = −softplus(−x), stable for large |x|.
      const negated = b.add('Neg', [x], part('neg'));
      b.add('Neg', [b.add('Softplus', [negated], part('softplus'))], id);
      return;
    }
    case 'softplus': {
      // PyTorch switches to the identity above `threshold` (a difference below e^-threshold); ONNX's Softplus has no beta.
      const beta = numberAttr(node, 'beta', 1);
      if (beta === 1) {
        b.add('Softplus', [x], id);
      } else {
        const scaled = b.add('Mul', [x, scalar(beta)], part('scaled'));
        b.add('Div', [b.add('Softplus', [scaled], part('softplus')), scalar(beta)], id);
      }
      return;
    }
    case 'gelu': {
      // Opset 17 has no Gelu: 0.5·x·(1 + erf(x/√2)), or the tanh form PyTorch's approximate='tanh' uses.
      const approximate = node.attrs['approximate'];
      let inner: string;
      if (approximate === 'tanh') {
        const cube = b.add('Mul', [b.add('Mul', [x, x], part('square')), x], part('cube'));
        const sum = b.add('Add', [x, b.add('Mul', [cube, scalar(0.044715)], part('cubic'))], part('sum'));
        inner = b.add('Tanh', [b.add('Mul', [sum, scalar(Math.sqrt(2 / Math.PI))], part('scaled'))], part('tanh'));
      } else {
        inner = b.add('Erf', [b.add('Div', [x, scalar(Math.SQRT2)], part('scaled'))], part('erf'));
      }
      const half = b.add('Mul', [x, scalar(0.5)], part('half'));
      b.add('Mul', [half, b.add('Add', [inner, scalar(1)], part('one_plus'))], id);
      return;
    }
    case 'identity':
    case 'dropout':
      // F.dropout(x) without training=self.training drops even in eval mode: not an inference op.
      if (node.attrs['always'] === true) refuse('dropout that stays active in eval mode (F.dropout without training=self.training)');
      b.add('Identity', [x], id);
      return;
    case 'add':
    case 'sub':
    case 'mul':
    case 'div': {
      const op = { add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div' }[node.op];
      const alpha = node.attrs['alpha'];
      let left = x;
      let right = node.inputs[1] ?? scalar(numberAttr(node, 'other', 0));
      if (node.inputs.length < 2 && node.attrs['reverse'] === true) [left, right] = [right, left];
      if (typeof alpha === 'number' && alpha !== 1) right = b.add('Mul', [right, scalar(alpha)], part('alpha', node.inputs[1] ? shapeOf(node.inputs[1]) : []));
      b.add(op, [left, right], id);
      return;
    }
    case 'conv2d':
    case 'conv_transpose2d': {
      const transposed = node.op === 'conv_transpose2d';
      if (node.attrs['padding_mode'] !== undefined && node.attrs['padding_mode'] !== 'zeros') refuse(`padding_mode '${String(node.attrs['padding_mode'])}'`);
      const weightKey = node.params?.['weight'];
      const weight = b.weight(weightKey, node);
      // The kernel is the weight's last two dimensions (PyTorch's layout for both convolutions).
      const weightShape = b.stateShape(weightKey, node);
      const [kh, kw] = [weightShape[2] ?? 1, weightShape[3] ?? 1];
      const [sh, sw] = pair(node.attrs['stride'], 1);
      const [dh, dw] = pair(node.attrs['dilation'], 1);
      let pads: number[];
      const padding = node.attrs['padding'];
      if (padding === 'valid') pads = [0, 0, 0, 0];
      else if (padding === 'same') {
        const totalH = dh * (kh - 1);
        const totalW = dw * (kw - 1);
        pads = [Math.floor(totalH / 2), Math.floor(totalW / 2), totalH - Math.floor(totalH / 2), totalW - Math.floor(totalW / 2)];
      } else {
        const [ph, pw] = pair(padding, 0);
        pads = [ph, pw, ph, pw];
      }
      const attributes = [
        attrInts('kernel_shape', [kh, kw]), attrInts('strides', [sh, sw]), attrInts('dilations', [dh, dw]), attrInts('pads', pads),
        attrInt('group', numberAttr(node, 'groups', 1)),
      ];
      if (transposed) attributes.push(attrInts('output_padding', pair(node.attrs['output_padding'], 0)));
      const inputs = [x, weight];
      if (node.params?.['bias'] !== undefined) inputs.push(b.weight(node.params['bias'], node));
      b.add(transposed ? 'ConvTranspose' : 'Conv', inputs, id, attributes);
      return;
    }
    case 'linear': {
      const rank = shapeOf(x).length;
      const weightKey = node.params?.['weight'];
      if (rank === 2) {
        const inputs = [x, b.weight(weightKey, node)];
        if (node.params?.['bias'] !== undefined) inputs.push(b.weight(node.params['bias'], node));
        b.add('Gemm', inputs, id, [attrInt('transB', 1)]);
        return;
      }
      // N-D input: MatMul with the transposed weight, then the bias.
      const transposed = b.weight(weightKey, node, undefined, (t) => transpose2d(t));
      if (node.params?.['bias'] === undefined) {
        b.add('MatMul', [x, transposed], id);
      } else {
        b.add('Add', [b.add('MatMul', [x, transposed], part('matmul')), b.weight(node.params['bias'], node)], id);
      }
      return;
    }
    case 'batch_norm1d':
    case 'batch_norm2d': {
      if (node.attrs['track_running_stats'] === false) refuse('no running statistics (eval mode would normalize with the batch\'s own)');
      const channels = shapeOf(x)[1] ?? 0;
      const scale = node.params?.['weight'] !== undefined ? b.weight(node.params['weight'], node) : b.constFloat(part('ones'), new Array<number>(channels).fill(1), [channels]);
      const bias = node.params?.['bias'] !== undefined ? b.weight(node.params['bias'], node) : b.constFloat(part('zeros'), new Array<number>(channels).fill(0), [channels]);
      b.add('BatchNormalization', [x, scale, bias, b.weight(node.params?.['running_mean'], node), b.weight(node.params?.['running_var'], node)], id, [
        attrFloat('epsilon', numberAttr(node, 'eps', 1e-5)), attrFloat('momentum', 1 - numberAttr(node, 'momentum', 0.1)),
      ]);
      return;
    }
    case 'layer_norm': {
      const normalized = node.attrs['normalized_shape'];
      const dims = typeof normalized === 'number' ? [normalized] : Array.isArray(normalized) ? normalized.filter((d): d is number => typeof d === 'number') : [];
      if (dims.length === 0) refuse('an unknown normalized_shape');
      const count = dims.reduce((a, c) => a * c, 1);
      const scale = node.params?.['weight'] !== undefined ? b.weight(node.params['weight'], node) : b.constFloat(part('ones'), new Array<number>(count).fill(1), dims);
      const inputs = [x, scale];
      if (node.params?.['bias'] !== undefined) inputs.push(b.weight(node.params['bias'], node));
      b.add('LayerNormalization', inputs, id, [attrInt('axis', -dims.length), attrFloat('epsilon', numberAttr(node, 'eps', 1e-5))]);
      return;
    }
    case 'max_pool2d':
    case 'avg_pool2d': {
      const [kh, kw] = pair(node.attrs['kernel_size'], 1);
      const stride = node.attrs['stride'];
      const [sh, sw] = stride === null || stride === undefined || (Array.isArray(stride) && stride.length === 0) ? [kh, kw] : pair(stride, 1);
      const [ph, pw] = pair(node.attrs['padding'], 0);
      const attributes = [attrInts('kernel_shape', [kh, kw]), attrInts('strides', [sh, sw]), attrInts('pads', [ph, pw, ph, pw]), attrInt('ceil_mode', node.attrs['ceil_mode'] === true ? 1 : 0)];
      if (node.op === 'max_pool2d') {
        attributes.push(attrInts('dilations', pair(node.attrs['dilation'], 1)));
        b.add('MaxPool', [x], id, attributes);
      } else {
        const divisor = numberAttr(node, 'divisor_override', 0);
        if (divisor !== 0 && divisor !== kh * kw) refuse(`divisor_override ${divisor}`);
        attributes.push(attrInt('count_include_pad', node.attrs['count_include_pad'] === false ? 0 : 1));
        b.add('AveragePool', [x], id, attributes);
      }
      return;
    }
    case 'adaptive_avg_pool2d':
    case 'adaptive_max_pool2d': {
      const input = shapeOf(x);
      const output = shapeOf(id);
      const [h, w] = [input[input.length - 2] ?? 1, input[input.length - 1] ?? 1];
      const [oh, ow] = [output[output.length - 2] ?? 1, output[output.length - 1] ?? 1];
      const average = node.op === 'adaptive_avg_pool2d';
      if (oh === 1 && ow === 1) {
        b.add(average ? 'GlobalAveragePool' : 'GlobalMaxPool', [x], id);
      } else if (h % oh === 0 && w % ow === 0) {
        // Equal bins: a plain pool with kernel = stride = input / output.
        b.add(average ? 'AveragePool' : 'MaxPool', [x], id, [attrInts('kernel_shape', [h / oh, w / ow]), attrInts('strides', [h / oh, w / ow])]);
      } else {
        refuse(`output ${oh}×${ow} from ${h}×${w} (bins of unequal size)`);
      }
      return;
    }
    case 'flatten': {
      const input = shapeOf(x);
      const start = axis(numberAttr(node, 'start_dim', 1), input.length);
      const end = axis(numberAttr(node, 'end_dim', -1), input.length);
      if (end === input.length - 1 && start >= 1) {
        if (start === 1) b.add('Flatten', [x], id, [attrInt('axis', 1)]);
        else b.add('Reshape', [x, b.constInt64(part('shape'), [-1, ...input.slice(1, start), input.slice(start).reduce((a, c) => a * c, 1)])], id);
      } else {
        const shape = [...shapeOf(id)];
        if (start >= 1) shape[0] = -1;
        b.add('Reshape', [x, b.constInt64(part('shape'), shape)], id);
      }
      return;
    }
    case 'reshape': {
      const shape = node.attrs['shape'];
      if (!Array.isArray(shape) || !shape.every((d): d is number => typeof d === 'number')) refuse('an unknown shape');
      b.add('Reshape', [x, b.constInt64(part('shape'), shape as number[])], id);
      return;
    }
    case 'permute': {
      const dims = node.attrs['dims'];
      const rank = shapeOf(x).length;
      if (!Array.isArray(dims)) refuse('unknown dims');
      b.add('Transpose', [x], id, [attrInts('perm', (dims as number[]).map((d) => axis(d, rank)))]);
      return;
    }
    case 'cat':
      b.add('Concat', node.inputs, id, [attrInt('axis', numberAttr(node, 'dim', 0))]);
      return;
    case 'select': {
      const rank = shapeOf(x).length;
      const d = axis(numberAttr(node, 'dim', 0), rank);
      const extent = shapeOf(x)[d] ?? 0;
      const index = numberAttr(node, 'index', 0);
      b.add('Gather', [x, b.constInt64(part('index'), [index < 0 ? index + extent : index], [])], id, [attrInt('axis', d)]);
      return;
    }
    case 'narrow': {
      const d = axis(numberAttr(node, 'dim', 0), shapeOf(x).length);
      const start = numberAttr(node, 'start', 0);
      const length = numberAttr(node, 'length', 0);
      b.add('Slice', [x, b.constInt64(part('starts'), [start]), b.constInt64(part('ends'), [start + length]), b.constInt64(part('axes'), [d])], id);
      return;
    }
    case 'softmax':
    case 'log_softmax':
      b.add(node.op === 'softmax' ? 'Softmax' : 'LogSoftmax', [x], id, [attrInt('axis', numberAttr(node, 'dim', -1))]);
      return;
    case 'mean':
    case 'sum': {
      const rank = shapeOf(x).length;
      const given = node.attrs['dim'];
      const dims = typeof given === 'number' ? [given] : Array.isArray(given) ? given.filter((d): d is number => typeof d === 'number') : [];
      const keep = attrInt('keepdims', node.attrs['keepdim'] === true ? 1 : 0);
      const axes = dims.map((d) => axis(d, rank));
      if (node.op === 'mean') {
        b.add('ReduceMean', [x], id, axes.length > 0 ? [attrInts('axes', axes), keep] : [keep]);
      } else {
        // ReduceSum takes its axes as an input from opset 13.
        b.add('ReduceSum', axes.length > 0 ? [x, b.constInt64(part('axes'), axes)] : [x], id, [keep]);
      }
      return;
    }
    case 'local_response_norm':
      b.add('LRN', [x], id, [
        attrInt('size', numberAttr(node, 'size', 1)), attrFloat('alpha', numberAttr(node, 'alpha', 1e-4)),
        attrFloat('beta', numberAttr(node, 'beta', 0.75)), attrFloat('bias', numberAttr(node, 'k', 1)),
      ]);
      return;
    case 'prelu': {
      const rank = shapeOf(x).length;
      const key = node.params?.['weight'];
      const count = numberAttr(node, 'num_parameters', 1);
      // The slope broadcasts over the channel dimension (1) of an N-D input.
      const slopeShape = count === 1 ? [1] : [count, ...new Array<number>(Math.max(0, rank - 2)).fill(1)];
      b.add('PRelu', [x, b.weight(key, node, slopeShape)], id);
      return;
    }
    case 'embedding':
      b.add('Gather', [b.weight(node.params?.['weight'], node), x], id, [attrInt('axis', 0)]);
      return;
    default:
      throw new OnnxExportError(onnxMessages.exportUnsupported(node.op, id), node.op, id);
  }
}

function transpose2d(tensor: ExportTensor): ExportTensor {
  const [rows = 0, cols = 0] = tensor.shape;
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) data[c * rows + r] = tensor.data[r * cols + c]!;
  return { shape: [cols, rows], data };
}

/** Largest |a − b| over the largest |b| (relative to the output's scale). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 1e-12;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  let worst = actual.length === expected.length ? 0 : Infinity;
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / scale);
  return worst;
}

