// torch.* functions and Tensor methods: creation, views and reshapes, reductions,
// elementwise math with broadcasting and dtype promotion, matmul family and einsum,
// cat/stack/split, indexing and slicing, and tensor attributes (shape, dtype, T, ...).
// One table serves both spellings: `torch.flatten(x, 1)` and `x.flatten(1)` bind the same
// signature, with the tensor as the first parameter.
// MACs (added through ctx.addMacs): matmul family = batch × n × m × k; einsum with two
// operands = product of all index sizes; elementwise ops and reductions 0.
import type { BoundArgs, BuiltinImpl, CallContext, DType, ParamSpec, TensorValue, Value } from '../interp/values';
import {
  add, ceilDiv, constValue, dimEquals, dimToString, floorDiv, freeSymbols, knownProduct, mul, product, sub, sym, type Dim, type Shape,
} from '../shape/dim';
import {
  NONE, asBool, asDim, asDimList, asInt, asNumber, asSequence, asStr, bindArgs, boolV, dimsTuple, intV, isNone, isTensor,
  normalizeDim, shapeOf, sig, sizesFromArgs, tupleV, unknownV,
} from './args';
import { broadcastAll, broadcastShapes, complexOf, isFloating, realOf, resultDtype } from './broadcast';
import { setLastDimFactors, solveRequirement } from './check';
import { MAX_KNOWN_ELEMENTS, binaryValues, dataValues, knownValues, pythonValue, setKnownValues, unaryValues } from './constValues';
import type { CatalogEnv } from './env';
import * as msg from './messages';
import { ndarrayContents } from '../interp/ndarrays';
import { flattenTensor, inferSizes, unflattenTensor } from './shapeOps';

/** numpy dtype names the small numpy produces, as torch dtypes (torch.from_numpy keeps the dtype). */
const DTYPE_OF_NUMPY: Record<string, DType> = {
  float16: 'float16', float32: 'float32', float64: 'float64', int8: 'int8', int32: 'int32', int64: 'int64', uint8: 'uint8', bool: 'bool', bool_: 'bool',
};

/** `name` is the spelling the op was called by (one impl may serve add/sub/mul...). */
type OpImpl = (a: BoundArgs, ctx: CallContext, name: string) => Value;
type Where = 'both' | 'method' | 'function';
interface TensorOp {
  name: string;
  signature: ParamSpec[];
  impl: OpImpl;
}

export interface TensorOpTables {
  /** torch.<name> */
  functions: Map<string, BuiltinImpl>;
  /** Tensor.<name>; args[0] is the tensor. */
  methods: Map<string, BuiltinImpl>;
  attribute(t: TensorValue, name: string, ctx: CallContext): Value | undefined;
  binaryOp(op: string, a: Value, b: Value, ctx: CallContext): Value;
  unaryOp(op: string, a: TensorValue, ctx: CallContext): Value;
  getItem(t: TensorValue, index: Value, ctx: CallContext): Value;
}

/** Wraps an op so a call binds its arguments first; an unbindable call is information, not an error. */
export function builtinFromSignature(name: string, signature: ParamSpec[], impl: (a: BoundArgs, ctx: CallContext, name: string) => Value): BuiltinImpl {
  return (args, kwargs, ctx) => {
    const { bound, error } = bindArgs(signature, args, kwargs, name);
    if (error) {
      ctx.diagnostic('info', msg.badArguments(name, `${error}; the result is unknown`));
      return unknownV();
    }
    return impl(bound, ctx, name);
  };
}

const t0 = (a: BoundArgs, name = 'input'): TensorValue | undefined => {
  const v = a.get(name);
  return isTensor(v) ? v : undefined;
};

function newLike(ctx: CallContext, t: TensorValue, shape: Shape | null = t.shape, dtype: DType = t.dtype): TensorValue {
  return ctx.newTensor(shape === null ? null : [...shape], dtype);
}

/** Dims a reduction works on: int, tuple/list of ints, or None (all). Undefined when unreadable. */
function reductionDims(op: string, v: Value | undefined, rank: number, ctx: CallContext): number[] | undefined {
  if (isNone(v)) return [...Array(rank).keys()];
  const list = asDim(v) !== undefined ? [asDim(v)!] : asDimList(v);
  if (!list) return undefined;
  const out: number[] = [];
  for (const d of list) {
    const n = normalizeDim(d, rank);
    if (n === undefined) {
      ctx.diagnostic('error', msg.dimOutOfRange(op, d, rank));
      return undefined;
    }
    out.push(n);
  }
  return out;
}

function reduceShape(shape: Shape, dims: number[], keepdim: boolean): Shape {
  const set = new Set(dims);
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!set.has(i)) out.push(d);
    else if (keepdim) out.push(1);
  });
  return out;
}

function reduction(op: string, a: BoundArgs, ctx: CallContext, dtype?: (t: TensorValue) => DType, dimName = 'dim'): Value {
  const t = t0(a);
  if (!t) return unknownV();
  const outDtype = dtype ? dtype(t) : t.dtype;
  if (!t.shape) return ctx.newTensor(null, outDtype);
  const dims = reductionDims(op, a.get(dimName), t.shape.length, ctx);
  if (!dims) return ctx.newTensor(null, outDtype);
  return ctx.newTensor(reduceShape(t.shape, dims, asBool(a.get('keepdim')) ?? false), outDtype);
}

/** Reductions that return (values, indices) when a dim is given: max, min, median, mode, kthvalue. */
/** A torch.return_types result: a tuple whose items are also .values and .indices. */
function valuesAndIndices(values: Value, indices: Value): Value {
  return { kind: 'tuple', items: [values, indices], fields: ['values', 'indices'] };
}

function valuesIndices(op: string, a: BoundArgs, ctx: CallContext): Value {
  const t = t0(a);
  if (!t) return unknownV();
  const other = a.get('dim');
  if (isTensor(other)) return elementwiseBinary(op, t, other, ctx, 'promote');
  if (isNone(other)) return ctx.newTensor([], t.dtype);
  if (!t.shape) return valuesAndIndices(ctx.newTensor(null, t.dtype), ctx.newTensor(null, 'int64'));
  const dims = reductionDims(op, other, t.shape.length, ctx);
  if (!dims) return valuesAndIndices(ctx.newTensor(null, t.dtype), ctx.newTensor(null, 'int64'));
  const shape = reduceShape(t.shape, dims, asBool(a.get('keepdim')) ?? false);
  return valuesAndIndices(ctx.newTensor(shape, t.dtype), ctx.newTensor(shape, 'int64'));
}

const floatResult = (t: TensorValue): DType => (isFloating(t.dtype) ? t.dtype : 'float32');

// ------------------------------------------------------------------------- elementwise

/** `kind`: promote = torch.result_type; bool = comparisons; float = true division. */
export function elementwiseBinary(op: string, a: Value, b: Value, ctx: CallContext, kind: 'promote' | 'bool' | 'float' | 'left'): Value {
  if (a.kind === 'unknown' || b.kind === 'unknown') {
    const t = isTensor(a) ? a : isTensor(b) ? b : undefined;
    return t ? ctx.newTensor(null, kind === 'bool' ? 'bool' : t.dtype) : unknownV();
  }
  const sa = isTensor(a) ? a.shape : [];
  const sb = isTensor(b) ? b.shape : [];
  if (!isTensor(a) && !isTensor(b)) return unknownV();
  let dtype = resultDtype(a, b);
  if (kind === 'bool') dtype = 'bool';
  if (kind === 'float' && !isFloating(dtype)) dtype = 'float32';
  if (kind === 'left' && isTensor(a)) dtype = a.dtype;
  if (sa === null || sb === null) return ctx.newTensor(null, dtype);
  const shape = broadcastShapes(op, sa, sb, ctx);
  const out = ctx.newTensor(shape ?? null, dtype);
  const values = shape ? binaryValues(op, a, b) : undefined;
  return values ? setKnownValues(out, values) : out;
}

function unary(dtype?: (t: TensorValue) => DType): OpImpl {
  return (a, ctx, name) => {
    const t = t0(a);
    if (!t) return unknownV();
    const out = newLike(ctx, t, t.shape, dtype ? dtype(t) : t.dtype);
    const values = unaryValues(name, t);
    return values ? setKnownValues(out, values) : out;
  };
}

/** In-place ops return the tensor itself (same identity), as PyTorch does. */
const inPlace: OpImpl = (a) => a.get('input') ?? unknownV();

// ------------------------------------------------------------------------------ matmul

/** torch.matmul's shape rule (1-D promotion, batch broadcasting) and its MACs. */
export function matmul(op: string, a: Value | undefined, b: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(a) || !isTensor(b)) return isTensor(a) || isTensor(b) ? ctx.newTensor(null, (isTensor(a) ? a : (b as TensorValue)).dtype) : unknownV();
  const dtype = resultDtype(a, b);
  if (!a.shape || !b.shape) return ctx.newTensor(null, dtype);
  const sa = a.shape;
  const sb = b.shape;
  if (sa.length === 0 || sb.length === 0) {
    ctx.diagnostic('error', msg.badArguments(op, 'both arguments to matmul need to be at least 1D'));
    return ctx.newTensor(null, dtype);
  }
  const left = sa.length === 1 ? [1, sa[0]] : sa;
  const right = sb.length === 1 ? [sb[0], 1] : sb;
  const k1 = left[left.length - 1];
  const k2 = right[right.length - 2];
  if (dimEquals(k1, k2) === false) {
    ctx.diagnostic('error', msg.matmulMismatch(op, sa, sb, k1, k2));
    return ctx.newTensor(null, dtype);
  }
  const batch = broadcastShapes(op, left.slice(0, -2), right.slice(0, -2), ctx);
  if (!batch) return ctx.newTensor(null, dtype);
  const n = left[left.length - 2];
  const m = right[right.length - 1];
  ctx.addMacs(mul(product(batch), mul(mul(n, m), k1)));
  const out: Dim[] = [...batch];
  if (sa.length > 1) out.push(n);
  if (sb.length > 1) out.push(m);
  return ctx.newTensor(out, dtype);
}

function strictMatmul(op: string, a: Value | undefined, b: Value | undefined, rank: number, ctx: CallContext): Value {
  const sa = shapeOf(a);
  const sb = shapeOf(b);
  if (sa && sb && (sa.length !== rank || sb.length !== rank)) {
    ctx.diagnostic('error', msg.badArguments(op, `expects ${rank}D tensors, gets ${sa.length}D and ${sb.length}D`));
    return isTensor(a) ? ctx.newTensor(null, a.dtype) : unknownV();
  }
  if (sa && sb && rank === 3) {
    const ok = dimEquals(sa[0], sb[0]);
    if (ok === false) {
      ctx.diagnostic('error', msg.sizeMismatch(op, 'batch size', sa[0], sb[0]));
      return ctx.newTensor(null, (a as TensorValue).dtype);
    }
  }
  return matmul(op, a, b, ctx);
}

// ------------------------------------------------------------------------------ einsum

export function einsum(equation: string, operands: Value[], ctx: CallContext): Value {
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhsGiven] = eq.split('->');
  const inputs = lhs.split(',');
  const tensors = operands.filter(isTensor);
  const dtype = tensors[0]?.dtype ?? 'float32';
  // An operand the analysis could not follow already has its own diagnostic: no second one here.
  if (inputs.length === operands.length && operands.every((o) => isTensor(o) || o.kind === 'unknown')) {
    if (tensors.length !== operands.length) return ctx.newTensor(null, dtype);
  }
  if (inputs.length !== operands.length || tensors.length !== operands.length) {
    ctx.diagnostic('info', msg.unsupportedEinsum(equation));
    return unknownV();
  }
  if (tensors.some((t) => !t.shape)) return ctx.newTensor(null, dtype);
  const sizes = new Map<string, Dim>();
  const counts = new Map<string, number>();
  let ellipsis: Shape | undefined;
  for (let i = 0; i < inputs.length; i++) {
    const shape = tensors[i].shape!;
    const labels = inputs[i];
    const dots = labels.indexOf('...');
    const named = labels.replace('...', '');
    const ellRank = shape.length - named.length;
    if ((dots < 0 && ellRank !== 0) || ellRank < 0) {
      ctx.diagnostic('error', msg.badArguments('einsum', `operand ${i} has ${shape.length} dims but subscripts '${labels}'`));
      return ctx.newTensor(null, dtype);
    }
    let pos = 0;
    for (let j = 0; j < labels.length; j++) {
      if (labels.startsWith('...', j)) {
        const part = shape.slice(pos, pos + ellRank);
        ellipsis = ellipsis ? broadcastShapes('einsum', ellipsis, part, ctx) ?? ellipsis : part;
        pos += ellRank;
        j += 2;
        continue;
      }
      const c = labels[j];
      const d = shape[pos++];
      const prev = sizes.get(c);
      if (prev !== undefined && constValue(prev) !== 1 && constValue(d) !== 1 && dimEquals(prev, d) === false) {
        ctx.diagnostic('error', msg.badArguments('einsum', `subscript '${c}' has size ${String(constValue(d))} in operand ${i} but ${String(constValue(prev))} before`));
        return ctx.newTensor(null, dtype);
      }
      if (prev === undefined || constValue(prev) === 1) sizes.set(c, d);
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
  }
  const rhs = rhsGiven ?? (eq.includes('...') ? '...' : '') + [...counts.entries()].filter(([, n]) => n === 1).map(([c]) => c).sort().join('');
  const out: Dim[] = [];
  for (let j = 0; j < rhs.length; j++) {
    if (rhs.startsWith('...', j)) {
      out.push(...(ellipsis ?? []));
      j += 2;
      continue;
    }
    const d = sizes.get(rhs[j]);
    if (d === undefined) {
      ctx.diagnostic('error', msg.badArguments('einsum', `output subscript '${rhs[j]}' does not appear in the inputs`));
      return ctx.newTensor(null, dtype);
    }
    out.push(d);
  }
  if (tensors.length >= 2) ctx.addMacs(mul(product([...sizes.values()]), product(ellipsis ?? [])));
  return ctx.newTensor(out, dtype);
}

// ------------------------------------------------------------------------ cat / stack

function tensorList(v: Value | undefined): TensorValue[] | undefined {
  const items = asSequence(v);
  if (!items || !items.every(isTensor)) return undefined;
  return items as TensorValue[];
}

export function cat(op: string, tensorsV: Value | undefined, dimV: Value | undefined, ctx: CallContext): Value {
  const tensors = tensorList(tensorsV);
  if (!tensors || tensors.length === 0) return asSequence(tensorsV)?.some(isTensor) ? ctx.newTensor(null, (asSequence(tensorsV)!.find(isTensor) as TensorValue).dtype) : unknownV();
  // Legacy behaviour: 1-D empty tensors are skipped.
  const parts = tensors.filter((t) => !(t.shape?.length === 1 && constValue(t.shape[0]) === 0));
  const dtype = parts.reduce<DType>((d, t) => resultDtype({ kind: 'tensor', shape: [1], dtype: d, id: -1 }, t), parts[0]?.dtype ?? tensors[0].dtype);
  if (parts.some((t) => !t.shape)) return ctx.newTensor(null, dtype);
  if (parts.length === 0) return ctx.newTensor([0], dtype);
  const first = parts[0].shape!;
  const d = normalizeDim(asDim(dimV) ?? 0, first.length);
  if (d === undefined) {
    ctx.diagnostic('error', msg.dimOutOfRange(op, asDim(dimV) ?? 0, first.length));
    return ctx.newTensor(null, dtype);
  }
  let total: Dim = 0;
  for (let i = 0; i < parts.length; i++) {
    const s = parts[i].shape!;
    if (s.length !== first.length || s.some((x, j) => j !== d && dimEquals(x, first[j]) === false)) {
      ctx.diagnostic('error', msg.catMismatch(op, i, s, first, d));
      return ctx.newTensor(null, dtype);
    }
    total = add(total, s[d]);
  }
  const out = [...first];
  out[d] = total;
  // Symbolic dims that were assumed equal: prefer a concrete value from any part.
  for (let j = 0; j < out.length; j++) {
    if (j === d || typeof out[j] === 'number') continue;
    const concrete = parts.map((p) => p.shape![j]).find((x) => typeof x === 'number');
    if (concrete !== undefined) out[j] = concrete;
  }
  return ctx.newTensor(out, dtype);
}

export function stack(op: string, tensorsV: Value | undefined, dimV: Value | undefined, ctx: CallContext): Value {
  const tensors = tensorList(tensorsV);
  if (!tensors || tensors.length === 0) return unknownV();
  if (tensors.some((t) => !t.shape)) return ctx.newTensor(null, tensors[0].dtype);
  const first = tensors[0].shape!;
  const d = normalizeDim(asDim(dimV) ?? 0, first.length + 1);
  if (d === undefined) {
    ctx.diagnostic('error', msg.dimOutOfRange(op, asDim(dimV) ?? 0, first.length + 1));
    return ctx.newTensor(null, tensors[0].dtype);
  }
  for (let i = 1; i < tensors.length; i++) {
    const s = tensors[i].shape!;
    if (s.length !== first.length || s.some((x, j) => dimEquals(x, first[j]) === false)) {
      ctx.diagnostic('error', msg.badArguments(op, `stack expects each tensor to be equal size, but got ${shapeText(first)} at entry 0 and ${shapeText(s)} at entry ${i}`));
      return ctx.newTensor(null, tensors[0].dtype);
    }
  }
  const out = [...first];
  out.splice(d, 0, tensors.length);
  return ctx.newTensor(out, tensors[0].dtype);
}

function shapeText(s: Shape): string {
  return `[${s.map((d) => (typeof d === 'number' ? String(d) : d.text)).join(', ')}]`;
}

function splitSizes(op: string, t: TensorValue, sizeV: Value | undefined, dimV: Value | undefined, ctx: CallContext): Value {
  if (!t.shape) return unknownV();
  const d = normalizeDim(asDim(dimV) ?? 0, t.shape.length);
  if (d === undefined) return unknownV();
  const total = t.shape[d];
  const list = asDimList(sizeV);
  // Pieces along dim 0 are consecutive runs of the row-major values.
  const values = d === 0 ? knownValues(t) : undefined;
  const rowSize = values && constValue(total) ? values.length / constValue(total)! : 0;
  let offset = 0;
  const piece = (size: Dim): TensorValue => {
    const s = [...t.shape!];
    s[d] = size;
    const out = ctx.newTensor(s, t.dtype);
    const n = constValue(size);
    if (values && n !== undefined) {
      setKnownValues(out, values.slice(offset * rowSize, (offset + n) * rowSize));
      offset += n;
    }
    return out;
  };
  if (list) {
    const sum = list.reduce<Dim>((acc, x) => add(acc, x), 0);
    if (dimEquals(sum, total) === false) {
      ctx.diagnostic('error', msg.badArguments(op, `split sizes sum to ${String(constValue(sum))} but dim ${d} has size ${String(constValue(total))}`));
    }
    return tupleV(list.map(piece));
  }
  const size = asDim(sizeV);
  const n = constValue(total);
  const s = size === undefined ? undefined : constValue(size);
  if (n === undefined || s === undefined || s <= 0) return unknownV();
  const pieces: TensorValue[] = [];
  for (let start = 0; start < n; start += s) pieces.push(piece(Math.min(s, n - start)));
  if (n === 0) pieces.push(piece(0));
  return tupleV(pieces);
}

function chunk(t: TensorValue, chunksV: Value | undefined, dimV: Value | undefined, ctx: CallContext): Value {
  if (!t.shape) return unknownV();
  const d = normalizeDim(asDim(dimV) ?? 0, t.shape.length);
  const chunks = asInt(chunksV);
  if (d === undefined || chunks === undefined || chunks <= 0) return unknownV();
  const n = constValue(t.shape[d]);
  if (n === undefined) {
    // Symbolic size: chunk sizes are ceil(n / chunks) each when it divides; keep them symbolic.
    const each = ceilDiv(t.shape[d], chunks);
    return tupleV(Array.from({ length: chunks }, () => {
      const s = [...t.shape!];
      s[d] = each;
      return ctx.newTensor(s, t.dtype);
    }));
  }
  const size = Math.ceil(n / chunks);
  return splitSizes('chunk', t, intV(Math.max(size, 1)), intV(d), ctx);
}

// ----------------------------------------------------------------------------- creation

function sizeArgs(a: BoundArgs, name = 'size'): Dim[] | undefined {
  const v = a.get(name);
  const items = v?.kind === 'tuple' ? v.items : undefined;
  return items ? sizesFromArgs(items) : undefined;
}

function creation(env: CatalogEnv, defaultDtype: DType = 'float32', fillValue?: number): OpImpl {
  return (a, ctx) => {
    const size = sizeArgs(a);
    const dtype = env.dtypeOf(a.get('dtype')) ?? defaultDtype;
    const t = ctx.newTensor(size ?? null, dtype);
    if (asBool(a.get('requires_grad'))) t.requiresGrad = true;
    return fillKnown(t, fillValue);
  };
}

/** Records a constant fill (zeros, ones, full) so lengths built that way stay exact. */
function fillKnown(t: TensorValue, fill: number | undefined): TensorValue {
  if (fill === undefined || !t.shape) return t;
  const n = knownProduct(t.shape);
  return n === undefined || n < 0 || n > MAX_KNOWN_ELEMENTS ? t : setKnownValues(t, new Array<number>(n).fill(fill));
}

function likeCreation(env: CatalogEnv): OpImpl {
  return (a, ctx) => {
    const t = t0(a);
    if (!t) return unknownV();
    return newLike(ctx, t, t.shape, env.dtypeOf(a.get('dtype')) ?? t.dtype);
  };
}

/** Shape and dtype of nested Python data (torch.tensor([[1, 2], [3, 4]])). */
function dataShape(v: Value): { shape: Shape; dtype: DType } | undefined {
  if (v.kind === 'bool') return { shape: [], dtype: 'bool' };
  if (v.kind === 'int') return { shape: [], dtype: 'int64' };
  if (v.kind === 'float') return { shape: [], dtype: 'float32' };
  if (isTensor(v)) return v.shape ? { shape: v.shape, dtype: v.dtype } : undefined;
  // A numpy array (np.linspace grids, np.eye): its shape, and numpy's dtype (float64 by default).
  const array = ndarrayContents(v);
  if (array) return { shape: [...array.shape], dtype: DTYPE_OF_NUMPY[array.dtype] ?? 'float64' };
  const items = asSequence(v);
  if (!items) return undefined;
  if (items.length === 0) return { shape: [0], dtype: 'float32' };
  const inner = items.map(dataShape);
  if (inner.some((x) => !x)) return undefined;
  const rank = (x: DType): number => (x === 'bool' ? 0 : isFloating(x) ? 2 : 1);
  const dtype = inner.reduce<DType>((d, x) => (rank(x!.dtype) > rank(d) ? x!.dtype : d), inner[0]!.dtype);
  return { shape: [items.length, ...inner[0]!.shape], dtype };
}

function arange(a: BoundArgs, env: CatalogEnv, ctx: CallContext): Value {
  // torch.arange(end) / (start, end) / (start, end, step)
  const given = [a.get('start'), a.get('end'), a.get('step')].filter((v) => v !== undefined && !isNone(v)) as Value[];
  const [start, end, step] = given.length === 1 ? [intV(0), given[0], intV(1)] : given.length === 2 ? [given[0], given[1], intV(1)] : given;
  const anyFloat = [start, end, step].some((v) => v?.kind === 'float');
  const dtype = env.dtypeOf(a.get('dtype')) ?? (anyFloat ? 'float32' : 'int64');
  if (anyFloat) {
    const [s, e, st] = [start, end, step].map(asNumber);
    if (s === undefined || e === undefined || st === undefined || st === 0) return ctx.newTensor(null, dtype);
    const n = Math.max(0, Math.ceil((e - s) / st));
    return setKnownValues(ctx.newTensor([n], dtype), Array.from({ length: n }, (_, i) => s + i * st));
  }
  const [s, e, st] = [start, end, step].map(asDim);
  if (s === undefined || e === undefined || st === undefined) return ctx.newTensor(null, dtype);
  const stc = constValue(st);
  if (stc === undefined || stc === 0) return ctx.newTensor(null, dtype);
  const length = stc > 0 ? ceilDiv(sub(e, s), stc) : ceilDiv(sub(s, e), -stc);
  const c = constValue(length);
  const out = ctx.newTensor([c !== undefined ? Math.max(0, c) : length], dtype);
  const s0 = constValue(s);
  if (c === undefined || s0 === undefined) return out;
  return setKnownValues(out, Array.from({ length: Math.max(0, c) }, (_, i) => s0 + i * stc));
}

// ------------------------------------------------------------------------- view/reshape

function viewTo(op: string, t: TensorValue, sizes: Dim[] | undefined, ctx: CallContext): Value {
  if (!t.shape || !sizes) return ctx.newTensor(null, t.dtype);
  const total = product(t.shape);
  const inferred = inferSizes(op, sizes, total, t.shape, ctx);
  explainBatchInference(op, t.shape, sizes, ctx);
  const out = ctx.newTensor(inferred ?? null, t.dtype);
  // Remember what a flattened last dim is made of, for "gets 9216 = 256×6×6".
  if (inferred && inferred.length > 0 && inferred.length < t.shape.length) {
    const lastIn = inferred.length - 1;
    const kept = t.shape.slice(0, lastIn);
    if (kept.every((d, i) => dimEquals(d, inferred[i]) === true)) setLastDimFactors(out, t.shape.slice(lastIn));
  }
  return out;
}

/**
 * `x.view(-1, 400)` on a symbolic [N, 16, f(H), f(W)]: the -1 is meant to be the batch.
 * Say for which input sizes that holds (the shape itself stays exact).
 */
function explainBatchInference(op: string, shape: Shape, sizes: Dim[], ctx: CallContext): void {
  if (sizes.length < 2 || constValue(sizes[0]) !== -1 || shape.length < 2) return;
  const batch = shape[0];
  const batchSymbols = freeSymbols(batch);
  if (batchSymbols.length !== 1 || dimToString(batch) !== batchSymbols[0]) return;
  const known = constValue(product(sizes.slice(1)));
  const rest = product(shape.slice(1));
  if (known === undefined || constValue(rest) !== undefined || freeSymbols(rest).includes(batchSymbols[0])) return;
  ctx.requireSize?.(rest, known);
  solveRequirement(
    ctx,
    rest,
    known,
    (symbol, ranges) => msg.viewKeepsBatch(op, sizes, batch, rest, known, symbol, ranges),
    (symbol, max) => msg.viewMixesBatch(op, sizes, batch, rest, known, symbol, max),
  );
}

function permute(op: string, t: TensorValue, dimsV: Dim[] | undefined, ctx: CallContext): Value {
  if (!t.shape || !dimsV) return ctx.newTensor(null, t.dtype);
  const rank = t.shape.length;
  const dims = dimsV.map((d) => normalizeDim(d, rank));
  if (dims.length !== rank || dims.some((d) => d === undefined) || new Set(dims).size !== rank) {
    ctx.diagnostic('error', msg.badArguments(op, `dims [${dimsV.map((d) => String(constValue(d))).join(', ')}] are not a permutation of a ${rank}D tensor's dims`));
    return ctx.newTensor(null, t.dtype);
  }
  return ctx.newTensor(dims.map((d) => t.shape![d!]), t.dtype);
}

function transpose(op: string, t: TensorValue, d0: Dim | undefined, d1: Dim | undefined, ctx: CallContext): Value {
  if (!t.shape) return ctx.newTensor(null, t.dtype);
  const rank = t.shape.length;
  if (rank === 0) return newLike(ctx, t);
  const a = normalizeDim(d0, rank);
  const b = normalizeDim(d1, rank);
  if (a === undefined || b === undefined) {
    ctx.diagnostic('error', msg.dimOutOfRange(op, a === undefined ? d0 ?? 0 : d1 ?? 0, rank));
    return ctx.newTensor(null, t.dtype);
  }
  const s = [...t.shape];
  [s[a], s[b]] = [s[b], s[a]];
  return ctx.newTensor(s, t.dtype);
}

function squeeze(t: TensorValue, dimV: Value | undefined, ctx: CallContext): Value {
  if (!t.shape) return ctx.newTensor(null, t.dtype);
  const rank = t.shape.length;
  const dims = isNone(dimV) ? [...Array(rank).keys()] : (asDim(dimV) !== undefined ? [asDim(dimV)!] : asDimList(dimV) ?? []).map((d) => normalizeDim(d, rank));
  if (dims.some((d) => d === undefined)) return ctx.newTensor(null, t.dtype);
  const set = new Set(dims as number[]);
  const explicit = !isNone(dimV);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const c = constValue(t.shape[i]);
    if (set.has(i) && c === 1) continue;
    // A symbolic size squeezed by explicit dim could be 1; keep it (most likely not 1).
    if (set.has(i) && c === undefined && !explicit) continue;
    out.push(t.shape[i]);
  }
  return ctx.newTensor(out, t.dtype);
}

function unsqueeze(t: TensorValue, dimV: Dim | undefined, ctx: CallContext): Value {
  if (!t.shape) return ctx.newTensor(null, t.dtype);
  const d = normalizeDim(dimV, t.shape.length + 1);
  if (d === undefined) {
    ctx.diagnostic('error', msg.dimOutOfRange('unsqueeze', dimV ?? 0, t.shape.length + 1));
    return ctx.newTensor(null, t.dtype);
  }
  const s = [...t.shape];
  s.splice(d, 0, 1);
  return ctx.newTensor(s, t.dtype);
}

function expand(t: TensorValue, sizes: Dim[] | undefined, ctx: CallContext): Value {
  if (!t.shape || !sizes) return ctx.newTensor(null, t.dtype);
  if (sizes.length < t.shape.length) {
    ctx.diagnostic('error', msg.badArguments('expand', `the number of sizes (${sizes.length}) must be at least the tensor's rank (${t.shape.length})`));
    return ctx.newTensor(null, t.dtype);
  }
  const offset = sizes.length - t.shape.length;
  const out = sizes.map((s, i) => {
    if (i < offset) return s;
    const own = t.shape![i - offset];
    if (constValue(s) === -1) return own;
    if (constValue(own) !== 1 && dimEquals(own, s) === false) {
      ctx.diagnostic('error', msg.badArguments('expand', `size ${String(constValue(own))} at dim ${i - offset} cannot be expanded to ${String(constValue(s))}`));
    }
    return s;
  });
  return ctx.newTensor(out, t.dtype);
}

function repeat(t: TensorValue, sizes: Dim[] | undefined, ctx: CallContext, tile = false): Value {
  if (!t.shape || !sizes) return ctx.newTensor(null, t.dtype);
  let reps = sizes;
  if (tile && reps.length < t.shape.length) reps = [...Array(t.shape.length - reps.length).fill(1), ...reps];
  if (reps.length < t.shape.length) {
    ctx.diagnostic('error', msg.badArguments('repeat', 'the number of repeats cannot be smaller than the tensor rank'));
    return ctx.newTensor(null, t.dtype);
  }
  const padded = [...Array(reps.length - t.shape.length).fill(1), ...t.shape];
  return ctx.newTensor(padded.map((d, i) => mul(d, reps[i])), t.dtype);
}

function narrowShape(t: TensorValue, dimV: Dim | undefined, length: Dim | undefined, ctx: CallContext): Value {
  if (!t.shape || length === undefined) return ctx.newTensor(null, t.dtype);
  const d = normalizeDim(dimV, t.shape.length);
  if (d === undefined) return ctx.newTensor(null, t.dtype);
  const s = [...t.shape];
  s[d] = length;
  return ctx.newTensor(s, t.dtype);
}

function topk(t: TensorValue, kV: Dim | undefined, dimV: Dim | undefined, ctx: CallContext): Value {
  if (!t.shape || kV === undefined) return valuesAndIndices(ctx.newTensor(null, t.dtype), ctx.newTensor(null, 'int64'));
  const d = normalizeDim(dimV ?? -1, t.shape.length);
  if (d === undefined) return valuesAndIndices(ctx.newTensor(null, t.dtype), ctx.newTensor(null, 'int64'));
  const s = [...t.shape];
  s[d] = kV;
  return valuesAndIndices(ctx.newTensor(s, t.dtype), ctx.newTensor([...s], 'int64'));
}

// ---------------------------------------------------------------------------- indexing

let dataDependentCounter = 0;
/** A size only known at run time (nonzero count of a mask); each occurrence is its own symbol. */
/**
 * torch.unique: (output[, inverse][, counts]) as asked. With the input's values known (RegNet
 * counts its stage depths with return_counts=True), the results carry values, sorted like
 * PyTorch's; otherwise the number of distinct values is data-dependent.
 */
function unique(t: TensorValue, a: BoundArgs, ctx: CallContext): Value {
  const withInverse = asBool(a.get('return_inverse')) === true;
  const withCounts = asBool(a.get('return_counts')) === true;
  const along = a.get('dim');
  const d = along === undefined || isNone(along) || !t.shape ? undefined : normalizeDim(asDim(along), t.shape.length);
  const values = along === undefined || isNone(along) ? knownValues(t) : undefined;
  let output: TensorValue;
  let inverse: TensorValue;
  let counts: TensorValue;
  if (values && !values.some(Number.isNaN)) {
    const distinct = [...new Set(values)].sort((x, y) => x - y);
    output = setKnownValues(ctx.newTensor([distinct.length], t.dtype), distinct);
    inverse = setKnownValues(ctx.newTensor(t.shape ? [...t.shape] : null, 'int64'), values.map((v) => distinct.indexOf(v)));
    counts = setKnownValues(ctx.newTensor([distinct.length], 'int64'), distinct.map((x) => values.filter((v) => v === x).length));
  } else {
    const n = dataDependentDim();
    if (d !== undefined && t.shape) {
      const shape = [...t.shape];
      shape[d] = n;
      output = ctx.newTensor(shape, t.dtype);
      inverse = ctx.newTensor([t.shape[d]], 'int64');
    } else {
      output = ctx.newTensor(along === undefined || isNone(along) ? [n] : null, t.dtype);
      inverse = ctx.newTensor(along === undefined || isNone(along) ? (t.shape ? [...t.shape] : null) : null, 'int64');
    }
    counts = ctx.newTensor([n], 'int64');
  }
  if (!withInverse && !withCounts) return output;
  return tupleV([output, ...(withInverse ? [inverse] : []), ...(withCounts ? [counts] : [])]);
}

/**
 * item()/tolist() of a tensor whose values are not known: the contents are unknown, but not
 * the Python type (a list for rank ≥ 1, else the dtype's scalar), which isinstance() needs.
 */
function typedUnknown(t: TensorValue | undefined, rank: number | undefined, reason: string): Value {
  const out = unknownV(reason);
  if (!t || rank === undefined) return out;
  out.pythonType = rank > 0 ? 'list' : t.dtype === 'bool' ? 'bool' : isFloating(t.dtype) ? 'float' : 'int';
  return out;
}

export function dataDependentDim(): Dim {
  return sym(`nnz_${++dataDependentCounter}`);
}

/** Numbering restarts with every catalog (analysis run), so reports are reproducible. */
export function restartDataDependentNames(): void {
  dataDependentCounter = 0;
}

function sliceLength(size: Dim, start: Value, stop: Value, step: Value): Dim | undefined {
  const st = isNone(step) ? 1 : asInt(step);
  if (st === undefined || st === 0) return undefined;
  const n = constValue(size);
  const s0 = isNone(start) ? undefined : asDim(start);
  const s1 = isNone(stop) ? undefined : asDim(stop);
  if ((!isNone(start) && s0 === undefined) || (!isNone(stop) && s1 === undefined)) return undefined;
  if (n !== undefined) {
    const a = s0 === undefined ? undefined : constValue(s0);
    const b = s1 === undefined ? undefined : constValue(s1);
    if ((s0 !== undefined && a === undefined) || (s1 !== undefined && b === undefined)) return undefined;
    // Python's slice.indices for a positive step (PyTorch rejects negative steps).
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    const lo = a === undefined ? 0 : clamp(a);
    const hi = b === undefined ? n : clamp(b);
    return Math.max(0, Math.ceil((hi - lo) / st));
  }
  // Symbolic size: common forms x[:k], x[k:], x[a:b] with concrete non-negative bounds,
  // x[:-k], x[::s]. Assumes the bounds lie inside the dim (the usual intent).
  const a = s0 === undefined ? 0 : constValue(s0);
  const b = s1 === undefined ? undefined : constValue(s1);
  if (a === undefined || (s1 !== undefined && b === undefined)) return undefined;
  const lo: Dim = a < 0 ? add(size, a) : a;
  const hi: Dim = b === undefined ? size : b < 0 ? add(size, b) : b;
  return ceilDiv(sub(hi, lo), st);
}

export function getItem(t: TensorValue, index: Value, ctx: CallContext): Value {
  const out = indexShape(t, index, ctx);
  // x[i] of a tensor with known values (iterating over torch.linspace(...), widths[i]).
  const i = asInt(index);
  const values = knownValues(t);
  if (i !== undefined && values && out.kind === 'tensor' && t.shape && t.shape.length >= 1) {
    const rows = constValue(t.shape[0]);
    const rowSize = rows ? values.length / rows : 0;
    const row = i < 0 ? i + (rows ?? 0) : i;
    if (rows !== undefined && row >= 0 && row < rows) setKnownValues(out, values.slice(row * rowSize, (row + 1) * rowSize));
  }
  return out;
}

function indexShape(t: TensorValue, index: Value, ctx: CallContext): Value {
  if (!t.shape) return index.kind === 'unknown' ? unknownV() : ctx.newTensor(null, t.dtype);
  const items = index.kind === 'tuple' ? index.items : [index];
  if (items.some((i) => i.kind === 'unknown')) return ctx.newTensor(null, t.dtype);
  // Count the dims the index consumes, to place the ellipsis.
  const consumes = (v: Value): number => (v.kind === 'none' || v.kind === 'ellipsis' ? 0 : isTensor(v) && v.dtype === 'bool' && v.shape ? v.shape.length : 1);
  const used = items.reduce((n, v) => n + consumes(v), 0);
  const rank = t.shape.length;
  if (used > rank) {
    ctx.diagnostic('error', msg.tooManyIndices(rank, used));
    return ctx.newTensor(null, t.dtype);
  }
  const out: Dim[] = [];
  const advanced: { position: number; shape: Shape }[] = [];
  let pos = 0;
  let sawEllipsis = false;
  for (const item of items) {
    if (item.kind === 'ellipsis') {
      if (sawEllipsis) return ctx.newTensor(null, t.dtype);
      sawEllipsis = true;
      const skip = rank - used;
      for (let i = 0; i < skip; i++) out.push(t.shape[pos++]);
    } else if (item.kind === 'none') {
      out.push(1);
    } else if (item.kind === 'slice') {
      const len = sliceLength(t.shape[pos], item.start, item.stop, item.step);
      if (len === undefined) return ctx.newTensor(null, t.dtype);
      out.push(len);
      pos++;
    } else if (isTensor(item)) {
      if (!item.shape) return ctx.newTensor(null, t.dtype);
      if (item.dtype === 'bool' || item.dtype === 'uint8') {
        const k = item.shape.length;
        for (let i = 0; i < k; i++) {
          const own = t.shape[pos + i];
          if (dimEquals(own, item.shape[i]) === false) {
            ctx.diagnostic('error', msg.badArguments('index', `the shape of the mask ${shapeText(item.shape)} does not match the shape of the indexed tensor ${shapeText(t.shape)} at dim ${pos + i}`));
            return ctx.newTensor(null, t.dtype);
          }
        }
        advanced.push({ position: out.length, shape: [k === 0 ? 1 : dataDependentDim()] });
        pos += k;
      } else {
        advanced.push({ position: out.length, shape: item.shape });
        pos++;
      }
    } else {
      const i = asDim(item);
      if (i === undefined) {
        const seq = asSequence(item);
        if (seq) {
          // A list index behaves like a long tensor of its length.
          advanced.push({ position: out.length, shape: [seq.length] });
          pos++;
          continue;
        }
        return ctx.newTensor(null, t.dtype);
      }
      const size = t.shape[pos];
      const ic = constValue(i);
      const sc = constValue(size);
      if (ic !== undefined && sc !== undefined && (ic >= sc || ic < -sc)) {
        ctx.diagnostic('error', msg.indexOutOfRange(i, pos, size));
        return ctx.newTensor(null, t.dtype);
      }
      // Integer indices act as advanced indices of shape [] when mixed with tensors.
      if (advanced.length > 0 || items.some((v) => isTensor(v) && v.dtype !== 'bool')) advanced.push({ position: out.length, shape: [] });
      pos++;
    }
  }
  while (pos < rank) out.push(t.shape[pos++]);
  if (advanced.length === 0) return ctx.newTensor(out, t.dtype);
  const broadcast = broadcastAll('index', advanced.map((a) => a.shape), ctx);
  if (!broadcast) return ctx.newTensor(null, t.dtype);
  // Adjacent advanced indices keep their place; separated ones go to the front.
  const positions = advanced.map((a) => a.position);
  const adjacent = positions.every((p) => p === positions[0]);
  const at = adjacent ? positions[0] : 0;
  return ctx.newTensor([...out.slice(0, at), ...broadcast, ...out.slice(at)], t.dtype);
}

// ------------------------------------------------------------------ constant values

/** Ops that only reshape or copy: the row-major values stay the same. */
const VALUE_PRESERVING = new Set(['view', 'reshape', 'flatten', 'ravel', 'squeeze', 'unsqueeze', 'view_as', 'reshape_as', 'unflatten', 'to', 'cpu', 'cuda', 'requires_grad_']);
/** Reductions whose result over all elements is easy to compute. */
const FULL_REDUCTIONS: Record<string, (v: readonly number[]) => number> = {
  sum: (v) => v.reduce((a, b) => a + b, 0),
  prod: (v) => v.reduce((a, b) => a * b, 1),
  mean: (v) => v.reduce((a, b) => a + b, 0) / v.length,
  max: (v) => Math.max(...v),
  min: (v) => Math.min(...v),
  amax: (v) => Math.max(...v),
  amin: (v) => Math.min(...v),
};

/** Carries known values through value-preserving ops, full reductions and flip. */
function withValues(name: string, impl: OpImpl): OpImpl {
  const reduce = FULL_REDUCTIONS[name];
  if (!VALUE_PRESERVING.has(name) && !reduce && name !== 'flip') return impl;
  return (a, ctx, called) => {
    const out = impl(a, ctx, called);
    const input = a.get('input');
    const values = isTensor(input) ? knownValues(input) : undefined;
    if (!values || out.kind !== 'tensor' || out === input || !isTensor(input)) return out;
    if (VALUE_PRESERVING.has(name)) return setKnownValues(out, values);
    if (reduce && isNone(a.get('dim')) && values.length > 0) return setKnownValues(out, [reduce(values)]);
    if (name === 'flip' && input.shape) {
      const dims = sizesFromArgs(asSequence(a.get('dims')) ?? []);
      const shape = input.shape.map((d) => constValue(d));
      if (dims && shape.every((d) => d !== undefined)) return setKnownValues(out, flipValues(values, shape as number[], dims));
    }
    return out;
  };
}

function flipValues(values: readonly number[], shape: number[], dims: Dim[]): number[] {
  const flip = new Set(dims.map((d) => normalizeDim(d, shape.length)).filter((d): d is number => d !== undefined));
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return values.map((_, index) => {
    let source = 0;
    for (let i = 0; i < shape.length; i++) {
      const coordinate = Math.floor(index / strides[i]) % shape[i];
      source += (flip.has(i) ? shape[i] - 1 - coordinate : coordinate) * strides[i];
    }
    return values[source];
  });
}

// ---------------------------------------------------------------------------- the table

export function createTensorOps(env: CatalogEnv): TensorOpTables {
  const functions = new Map<string, BuiltinImpl>();
  const methods = new Map<string, BuiltinImpl>();
  const def = (names: string | string[], signature: string, impl: OpImpl, where: Where = 'both'): void => {
    for (const name of Array.isArray(names) ? names : [names]) {
      const op: TensorOp = { name, signature: sig(signature), impl: withValues(name, impl) };
      const builtin = builtinFromSignature(name, op.signature, op.impl);
      if (where !== 'method') functions.set(name, builtin);
      if (where !== 'function') methods.set(name, builtin);
    }
  };
  const dtypeMethod = (name: string, dtype: DType): void =>
    def(name, 'input, memory_format=None', (a, ctx) => {
      const t = t0(a);
      return t ? converted(ctx, t, dtype) : unknownV();
    }, 'method');

  // --- elementwise, same shape
  for (const n of ['abs', 'neg', 'negative', 'exp', 'exp2', 'expm1', 'log', 'log2', 'log10', 'log1p', 'sqrt', 'rsqrt', 'sigmoid', 'tanh', 'relu',
    'sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'asinh', 'acosh', 'atanh', 'floor', 'ceil', 'round', 'trunc', 'frac', 'sign', 'sgn', 'erf', 'erfc', 'erfinv',
    'reciprocal', 'square', 'clone', 'contiguous', 'detach', 'logit', 'nan_to_num', 'positive', 'conj', 'deg2rad', 'rad2deg', 'digamma', 'lgamma', 'i0', 'sinc', 'hardswish_']) {
    // The magnitude of a complex tensor is real (abs of complex64 is float32).
    def(n, 'input, *args, **kwargs', n === 'abs' ? unary((t) => realOf(t.dtype)) : unary());
  }
  // --- complex numbers (rotary embeddings: torch.polar, view_as_complex/view_as_real)
  def(['angle', 'real', 'imag'], 'input', unary((t) => realOf(t.dtype)));
  def(['polar', 'complex'], 'abs, angle', (a, ctx, name) => {
    const x = a.get('abs');
    const y = a.get('angle');
    if (!isTensor(x) || !isTensor(y)) return unknownV();
    const shape = x.shape && y.shape ? broadcastShapes(name, x.shape, y.shape, ctx) ?? null : null;
    return ctx.newTensor(shape, complexOf(resultDtype(x, y)));
  }, 'function');
  def('view_as_complex', 'input', (a, ctx) => {
    const t = t0(a);
    if (!t) return unknownV();
    if (!t.shape) return ctx.newTensor(null, complexOf(t.dtype));
    const last = t.shape[t.shape.length - 1];
    if (last === undefined || dimEquals(last, 2) === false) {
      ctx.diagnostic('error', msg.viewAsComplexLastDim(t.shape));
      return unknownV();
    }
    return ctx.newTensor(t.shape.slice(0, -1), complexOf(t.dtype));
  }, 'function');
  def('view_as_real', 'input', (a, ctx) => {
    const t = t0(a);
    return t ? ctx.newTensor(t.shape ? [...t.shape, 2] : null, realOf(t.dtype)) : unknownV();
  }, 'function');
  for (const n of ['abs_', 'neg_', 'exp_', 'log_', 'sqrt_', 'sigmoid_', 'tanh_', 'relu_', 'floor_', 'ceil_', 'round_', 'zero_', 'detach_', 'clamp_',
    'clamp_min_', 'clamp_max_', 'clip_', 'fill_', 'uniform_', 'normal_', 'random_', 'bernoulli_', 'exponential_', 'copy_', 'masked_fill_',
    'add_', 'sub_', 'mul_', 'div_', 'pow_', 'addcmul_', 'addcdiv_', 'lerp_', 'index_fill_', 'scatter_', 'scatter_add_', 'index_add_', 'index_copy_', 'share_memory_',
    'pin_memory', 'retain_grad', 'unsqueeze_', 'squeeze_', 't_', 'transpose_', 'resize_', 'set_']) {
    if (n === 'unsqueeze_' || n === 'squeeze_' || n === 't_' || n === 'transpose_' || n === 'resize_' || n === 'set_' || n === 'retain_grad') continue;
    def(n, 'input, *args, **kwargs', inPlace, 'method');
  }
  def('pin_memory', 'input, *args, **kwargs', inPlace, 'method');
  // `p.requires_grad_(False)` freezes a parameter (torchvision's trainable_layers loop): trainable counts follow.
  def('requires_grad_', 'input, requires_grad=True', (a) => {
    const t = a.get('input');
    const flag = asBool(a.get('requires_grad'));
    if (isTensor(t) && flag !== undefined) t.requiresGrad = flag;
    return t ?? unknownV();
  }, 'method');
  def(['relu_', 'sigmoid_', 'tanh_', 'zero_', 'fill_', 'clamp_'], 'input, *args, **kwargs', inPlace, 'function');
  def(['isnan', 'isinf', 'isfinite', 'isneginf', 'isposinf', 'logical_not', 'signbit'], 'input', unary(() => 'bool'));
  def('bitwise_not', 'input', unary());
  def(['clamp', 'clip'], 'input, min=None, max=None', unary());
  def(['clamp_min', 'clamp_max'], 'input, value', unary());
  def(['softmax', 'log_softmax'], 'input, dim=None, dtype=None, _stacklevel=3', (a, ctx) => {
    const t = t0(a);
    return t ? newLike(ctx, t, t.shape, env.dtypeOf(a.get('dtype')) ?? t.dtype) : unknownV();
  });
  def(['cumsum', 'cumprod', 'logcumsumexp'], 'input, dim, dtype=None', (a, ctx) => {
    const t = t0(a);
    return t ? newLike(ctx, t, t.shape, env.dtypeOf(a.get('dtype')) ?? (t.dtype === 'bool' ? 'int64' : t.dtype)) : unknownV();
  });
  def(['cummax', 'cummin'], 'input, dim', (a, ctx) => {
    const t = t0(a);
    return t ? valuesAndIndices(newLike(ctx, t), newLike(ctx, t, t.shape, 'int64')) : unknownV();
  });
  def(['tril', 'triu'], 'input, diagonal=0', unary());
  def('flip', 'input, *dims', unary());
  def('fliplr', 'input', unary());
  def('flipud', 'input', unary());
  def('roll', 'input, shifts, dims=None', unary());
  def('dropout', 'input, p=0.5, train=False', unary(), 'function');
  def(['sort'], 'input, dim=-1, descending=False, stable=False', (a, ctx) => {
    const t = t0(a);
    return t ? valuesAndIndices(newLike(ctx, t), newLike(ctx, t, t.shape, 'int64')) : unknownV();
  });
  def(['argsort'], 'input, dim=-1, descending=False, stable=False', (a, ctx) => {
    const t = t0(a);
    return t ? newLike(ctx, t, t.shape, 'int64') : unknownV();
  });
  def('topk', 'input, k, dim=-1, largest=True, sorted=True', (a, ctx) => {
    const t = t0(a);
    return t ? topk(t, asDim(a.get('k')), asDim(a.get('dim')), ctx) : unknownV();
  });
  def('kthvalue', 'input, k, dim=-1, keepdim=False', (a, ctx) => valuesIndices('kthvalue', new Map([...a, ['dim', a.get('dim') ?? intV(-1)]]), ctx));

  // --- binary, broadcasting
  const binary = (kind: 'promote' | 'bool' | 'float'): OpImpl => (a, ctx, name) => {
    const x = a.get('input');
    const y = a.get('other');
    if (!x || !y) return unknownV();
    return elementwiseBinary(name, x, y, ctx, kind);
  };
  def(['add', 'sub', 'subtract', 'rsub'], 'input, other, *, alpha=1', binary('promote'));
  def(['mul', 'multiply', 'floor_divide', 'remainder', 'fmod', 'maximum', 'minimum', 'fmax', 'fmin', 'bitwise_and', 'bitwise_or', 'bitwise_xor',
    'hypot', 'copysign', 'xlogy', 'heaviside', 'gcd', 'lcm'], 'input, other', binary('promote'));
  def(['atan2', 'arctan2', 'true_divide'], 'input, other', binary('float'));
  def(['div', 'divide'], 'input, other, *, rounding_mode=None', (a, ctx) => {
    const x = a.get('input');
    const y = a.get('other');
    if (!x || !y) return unknownV();
    const mode = asStr(a.get('rounding_mode'));
    return elementwiseBinary(mode === 'floor' ? '//' : mode === undefined ? '/' : 'div', x, y, ctx, mode === undefined ? 'float' : 'promote');
  });
  def('pow', 'input, exponent', (a, ctx) => {
    const x = a.get('input');
    const y = a.get('exponent');
    if (!x || !y) return unknownV();
    return elementwiseBinary('**', x, y, ctx, 'promote');
  });
  def(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'greater', 'less', 'greater_equal', 'less_equal', 'not_equal', 'logical_and', 'logical_or', 'logical_xor', 'isclose'],
    'input, other, *args, **kwargs', binary('bool'));
  def('equal', 'input, other', () => unknownV());
  def('allclose', 'input, other, rtol=1e-05, atol=1e-08, equal_nan=False', () => unknownV());
  def('lerp', 'input, end, weight', (a, ctx) => {
    const x = a.get('input');
    const y = a.get('end');
    return x && y ? elementwiseBinary('lerp', x, y, ctx, 'promote') : unknownV();
  });
  def(['addcmul', 'addcdiv'], 'input, tensor1, tensor2, *, value=1', (a, ctx) => {
    const x = a.get('input');
    const y = a.get('tensor1');
    const z = a.get('tensor2');
    if (!x || !y || !z) return unknownV();
    const xy = elementwiseBinary('addcmul', x, y, ctx, 'promote');
    return elementwiseBinary('addcmul', xy, z, ctx, 'promote');
  });
  def('where', 'condition, input=None, other=None', (a, ctx) => {
    const c = a.get('condition');
    const x = a.get('input');
    const y = a.get('other');
    if (isNone(x) && isNone(y)) {
      // torch.where(cond) is nonzero(cond, as_tuple=True): data-dependent length.
      const s = shapeOf(c);
      if (!s) return unknownV();
      const n = dataDependentDim();
      return tupleV(s.map(() => ctx.newTensor([n], 'int64')));
    }
    if (!c || !x || !y) return unknownV();
    const shapes = [c, x, y].map((v) => (isTensor(v) ? v.shape : []));
    const dtype = resultDtype(x, y);
    if (shapes.some((s) => s === null)) return ctx.newTensor(null, dtype);
    return ctx.newTensor(broadcastAll('where', shapes as Shape[], ctx) ?? null, dtype);
  });
  def('masked_fill', 'input, mask, value', (a, ctx) => {
    const t = t0(a);
    const m = a.get('mask');
    if (!t) return unknownV();
    if (t.shape && isTensor(m) && m.shape) {
      const b = broadcastShapes('masked_fill', t.shape, m.shape, ctx);
      if (b && b.length > t.shape.length) ctx.diagnostic('error', msg.broadcastMismatch('masked_fill', t.shape, m.shape, 0, t.shape.length, m.shape.length));
    }
    return newLike(ctx, t);
  });
  def(['masked_scatter', 'index_fill', 'index_add', 'index_copy', 'scatter', 'scatter_add', 'scatter_reduce', 'index_put'], 'input, *args, **kwargs', unary());

  // --- reductions
  const reduceDef = (names: string[], signature: string, dtype?: (t: TensorValue) => DType): void =>
    def(names, signature, (a, ctx) => reduction(names[0], a, ctx, dtype));
  reduceDef(['sum', 'nansum'], 'input, dim=None, keepdim=False, *, dtype=None', (t) => (t.dtype === 'bool' || !isFloating(t.dtype) ? 'int64' : t.dtype));
  reduceDef(['mean', 'nanmean'], 'input, dim=None, keepdim=False, *, dtype=None');
  reduceDef(['prod'], 'input, dim=None, keepdim=False, *, dtype=None', (t) => (isFloating(t.dtype) ? t.dtype : 'int64'));
  reduceDef(['amax', 'amin'], 'input, dim=(), keepdim=False');
  reduceDef(['logsumexp'], 'input, dim, keepdim=False', floatResult);
  reduceDef(['argmax', 'argmin'], 'input, dim=None, keepdim=False', () => 'int64');
  reduceDef(['all', 'any'], 'input, dim=None, keepdim=False', () => 'bool');
  reduceDef(['count_nonzero'], 'input, dim=None', () => 'int64');
  def(['std', 'var'], 'input, dim=None, unbiased=None, keepdim=False, *, correction=None', (a, ctx) => {
    // std(x, True) passes `unbiased` positionally; then dim is None.
    if (a.get('dim')?.kind === 'bool') a.set('dim', NONE);
    return reduction('std', a, ctx, floatResult);
  });
  def(['std_mean', 'var_mean'], 'input, dim=None, unbiased=None, keepdim=False, *, correction=None', (a, ctx) => {
    if (a.get('dim')?.kind === 'bool') a.set('dim', NONE);
    return tupleV([reduction('std_mean', a, ctx, floatResult), reduction('std_mean', a, ctx, floatResult)]);
  });
  def('norm', "input, p='fro', dim=None, keepdim=False, dtype=None", (a, ctx) => reduction('norm', a, ctx, floatResult));
  def(['max', 'min'], 'input, dim=None, keepdim=False', (a, ctx) => valuesIndices('max', a, ctx));
  def(['median', 'nanmedian', 'mode'], 'input, dim=None, keepdim=False', (a, ctx) => valuesIndices('median', a, ctx));
  def('aminmax', 'input, *, dim=None, keepdim=False', (a, ctx) => ({ kind: 'tuple', items: [reduction('aminmax', a, ctx), reduction('aminmax', a, ctx)], fields: ['min', 'max'] }));

  // --- matmul family
  def(['matmul'], 'input, other', (a, ctx) => matmul('matmul', a.get('input'), a.get('other'), ctx));
  def('mm', 'input, mat2', (a, ctx) => strictMatmul('mm', a.get('input'), a.get('mat2'), 2, ctx));
  def('bmm', 'input, mat2', (a, ctx) => strictMatmul('bmm', a.get('input'), a.get('mat2'), 3, ctx));
  def('mv', 'input, vec', (a, ctx) => matmul('mv', a.get('input'), a.get('vec'), ctx));
  def(['dot', 'inner', 'vdot'], 'input, other', (a, ctx) => matmul('dot', a.get('input'), a.get('other'), ctx));
  def(['outer', 'ger'], 'input, vec2', (a, ctx) => {
    const x = shapeOf(a.get('input'));
    const y = shapeOf(a.get('vec2'));
    const t = t0(a);
    if (!t) return unknownV();
    return ctx.newTensor(x && y ? [x[0], y[0]] : null, t.dtype);
  });
  def('addmm', 'input, mat1, mat2, *, beta=1, alpha=1', (a, ctx) => {
    const out = strictMatmul('addmm', a.get('mat1'), a.get('mat2'), 2, ctx);
    const bias = a.get('input');
    return isTensor(out) && bias ? elementwiseBinary('addmm', out, bias, ctx, 'left') : out;
  });
  def('baddbmm', 'input, batch1, batch2, *, beta=1, alpha=1', (a, ctx) => {
    const out = strictMatmul('baddbmm', a.get('batch1'), a.get('batch2'), 3, ctx);
    const bias = a.get('input');
    return isTensor(out) && bias ? elementwiseBinary('baddbmm', out, bias, ctx, 'left') : out;
  });
  def('einsum', 'equation, *operands', (a, ctx) => {
    const eq = asStr(a.get('equation'));
    const ops = asSequence(a.get('operands')) ?? [];
    const operands = ops.length === 1 && asSequence(ops[0]) ? asSequence(ops[0])! : ops;
    if (eq === undefined) return unknownV();
    return einsum(eq, operands, ctx);
  }, 'function');
  def('cdist', "x1, x2, p=2.0, compute_mode='use_mm_for_euclid_dist_if_necessary'", (a, ctx) => {
    const x = shapeOf(a.get('x1'));
    const y = shapeOf(a.get('x2'));
    const t = t0(a, 'x1');
    if (!t) return unknownV();
    if (!x || !y) return ctx.newTensor(null, t.dtype);
    const batch = broadcastShapes('cdist', x.slice(0, -2), y.slice(0, -2), ctx) ?? x.slice(0, -2);
    return ctx.newTensor([...batch, x[x.length - 2], y[y.length - 2]], t.dtype);
  }, 'function');
  def(['tril_indices', 'triu_indices'], "row, col, offset=0, *, dtype=None, device='cpu', layout=None", (a, ctx, name) => {
    const [rows, cols, offset] = [a.get('row'), a.get('col'), a.get('offset')].map((v) => (v ? asNumber(v) : undefined));
    const dtype = env.dtypeOf(a.get('dtype')) ?? 'int64';
    const countable = (n: number | undefined): n is number => n !== undefined && Number.isInteger(n) && n >= 0 && n <= 1_000_000;
    if (!countable(rows) || !countable(cols) || offset === undefined || !Number.isInteger(offset)) return ctx.newTensor([2, dataDependentDim()], dtype);
    // Entries on or below diagonal `offset` of row i: clamp(i + offset + 1, 0, cols); triu is the complement of tril(offset - 1).
    const lower = (o: number): number => {
      let n = 0;
      for (let i = 0; i < rows; i++) n += Math.max(0, Math.min(cols, i + o + 1));
      return n;
    };
    return ctx.newTensor([2, name === 'tril_indices' ? lower(offset) : rows * cols - lower(offset - 1)], dtype);
  }, 'function');
  def('block_diag', '*tensors', (a, ctx) => {
    const ts = (asSequence(a.get('tensors')) ?? []).filter(isTensor);
    if (ts.length === 0) return unknownV();
    let rows: Dim = 0;
    let cols: Dim = 0;
    for (const t of ts) {
      const s = t.shape;
      if (!s || s.length > 2) return ctx.newTensor(null, t.dtype);
      // 0-d blocks are 1x1, 1-d blocks are one row.
      rows = add(rows, s.length === 2 ? s[0] : 1);
      cols = add(cols, s.length === 0 ? 1 : s[s.length - 1]);
    }
    return ctx.newTensor([rows, cols], ts.find((t) => isFloating(t.dtype))?.dtype ?? ts[0].dtype);
  }, 'function');
  def('kron', 'input, other', (a, ctx) => {
    const t = t0(a);
    const x = shapeOf(a.get('input'));
    const y = shapeOf(a.get('other'));
    if (!t) return unknownV();
    if (!x || !y) return ctx.newTensor(null, t.dtype);
    const rank = Math.max(x.length, y.length);
    const pad = (s: Shape): Dim[] => [...new Array<Dim>(rank - s.length).fill(1), ...s];
    const [px, py] = [pad(x), pad(y)];
    return ctx.newTensor(px.map((d, i) => mul(d, py[i])), t.dtype);
  }, 'function');
  def('cartesian_prod', '*tensors', (a, ctx) => {
    const ts = (asSequence(a.get('tensors')) ?? []).filter(isTensor);
    if (ts.length === 0) return unknownV();
    const lengths = ts.map((t) => (t.shape && t.shape.length === 1 ? t.shape[0] : undefined));
    if (lengths.some((l) => l === undefined)) return ctx.newTensor(null, ts[0].dtype);
    const total = product(lengths as Dim[]);
    return ctx.newTensor(ts.length === 1 ? [total] : [total, ts.length], ts[0].dtype);
  }, 'function');
  def('tensordot', 'a, b, dims=2, out=None', (a, ctx) => {
    const t = t0(a, 'a');
    const x = shapeOf(a.get('a'));
    const y = shapeOf(a.get('b'));
    if (!t) return unknownV();
    if (!x || !y) return ctx.newTensor(null, t.dtype);
    const dims = a.get('dims');
    const count = dims ? asDim(dims) : 2;
    let dropX: number[];
    let dropY: number[];
    if (typeof count === 'number') {
      if (!Number.isInteger(count) || count < 0 || count > x.length || count > y.length) return ctx.newTensor(null, t.dtype);
      dropX = Array.from({ length: count }, (_, i) => x.length - count + i);
      dropY = Array.from({ length: count }, (_, i) => i);
    } else {
      const pair = dims ? asSequence(dims) : undefined;
      const lists = pair?.map((p) => asSequence(p)?.map(asDim) ?? [asDim(p)]);
      if (!lists || lists.length !== 2) return ctx.newTensor(null, t.dtype);
      const norm = (l: (Dim | undefined)[], rank: number): number[] | undefined => {
        const out = l.map((d) => (d === undefined ? undefined : normalizeDim(d, rank)));
        return out.every((d): d is number => d !== undefined) ? out : undefined;
      };
      const nx = norm(lists[0]!, x.length);
      const ny = norm(lists[1]!, y.length);
      if (!nx || !ny) return ctx.newTensor(null, t.dtype);
      [dropX, dropY] = [nx, ny];
    }
    const out = [...x.filter((_, i) => !dropX.includes(i)), ...y.filter((_, i) => !dropY.includes(i))];
    // A matmul over the contracted dimensions: one multiply-accumulate per output element and contracted index.
    ctx.addMacs(mul(product(out), product(dropX.map((i) => x[i]))));
    return ctx.newTensor(out, t.dtype);
  }, 'function');
  def('as_strided', 'input, size, stride, storage_offset=None', (a, ctx) => {
    const t = t0(a);
    return t ? ctx.newTensor(asDimList(a.get('size')) ?? null, t.dtype) : unknownV();
  });

  // --- views and reshapes
  def('view', 'input, *shape', (a, ctx) => {
    const t = t0(a);
    if (!t) return unknownV();
    const args = asSequence(a.get('shape')) ?? [];
    const dtype = args.length === 1 ? env.dtypeOf(args[0]) : undefined;
    if (dtype) return newLike(ctx, t, t.shape, dtype);
    return viewTo('view', t, sizesFromArgs(args), ctx);
  }, 'method');
  def('reshape', 'input, *shape', (a, ctx) => {
    const t = t0(a);
    return t ? viewTo('reshape', t, sizesFromArgs(asSequence(a.get('shape')) ?? []), ctx) : unknownV();
  }, 'method');
  def('reshape', 'input, shape', (a, ctx) => {
    const t = t0(a);
    return t ? viewTo('reshape', t, asDimList(a.get('shape')), ctx) : unknownV();
  }, 'function');
  def(['view_as', 'reshape_as'], 'input, other', (a, ctx) => {
    const t = t0(a);
    return t ? viewTo('view_as', t, shapeOf(a.get('other')), ctx) : unknownV();
  }, 'method');
  def('flatten', 'input, start_dim=0, end_dim=-1', (a, ctx) => flattenTensor('flatten', a.get('input'), asDim(a.get('start_dim')), asDim(a.get('end_dim')), ctx));
  def('ravel', 'input', (a, ctx) => flattenTensor('ravel', a.get('input'), 0, -1, ctx));
  def('unflatten', 'input, dim, sizes', (a, ctx) => unflattenTensor('unflatten', a.get('input'), asDim(a.get('dim')), asDimList(a.get('sizes')), ctx));
  def('permute', 'input, *dims', (a, ctx) => {
    const t = t0(a);
    return t ? permute('permute', t, sizesFromArgs(asSequence(a.get('dims')) ?? []), ctx) : unknownV();
  }, 'method');
  def('permute', 'input, dims', (a, ctx) => {
    const t = t0(a);
    return t ? permute('permute', t, asDimList(a.get('dims')), ctx) : unknownV();
  }, 'function');
  def(['transpose', 'swapaxes', 'swapdims'], 'input, dim0, dim1', (a, ctx) => {
    const t = t0(a);
    return t ? transpose('transpose', t, asDim(a.get('dim0')), asDim(a.get('dim1')), ctx) : unknownV();
  });
  def('t', 'input', (a, ctx) => {
    const t = t0(a);
    if (!t) return unknownV();
    if (t.shape && t.shape.length > 2) {
      ctx.diagnostic('error', msg.badArguments('t', `expects a tensor with <= 2 dimensions, but the input is ${t.shape.length}D`));
      return ctx.newTensor(null, t.dtype);
    }
    return t.shape && t.shape.length === 2 ? transpose('t', t, 0, 1, ctx) : newLike(ctx, t);
  });
  def('adjoint', 'input', (a, ctx) => {
    const t = t0(a);
    return t ? transpose('adjoint', t, -2, -1, ctx) : unknownV();
  });
  def('movedim', 'input, source, destination', (a, ctx) => {
    const t = t0(a);
    if (!t?.shape) return t ? newLike(ctx, t) : unknownV();
    const rank = t.shape.length;
    const src = (asDim(a.get('source')) !== undefined ? [asDim(a.get('source'))!] : asDimList(a.get('source')) ?? []).map((d) => normalizeDim(d, rank));
    const dst = (asDim(a.get('destination')) !== undefined ? [asDim(a.get('destination'))!] : asDimList(a.get('destination')) ?? []).map((d) => normalizeDim(d, rank));
    if (src.some((d) => d === undefined) || dst.some((d) => d === undefined) || src.length !== dst.length) return ctx.newTensor(null, t.dtype);
    const order: (number | undefined)[] = Array(rank).fill(undefined);
    src.forEach((s, i) => (order[dst[i]!] = s));
    const rest = [...Array(rank).keys()].filter((d) => !src.includes(d));
    for (let i = 0; i < rank; i++) if (order[i] === undefined) order[i] = rest.shift();
    return ctx.newTensor(order.map((d) => t.shape![d!]), t.dtype);
  });
  def('squeeze', 'input, dim=None', (a, ctx) => {
    const t = t0(a);
    return t ? squeeze(t, a.get('dim'), ctx) : unknownV();
  });
  def('unsqueeze', 'input, dim', (a, ctx) => {
    const t = t0(a);
    return t ? unsqueeze(t, asDim(a.get('dim')), ctx) : unknownV();
  });
  def('expand', 'input, *sizes', (a, ctx) => {
    const t = t0(a);
    return t ? expand(t, sizesFromArgs(asSequence(a.get('sizes')) ?? []), ctx) : unknownV();
  }, 'method');
  def('expand_as', 'input, other', (a, ctx) => {
    const t = t0(a);
    return t ? expand(t, shapeOf(a.get('other')), ctx) : unknownV();
  }, 'method');
  def('repeat', 'input, *sizes', (a, ctx) => {
    const t = t0(a);
    return t ? repeat(t, sizesFromArgs(asSequence(a.get('sizes')) ?? []), ctx) : unknownV();
  }, 'method');
  def('tile', 'input, dims', (a, ctx) => {
    const t = t0(a);
    const dims = asDim(a.get('dims')) !== undefined ? [asDim(a.get('dims'))!] : asDimList(a.get('dims'));
    return t ? repeat(t, dims, ctx, true) : unknownV();
  });
  def('repeat_interleave', 'input, repeats=None, dim=None, *, output_size=None', (a, ctx) => {
    const t = t0(a);
    const r = asDim(a.get('repeats'));
    if (!t?.shape || r === undefined) return t ? ctx.newTensor(null, t.dtype) : unknownV();
    if (isNone(a.get('dim'))) return ctx.newTensor([mul(product(t.shape), r)], t.dtype);
    const d = normalizeDim(asDim(a.get('dim')), t.shape.length);
    if (d === undefined) return ctx.newTensor(null, t.dtype);
    const s = [...t.shape];
    s[d] = mul(s[d], r);
    return ctx.newTensor(s, t.dtype);
  });
  def('narrow', 'input, dim, start, length', (a, ctx) => {
    const t = t0(a);
    return t ? narrowShape(t, asDim(a.get('dim')), asDim(a.get('length')), ctx) : unknownV();
  });
  def('select', 'input, dim, index', (a, ctx) => {
    const t = t0(a);
    if (!t?.shape) return t ? ctx.newTensor(null, t.dtype) : unknownV();
    const d = normalizeDim(asDim(a.get('dim')), t.shape.length);
    if (d === undefined) return ctx.newTensor(null, t.dtype);
    return ctx.newTensor(t.shape.filter((_, i) => i !== d), t.dtype);
  });
  def('unbind', 'input, dim=0', (a, ctx) => {
    const t = t0(a);
    if (!t?.shape) return unknownV();
    const d = normalizeDim(asDim(a.get('dim')), t.shape.length);
    const n = d === undefined ? undefined : constValue(t.shape[d]);
    if (d === undefined || n === undefined) return unknownV();
    return tupleV(Array.from({ length: n }, () => ctx.newTensor(t.shape!.filter((_, i) => i !== d), t.dtype)));
  });
  def('chunk', 'input, chunks, dim=0', (a, ctx) => {
    const t = t0(a);
    return t ? chunk(t, a.get('chunks'), a.get('dim'), ctx) : unknownV();
  });
  def('split', 'input, split_size_or_sections, dim=0', (a, ctx) => {
    const t = t0(a);
    return t ? splitSizes('split', t, a.get('split_size_or_sections'), a.get('dim'), ctx) : unknownV();
  }, 'function');
  def('split', 'input, split_size, dim=0', (a, ctx) => {
    const t = t0(a);
    return t ? splitSizes('split', t, a.get('split_size'), a.get('dim'), ctx) : unknownV();
  }, 'method');
  def('diagonal', 'input, offset=0, dim1=0, dim2=1', (a, ctx) => {
    const t = t0(a);
    if (!t?.shape) return t ? ctx.newTensor(null, t.dtype) : unknownV();
    const rank = t.shape.length;
    const d1 = normalizeDim(asDim(a.get('dim1')), rank);
    const d2 = normalizeDim(asDim(a.get('dim2')), rank);
    const off = asInt(a.get('offset')) ?? 0;
    if (d1 === undefined || d2 === undefined) return ctx.newTensor(null, t.dtype);
    const n1 = constValue(t.shape[d1]);
    const n2 = constValue(t.shape[d2]);
    const len = n1 !== undefined && n2 !== undefined ? Math.max(0, off >= 0 ? Math.min(n1, n2 - off) : Math.min(n1 + off, n2)) : undefined;
    if (len === undefined) return ctx.newTensor(null, t.dtype);
    return ctx.newTensor([...t.shape.filter((_, i) => i !== d1 && i !== d2), len], t.dtype);
  });
  def('diag', 'input, diagonal=0', (a, ctx) => {
    const t = t0(a);
    if (!t?.shape) return t ? ctx.newTensor(null, t.dtype) : unknownV();
    const k = Math.abs(asInt(a.get('diagonal')) ?? 0);
    if (t.shape.length === 1) return ctx.newTensor([add(t.shape[0], k), add(t.shape[0], k)], t.dtype);
    const n1 = constValue(t.shape[0]);
    const n2 = constValue(t.shape[1]);
    return ctx.newTensor(n1 !== undefined && n2 !== undefined ? [Math.max(0, Math.min(n1, n2) - k)] : null, t.dtype);
  });
  def('unfold', 'input, dimension, size, step', (a, ctx) => {
    const t = t0(a);
    if (!t?.shape) return t ? ctx.newTensor(null, t.dtype) : unknownV();
    const d = normalizeDim(asDim(a.get('dimension')), t.shape.length);
    const size = asDim(a.get('size'));
    const step = asDim(a.get('step'));
    if (d === undefined || size === undefined || step === undefined) return ctx.newTensor(null, t.dtype);
    const s = [...t.shape];
    s[d] = add(floorDiv(sub(s[d], size), step), 1);
    return ctx.newTensor([...s, size], t.dtype);
  }, 'method');
  def('gather', 'input, dim, index, *, sparse_grad=False', (a, ctx) => {
    const t = t0(a);
    const idx = shapeOf(a.get('index'));
    return t ? ctx.newTensor(idx ? [...idx] : null, t.dtype) : unknownV();
  });
  def('take_along_dim', 'input, indices, dim=None', (a, ctx) => {
    const t = t0(a);
    const idx = shapeOf(a.get('indices'));
    return t ? ctx.newTensor(idx ? [...idx] : null, t.dtype) : unknownV();
  });
  def('index_select', 'input, dim, index', (a, ctx) => {
    const t = t0(a);
    const idx = shapeOf(a.get('index'));
    if (!t?.shape || !idx) return t ? ctx.newTensor(null, t.dtype) : unknownV();
    const d = normalizeDim(asDim(a.get('dim')), t.shape.length);
    if (d === undefined) return ctx.newTensor(null, t.dtype);
    const s = [...t.shape];
    s[d] = product(idx);
    return ctx.newTensor(s, t.dtype);
  });
  def(['masked_select'], 'input, mask', (a, ctx) => {
    const t = t0(a);
    return t ? ctx.newTensor([dataDependentDim()], t.dtype) : unknownV();
  });
  def('nonzero', 'input, *, as_tuple=False', (a, ctx) => {
    const t = t0(a);
    if (!t?.shape) return unknownV();
    const n = dataDependentDim();
    if (asBool(a.get('as_tuple'))) return tupleV(t.shape.map(() => ctx.newTensor([n], 'int64')));
    return ctx.newTensor([n, t.shape.length], 'int64');
  });
  def(['unique'], 'input, sorted=True, return_inverse=False, return_counts=False, dim=None', (a, ctx) => {
    const t = t0(a);
    return t ? unique(t, a, ctx) : unknownV();
  });

  // --- cat / stack / broadcast
  def(['cat', 'concat', 'concatenate'], 'tensors, dim=0', (a, ctx) => cat('cat', a.get('tensors'), a.get('dim'), ctx), 'function');
  def('stack', 'tensors, dim=0', (a, ctx) => stack('stack', a.get('tensors'), a.get('dim'), ctx), 'function');
  def(['hstack', 'vstack', 'dstack'], 'tensors', (a, ctx) => {
    const ts = tensorList(a.get('tensors'));
    if (!ts || ts.length === 0) return unknownV();
    // hstack concatenates along dim 1 (dim 0 for 1-D); vstack along 0 after atleast_2d.
    const rank = ts[0].shape?.length ?? 2;
    return cat('hstack', a.get('tensors'), intV(rank === 1 ? 0 : 1), ctx);
  }, 'function');
  def('broadcast_tensors', '*tensors', (a, ctx) => {
    const ts = asSequence(a.get('tensors'))?.filter(isTensor) ?? [];
    if (ts.some((t) => !t.shape)) return tupleV(ts.map((t) => ctx.newTensor(null, t.dtype)));
    const shape = broadcastAll('broadcast_tensors', ts.map((t) => t.shape!), ctx);
    return tupleV(ts.map((t) => ctx.newTensor(shape ? [...shape] : null, t.dtype)));
  }, 'function');
  def('broadcast_to', 'input, size', (a, ctx) => {
    const t = t0(a);
    return t ? expand(t, asDimList(a.get('size')), ctx) : unknownV();
  });
  def('meshgrid', "*tensors, indexing=None", (a, ctx) => {
    let ts = asSequence(a.get('tensors')) ?? [];
    if (ts.length === 1 && asSequence(ts[0])) ts = asSequence(ts[0])!;
    const tensors = ts.filter(isTensor);
    const sizes = tensors.map((t) => (t.shape && t.shape.length <= 1 ? (t.shape[0] ?? 1) : undefined));
    if (sizes.some((s) => s === undefined)) return tupleV(tensors.map((t) => ctx.newTensor(null, t.dtype)));
    const shape = sizes as Dim[];
    const xy = asStr(a.get('indexing')) === 'xy' && shape.length >= 2 ? [shape[1], shape[0], ...shape.slice(2)] : shape;
    return tupleV(tensors.map((t) => ctx.newTensor([...xy], t.dtype)));
  }, 'function');
  def(['atleast_1d', 'atleast_2d', 'atleast_3d'], 'input', (a, ctx) => {
    const t = t0(a);
    return t ? newLike(ctx, t) : unknownV();
  }, 'function');
  // The `atleast_nd` ranks differ; fix them up after the generic registration.
  for (const [name, n] of [['atleast_1d', 1], ['atleast_2d', 2], ['atleast_3d', 3]] as const) {
    functions.set(name, builtinFromSignature(name, sig('input'), (a, ctx) => {
      const t = t0(a);
      if (!t?.shape) return t ? ctx.newTensor(null, t.dtype) : unknownV();
      const s = [...t.shape];
      if (n === 3 && s.length === 2) return ctx.newTensor([...s, 1], t.dtype);
      while (s.length < n) s.unshift(1);
      return ctx.newTensor(s, t.dtype);
    }));
  }

  // --- creation
  const sizeSig = '*size, out=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False, memory_format=None, generator=None';
  def(['empty', 'randn', 'rand'], sizeSig, creation(env), 'function');
  def('zeros', sizeSig, creation(env, 'float32', 0), 'function');
  def('ones', sizeSig, creation(env, 'float32', 1), 'function');
  // torch.empty(size=(n, d)) names the sizes by keyword, which the `*size` signature cannot bind.
  for (const name of ['empty', 'randn', 'rand', 'zeros', 'ones']) {
    const positional = functions.get(name);
    if (!positional) continue;
    functions.set(name, (args, kwargs, ctx) => {
      const size = kwargs.get('size');
      if (!size || args.length > 0) return positional(args, kwargs, ctx);
      const rest = new Map(kwargs);
      rest.delete('size');
      return positional([size], rest, ctx);
    });
  }
  def('full', 'size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=False', (a, ctx) => {
    const fill = a.get('fill_value');
    const dtype = env.dtypeOf(a.get('dtype')) ?? (fill?.kind === 'int' ? 'int64' : fill?.kind === 'bool' ? 'bool' : 'float32');
    const size = asDimList(a.get('size')) ?? (asDim(a.get('size')) !== undefined ? [asDim(a.get('size'))!] : undefined);
    return fillKnown(ctx.newTensor(size ?? null, dtype), fill ? asNumber(fill) : undefined);
  }, 'function');
  def('scalar_tensor', 's, *, dtype=None, layout=None, device=None, pin_memory=None', (a, ctx) => {
    const out = ctx.newTensor([], env.dtypeOf(a.get('dtype')) ?? 'float32');
    const v = asNumber(a.get('s'));
    return v === undefined ? out : setKnownValues(out, [v]);
  }, 'function');
  def('randperm', 'n, *, generator=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False', (a, ctx) => {
    const n = asDim(a.get('n'));
    return ctx.newTensor(n === undefined ? null : [n], env.dtypeOf(a.get('dtype')) ?? 'int64');
  }, 'function');
  def('bucketize', 'input, boundaries, *, out_int32=False, right=False, out=None', (a, ctx) => {
    const t = t0(a);
    return t ? newLike(ctx, t, t.shape, asBool(a.get('out_int32')) ? 'int32' : 'int64') : unknownV();
  });
  // PyTorch's overloads name the second argument `sections`, `indices` or
  // `tensor_indices_or_sections` when it is passed by keyword (torchvision's MViT: indices=(1,)).
  def('tensor_split', 'input, indices_or_sections=None, dim=0, *, sections=None, indices=None, tensor_indices_or_sections=None', (a, ctx) => {
    const t = t0(a);
    if (!t?.shape) return unknownV();
    const d = normalizeDim(asDim(a.get('dim')), t.shape.length);
    const n = d === undefined ? undefined : constValue(t.shape[d]);
    const given = [a.get('indices_or_sections'), a.get('sections'), a.get('indices'), a.get('tensor_indices_or_sections')].find((v) => v !== undefined && !isNone(v));
    const asValues = given && isTensor(given) ? knownValues(given) : undefined;
    const sections = asValues ? (given && isTensor(given) && given.shape?.length === 0 ? asValues[0] : undefined) : asInt(given);
    const indices = asValues ? (sections === undefined ? [...asValues] : undefined) : asDimList(given)?.map((x) => constValue(x));
    if (d === undefined || n === undefined) return unknownV();
    let sizes: number[];
    if (sections !== undefined && sections > 0) {
      // The first n % sections pieces get one extra element.
      sizes = Array.from({ length: sections }, (_, i) => Math.floor(n / sections) + (i < n % sections ? 1 : 0));
    } else if (indices && indices.every((x) => x !== undefined)) {
      const cuts = [0, ...(indices as number[]).map((x) => Math.min(Math.max(x < 0 ? x + n : x, 0), n)), n];
      sizes = cuts.slice(1).map((c, i) => Math.max(0, c - cuts[i]));
    } else return unknownV();
    return tupleV(sizes.map((size) => {
      const s = [...t.shape!];
      s[d] = size;
      return ctx.newTensor(s, t.dtype);
    }));
  });
  def('randint', '*args, size=None, generator=None, dtype=None, device=None, requires_grad=False', (a, ctx) => {
    const args = asSequence(a.get('args')) ?? [];
    const sizeV = isNone(a.get('size')) ? args[args.length - 1] : a.get('size');
    return ctx.newTensor(asDimList(sizeV) ?? null, env.dtypeOf(a.get('dtype')) ?? 'int64');
  }, 'function');
  def('arange', 'start=None, end=None, step=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False', (a, ctx) => arange(a, env, ctx), 'function');
  def(['linspace', 'logspace'], 'start, end, steps, *args, dtype=None, layout=None, device=None, requires_grad=False, **kwargs', (a, ctx, name) => {
    const steps = asDim(a.get('steps'));
    const out = ctx.newTensor(steps === undefined ? null : [steps], env.dtypeOf(a.get('dtype')) ?? 'float32');
    const n = steps === undefined ? undefined : constValue(steps);
    const start = asNumber(a.get('start'));
    const end = asNumber(a.get('end'));
    if (n === undefined || start === undefined || end === undefined || n < 0) return out;
    // torch.linspace's own formula: the first half counts up from start, the second down from end.
    const step = n > 1 ? (end - start) / (n - 1) : 0;
    const values = Array.from({ length: n }, (_, i) => (i < n / 2 ? start + step * i : end - step * (n - 1 - i)));
    return setKnownValues(out, name === 'logspace' ? values.map((v) => 10 ** v) : values);
  }, 'function');
  def('eye', 'n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=False', (a, ctx) => {
    const n = asDim(a.get('n'));
    const m = isNone(a.get('m')) ? n : asDim(a.get('m'));
    return ctx.newTensor(n !== undefined && m !== undefined ? [n, m] : null, env.dtypeOf(a.get('dtype')) ?? 'float32');
  }, 'function');
  def(['zeros_like', 'ones_like', 'empty_like', 'randn_like', 'rand_like'], 'input, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None', likeCreation(env), 'function');
  def('full_like', 'input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None', likeCreation(env), 'function');
  def('randint_like', 'input, *args, dtype=None, **kwargs', likeCreation(env), 'function');
  def(['tensor', 'as_tensor', 'asarray'], 'data, dtype=None, device=None, requires_grad=False, pin_memory=False', (a, ctx) => {
    const data = a.get('data');
    const info = data ? dataShape(data) : undefined;
    const out = ctx.newTensor(info?.shape ?? null, env.dtypeOf(a.get('dtype')) ?? info?.dtype ?? 'float32');
    const values = data ? dataValues(data) : undefined;
    return values ? setKnownValues(out, values) : out;
  }, 'function');
  def(['from_numpy'], 'ndarray', (a, ctx) => {
    // Shares the array's memory: same shape, dtype and numbers when the small numpy knows them.
    const array = ndarrayContents(a.get('ndarray'));
    if (!array) return ctx.newTensor(null, 'float64');
    const dtype = (DTYPE_OF_NUMPY[array.dtype] ?? 'float64');
    return setKnownValues(ctx.newTensor([...array.shape], dtype), array.values);
  }, 'function');
  def(['new_zeros', 'new_ones', 'new_empty'], 'input, *size, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False', (a, ctx) => {
    const t = t0(a);
    const items = asSequence(a.get('size')) ?? [];
    return ctx.newTensor(sizesFromArgs(items) ?? null, env.dtypeOf(a.get('dtype')) ?? t?.dtype ?? 'float32');
  }, 'method');
  def('new_full', 'input, size, fill_value, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False', (a, ctx) => {
    const t = t0(a);
    return ctx.newTensor(asDimList(a.get('size')) ?? null, env.dtypeOf(a.get('dtype')) ?? t?.dtype ?? 'float32');
  }, 'method');
  // The legacy x.new(...) of older research code (hidden states: weight.new(layers, bsz, hidden).zero_()):
  // integer sizes give a tensor of that shape, a list its data, a tensor itself, with x's dtype.
  // A tuple is torch.Size (sizes) or data depending on its Python type, so its shape stays unknown.
  def('new', 'input, *args, **kwargs', (a, ctx) => {
    const t = t0(a);
    const dtype = t?.dtype ?? 'float32';
    const items = asSequence(a.get('args')) ?? [];
    const first = items[0];
    if (items.length === 0) return ctx.newTensor([0], dtype);
    if (items.length === 1 && isTensor(first)) return first;
    if (items.length === 1 && first?.kind === 'list') {
      const info = dataShape(first);
      const out = ctx.newTensor(info?.shape ?? null, dtype);
      const values = dataValues(first);
      return values ? setKnownValues(out, values) : out;
    }
    if (items.every((i) => i.kind === 'int')) return ctx.newTensor(sizesFromArgs(items) ?? null, dtype);
    return ctx.newTensor(null, dtype);
  }, 'method');
  def('new_tensor', 'input, data, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False', (a, ctx) => {
    const t = t0(a);
    const data = a.get('data');
    const info = data ? dataShape(data) : undefined;
    return ctx.newTensor(info?.shape ?? null, env.dtypeOf(a.get('dtype')) ?? t?.dtype ?? 'float32');
  }, 'method');

  // --- queries and conversions
  def('size', 'input, dim=None', (a, ctx) => {
    const t = t0(a);
    if (!t?.shape) return unknownV();
    if (isNone(a.get('dim'))) return dimsTuple(t.shape);
    const d = normalizeDim(asDim(a.get('dim')), t.shape.length);
    if (d === undefined) {
      ctx.diagnostic('error', msg.dimOutOfRange('size', asDim(a.get('dim')) ?? 0, t.shape.length));
      return unknownV();
    }
    return intV(t.shape[d]);
  }, 'method');
  def(['dim', 'ndimension'], 'input', (a) => {
    const t = t0(a);
    return t?.shape ? intV(t.shape.length) : unknownV();
  }, 'method');
  def(['numel', 'nelement'], 'input', (a) => {
    const t = t0(a);
    return t?.shape ? intV(product(t.shape)) : unknownV();
  });
  def('is_tensor', 'obj', (a) => (a.get('obj')?.kind === 'unknown' ? unknownV() : boolV(isTensor(a.get('obj')))), 'function');
  def('is_floating_point', 'input', (a) => {
    const t = t0(a);
    return t ? boolV(isFloating(t.dtype)) : unknownV();
  });
  def('is_contiguous', 'input, memory_format=None', () => boolV(true), 'method');
  def('element_size', 'input', (a) => {
    const t = t0(a);
    return t ? intV(dtypeBytes(t.dtype)) : unknownV();
  }, 'method');
  def(['item'], 'input', (a) => {
    const t = t0(a);
    return (t && pythonValue(t, true)) ?? typedUnknown(t, 0, 'the value of a tensor');
  }, 'method');
  def(['tolist'], 'input', (a) => {
    const t = t0(a);
    return (t && pythonValue(t, false)) ?? typedUnknown(t, t?.shape?.length, 'tensor data');
  }, 'method');
  def(['numpy', 'data_ptr', 'get_device', 'storage', 'untyped_storage'], 'input, *args, **kwargs', () => unknownV('tensor data'), 'method');
  def('diff', 'input, n=1, dim=-1, prepend=None, append=None', (a, ctx) => {
    const t = t0(a);
    if (!t?.shape) return t ? ctx.newTensor(null, t.dtype) : unknownV();
    const d = normalizeDim(asDim(a.get('dim')), t.shape.length);
    const n = asInt(a.get('n')) ?? 1;
    if (d === undefined || !isNone(a.get('prepend')) || !isNone(a.get('append'))) return ctx.newTensor(null, t.dtype);
    const s = [...t.shape];
    s[d] = sub(s[d], n);
    const out = ctx.newTensor(s, t.dtype);
    let values = t.shape.length === 1 ? knownValues(t)?.slice() : undefined;
    for (let i = 0; values && i < n; i++) values = values.slice(1).map((v, j) => v - values![j]);
    return values ? setKnownValues(out, values) : out;
  });
  def('backward', 'input, *args, **kwargs', () => NONE, 'method');
  def(['cpu', 'cuda', 'to_dense', 'coalesce', 'to_sparse', 'to_sparse_coo', 'to_sparse_csr'], 'input, *args, **kwargs', (a) => a.get('input') ?? unknownV(), 'method');
  dtypeMethod('float', 'float32');
  dtypeMethod('double', 'float64');
  dtypeMethod('half', 'float16');
  dtypeMethod('bfloat16', 'bfloat16');
  dtypeMethod('long', 'int64');
  dtypeMethod('int', 'int32');
  dtypeMethod('short', 'int32');
  dtypeMethod('char', 'int8');
  dtypeMethod('byte', 'uint8');
  dtypeMethod('bool', 'bool');
  def('to', 'input, *args, **kwargs', (a, ctx) => {
    const t = t0(a);
    if (!t) return unknownV();
    let dtype: DType | undefined;
    for (const v of asSequence(a.get('args')) ?? []) dtype ??= isTensor(v) ? v.dtype : env.dtypeOf(v);
    const kw = a.get('kwargs');
    if (kw?.kind === 'dict') for (const e of kw.entries.values()) if (e.key.kind === 'str' && e.key.value === 'dtype') dtype = env.dtypeOf(e.value) ?? dtype;
    return dtype && dtype !== t.dtype ? converted(ctx, t, dtype) : t;
  }, 'method');
  def('type_as', 'input, other', (a, ctx) => {
    const t = t0(a);
    const o = a.get('other');
    return t ? newLike(ctx, t, t.shape, isTensor(o) ? o.dtype : t.dtype) : unknownV();
  }, 'method');
  def('type', 'input, dtype=None, non_blocking=False, **kwargs', (a, ctx) => {
    const t = t0(a);
    if (!t) return unknownV();
    const d = a.get('dtype');
    if (isNone(d)) return unknownV('tensor type string');
    const named = asStr(d);
    const legacy: Record<string, DType> = { 'torch.FloatTensor': 'float32', 'torch.HalfTensor': 'float16', 'torch.LongTensor': 'int64', 'torch.DoubleTensor': 'float64', 'torch.IntTensor': 'int32', 'torch.BoolTensor': 'bool', 'torch.cuda.FloatTensor': 'float32', 'torch.cuda.HalfTensor': 'float16', 'torch.cuda.LongTensor': 'int64' };
    return newLike(ctx, t, t.shape, (named ? legacy[named] : env.dtypeOf(d)) ?? t.dtype);
  }, 'method');

  const attribute = (t: TensorValue, name: string, ctx: CallContext): Value | undefined => {
    switch (name) {
      case 'shape':
        return t.shape ? dimsTuple(t.shape) : unknownV();
      case 'ndim':
        return t.shape ? intV(t.shape.length) : unknownV();
      case 'dtype':
        return env.dtypeValue(t.dtype);
      case 'real':
      case 'imag':
        return ctx.newTensor(t.shape, realOf(t.dtype));
      case 'T':
        return t.shape ? ctx.newTensor([...t.shape].reverse(), t.dtype) : ctx.newTensor(null, t.dtype);
      case 'mT':
      case 'mH':
      case 'H':
        return t.shape && t.shape.length >= 2 ? transpose(name, t, -2, -1, ctx) : newLike(ctx, t);
      case 'data':
        return t;
      case 'grad':
        return NONE;
      case 'is_cuda':
      case 'is_sparse':
      case 'is_quantized':
      case 'is_meta':
        return boolV(false);
      case 'is_leaf':
        return boolV(true);
      case 'requires_grad':
        return boolV(t.requiresGrad ?? !!t.isParameter);
      case 'device':
        return env.deviceValue('cpu');
      case 'itemsize':
        return intV(dtypeBytes(t.dtype));
      default:
        return undefined;
    }
  };

  const binaryOp = (op: string, a: Value, b: Value, ctx: CallContext): Value => {
    switch (op) {
      case '@':
        return matmul('@', a, b, ctx);
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=':
        return elementwiseBinary(op, a, b, ctx, 'bool');
      case '/':
        return elementwiseBinary(op, a, b, ctx, 'float');
      default:
        return elementwiseBinary(op, a, b, ctx, 'promote');
    }
  };

  const unaryOp = (op: string, a: TensorValue, ctx: CallContext): Value => {
    if (op === 'not') return unknownV('truth value of a tensor');
    return newLike(ctx, a);
  };

  return { functions, methods, attribute, binaryOp, unaryOp, getItem };
}

/** A dtype conversion (float(), int(), to(dtype)): same shape, values cast when known. */
function converted(ctx: CallContext, t: TensorValue, dtype: DType): TensorValue {
  const out = newLike(ctx, t, t.shape, dtype);
  const values = knownValues(t);
  return values ? setKnownValues(out, values) : out;
}

export function dtypeBytes(d: DType): number {
  switch (d) {
    case 'complex128':
      return 16;
    case 'complex64':
    case 'float64':
    case 'int64':
      return 8;
    case 'float32':
    case 'int32':
      return 4;
    case 'float16':
    case 'bfloat16':
      return 2;
    default:
      return 1;
  }
}
