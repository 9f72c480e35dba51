// Records the forward trace as a data-flow graph when a report asks for it (recordGraph): the
// interpreter's call machinery notifies this object of module calls, torch/F/tensor-method calls
// and tensor operators; every tensor is tied to the node that produced it. When no graph is asked
// for, no recorder exists and the interpreter pays one undefined check per call.
import * as dim from '../shape/dim';
import type { GraphArgument, GraphNodeReport, GraphTensorRef, ReportDim } from '../reportTypes';
import type { InstanceValue, SourceLocation, TensorValue, Value } from './values';

const MAX_ARGUMENT_DEPTH = 6;

/** A node before the report: the module stays a value so its path can be filled in at the end. */
export interface RecordedNode extends Omit<GraphNodeReport, 'path' | 'outputs'> {
  module?: InstanceValue;
  outputs: TensorValue[];
}

export class GraphRecorder {
  readonly nodes: RecordedNode[] = [];
  /** Tensor id → where that tensor currently comes from (an in-place op moves it to the newer node). */
  private readonly sources = new Map<number, GraphTensorRef>();
  /** > 0 inside a leaf module or a recorded call: what happens in there is that node's own business. */
  private hidden = 0;
  /** The next builtin call is a module's own forward (nn.Sequential): its children are the nodes. */
  private forwardCall = false;

  constructor(inputs: readonly Value[], private readonly stateNames: ReadonlyMap<number, string>) {
    inputs.forEach((value, index) => {
      if (value.kind === 'tensor') this.sources.set(value.id, { input: index });
    });
  }

  /** Around a builtin call (F.*, torch.*, a tensor method). */
  call(name: string, isMethod: boolean, args: readonly Value[], kwargs: ReadonlyMap<string, Value>, location: SourceLocation, run: () => Value): Value {
    if (this.forwardCall) {
      this.forwardCall = false;
      return run();
    }
    return this.recordCall(name, isMethod ? 'method' : 'function', args, kwargs, location, run);
  }

  /** Around a tensor operator (`+`, `-x`, `x[i]`). */
  operator(name: string, args: readonly Value[], location: SourceLocation, run: () => Value): Value {
    return this.recordCall(name, 'operator', args, new Map(), location, run);
  }

  /** Around a module call: leaf modules become one node; other modules are transparent. */
  module(inst: InstanceValue, leaf: boolean, forwardIsBuiltin: boolean, args: readonly Value[], kwargs: ReadonlyMap<string, Value>, run: () => Value): Value {
    const savedHidden = this.hidden;
    const savedForward = this.forwardCall;
    const firstNode = this.nodes.length;
    // Serialized before the call: an in-place module (ReLU(inplace=True)) re-points its input.
    const recordedArgs = leaf && savedHidden === 0 ? this.arguments(args) : [];
    const recordedKwargs = leaf && savedHidden === 0 ? this.keywordArguments(kwargs) : {};
    this.hidden = leaf ? 1 : 0;
    this.forwardCall = !leaf && forwardIsBuiltin;
    let output: Value;
    try {
      output = run();
    } finally {
      this.hidden = savedHidden;
      this.forwardCall = savedForward;
    }
    if (savedHidden > 0) return output;
    if (leaf) {
      this.add({ op: inst.cls.name, kind: 'module', module: inst, attrs: moduleAttributes(inst), args: recordedArgs, kwargs: recordedKwargs }, output, inst.module?.createdAt, firstNode, args);
    } else if (forwardIsBuiltin) {
      // A catalog module with children (MultiheadAttention): its outputs come from nowhere else.
      const orphans = tensorsOf(output).filter((t) => !this.sources.has(t.id));
      if (orphans.length > 0) {
        this.add({ op: inst.cls.name, kind: 'module', module: inst, attrs: moduleAttributes(inst), args: this.arguments(args), kwargs: this.keywordArguments(kwargs) }, output, inst.module?.createdAt, firstNode, args);
      }
    }
    return output;
  }

  /** The model's return value, as references. */
  outputsOf(value: Value): GraphTensorRef[] {
    return tensorsOf(value).map((t) => this.sourceOf(t));
  }

  private recordCall(op: string, kind: GraphNodeReport['kind'], args: readonly Value[], kwargs: ReadonlyMap<string, Value>, location: SourceLocation, run: () => Value): Value {
    if (this.hidden > 0) return run();
    const firstNode = this.nodes.length;
    const recordedArgs = this.arguments(args);
    const recordedKwargs = this.keywordArguments(kwargs);
    this.hidden++;
    let output: Value;
    try {
      output = run();
    } finally {
      this.hidden--;
    }
    this.add({ op, kind, attrs: {}, args: recordedArgs, kwargs: recordedKwargs }, output, location, firstNode, [...args, ...kwargs.values()]);
    return output;
  }

  private add(node: Omit<RecordedNode, 'outputs' | 'file' | 'line' | 'col'>, output: Value, location: SourceLocation | undefined, firstNode: number, args: readonly Value[]): void {
    const outputs = tensorsOf(output).filter((t) => {
      const source = this.sources.get(t.id);
      if (!source) return true;
      // Made by nodes recorded during this call (a module called from inside a builtin): they keep their maker.
      if ('node' in source && source.node >= firstNode) return false;
      // An older tensor handed back: an in-place op or a no-op when it was passed straight in
      // (x.relu_(), ReLU(inplace=True)); otherwise only fetched from a container (list.pop()).
      return args.some((a) => a.kind === 'tensor' && a.id === t.id);
    });
    if (outputs.length === 0) return;
    const index = this.nodes.length;
    this.nodes.push({ ...node, outputs, file: location?.file ?? '', line: location?.line ?? 0, col: location?.col ?? 0 });
    outputs.forEach((t, output) => this.sources.set(t.id, { node: index, output }));
  }

  private sourceOf(t: TensorValue): GraphTensorRef {
    const source = this.sources.get(t.id);
    if (source) return source;
    const state = this.stateNames.get(t.id);
    return state !== undefined ? { state } : { untracked: true };
  }

  private arguments(args: readonly Value[]): GraphArgument[] {
    return args.map((a) => this.argument(a, 0));
  }

  private keywordArguments(kwargs: ReadonlyMap<string, Value>): Record<string, GraphArgument> {
    const out: Record<string, GraphArgument> = {};
    for (const [name, value] of kwargs) out[name] = this.argument(value, 0);
    return out;
  }

  private argument(v: Value, depth: number): GraphArgument {
    switch (v.kind) {
      case 'tensor': return { tensor: this.sourceOf(v) };
      case 'none': return null;
      case 'bool': return v.value;
      case 'int': return dimArgument(v.value);
      case 'float': return v.value;
      case 'str': return v.value;
      case 'tuple':
      case 'list':
        return depth >= MAX_ARGUMENT_DEPTH ? { unknown: v.kind } : v.items.map((item) => this.argument(item, depth + 1));
      case 'unknown': return { unknown: v.reason ?? 'unknown' };
      default: return { unknown: v.kind };
    }
  }
}

function dimArgument(d: dim.Dim): number | string {
  return typeof d === 'number' ? d : dim.dimToString(d);
}

export function reportDims(t: TensorValue): ReportDim[] {
  return t.shape ? t.shape.map(dimArgument) : [];
}

/** Tensors in a value, tuples/lists/dicts flattened in order (as forward hooks see them). */
function tensorsOf(v: Value, out: TensorValue[] = [], depth = 0): TensorValue[] {
  if (depth > MAX_ARGUMENT_DEPTH) return out;
  if (v.kind === 'tensor') out.push(v);
  else if (v.kind === 'tuple' || v.kind === 'list') for (const item of v.items) tensorsOf(item, out, depth + 1);
  else if (v.kind === 'dict') for (const entry of v.entries.values()) tensorsOf(entry.value, out, depth + 1);
  return out;
}

/** A module's plain attributes (PyTorch's own: kernel_size, eps, inplace, ...) and which parameters it has. */
function moduleAttributes(inst: InstanceValue): Record<string, GraphArgument> {
  const attrs: Record<string, GraphArgument> = {};
  for (const [name, value] of inst.attrs) {
    if (name.startsWith('_')) continue;
    const plain = plainArgument(value, 0);
    if (plain !== undefined) attrs[name] = plain;
  }
  const state = inst.module;
  if (state) {
    for (const [name, value] of state.params) attrs[`has_${name}`] = value.kind === 'tensor';
    for (const [name, value] of state.buffers) attrs[`has_${name}`] = value.kind === 'tensor';
    attrs['training'] = state.training;
  }
  return attrs;
}

function plainArgument(v: Value, depth: number): GraphArgument | undefined {
  switch (v.kind) {
    case 'none': return null;
    case 'bool': return v.value;
    case 'int': return dimArgument(v.value);
    case 'float': return v.value;
    case 'str': return v.value;
    case 'tuple':
    case 'list': {
      if (depth >= MAX_ARGUMENT_DEPTH) return undefined;
      const items = v.items.map((item) => plainArgument(item, depth + 1));
      return items.every((item): item is GraphArgument => item !== undefined) ? items : undefined;
    }
    default: return undefined;
  }
}
