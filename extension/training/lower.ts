// Lowering: the analyzer's recorded forward graph (ModelReport.graph) becomes the engine graph
// spec of docs/DESIGN-NOTES.md. Parameters are named by their state_dict keys; no-op calls
// (Identity, contiguous, .float()) disappear; a call the engine cannot run is refused here,
// before anything starts, with the op, the file and the line.
import type { GraphArgument, GraphNodeReport, GraphTensorRef, ModelReport, ReportDim } from '../analysis/reportTypes';
import { trainingMessages } from './messages';

export type EngineAttr = number | string | boolean | null | EngineAttr[];

export interface EngineNodeSpec {
  id: string;
  op: string;
  attrs: Record<string, EngineAttr>;
  inputs: string[];
  /** Role → state_dict key. */
  params?: Record<string, string>;
}

export interface EngineInputSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int64';
}

export interface EngineLossSpec {
  op: 'cross_entropy' | 'mse';
  input: string;
  target: string;
  label_smoothing?: number;
}

export interface EngineScheduleSpec {
  type: 'constant' | 'step' | 'cosine';
  step_size?: number;
  gamma?: number;
  t_max?: number;
  eta_min?: number;
  warmup_steps?: number;
  warmup_start_factor?: number;
}

export interface EngineOptimizerSpec {
  type: 'sgd' | 'adam' | 'adamw' | 'rmsprop';
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weight_decay?: number;
  frozen?: string[];
  schedule?: EngineScheduleSpec;
}

export interface EngineGraphSpec {
  inputs: EngineInputSpec[];
  nodes: EngineNodeSpec[];
  outputs: string[];
  loss?: EngineLossSpec;
  optimizer?: EngineOptimizerSpec;
}

/** A model the engine cannot run, said before start: what, and where in the user's code. */
export class LoweringError extends Error {
  constructor(
    message: string,
    readonly op: string,
    readonly file: string,
    readonly line: number,
  ) {
    super(file ? `${file}:${line}: ${message}` : message);
    this.name = 'LoweringError';
  }
}

export interface LowerOptions {
  /** The engine's op list (engineOps()); every emitted op is checked against it when given. */
  engineOps?: readonly string[];
  /** Adds the label input `y` and a cross-entropy loss on the single output. */
  loss?: 'cross_entropy';
  optimizer?: EngineOptimizerSpec;
}

/** The label input's name when a loss is added. */
export const TARGET_INPUT = 'y';

/** The ops this lowering can emit (the CPU engine's op set), for messages when no engine list is given. */
export const EMITTED_OPS: readonly string[] = [
  'abs', 'adaptive_avg_pool2d', 'adaptive_max_pool2d', 'add', 'avg_pool2d', 'batch_norm1d', 'batch_norm2d', 'cat', 'celu',
  'clamp', 'conv2d', 'conv_transpose2d', 'div', 'dropout', 'elu', 'embedding', 'exp', 'flatten', 'gelu', 'gru', 'hardshrink',
  'hardsigmoid', 'hardswish', 'hardtanh', 'identity', 'interpolate', 'layer_norm', 'leaky_relu', 'linear',
  'local_response_norm', 'log', 'log_softmax', 'logsigmoid', 'lstm', 'matmul', 'max_pool2d', 'max_unpool2d', 'mean', 'mish',
  'mul', 'narrow', 'permute', 'pow', 'prelu', 'recurrent_state', 'relu', 'relu6', 'reshape', 'rsqrt', 'select', 'selu',
  'sigmoid', 'silu', 'softmax', 'softplus', 'softshrink', 'softsign', 'sqrt', 'sub', 'sum', 'tanh', 'tanhshrink',
];

/** Elementwise activations by every spelling (nn module, F.*, torch.*, tensor method, in-place). */
const ACTIVATIONS: Record<string, string> = {
  ReLU: 'relu', relu: 'relu', relu_: 'relu',
  ReLU6: 'relu6', relu6: 'relu6',
  LeakyReLU: 'leaky_relu', leaky_relu: 'leaky_relu', leaky_relu_: 'leaky_relu',
  GELU: 'gelu', gelu: 'gelu',
  SiLU: 'silu', silu: 'silu', silu_: 'silu',
  Sigmoid: 'sigmoid', sigmoid: 'sigmoid', sigmoid_: 'sigmoid',
  Tanh: 'tanh', tanh: 'tanh', tanh_: 'tanh',
  Hardswish: 'hardswish', hardswish: 'hardswish', hardswish_: 'hardswish',
  ELU: 'elu', elu: 'elu', elu_: 'elu',
  SELU: 'selu', selu: 'selu', selu_: 'selu',
  CELU: 'celu', celu: 'celu', celu_: 'celu',
  Softplus: 'softplus', softplus: 'softplus',
  Hardsigmoid: 'hardsigmoid', hardsigmoid: 'hardsigmoid', hardsigmoid_: 'hardsigmoid',
  Hardtanh: 'hardtanh', hardtanh: 'hardtanh', hardtanh_: 'hardtanh',
  Mish: 'mish', mish: 'mish', mish_: 'mish',
  Softsign: 'softsign', softsign: 'softsign',
  LogSigmoid: 'logsigmoid', logsigmoid: 'logsigmoid',
  Tanhshrink: 'tanhshrink', tanhshrink: 'tanhshrink',
  Softshrink: 'softshrink', softshrink: 'softshrink',
  Hardshrink: 'hardshrink', hardshrink: 'hardshrink',
};

/**
 * An activation's numeric arguments: the engine attr, its position in F.* / torch.* / the tensor
 * method (after the tensor), and PyTorch's default. Modules carry the same names as attributes.
 */
const ACTIVATION_ARGUMENTS: Record<string, readonly (readonly [name: string, position: number, fallback: number])[]> = {
  leaky_relu: [['negative_slope', 1, 0.01]],
  elu: [['alpha', 1, 1.0]],
  celu: [['alpha', 1, 1.0]],
  softplus: [['beta', 1, 1.0], ['threshold', 2, 20.0]],
  hardtanh: [['min_val', 1, -1.0], ['max_val', 2, 1.0]],
  softshrink: [['lambd', 1, 0.5]],
  hardshrink: [['lambd', 1, 0.5]],
};

/** Arithmetic by every spelling: operators, torch.* functions, tensor methods (in-place too). */
const ARITHMETIC: Record<string, 'add' | 'sub' | 'mul' | 'div' | 'rsub'> = {
  add: 'add', add_: 'add', iadd: 'add',
  sub: 'sub', sub_: 'sub', isub: 'sub', subtract: 'sub', subtract_: 'sub', rsub: 'rsub',
  mul: 'mul', mul_: 'mul', imul: 'mul', multiply: 'mul', multiply_: 'mul',
  div: 'div', div_: 'div', idiv: 'div', itruediv: 'div', truediv: 'div', divide: 'div', divide_: 'div', true_divide: 'div', true_divide_: 'div',
};

/** Calls that return their input unchanged as far as values and gradients go. */
const NO_OPS = new Set(['Identity', 'contiguous', 'clone', 'float', 'to', 'detach_copy', 'requires_grad_']);

type Lowered = { id: string } | { alias: GraphTensorRef };

/** Lowers a model's recorded graph; throws LoweringError for what the engine cannot run. */
export function lowerModel(model: ModelReport, options: LowerOptions = {}): EngineGraphSpec {
  const graph = model.graph;
  if (!graph) throw new LoweringError(trainingMessages.noGraph(model.name), model.name, '', 0);
  if (graph.nodes.length === 0 && graph.outputs.length === 0) throw new LoweringError(trainingMessages.noTrace(model.name), model.name, '', 0);
  const lowering = new Lowering(model, options);
  return lowering.run();
}

class Lowering {
  private readonly nodes: EngineNodeSpec[] = [];
  private readonly usedIds = new Set<string>();
  /** graph node index → engine value id per output (or an alias of another reference). */
  private readonly results = new Map<number, Lowered[]>();
  private readonly inputNames: string[];

  constructor(
    private readonly model: ModelReport,
    private readonly options: LowerOptions,
  ) {
    this.inputNames = model.inputs.length === 1 ? ['x'] : model.inputs.map((_, i) => `input${i}`);
  }

  run(): EngineGraphSpec {
    const graph = this.model.graph!;
    const inputs: EngineInputSpec[] = this.model.inputs.map((shape, i) => ({
      name: this.inputNames[i]!,
      shape: concreteShape(shape),
      dtype: 'float32',
    }));
    graph.nodes.forEach((node, index) => this.lowerNode(node, index));
    // An input read only by embeddings holds token ids.
    for (const input of inputs) {
      const readers = this.nodes.filter((node) => node.inputs.includes(input.name));
      if (readers.length > 0 && readers.every((node) => node.op === 'embedding')) input.dtype = 'int64';
    }
    if (graph.outputs.length === 0) throw new LoweringError(trainingMessages.noTrace(this.model.name), 'return', '', 0);
    const outputs = graph.outputs.map((ref) => this.valueOf(ref, { op: 'return', file: '', line: 0 }));
    const spec: EngineGraphSpec = { inputs, nodes: this.nodes, outputs };
    if (this.options.loss) {
      if (outputs.length !== 1) throw new LoweringError(trainingMessages.notOneOutput(outputs.length), 'return', '', 0);
      const shape = this.model.output[0] ?? [];
      if (shape.length !== 2) throw new LoweringError(trainingMessages.outputNotClassLogits(shape.join(', ')), 'return', '', 0);
      inputs.push({ name: TARGET_INPUT, shape: [inputs[0]?.shape[0] ?? 1], dtype: 'int64' });
      spec.loss = { op: 'cross_entropy', input: outputs[0]!, target: TARGET_INPUT };
    }
    if (this.options.optimizer) spec.optimizer = this.options.optimizer;
    const known = this.options.engineOps;
    if (known) {
      for (const node of this.nodes) {
        if (!known.includes(node.op)) {
          const origin = graph.nodes.find((n) => this.idsOf(n).includes(node.id));
          throw new LoweringError(trainingMessages.unsupportedOp(node.op, known), node.op, origin?.file ?? '', origin?.line ?? 0);
        }
      }
    }
    return spec;
  }

  private idsOf(node: GraphNodeReport): string[] {
    const index = this.model.graph!.nodes.indexOf(node);
    return (this.results.get(index) ?? []).flatMap((r) => ('id' in r ? [r.id] : []));
  }

  private lowerNode(node: GraphNodeReport, index: number): void {
    const fail = (message: string): never => {
      throw new LoweringError(message, node.op, node.file, node.line);
    };
    const unsupported = (): never => fail(trainingMessages.unsupportedOp(node.op, this.options.engineOps ?? EMITTED_OPS));
    const args = new Arguments(node);
    const tensorArgs = (): GraphTensorRef[] => node.args.flatMap((a) => tensorRefsIn(a));
    const first = (): string => {
      const ref = tensorArgs()[0];
      if (!ref) return fail(trainingMessages.untrackedTensor(node.op));
      return this.valueOf(ref, node);
    };
    const outputShape = node.outputs[0] ?? [];
    const emit = (op: string, inputs: string[], given: Record<string, EngineAttr | undefined>, params?: Record<string, string>): void => {
      const id = this.freshId(node.kind === 'module' && node.path ? node.path : `${op}_${index}`);
      const attrs: Record<string, EngineAttr> = {};
      for (const [name, value] of Object.entries(given)) if (value !== undefined) attrs[name] = value;
      const spec: EngineNodeSpec = { id, op, attrs, inputs };
      if (params) spec.params = params;
      this.nodes.push(spec);
      this.results.set(index, [{ id }]);
    };
    const alias = (ref: GraphTensorRef | undefined): void => {
      if (!ref) fail(trainingMessages.untrackedTensor(node.op));
      this.results.set(index, [{ alias: ref! }]);
    };
    const stateOf = (...roles: string[]): Record<string, string> => {
      const params: Record<string, string> = {};
      for (const role of roles) if (node.attrs[`has_${role}`] === true) params[role] = node.path ? `${node.path}.${role}` : role;
      return params;
    };
    // A module attribute the analyzer did not record is left out (the engine applies PyTorch's default); None stays null.
    const attr = (name: string): EngineAttr | undefined => {
      const value = node.attrs[name];
      return value === undefined ? undefined : plain(value, () => fail(trainingMessages.unsupportedArgument(node.op, `an unknown ${name}`)));
    };

    const activation = ACTIVATIONS[node.op];
    if (activation !== undefined && (node.kind !== 'operator')) {
      const attrs: Record<string, EngineAttr | undefined> = {};
      for (const [name, position, fallback] of ACTIVATION_ARGUMENTS[activation] ?? []) {
        attrs[name] = node.kind === 'module' ? attr(name) : numberOr(args.get(position, name), fallback);
      }
      if (activation === 'gelu') attrs['approximate'] = node.kind === 'module' ? attr('approximate') : stringOr(args.get(1, 'approximate'), 'none');
      emit(activation, [first()], attrs);
      return;
    }
    const arithmetic = ARITHMETIC[node.op];
    if (arithmetic !== undefined && node.kind !== 'module') {
      this.lowerArithmetic(node, arithmetic, args, emit, fail);
      return;
    }
    if (NO_OPS.has(node.op) && node.kind !== 'operator') {
      if (node.op === 'to' || node.op === 'float') {
        // `.to(device)` and `.float()` keep float32 values; a cast to another dtype is not a no-op.
        if (node.args.slice(1).some((a) => typeof a === 'string' && /int|half|bfloat|double/.test(a))) unsupported();
      }
      alias(tensorArgs()[0]);
      return;
    }

    switch (node.kind === 'module' ? `module:${node.op}` : node.op) {
      case 'module:Conv2d':
      case 'module:ConvTranspose2d': {
        const transposed = node.op === 'ConvTranspose2d';
        const attrs: Record<string, EngineAttr | undefined> = {
          in_channels: attr('in_channels'), out_channels: attr('out_channels'), kernel_size: attr('kernel_size'),
          stride: attr('stride'), padding: attr('padding'), dilation: attr('dilation'), groups: attr('groups'),
          bias: node.attrs['has_bias'] === true, padding_mode: attr('padding_mode'),
        };
        if (transposed) attrs['output_padding'] = attr('output_padding');
        emit(transposed ? 'conv_transpose2d' : 'conv2d', [first()], attrs, stateOf('weight', 'bias'));
        return;
      }
      case 'module:Linear':
        emit('linear', [first()], { in_features: attr('in_features'), out_features: attr('out_features'), bias: node.attrs['has_bias'] === true }, stateOf('weight', 'bias'));
        return;
      case 'module:BatchNorm1d':
      case 'module:BatchNorm2d':
        emit(node.op === 'BatchNorm1d' ? 'batch_norm1d' : 'batch_norm2d', [first()], {
          num_features: attr('num_features'), eps: attr('eps'), momentum: attr('momentum'),
          affine: node.attrs['has_weight'] === true, track_running_stats: node.attrs['has_running_mean'] === true,
        }, stateOf('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'));
        return;
      case 'module:LayerNorm':
        emit('layer_norm', [first()], {
          normalized_shape: attr('normalized_shape'), eps: attr('eps'),
          elementwise_affine: node.attrs['has_weight'] === true, bias: node.attrs['has_bias'] === true,
        }, stateOf('weight', 'bias'));
        return;
      case 'module:MaxPool2d': {
        emit('max_pool2d', [first()], {
          kernel_size: attr('kernel_size'), stride: attr('stride'), padding: attr('padding'), dilation: attr('dilation'), ceil_mode: attr('ceil_mode'),
        });
        // The second output (indices) has no value id: only max_unpool2d consumes it, naming the pool node.
        return;
      }
      case 'max_pool2d': {
        if (args.get(6, 'return_indices') === true) unsupported();
        const kernel = args.get(1, 'kernel_size');
        const stride = args.get(2, 'stride');
        emit('max_pool2d', [first()], {
          kernel_size: plainOr(kernel, null), stride: stride === null || stride === undefined || (Array.isArray(stride) && stride.length === 0) ? plainOr(kernel, null) : plainOr(stride, null),
          padding: plainOr(args.get(3, 'padding'), 0), dilation: plainOr(args.get(4, 'dilation'), 1), ceil_mode: plainOr(args.get(5, 'ceil_mode'), false),
        });
        return;
      }
      case 'module:AvgPool2d':
        emit('avg_pool2d', [first()], {
          kernel_size: attr('kernel_size'), stride: attr('stride'), padding: attr('padding'), ceil_mode: attr('ceil_mode'),
          count_include_pad: attr('count_include_pad'), divisor_override: node.attrs['divisor_override'] === null ? 0 : attr('divisor_override'),
        });
        return;
      case 'avg_pool2d': {
        const kernel = args.get(1, 'kernel_size');
        const stride = args.get(2, 'stride');
        const divisor = args.get(6, 'divisor_override');
        emit('avg_pool2d', [first()], {
          kernel_size: plainOr(kernel, null), stride: stride === null || stride === undefined ? plainOr(kernel, null) : plainOr(stride, null),
          padding: plainOr(args.get(3, 'padding'), 0), ceil_mode: plainOr(args.get(4, 'ceil_mode'), false),
          count_include_pad: plainOr(args.get(5, 'count_include_pad'), true), divisor_override: divisor === null || divisor === undefined ? 0 : plainOr(divisor, 0),
        });
        return;
      }
      case 'module:AdaptiveAvgPool2d':
        emit('adaptive_avg_pool2d', [first()], { output_size: attr('output_size') });
        return;
      case 'adaptive_avg_pool2d':
        emit('adaptive_avg_pool2d', [first()], { output_size: plainOr(args.get(1, 'output_size'), null) });
        return;
      case 'module:MaxUnpool2d': {
        const [values, indices] = tensorArgs();
        if (!values || !indices || !('node' in indices)) return fail(trainingMessages.unsupportedArgument(node.op, 'indices that do not come from a MaxPool2d(return_indices=True)'));
        const pool = this.results.get(indices.node)?.[0];
        const poolNode = this.model.graph!.nodes[indices.node];
        if (!pool || !('id' in pool) || poolNode?.op !== 'MaxPool2d') return fail(trainingMessages.unsupportedArgument(node.op, 'indices that do not come from a MaxPool2d(return_indices=True)'));
        emit('max_unpool2d', [this.valueOf(values, node), pool.id], {
          kernel_size: attr('kernel_size'), stride: attr('stride'), padding: attr('padding'), output_size: outputShape.slice(-2).map((d) => concreteDim(d, outputShape)),
        });
        return;
      }
      case 'module:Dropout':
        emit('dropout', [first()], { p: attr('p') });
        return;
      case 'dropout': {
        // F.dropout's training defaults to True: it drops even in eval mode unless told otherwise.
        // The analyzer traces in eval mode, so a recorded False is `training=self.training` (or a
        // literal False, which the trace cannot tell apart): dropout that follows the model's mode.
        const training = args.get(2, 'training');
        if (training !== undefined && typeof training !== 'boolean') fail(trainingMessages.unsupportedArgument('dropout', 'a training flag the analyzer could not evaluate'));
        emit('dropout', [first()], { p: numberOr(args.get(1, 'p'), 0.5), always: training === undefined || training === true ? true : undefined });
        return;
      }
      case 'module:Softmax':
      case 'module:LogSoftmax':
      case 'softmax':
      case 'log_softmax': {
        const given = node.kind === 'module' ? node.attrs['dim'] : args.get(1, 'dim');
        if (node.kind !== 'module' && args.get(3, 'dtype') !== undefined && args.get(3, 'dtype') !== null) fail(trainingMessages.unsupportedArgument(node.op, 'a dtype'));
        // dim=None is PyTorch's legacy implicit dimension: 0 for 0-, 1- and 3-D inputs, else 1.
        const rank = outputShape.length;
        const d = typeof given === 'number' ? given : given === null || given === undefined ? (rank === 0 || rank === 1 || rank === 3 ? 0 : 1) : fail(trainingMessages.unsupportedArgument(node.op, 'a dim the analyzer could not evaluate'));
        emit(node.op === 'LogSoftmax' || node.op === 'log_softmax' ? 'log_softmax' : 'softmax', [first()], { dim: d });
        return;
      }
      case 'module:PReLU':
        emit('prelu', [first()], { num_parameters: attr('num_parameters'), init: attr('init') }, stateOf('weight'));
        return;
      case 'module:AdaptiveMaxPool2d':
        if (node.attrs['return_indices'] === true) unsupported();
        emit('adaptive_max_pool2d', [first()], { output_size: attr('output_size') });
        return;
      case 'adaptive_max_pool2d':
        if (args.get(2, 'return_indices') === true) unsupported();
        emit('adaptive_max_pool2d', [first()], { output_size: plainOr(args.get(1, 'output_size'), null) });
        return;
      case 'module:LocalResponseNorm':
        emit('local_response_norm', [first()], { size: attr('size'), alpha: attr('alpha'), beta: attr('beta'), k: attr('k') });
        return;
      case 'local_response_norm':
        emit('local_response_norm', [first()], {
          size: plainOr(args.get(1, 'size'), null), alpha: numberOr(args.get(2, 'alpha'), 1e-4), beta: numberOr(args.get(3, 'beta'), 0.75), k: numberOr(args.get(4, 'k'), 1.0),
        });
        return;
      case 'module:Embedding':
        if (node.attrs['max_norm'] !== null && node.attrs['max_norm'] !== undefined) fail(trainingMessages.unsupportedArgument('Embedding', 'max_norm'));
        emit('embedding', [first()], {
          num_embeddings: attr('num_embeddings'), embedding_dim: attr('embedding_dim'), padding_idx: node.attrs['padding_idx'] === null ? undefined : attr('padding_idx'),
        }, stateOf('weight'));
        return;
      case 'module:LSTM':
      case 'module:GRU': {
        // An initial state other than None is not supported: the engine starts from zeros.
        const initial = args.get(1, 'hx');
        if (initial !== undefined && initial !== null) fail(trainingMessages.unsupportedArgument(node.op, 'an initial hidden state'));
        if (typeof node.attrs['proj_size'] === 'number' && node.attrs['proj_size'] !== 0) fail(trainingMessages.unsupportedArgument(node.op, 'proj_size'));
        const roles = Object.keys(node.attrs).filter((key) => key.startsWith('has_') && node.attrs[key] === true).map((key) => key.slice(4));
        const op = node.op === 'LSTM' ? 'lstm' : 'gru';
        emit(op, [first()], {
          input_size: attr('input_size'), hidden_size: attr('hidden_size'), num_layers: attr('num_layers'), bias: attr('bias'),
          batch_first: attr('batch_first'), dropout: attr('dropout'), bidirectional: attr('bidirectional'),
        }, stateOf(...roles));
        // The node's value is `output`; h_n (and c_n) are recurrent_state nodes reading the same node.
        const recurrent = this.results.get(index)![0]!;
        const base = 'id' in recurrent ? recurrent.id : `${op}_${index}`;
        const states: Lowered[] = [recurrent];
        for (const state of op === 'lstm' ? ['h', 'c'] : ['h']) {
          const id = this.freshId(`${base}.${state}_n`);
          this.nodes.push({ id, op: 'recurrent_state', attrs: { state }, inputs: [base] });
          states.push({ id });
        }
        this.results.set(index, states);
        return;
      }
      case 'getitem': {
        // Integer indexing, with full slices before or between: x[-1], out[:, -1], out[:, -1, :].
        const input = tensorArgs()[0];
        const inputShape = input ? this.shapeOf(input) : undefined;
        const key = node.args[1];
        const items = Array.isArray(key) ? key : [key];
        const isSlice = (item: GraphArgument | undefined): boolean => item !== null && typeof item === 'object' && !Array.isArray(item) && 'unknown' in item && item.unknown === 'slice';
        if (!input || !inputShape || items.length > inputShape.length || !items.every((item) => typeof item === 'number' || isSlice(item))) {
          return fail(trainingMessages.unsupportedArgument('indexing', 'anything but integers and full slices'));
        }
        // A slice the analyzer saw as `:` keeps its dimension whole; a narrower slice changes the recorded shape.
        const expected = inputShape.filter((_, d) => d >= items.length || isSlice(items[d]));
        if (JSON.stringify(expected) !== JSON.stringify(outputShape)) return fail(trainingMessages.unsupportedArgument('indexing', 'a slice narrower than the whole dimension'));
        const picks = items.map((item, d) => [d, item] as const).filter((pair): pair is readonly [number, number] => typeof pair[1] === 'number');
        if (picks.length === 0) {
          alias(input);
          return;
        }
        // From the last picked dimension back, so earlier dimensions keep their numbers.
        let value = this.valueOf(input, node);
        for (const [d, position] of [...picks].reverse()) {
          const id = this.freshId(`select_${index}`);
          this.nodes.push({ id, op: 'select', attrs: { dim: d, index: position }, inputs: [value] });
          value = id;
        }
        this.results.set(index, [{ id: value }]);
        return;
      }
      case 'module:Upsample':
      case 'module:UpsamplingNearest2d':
      case 'module:UpsamplingBilinear2d':
      case 'interpolate':
      case 'upsample':
      case 'upsample_nearest':
      case 'upsample_bilinear': {
        const fromModule = node.kind === 'module';
        const given = (name: string, position: number): GraphArgument | undefined => (fromModule ? node.attrs[name] : args.get(position, name));
        const mode = node.op === 'UpsamplingBilinear2d' || node.op === 'upsample_bilinear' ? 'bilinear' : stringOr(given('mode', 3), 'nearest');
        // UpsamplingBilinear2d and F.upsample_bilinear align corners.
        const alignCorners = node.op === 'UpsamplingBilinear2d' || node.op === 'upsample_bilinear' ? true : given('align_corners', 4);
        if (mode !== 'nearest' && mode !== 'bilinear') fail(trainingMessages.unsupportedArgument(node.op, `mode '${mode}'`));
        if (outputShape.length !== 4) fail(trainingMessages.unsupportedArgument(node.op, `a ${outputShape.length}-D input (4-D only)`));
        if (given('antialias', 6) === true) fail(trainingMessages.unsupportedArgument(node.op, 'antialias'));
        // PyTorch maps coordinates with 1/scale_factor when a scale is given and not recomputed.
        const scale = given('scale_factor', 2);
        const recompute = given('recompute_scale_factor', 5) === true;
        const size = outputShape.slice(-2).map((d) => concreteDim(d, outputShape));
        emit('interpolate', [first()], {
          size, mode, align_corners: mode === 'bilinear' ? alignCorners === true : undefined,
          scale_factor: typeof scale === 'number' && !recompute ? scale : Array.isArray(scale) && !recompute ? plainOr(scale, null) : undefined,
        });
        return;
      }
      case 'select': {
        const d = args.get(1, 'dim');
        const position = args.get(2, 'index');
        if (typeof d !== 'number' || typeof position !== 'number') return fail(trainingMessages.unsupportedArgument('select', 'a dim or index the analyzer could not evaluate'));
        emit('select', [first()], { dim: d, index: position });
        return;
      }
      case 'permute': {
        // x.permute(0, 2, 1), x.permute((0, 2, 1)), torch.permute(x, (0, 2, 1)).
        const listed = node.args.slice(1);
        const dims = listed.length === 1 && Array.isArray(listed[0]) ? listed[0] : node.kwargs['dims'] ?? listed;
        if (!Array.isArray(dims) || !dims.every((d): d is number => typeof d === 'number')) return fail(trainingMessages.unsupportedArgument('permute', 'dims the analyzer could not evaluate'));
        emit('permute', [first()], { dims });
        return;
      }
      case 'transpose':
      case 'swapaxes':
      case 'swapdims':
      case 't': {
        const input = tensorArgs()[0];
        const rank = (input ? this.shapeOf(input) : undefined)?.length ?? outputShape.length;
        const a = node.op === 't' ? 0 : args.get(1, 'dim0');
        const b = node.op === 't' ? 1 : args.get(2, 'dim1');
        if (typeof a !== 'number' || typeof b !== 'number') return fail(trainingMessages.unsupportedArgument(node.op, 'dimensions the analyzer could not evaluate'));
        if (rank < 2) {
          alias(input);
          return;
        }
        const dims = Array.from({ length: rank }, (_, i) => i);
        const first0 = a < 0 ? a + rank : a;
        const second = b < 0 ? b + rank : b;
        dims[first0] = second;
        dims[second] = first0;
        emit('permute', [first()], { dims });
        return;
      }
      case 'module:Flatten':
        emit('flatten', [first()], { start_dim: attr('start_dim'), end_dim: attr('end_dim') });
        return;
      case 'flatten':
        emit('flatten', [first()], { start_dim: numberOr(args.get(1, 'start_dim'), 0), end_dim: numberOr(args.get(2, 'end_dim'), -1) });
        return;
      case 'view':
      case 'reshape':
      case 'squeeze':
      case 'squeeze_':
      case 'unsqueeze':
      case 'unsqueeze_':
      case 'view_as':
      case 'reshape_as': {
        // The recorded output shape, with the batch left free so the engine can take any batch.
        const input = node.args[0];
        const inputShape = input && typeof input === 'object' && !Array.isArray(input) && 'tensor' in input ? this.shapeOf(input.tensor) : undefined;
        const shape = outputShape.map((d) => concreteDim(d, outputShape));
        if (inputShape && inputShape[0] === outputShape[0] && shape.length > 0) shape[0] = -1;
        emit('reshape', [first()], { shape });
        return;
      }
      case 'exp': case 'exp_': case 'log': case 'log_': case 'sqrt': case 'sqrt_': case 'rsqrt': case 'rsqrt_':
      case 'abs': case 'abs_': case 'absolute':
        emit(node.op.replace(/_$/, '').replace('absolute', 'abs'), [first()], {});
        return;
      case 'pow':
      case 'pow_':
      case 'square': {
        // x ** p, torch.pow(x, p), x.pow(p), torch.square(x): a tensor to a number's power.
        const exponent = node.op === 'square' ? 2 : args.get(1, 'exponent');
        if (tensorArgs().length !== 1 || !tensorRefsIn(node.args[0] ?? null).length || typeof exponent !== 'number') {
          return fail(trainingMessages.unsupportedArgument('pow', 'a tensor exponent or a tensor as exponent'));
        }
        emit('pow', [first()], { exponent });
        return;
      }
      case 'clamp': case 'clamp_': case 'clip': case 'clip_': case 'clamp_min': case 'clamp_min_': case 'clamp_max': case 'clamp_max_': {
        const onlyMax = node.op.startsWith('clamp_max');
        const low = onlyMax ? null : args.get(1, 'min');
        const high = node.op.startsWith('clamp_min') ? null : args.get(onlyMax ? 1 : 2, 'max');
        const bound = (value: GraphArgument | undefined): number | undefined => {
          if (value === undefined || value === null) return undefined;
          if (typeof value !== 'number') return fail(trainingMessages.unsupportedArgument(node.op, 'a tensor bound'));
          return value;
        };
        const min = bound(low);
        const max = bound(high);
        if (min === undefined && max === undefined) return fail(trainingMessages.unsupportedArgument(node.op, 'neither min nor max'));
        emit('clamp', [first()], { min, max });
        return;
      }
      case 'matmul':
      case 'mm':
      case 'bmm': {
        const refs = tensorArgs();
        const shapes = refs.map((ref) => this.shapeOf(ref));
        if (refs.length !== 2 || shapes.some((shape) => !shape || shape.length < 2)) {
          return fail(trainingMessages.unsupportedArgument(node.op, 'an operand that is not a matrix or a batch of matrices'));
        }
        emit('matmul', refs.map((ref) => this.valueOf(ref, node)), {});
        return;
      }
      case 'neg':
      case 'negative':
        emit('mul', [first()], { other: -1 });
        return;
      case 'chunk':
      case 'split':
      case 'tensor_split':
      case 'unbind': {
        // One node per piece, placed by the recorded output shapes: narrow (chunk/split) or select (unbind).
        const input = tensorArgs()[0];
        const inputShape = input ? this.shapeOf(input) : undefined;
        const given = args.get(node.op === 'unbind' ? 1 : 2, 'dim');
        const rank = inputShape?.length ?? 0;
        const d0 = given === undefined ? 0 : given;
        if (!input || typeof d0 !== 'number' || rank === 0) return fail(trainingMessages.unsupportedArgument(node.op, 'a dim the analyzer could not evaluate'));
        const d = d0 < 0 ? d0 + rank : d0;
        const source = this.valueOf(input, node);
        const pieces: Lowered[] = [];
        let start = 0;
        node.outputs.forEach((shape, k) => {
          const id = this.freshId(`${node.op}_${index}.${k}`);
          if (node.op === 'unbind') {
            this.nodes.push({ id, op: 'select', attrs: { dim: d, index: k }, inputs: [source] });
          } else {
            const length = concreteDim(shape[d] ?? 0, shape);
            this.nodes.push({ id, op: 'narrow', attrs: { dim: d, start, length }, inputs: [source] });
            start += length;
          }
          pieces.push({ id });
        });
        this.results.set(index, pieces);
        return;
      }
      case 'sum': {
        const dims = args.get(1, 'dim');
        if (args.get(3, 'dtype') !== undefined && args.get(3, 'dtype') !== null) fail(trainingMessages.unsupportedArgument('sum', 'a dtype'));
        const attrs: Record<string, EngineAttr> = { keepdim: plainOr(args.get(2, 'keepdim'), false) };
        if (dims !== undefined && dims !== null) attrs['dim'] = plainOr(dims, null);
        emit('sum', [first()], attrs);
        return;
      }
      case 'cat':
      case 'concat':
      case 'concatenate': {
        const list = args.get(0, 'tensors');
        const refs = Array.isArray(list) ? list.flatMap((a) => tensorRefsIn(a)) : [];
        if (refs.length === 0) fail(trainingMessages.untrackedTensor(node.op));
        let d = numberOr(args.get(1, 'dim'), 0);
        if (d < 0) d += outputShape.length;
        emit('cat', refs.map((ref) => this.valueOf(ref, node)), { dim: d });
        return;
      }
      case 'mean': {
        const dims = args.get(1, 'dim');
        const attrs: Record<string, EngineAttr> = { keepdim: plainOr(args.get(2, 'keepdim'), false) };
        if (dims !== undefined && dims !== null) attrs['dim'] = plainOr(dims, null);
        emit('mean', [first()], attrs);
        return;
      }
      default:
        unsupported();
    }
  }

  /**
   * a ⊕ b where either side may be a number: two tensors broadcast; a tensor and a number become
   * attrs (other, reverse). rsub is b − a. alpha (torch.add/sub) scales the second operand.
   */
  private lowerArithmetic(
    node: GraphNodeReport,
    kind: 'add' | 'sub' | 'mul' | 'div' | 'rsub',
    args: Arguments,
    emit: (op: string, inputs: string[], attrs: Record<string, EngineAttr | undefined>) => void,
    fail: (message: string) => never,
  ): void {
    let left = args.get(0, 'input');
    let right = args.get(1, 'other');
    const op: 'add' | 'sub' | 'mul' | 'div' = kind === 'rsub' ? 'sub' : kind;
    if (kind === 'rsub') [left, right] = [right, left];
    const alpha = node.kwargs['alpha'];
    if (alpha !== undefined && (typeof alpha !== 'number' || (op !== 'add' && op !== 'sub'))) fail(trainingMessages.unsupportedArgument(node.op, 'this alpha'));
    const rounding = node.kwargs['rounding_mode'];
    if (op === 'div' && rounding !== undefined && rounding !== null) fail(trainingMessages.unsupportedArgument(node.op, `rounding_mode ${JSON.stringify(rounding)}`));
    const tensorOf = (a: GraphArgument | undefined): GraphTensorRef | undefined => (a !== null && typeof a === 'object' && !Array.isArray(a) && 'tensor' in a ? a.tensor : undefined);
    const leftTensor = tensorOf(left);
    const rightTensor = tensorOf(right);
    if (leftTensor && rightTensor) {
      emit(op, [this.valueOf(leftTensor, node), this.valueOf(rightTensor, node)], { alpha: alpha as number | undefined });
      return;
    }
    const tensor = leftTensor ?? rightTensor;
    const number = leftTensor ? right : left;
    if (!tensor) return fail(trainingMessages.untrackedTensor(node.op));
    if (typeof number !== 'number') return fail(trainingMessages.unsupportedArgument(node.op, 'an operand that is neither a tensor nor a number'));
    emit(op, [this.valueOf(tensor, node)], { other: number, reverse: leftTensor ? undefined : true, alpha: alpha as number | undefined });
  }

  /** Shape of a referenced tensor as recorded. */
  private shapeOf(ref: GraphTensorRef): ReportDim[] | undefined {
    if ('node' in ref) return this.model.graph!.nodes[ref.node]?.outputs[ref.output];
    if ('input' in ref) return this.model.inputs[ref.input];
    return undefined;
  }

  private valueOf(ref: GraphTensorRef, at: { op: string; file: string; line: number }): string {
    if ('input' in ref) return this.inputNames[ref.input] ?? `input${ref.input}`;
    if ('node' in ref) {
      const lowered = this.results.get(ref.node)?.[ref.output];
      if (lowered && 'id' in lowered) return lowered.id;
      if (lowered) return this.valueOf(lowered.alias, at);
    }
    throw new LoweringError(trainingMessages.untrackedTensor(at.op), at.op, at.file, at.line);
  }

  private freshId(base: string): string {
    let id = base;
    for (let n = 2; this.usedIds.has(id) || this.inputNames.includes(id) || id === TARGET_INPUT; n++) id = `${base}#${n}`;
    this.usedIds.add(id);
    return id;
  }
}

/** Positional-or-keyword access to a recorded call's arguments (a method's tensor is argument 0). */
class Arguments {
  constructor(private readonly node: GraphNodeReport) {}
  get(position: number, name: string): GraphArgument | undefined {
    if (name in this.node.kwargs) return this.node.kwargs[name];
    return this.node.args[position];
  }
}

function tensorRefsIn(a: GraphArgument): GraphTensorRef[] {
  if (Array.isArray(a)) return a.flatMap(tensorRefsIn);
  if (a !== null && typeof a === 'object' && 'tensor' in a) return [a.tensor];
  return [];
}

function plain(a: GraphArgument, onUnknown: () => never): EngineAttr {
  if (Array.isArray(a)) return a.map((item) => plain(item, onUnknown));
  if (a !== null && typeof a === 'object') return onUnknown();
  return a;
}

function plainOr(a: GraphArgument | undefined, fallback: EngineAttr): EngineAttr {
  if (a === undefined) return fallback;
  try {
    return plain(a, () => {
      throw new Error('not plain');
    });
  } catch {
    return fallback;
  }
}

function numberOr(a: GraphArgument | undefined, fallback: number): number {
  return typeof a === 'number' ? a : fallback;
}

function stringOr(a: GraphArgument | undefined, fallback: string): string {
  return typeof a === 'string' ? a : fallback;
}

function concreteDim(d: ReportDim, shape: readonly ReportDim[]): number {
  if (typeof d === 'number') return d;
  throw new LoweringError(trainingMessages.symbolicInput(shape.join(', ')), 'input', '', 0);
}

function concreteShape(shape: readonly ReportDim[]): number[] {
  return shape.map((d) => concreteDim(d, shape));
}
