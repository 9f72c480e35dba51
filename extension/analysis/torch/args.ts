// Helpers every catalog entry shares: building interpreter values, reading arguments
// (ints that may be symbolic, `_ntuple`-style int-or-tuple arguments, floats, bools),
// signatures written in Python's own syntax, and binding call arguments to them.
import type {
  BoolValue, BoundArgs, CallContext, DType, FloatValue, IntValue, NoneValue, ParamSpec, StrValue,
  TensorValue, TupleValue, ListValue, UnknownValue, Value,
} from '../interp/values';
import { constValue, type Dim, type Shape } from '../shape/dim';

export const NONE: NoneValue = { kind: 'none' };

export function intV(value: Dim): IntValue {
  return { kind: 'int', value };
}
export function floatV(value: number): FloatValue {
  return { kind: 'float', value };
}
export function boolV(value: boolean): BoolValue {
  return { kind: 'bool', value };
}
export function strV(value: string): StrValue {
  return { kind: 'str', value };
}
export function tupleV(items: Value[]): TupleValue {
  return { kind: 'tuple', items };
}
export function listV(items: Value[]): ListValue {
  return { kind: 'list', items };
}
export function unknownV(reason?: string): UnknownValue {
  return reason === undefined ? { kind: 'unknown' } : { kind: 'unknown', reason };
}
/** A tuple of ints, as PyTorch stores kernel_size, stride, torch.Size, ... */
export function dimsTuple(dims: readonly Dim[]): TupleValue {
  return tupleV(dims.map(intV));
}

export function isTensor(v: Value | undefined): v is TensorValue {
  return v !== undefined && v.kind === 'tensor';
}
export function isNone(v: Value | undefined): boolean {
  return v === undefined || v.kind === 'none';
}

/** An int argument (bools count, as in Python). Symbolic ints are returned as they are. */
export function asDim(v: Value | undefined): Dim | undefined {
  if (!v) return undefined;
  if (v.kind === 'int') return v.value;
  if (v.kind === 'bool') return v.value ? 1 : 0;
  return undefined;
}

/** A concrete int argument. */
export function asInt(v: Value | undefined): number | undefined {
  const d = asDim(v);
  return d === undefined ? undefined : constValue(d);
}

/** A concrete number (int or float). */
export function asNumber(v: Value | undefined): number | undefined {
  if (v?.kind === 'float') return v.value;
  return asInt(v);
}

export function asBool(v: Value | undefined): boolean | undefined {
  if (!v) return undefined;
  if (v.kind === 'bool') return v.value;
  if (v.kind === 'int') {
    const c = constValue(v.value);
    return c === undefined ? undefined : c !== 0;
  }
  if (v.kind === 'none') return false;
  return undefined;
}

export function asStr(v: Value | undefined): string | undefined {
  return v?.kind === 'str' ? v.value : undefined;
}

/** Items of a tuple or list value. */
export function asSequence(v: Value | undefined): Value[] | undefined {
  if (v?.kind === 'tuple' || v?.kind === 'list') return v.items;
  return undefined;
}

/** A tuple/list of ints (torch.Size, list of sizes). */
export function asDimList(v: Value | undefined): Dim[] | undefined {
  const items = asSequence(v);
  if (!items) return undefined;
  const out: Dim[] = [];
  for (let i = 0; i < items.length; i++) {
    const d = asDim(items[i]);
    if (d === undefined) return undefined;
    out.push(d);
  }
  return out;
}

/**
 * PyTorch's `_single/_pair/_triple`: an int becomes n copies, a sequence is taken as is
 * (its length is not forced, like PyTorch). Undefined when unreadable.
 */
export function ntuple(v: Value | undefined, n: number): Dim[] | undefined {
  const d = asDim(v);
  if (d !== undefined) return new Array<Dim>(n).fill(d);
  return asDimList(v);
}

/**
 * `ntuple` that also checks the length: n values, or one value repeated; undefined for a
 * sequence of any other length (PyTorch rejects those).
 */
export function ntupleExact(v: Value | undefined, n: number): Dim[] | undefined {
  const list = ntuple(v, n);
  if (!list) return undefined;
  if (list.length === n) return list;
  if (list.length === 1) return new Array<Dim>(n).fill(list[0]);
  return undefined;
}

/** Variadic sizes: `view(2, 3)`, `view((2, 3))`, `view([2, 3])`, `view(torch.Size)`. */
export function sizesFromArgs(args: readonly Value[]): Dim[] | undefined {
  if (args.length === 1) {
    const list = asDimList(args[0]);
    if (list) return list;
  }
  const out: Dim[] = [];
  for (const a of args) {
    const d = asDim(a);
    if (d === undefined) return undefined;
    out.push(d);
  }
  return out;
}

/** A fresh parameter tensor (nn.Parameter semantics: counted, requires grad). */
export function makeParam(ctx: CallContext, shape: Shape | null, dtype: DType = 'float32'): TensorValue {
  const t = ctx.newTensor(shape, dtype);
  t.isParameter = true;
  t.requiresGrad = true;
  return t;
}

/** A fresh buffer tensor (running stats, num_batches_tracked). */
export function makeBuffer(ctx: CallContext, shape: Shape | null, dtype: DType = 'float32'): TensorValue {
  return ctx.newTensor(shape, dtype);
}

/** A shape whose dims are all readable, else null (unknown shape, e.g. from an unknown ctor arg). */
export function knownShape(dims: readonly (Dim | undefined)[]): Shape | null {
  const out: Dim[] = [];
  for (const d of dims) {
    if (d === undefined) return null;
    out.push(d);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Signatures in Python syntax

/**
 * Parses a parameter list written like Python's: `in_features, out_features, bias=True,
 * device=None, *, bias=True, *args, **kwargs`. Defaults may be int, float, True/False,
 * None or a quoted string; `overrides` supplies defaults that are not literals.
 */
export function sig(text: string, overrides: Record<string, Value> = {}): ParamSpec[] {
  // Parsed once per text: the catalog is rebuilt for every analysis run.
  const plain = Object.keys(overrides).length === 0;
  const cached = plain ? parsedSignatures.get(text) : undefined;
  if (cached) return cached;
  const parsed = parseSignature(text, overrides);
  if (plain) parsedSignatures.set(text, parsed);
  return parsed;
}

const parsedSignatures = new Map<string, ParamSpec[]>();

function parseSignature(text: string, overrides: Record<string, Value>): ParamSpec[] {
  const out: ParamSpec[] = [];
  let keywordOnly = false;
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    if (part === '*') {
      keywordOnly = true;
      continue;
    }
    if (part.startsWith('**')) {
      out.push({ name: part.slice(2), kind: 'varkw' });
      continue;
    }
    if (part.startsWith('*')) {
      out.push({ name: part.slice(1), kind: 'varargs' });
      keywordOnly = true;
      continue;
    }
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    const spec: ParamSpec = { name, kind: keywordOnly ? 'keyword-only' : 'positional' };
    if (name in overrides) spec.default = overrides[name];
    else if (eq >= 0) spec.default = parseLiteral(part.slice(eq + 1).trim());
    out.push(spec);
  }
  return out;
}

function parseLiteral(text: string): Value {
  if (text === 'None') return NONE;
  if (text === '()') return tupleV([]);
  if (text === 'True') return boolV(true);
  if (text === 'False') return boolV(false);
  if (/^'.*'$/.test(text) || /^".*"$/.test(text)) return strV(text.slice(1, -1));
  if (/^-?\d+$/.test(text)) return intV(Number(text));
  const f = Number(text);
  if (!Number.isNaN(f)) return floatV(f);
  throw new Error(`unsupported default literal in catalog signature: ${text}`);
}

/**
 * Binds call arguments to a signature the way Python does. Returns the bound map, or an
 * error text (missing/unexpected argument) that the caller turns into a diagnostic.
 */
export function bindArgs(
  signature: readonly ParamSpec[],
  args: readonly Value[],
  kwargs: ReadonlyMap<string, Value>,
  callee: string,
): { bound: BoundArgs; error?: string } {
  const bound: BoundArgs = new Map();
  let error: string | undefined;
  let i = 0;
  const varkwSpec = signature.find((p) => p.kind === 'varkw');
  const extraKw = new Map<string, { key: Value; value: Value }>();
  for (const p of signature) {
    if (p.kind === 'varargs') {
      bound.set(p.name, tupleV(args.slice(i)));
      i = args.length;
    } else if ((p.kind ?? 'positional') === 'positional' && i < args.length) {
      bound.set(p.name, args[i++]);
    }
  }
  if (i < args.length) error ??= `${callee}() takes ${signature.filter((p) => (p.kind ?? 'positional') === 'positional').length} positional arguments but ${args.length} were given`;
  for (const [name, value] of kwargs) {
    const p = signature.find((s) => s.name === name && s.kind !== 'varargs' && s.kind !== 'varkw');
    if (p) {
      if (bound.has(name)) error ??= `${callee}() got multiple values for argument '${name}'`;
      bound.set(name, value);
    } else if (varkwSpec) {
      extraKw.set(`s:${name}`, { key: strV(name), value });
    } else {
      error ??= `${callee}() got an unexpected keyword argument '${name}'`;
    }
  }
  if (varkwSpec) bound.set(varkwSpec.name, { kind: 'dict', entries: extraKw });
  for (const p of signature) {
    if (bound.has(p.name)) continue;
    if (p.default !== undefined) bound.set(p.name, p.default);
    else if (p.kind !== 'varargs' && p.kind !== 'varkw') error ??= `${callee}() missing required argument '${p.name}'`;
  }
  return error === undefined ? { bound } : { bound, error };
}

/** Python's index normalisation for a dim argument; undefined when out of range or unknown. */
export function normalizeDim(d: Dim | undefined, rank: number): number | undefined {
  if (d === undefined) return undefined;
  const c = constValue(d);
  if (c === undefined) return undefined;
  const r = Math.max(rank, 1);
  if (c < -r || c >= r) return undefined;
  return c < 0 ? c + r : c;
}

/** The shape of a value when it is a tensor of known rank. */
export function shapeOf(v: Value | undefined): Shape | undefined {
  return isTensor(v) && v.shape !== null ? v.shape : undefined;
}

/** The dtype PyTorch gives a result: the first floating input's, else the first tensor's. */
export function dtypeOf(v: Value | undefined, fallback: DType = 'float32'): DType {
  return isTensor(v) ? v.dtype : fallback;
}

export const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float64', 'float16', 'bfloat16']);
