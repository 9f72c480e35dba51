// Values of small tensors built from constants. Model code sometimes computes layer
// widths with tensor arithmetic (torchvision's RegNet: torch.arange(d) * w_a + w_0, log,
// round, .int().tolist()), so the catalog follows the values of tensors made by arange /
// tensor / full and the elementwise ops on them, and turns them back into Python values
// with tolist()/item(). Float32 results are rounded like float32 (Math.fround) so rounding
// decisions match PyTorch. Only tensors with a concrete shape and at most MAX_KNOWN_ELEMENTS
// elements are followed; everything else simply has no known values.
import type { DType, TensorValue, Value } from '../interp/values';
import { constValue, knownProduct } from '../shape/dim';
import { boolV, floatV, intV, listV } from './args';
import { ndarrayContents } from '../interp/ndarrays';

export const MAX_KNOWN_ELEMENTS = 4096;
const known = new WeakMap<TensorValue, readonly number[]>();

export function knownValues(t: TensorValue): readonly number[] | undefined {
  return known.get(t);
}

function numel(t: TensorValue): number | undefined {
  if (!t.shape) return undefined;
  return knownProduct(t.shape);
}

/** Records values (rounded to the tensor's dtype) when the tensor is small and concrete. */
export function setKnownValues(t: TensorValue, values: readonly number[]): TensorValue {
  const n = numel(t);
  if (n === undefined || n !== values.length || n > MAX_KNOWN_ELEMENTS) return t;
  known.set(t, values.map((v) => castTo(t.dtype, v)));
  return t;
}

export function castTo(dtype: DType, v: number): number {
  switch (dtype) {
    case 'float32':
      return Math.fround(v);
    case 'float64':
    case 'float16':
    case 'bfloat16':
      return v;
    case 'bool':
      return v ? 1 : 0;
    default:
      return Number.isFinite(v) ? Math.trunc(v) : v;
  }
}

/** A Python scalar operand's value, or a tensor's values. */
export function operandValues(v: Value): readonly number[] | undefined {
  if (v.kind === 'int') {
    const c = constValue(v.value);
    return c === undefined ? undefined : [c];
  }
  if (v.kind === 'float') return [v.value];
  if (v.kind === 'bool') return [v.value ? 1 : 0];
  if (v.kind === 'tensor') return knownValues(v);
  return undefined;
}

/** torch.round: half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const BINARY: Partial<Record<string, (a: number, b: number) => number>> = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '//': (a, b) => Math.floor(a / b),
  '%': (a, b) => a - b * Math.floor(a / b),
  '**': (a, b) => a ** b,
  '==': (a, b) => Number(a === b),
  '!=': (a, b) => Number(a !== b),
  '<': (a, b) => Number(a < b),
  '<=': (a, b) => Number(a <= b),
  '>': (a, b) => Number(a > b),
  '>=': (a, b) => Number(a >= b),
};
const BINARY_ALIASES: Record<string, string> = {
  add: '+', sub: '-', subtract: '-', mul: '*', multiply: '*', div: '/', divide: '/', true_divide: '/', floor_divide: '//', remainder: '%', pow: '**',
  eq: '==', ne: '!=', lt: '<', le: '<=', gt: '>', ge: '>=', not_equal: '!=', greater: '>', less: '<', greater_equal: '>=', less_equal: '<=',
};

/** Values of `a op b` with scalar/same-size broadcasting only; undefined when not computable. */
export function binaryValues(op: string, a: Value, b: Value): number[] | undefined {
  const fn = BINARY[op] ?? BINARY[BINARY_ALIASES[op] ?? ''];
  if (!fn) return undefined;
  const va = operandValues(a);
  const vb = operandValues(b);
  if (!va || !vb) return undefined;
  if (va.length !== vb.length && va.length !== 1 && vb.length !== 1) return undefined;
  const sa = a.kind === 'tensor' ? a.shape : [];
  const sb = b.kind === 'tensor' ? b.shape : [];
  // Same-length operands must also have the same shape (no real broadcasting here).
  if (va.length === vb.length && va.length > 1 && JSON.stringify(sa) !== JSON.stringify(sb)) return undefined;
  const n = Math.max(va.length, vb.length);
  return Array.from({ length: n }, (_, i) => fn(va[va.length === 1 ? 0 : i], vb[vb.length === 1 ? 0 : i]));
}

const UNARY: Partial<Record<string, (x: number) => number>> = {
  neg: (x) => -x, negative: (x) => -x, abs: Math.abs, exp: Math.exp, log: Math.log, log2: Math.log2, log10: Math.log10, sqrt: Math.sqrt,
  floor: Math.floor, ceil: Math.ceil, round: roundHalfEven, trunc: Math.trunc, sign: Math.sign, reciprocal: (x) => 1 / x, square: (x) => x * x,
  clone: (x) => x, contiguous: (x) => x, detach: (x) => x, relu: (x) => Math.max(x, 0),
};

export function unaryValues(op: string, t: TensorValue): number[] | undefined {
  const fn = Object.prototype.hasOwnProperty.call(UNARY, op) ? UNARY[op] : undefined;
  const v = knownValues(t);
  return fn !== undefined && v !== undefined ? v.map(fn) : undefined;
}

/** Python value of a tensor's data: nested lists (tolist) or a scalar (item). */
export function pythonValue(t: TensorValue, asScalar: boolean): Value | undefined {
  const v = knownValues(t);
  if (!v || !t.shape) return undefined;
  const scalar = (x: number): Value => (t.dtype === 'bool' ? boolV(x !== 0) : t.dtype.startsWith('float') || t.dtype === 'bfloat16' ? floatV(x) : intV(x));
  if (asScalar) return v.length === 1 ? scalar(v[0]) : undefined;
  const dims = t.shape.map((d) => constValue(d));
  if (dims.some((d) => d === undefined)) return undefined;
  let offset = 0;
  const build = (level: number): Value => {
    if (level === dims.length) return scalar(v[offset++]);
    return listV(Array.from({ length: dims[level]! }, () => build(level + 1)));
  };
  return build(0);
}

/** Flattened numeric data of nested Python lists (torch.tensor([...])); undefined for anything else. */
export function dataValues(v: Value): number[] | undefined {
  if (v.kind === 'int') {
    const c = constValue(v.value);
    return c === undefined ? undefined : [c];
  }
  if (v.kind === 'float') return [v.value];
  if (v.kind === 'bool') return [v.value ? 1 : 0];
  if (v.kind === 'tensor') return knownValues(v)?.slice();
  const array = ndarrayContents(v);
  if (array) return array.values.slice();
  if (v.kind === 'list' || v.kind === 'tuple') {
    const out: number[] = [];
    for (const item of v.items) {
      const inner = dataValues(item);
      if (!inner) return undefined;
      out.push(...inner);
    }
    return out;
  }
  return undefined;
}
