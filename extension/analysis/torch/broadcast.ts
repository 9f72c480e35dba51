// Broadcasting and dtype promotion, shared by arithmetic, comparisons, where/masked_fill,
// losses and matmul's batch dims.
import type { CallContext, DType, Value } from '../interp/values';
import { constValue, dimEquals, type Dim, type Shape } from '../shape/dim';
import { FLOAT_DTYPES, isTensor } from './args';
import * as msg from './messages';

/**
 * NumPy-style broadcast of two shapes. A certain mismatch is reported and undefined is
 * returned; symbolic dims that might differ are assumed compatible (the non-1 side wins).
 */
export function broadcastShapes(op: string, a: Shape, b: Shape, ctx: CallContext): Shape | undefined {
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (a.length - n + i < 0) out.push(db);
    else if (b.length - n + i < 0) out.push(da);
    else if (constValue(da) === 1) out.push(db);
    else if (constValue(db) === 1) out.push(da);
    else if (dimEquals(da, db) === false) {
      ctx.diagnostic('error', msg.broadcastMismatch(op, a, b, i, da, db));
      return undefined;
    } else out.push(typeof da === 'number' ? da : typeof db === 'number' ? db : da);
  }
  return out;
}

/** Broadcast of many shapes (torch.broadcast_tensors, where). */
export function broadcastAll(op: string, shapes: Shape[], ctx: CallContext): Shape | undefined {
  let out: Shape | undefined = [];
  for (const s of shapes) {
    out = broadcastShapes(op, out, s, ctx);
    if (!out) return undefined;
  }
  return out;
}

type Category = 0 | 1 | 2 | 3; // bool < integer < floating < complex

function category(d: DType): Category {
  if (d === 'bool') return 0;
  if (d === 'complex64' || d === 'complex128') return 3;
  return FLOAT_DTYPES.has(d) ? 2 : 1;
}

/** The complex dtype whose parts are `d` (float64 pairs are complex128), and back. */
export function complexOf(d: DType): DType {
  return d === 'float64' || d === 'complex128' ? 'complex128' : 'complex64';
}
export function realOf(d: DType): DType {
  return d === 'complex128' ? 'float64' : d === 'complex64' ? 'float32' : d;
}

const FLOAT_RANK: Record<string, number> = { float16: 1, bfloat16: 1, float32: 2, float64: 3 };
const INT_RANK: Record<string, number> = { uint8: 1, int8: 1, int32: 2, int64: 3 };

function widerOf(a: DType, b: DType): DType {
  if (a === b) return a;
  const ca = category(a);
  if (ca === 3) return a === 'complex128' || b === 'complex128' ? 'complex128' : 'complex64';
  if (ca === 2) {
    if (FLOAT_RANK[a] === FLOAT_RANK[b]) return 'float32'; // float16 with bfloat16
    return FLOAT_RANK[a] > FLOAT_RANK[b] ? a : b;
  }
  if (ca === 1) return INT_RANK[a] >= INT_RANK[b] ? a : b;
  return a;
}

/** The dtype of a Python scalar operand. */
function scalarCategory(v: Value): Category | undefined {
  if (v.kind === 'bool') return 0;
  if (v.kind === 'int') return 1;
  if (v.kind === 'float') return 2;
  return undefined;
}

/** torch.result_type for two operands (tensors, Python scalars, or unknowns). */
export function resultDtype(a: Value, b: Value): DType {
  const ta = isTensor(a) ? a : undefined;
  const tb = isTensor(b) ? b : undefined;
  if (ta && tb) {
    // Zero-dim tensors take part like scalars (only their category counts).
    const aDim = ta.shape?.length === 0;
    const bDim = tb.shape?.length === 0;
    if (aDim !== bDim) {
      const [full, zero] = aDim ? [tb, ta] : [ta, tb];
      const cf = category(full.dtype);
      const cz = category(zero.dtype);
      if (cz <= cf) return full.dtype;
      return cz === 3 ? complexOf(full.dtype) : cz === 2 ? 'float32' : 'int64';
    }
    const ca = category(ta.dtype);
    const cb = category(tb.dtype);
    // complex64 with float64 widens to complex128, like torch.result_type.
    if (ca !== cb) return ca > cb ? (ca === 3 && tb.dtype === 'float64' ? 'complex128' : ta.dtype) : (cb === 3 && ta.dtype === 'float64' ? 'complex128' : tb.dtype);
    return widerOf(ta.dtype, tb.dtype);
  }
  const t = ta ?? tb;
  if (!t) return 'float32';
  const other = ta ? b : a;
  const cs = scalarCategory(other);
  const ct = category(t.dtype);
  if (cs === undefined || cs <= ct) return t.dtype;
  return cs === 2 ? 'float32' : 'int64';
}

export function isFloating(d: DType): boolean {
  return FLOAT_DTYPES.has(d);
}
