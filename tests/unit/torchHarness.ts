// A tiny stand-in for the interpreter, enough to drive the torch catalog from unit tests:
// it instantiates catalog classes (bind args → init), calls instances (bind → forward →
// macs), calls builtins, and records diagnostics and MACs. It also converts between
// interpreter values and the JSON encoding of tests/unit/goldens/ops/*.json.
import type {
  BuiltinFunctionValue, CallContext, ClassValue, DType, InstanceValue, Severity, TensorValue, Value,
} from '../../extension/analysis/interp/values';
import { createTorchCatalog, type TorchCatalog } from '../../extension/analysis/torch/catalog';
import { bindArgs, floatV, intV, listV, NONE, strV, tupleV, boolV } from '../../extension/analysis/torch/args';
import { add, dimToString, type Dim, type Shape } from '../../extension/analysis/shape/dim';

export interface Diagnostic {
  severity: Severity;
  message: string;
}

export type Encoded = null | boolean | number | string | Encoded[] | { [key: string]: Encoded };

export class Harness {
  readonly moduleBase: ClassValue = { kind: 'class', name: 'Module', mro: [], attrs: new Map(), isModule: true };
  readonly catalog: TorchCatalog;
  diagnostics: Diagnostic[] = [];
  macs: Dim = 0;
  /** The hover arithmetic of the last module call. */
  lastArithmetic: string[] = [];
  private nextId = 1;
  readonly ctx: CallContext;

  constructor() {
    this.moduleBase.mro.push(this.moduleBase);
    this.catalog = createTorchCatalog(this.moduleBase);
    const self = this;
    this.ctx = {
      location: { file: 'test.py', line: 1, col: 0 },
      diagnostic(severity, message) {
        self.diagnostics.push({ severity, message });
      },
      callValue(fn, args, kwargs) {
        return self.call(fn, args, kwargs ?? new Map());
      },
      addMacs(m) {
        self.macs = add(self.macs, m);
      },
      newTensor(shape: Shape | null, dtype: DType = 'float32'): TensorValue {
        return { kind: 'tensor', shape, dtype, id: self.nextId++ };
      },
      training: false,
    };
  }

  reset(): void {
    this.diagnostics = [];
    this.macs = 0;
  }

  errors(): Diagnostic[] {
    return this.diagnostics.filter((d) => d.severity === 'error');
  }

  member(moduleName: string, name: string): Value {
    const v = this.catalog.modules.get(moduleName)?.get(name);
    if (!v) throw new Error(`catalog has no ${moduleName}.${name}`);
    return v;
  }

  nnClass(name: string): ClassValue {
    const v = this.member('torch.nn', name);
    if (v.kind !== 'class') throw new Error(`torch.nn.${name} is not a class`);
    return v;
  }

  instantiate(cls: ClassValue, args: Value[], kwargs: Map<string, Value>): InstanceValue {
    const spec = cls.builtinModule;
    if (!spec) throw new Error(`${cls.name} has no builtin module spec`);
    const inst: InstanceValue = {
      kind: 'instance',
      cls,
      attrs: new Map(),
      module: { params: new Map(), buffers: new Map(), children: new Map(), training: this.ctx.training, createdAt: undefined, literalArguments: undefined },
      id: this.nextId++,
    };
    const { bound, error } = bindArgs(spec.signature, args, kwargs, cls.name);
    if (error) throw new Error(error);
    spec.init(inst, bound, this.ctx);
    return inst;
  }

  callModule(inst: InstanceValue, args: Value[], kwargs: Map<string, Value>): Value {
    const spec = inst.cls.builtinModule;
    if (!spec) throw new Error(`${inst.cls.name} is not a catalog module`);
    const { bound, error } = bindArgs(spec.forwardSignature, args, kwargs, `${inst.cls.name}.forward`);
    if (error) throw new Error(error);
    const out = spec.forward(inst, bound, this.ctx);
    if (spec.macs) this.macs = add(this.macs, spec.macs(inst, bound, out));
    this.lastArithmetic = spec.arithmetic ? spec.arithmetic(inst, bound, out) : [];
    return out;
  }

  call(fn: Value, args: Value[], kwargs: Map<string, Value>): Value {
    if (fn.kind === 'class') return this.instantiate(fn, args, kwargs);
    if (fn.kind === 'instance' && fn.cls.builtinModule) return this.callModule(fn, args, kwargs);
    if (fn.kind === 'builtin') return callBuiltin(fn, args, kwargs, this.ctx);
    // Like the interpreter: calling a non-callable is a Python TypeError, reported, not thrown.
    this.ctx.diagnostic('error', `'${fn.kind}' object is not callable`);
    return { kind: 'unknown' };
  }

  /** named_parameters(): own first, then children's with prefixes. */
  namedParameters(inst: InstanceValue, prefix = '', seen = new Set<number>()): [string, Shape | null][] {
    const out: [string, Shape | null][] = [];
    for (const [name, p] of inst.module?.params ?? []) {
      if (p.kind !== 'tensor' || seen.has(p.id)) continue;
      seen.add(p.id);
      out.push([prefix + name, p.shape]);
    }
    for (const [name, child] of inst.module?.children ?? []) {
      if (child.kind === 'instance') out.push(...this.namedParameters(child, `${prefix}${name}.`, seen));
    }
    return out;
  }

  decode(v: Encoded): Value {
    if (v === null) return NONE;
    if (typeof v === 'boolean') return boolV(v);
    if (typeof v === 'number') return intV(v);
    if (typeof v === 'string') return strV(v);
    if (Array.isArray(v)) return listV(v.map((x) => this.decode(x)));
    if ('tensor' in v) return this.ctx.newTensor(v.tensor as number[], (v.dtype as DType) ?? 'float32');
    if ('float' in v) return floatV(Number(v.float));
    if ('tuple' in v) return tupleV((v.tuple as Encoded[]).map((x) => this.decode(x)));
    if ('slice' in v) {
      const [start, stop, step] = (v.slice as Encoded[]).map((x) => this.decode(x));
      return { kind: 'slice', start, stop, step };
    }
    if ('ellipsis' in v) return { kind: 'ellipsis' };
    if ('dtype' in v) return this.member('torch', String(v.dtype));
    if ('packed' in v) {
      const p = v.packed as { input: Encoded; lengths: Encoded; batch_first?: boolean; enforce_sorted?: boolean };
      const kwargs = new Map<string, Value>([['batch_first', boolV(p.batch_first ?? false)], ['enforce_sorted', boolV(p.enforce_sorted ?? true)]]);
      return this.call(this.member('torch.nn.utils.rnn', 'pack_padded_sequence'), [this.decode(p.input), this.decode(p.lengths)], kwargs);
    }
    if ('module' in v) {
      const m = v.module as { name: string; args?: Encoded[]; kwargs?: Record<string, Encoded> };
      return this.instantiate(this.nnClass(m.name), (m.args ?? []).map((x) => this.decode(x)), this.decodeKwargs(m.kwargs ?? {}));
    }
    throw new Error(`cannot decode ${JSON.stringify(v)}`);
  }

  decodeKwargs(kw: Record<string, Encoded>): Map<string, Value> {
    return new Map(Object.entries(kw).map(([k, x]) => [k, this.decode(x)]));
  }
}

export function callBuiltin(fn: BuiltinFunctionValue, args: Value[], kwargs: Map<string, Value>, ctx: CallContext): Value {
  return fn.call(fn.self ? [fn.self, ...args] : args, kwargs, ctx);
}

/** The golden JSON encoding of an interpreter value (tensors as shape + dtype). */
export function encode(v: Value): Encoded {
  switch (v.kind) {
    case 'none':
      return null;
    case 'bool':
      return v.value;
    case 'int':
      return typeof v.value === 'number' ? v.value : { sym: dimToString(v.value) };
    case 'float':
      return { float: v.value };
    case 'str':
      return v.value;
    case 'tuple':
      return { tuple: v.items.map(encode) };
    case 'list':
      return v.items.map(encode);
    case 'tensor':
      return { tensor: v.shape === null ? null : v.shape.map((d) => (typeof d === 'number' ? d : dimToString(d))), dtype: v.dtype };
    case 'instance': {
      const dtype = v.attrs.get('__dtype__');
      if (dtype?.kind === 'str') return { dtype: dtype.value };
      return { repr: v.cls.name };
    }
    case 'builtin':
      return { repr: v.name };
    default:
      return { repr: v.kind };
  }
}

/** Shapes of every tensor in a value, tuples/lists flattened in order. */
/** The fields of a namedtuple instance (PackedSequence) as a tuple, else undefined. */
export function namedTupleItems(v: Value): Value[] | undefined {
  if (v.kind !== 'instance') return undefined;
  const fields = v.cls.attrs.get('_fields');
  if (fields?.kind !== 'tuple') return undefined;
  return fields.items.map((f) => (f.kind === 'str' ? v.attrs.get(f.value) : undefined) ?? NONE);
}

export function flattenShapes(v: Value, out: (Encoded[] | null)[] = []): (Encoded[] | null)[] {
  const named = namedTupleItems(v);
  if (named) for (const x of named) flattenShapes(x, out);
  else if (v.kind === 'tensor') out.push(v.shape === null ? null : v.shape.map((d) => (typeof d === 'number' ? d : dimToString(d))));
  else if (v.kind === 'tuple' || v.kind === 'list') for (const x of v.items) flattenShapes(x, out);
  else if (v.kind === 'dict') for (const e of v.entries.values()) flattenShapes(e.value, out);
  return out;
}
