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

/** The ops this lowering can emit, for messages when no engine list is given. */
const EMITTED_OPS = [
  'adaptive_avg_pool2d', 'add', 'avg_pool2d', 'batch_norm1d', 'batch_norm2d', 'cat', 'conv2d', 'conv_transpose2d', 'dropout',
  'flatten', 'gelu', 'hardswish', 'identity', 'layer_norm', 'leaky_relu', 'linear', 'max_pool2d', 'max_unpool2d', 'mean',
  'relu', 'relu6', 'reshape', 'sigmoid', 'silu', 'tanh',
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
      if (activation === 'leaky_relu') {
        attrs['negative_slope'] = node.kind === 'module' ? attr('negative_slope') : numberOr(args.get(1, 'negative_slope'), 0.01);
      }
      if (activation === 'gelu') attrs['approximate'] = node.kind === 'module' ? attr('approximate') : stringOr(args.get(1, 'approximate'), 'none');
      emit(activation, [first()], attrs);
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
      case 'dropout':
        emit('dropout', [first()], { p: numberOr(args.get(1, 'p'), 0.5) });
        return;
      case 'module:Flatten':
        emit('flatten', [first()], { start_dim: attr('start_dim'), end_dim: attr('end_dim') });
        return;
      case 'flatten':
        emit('flatten', [first()], { start_dim: numberOr(args.get(1, 'start_dim'), 0), end_dim: numberOr(args.get(2, 'end_dim'), -1) });
        return;
      case 'view':
      case 'reshape': {
        // The recorded output shape, with the batch left free so the engine can take any batch.
        const input = node.args[0];
        const inputShape = input && typeof input === 'object' && !Array.isArray(input) && 'tensor' in input ? this.shapeOf(input.tensor) : undefined;
        const shape = outputShape.map((d) => concreteDim(d, outputShape));
        if (inputShape && inputShape[0] === outputShape[0] && shape.length > 0) shape[0] = -1;
        emit('reshape', [first()], { shape });
        return;
      }
      case 'add':
      case 'add_':
      case 'iadd': {
        const refs = tensorArgs();
        if (refs.length !== 2 || node.kwargs['alpha'] !== undefined) fail(trainingMessages.unsupportedArgument('add', 'a scalar or an alpha'));
        emit('add', refs.map((ref) => this.valueOf(ref, node)), {});
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
