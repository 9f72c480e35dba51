// torch.linalg and the older torch.* / Tensor.* linear-algebra calls (qr, svd, inv, det,
// slogdet, cholesky, eigh, solve, norms): what flows (Glow's invertible 1x1 convolution),
// orthogonal initialisation and whitening call. Matrices are the last two dims of a batch;
// k = min(m, n).
import type { BuiltinImpl, CallContext, TensorValue, Value } from '../interp/values';
import { constValue, type Dim, type Shape } from '../shape/dim';
import { asBool, asStr, isNone, isTensor, sig, unknownV } from './args';
import { broadcastShapes, complexOf, realOf } from './broadcast';
import { builtinFromSignature } from './tensorOps';

type Table = Map<string, BuiltinImpl>;

function minDim(a: Dim, b: Dim): Dim {
  const x = constValue(a);
  const y = constValue(b);
  if (x !== undefined && y !== undefined) return Math.min(x, y);
  return x === undefined && y === undefined && a === b ? a : x !== undefined && y === undefined ? a : b;
}

function named(items: Value[], fields: string[]): Value {
  return { kind: 'tuple', items, fields };
}

/** Batch dims and the matrix (m, n) of a tensor of rank ≥ 2. */
function matrixOf(t: TensorValue): { batch: Shape; m: Dim; n: Dim } | undefined {
  if (!t.shape || t.shape.length < 2) return undefined;
  return { batch: t.shape.slice(0, -2), m: t.shape[t.shape.length - 2]!, n: t.shape[t.shape.length - 1]! };
}

export function createLinalg(torchNorm: BuiltinImpl | undefined): { linalg: Table; torch: Table; methods: Table } {
  const linalg: Table = new Map();
  const torch: Table = new Map();
  const methods: Table = new Map();
  const def = (tables: Table[], names: string[], signature: string, impl: (a: Map<string, Value>, ctx: CallContext) => Value): void => {
    for (const name of names) {
      const b = builtinFromSignature(name, sig(signature), impl);
      for (const t of tables) t.set(name, b);
    }
  };
  const input = (a: Map<string, Value>, key = 'A'): TensorValue | undefined => {
    const t = a.get(key);
    return isTensor(t) ? t : undefined;
  };
  /** Unknown-shaped results of the right dtypes when the input is not a known matrix. */
  const unknownParts = (ctx: CallContext, dtypes: TensorValue['dtype'][]): Value[] => dtypes.map((d) => ctx.newTensor(null, d));

  const qr = (reduced: boolean | 'r') => (a: Map<string, Value>, ctx: CallContext, key: string): Value => {
    const t = input(a, key);
    if (!t) return unknownV();
    const mat = matrixOf(t);
    if (!mat) return named(unknownParts(ctx, [t.dtype, t.dtype]), ['Q', 'R']);
    const { batch, m, n } = mat;
    const k = minDim(m, n);
    if (reduced === 'r') return named([ctx.newTensor([0], t.dtype), ctx.newTensor([...batch, k, n], t.dtype)], ['Q', 'R']);
    return named(reduced
      ? [ctx.newTensor([...batch, m, k], t.dtype), ctx.newTensor([...batch, k, n], t.dtype)]
      : [ctx.newTensor([...batch, m, m], t.dtype), ctx.newTensor([...batch, m, n], t.dtype)], ['Q', 'R']);
  };
  const qrMode = (mode: string | undefined): boolean | 'r' => (mode === 'complete' ? false : mode === 'r' ? 'r' : true);
  def([linalg], ['qr'], "A, mode='reduced', *, out=None", (a, ctx) => qr(qrMode(asStr(a.get('mode'))))(a, ctx, 'A'));
  def([torch, methods], ['qr'], 'input, some=True, *, out=None', (a, ctx) => qr(asBool(a.get('some')) !== false)(a, ctx, 'input'));

  def([linalg], ['svd'], 'A, full_matrices=True, *, driver=None, out=None', (a, ctx) => {
    const t = input(a);
    if (!t) return unknownV();
    const real = realOf(t.dtype);
    const mat = matrixOf(t);
    if (!mat) return named(unknownParts(ctx, [t.dtype, real, t.dtype]), ['U', 'S', 'Vh']);
    const { batch, m, n } = mat;
    const k = minDim(m, n);
    const full = asBool(a.get('full_matrices')) !== false;
    return named([ctx.newTensor([...batch, m, full ? m : k], t.dtype), ctx.newTensor([...batch, k], real),
      ctx.newTensor([...batch, full ? n : k, n], t.dtype)], ['U', 'S', 'Vh']);
  });
  def([torch, methods], ['svd'], 'input, some=True, compute_uv=True, *, out=None', (a, ctx) => {
    const t = input(a, 'input');
    if (!t) return unknownV();
    const real = realOf(t.dtype);
    const mat = matrixOf(t);
    if (!mat) return named(unknownParts(ctx, [t.dtype, real, t.dtype]), ['U', 'S', 'V']);
    const { batch, m, n } = mat;
    const k = minDim(m, n);
    const some = asBool(a.get('some')) !== false;
    return named([ctx.newTensor([...batch, m, some ? k : m], t.dtype), ctx.newTensor([...batch, k], real),
      ctx.newTensor([...batch, n, some ? k : n], t.dtype)], ['U', 'S', 'V']);
  });
  def([linalg], ['svdvals'], 'A, *, driver=None, out=None', (a, ctx) => {
    const t = input(a);
    if (!t) return unknownV();
    const mat = matrixOf(t);
    return ctx.newTensor(mat ? [...mat.batch, minDim(mat.m, mat.n)] : null, realOf(t.dtype));
  });

  // Same shape as the (square) input.
  const sameShape = (key: string) => (a: Map<string, Value>, ctx: CallContext): Value => {
    const t = input(a, key);
    return t ? ctx.newTensor(t.shape ? [...t.shape] : null, t.dtype) : unknownV();
  };
  def([linalg], ['inv', 'matrix_exp', 'cholesky', 'inv_ex'], 'A, *, upper=False, check_errors=False, out=None', sameShape('A'));
  def([linalg], ['matrix_power'], 'A, n, *, out=None', sameShape('A'));
  def([torch, methods], ['inverse', 'matrix_exp', 'cholesky'], 'input, upper=False, *, out=None', sameShape('input'));
  def([torch, methods], ['matrix_power'], 'input, n, *, out=None', sameShape('input'));
  const pinv = (key: string) => (a: Map<string, Value>, ctx: CallContext): Value => {
    const t = input(a, key);
    if (!t) return unknownV();
    const mat = matrixOf(t);
    return ctx.newTensor(mat ? [...mat.batch, mat.n, mat.m] : null, t.dtype);
  };
  def([linalg], ['pinv'], 'A, *, atol=None, rtol=None, hermitian=False, out=None', pinv('A'));
  def([torch, methods], ['pinverse'], 'input, rcond=1e-15', pinv('input'));

  // Determinants: one value per matrix of the batch.
  const batchOnly = (key: string, real: boolean) => (a: Map<string, Value>, ctx: CallContext): Value => {
    const t = input(a, key);
    if (!t) return unknownV();
    const mat = matrixOf(t);
    return ctx.newTensor(mat ? [...mat.batch] : null, real ? realOf(t.dtype) : t.dtype);
  };
  def([linalg], ['det'], 'A, *, out=None', batchOnly('A', false));
  def([torch, methods], ['det', 'logdet'], 'input', batchOnly('input', false));
  const slogdet = (key: string) => (a: Map<string, Value>, ctx: CallContext): Value => {
    const t = input(a, key);
    if (!t) return unknownV();
    const mat = matrixOf(t);
    const shape = mat ? [...mat.batch] : null;
    return named([ctx.newTensor(shape, t.dtype), ctx.newTensor(shape ? [...shape] : null, realOf(t.dtype))], ['sign', 'logabsdet']);
  };
  def([linalg], ['slogdet'], 'A, *, out=None', slogdet('A'));
  def([torch, methods], ['slogdet'], 'input', slogdet('input'));

  const eigh = (a: Map<string, Value>, ctx: CallContext): Value => {
    const t = input(a);
    if (!t) return unknownV();
    const mat = matrixOf(t);
    if (!mat) return named(unknownParts(ctx, [realOf(t.dtype), t.dtype]), ['eigenvalues', 'eigenvectors']);
    return named([ctx.newTensor([...mat.batch, mat.n], realOf(t.dtype)), ctx.newTensor([...mat.batch, mat.n, mat.n], t.dtype)], ['eigenvalues', 'eigenvectors']);
  };
  def([linalg], ['eigh'], "A, UPLO='L', *, out=None", eigh);
  def([linalg], ['eigvalsh'], "A, UPLO='L', *, out=None", (a, ctx) => {
    const t = input(a);
    const mat = t ? matrixOf(t) : undefined;
    return t ? ctx.newTensor(mat ? [...mat.batch, mat.n] : null, realOf(t.dtype)) : unknownV();
  });
  def([linalg], ['eig'], 'A, *, out=None', (a, ctx) => {
    const t = input(a);
    if (!t) return unknownV();
    const mat = matrixOf(t);
    const c = complexOf(realOf(t.dtype));
    if (!mat) return named(unknownParts(ctx, [c, c]), ['eigenvalues', 'eigenvectors']);
    return named([ctx.newTensor([...mat.batch, mat.n], c), ctx.newTensor([...mat.batch, mat.n, mat.n], c)], ['eigenvalues', 'eigenvectors']);
  });
  def([linalg], ['eigvals'], 'A, *, out=None', (a, ctx) => {
    const t = input(a);
    const mat = t ? matrixOf(t) : undefined;
    return t ? ctx.newTensor(mat ? [...mat.batch, mat.n] : null, complexOf(realOf(t.dtype))) : unknownV();
  });

  // solve(A, B): B's shape with the batch dims broadcast (B a vector when it has one dim fewer).
  def([linalg], ['solve'], 'A, B, *, left=True, out=None', (a, ctx) => {
    const A = input(a);
    const B = input(a, 'B');
    if (!A || !B) return unknownV();
    const mat = matrixOf(A);
    if (!mat || !B.shape) return ctx.newTensor(null, B.dtype);
    const vector = B.shape.length === mat.batch.length + 1;
    const bBatch = vector ? B.shape.slice(0, -1) : B.shape.slice(0, -2);
    const batch = broadcastShapes('solve', mat.batch, bBatch, ctx);
    if (!batch) return ctx.newTensor(null, B.dtype);
    return ctx.newTensor(vector ? [...batch, mat.n] : [...batch, ...B.shape.slice(-2)], B.dtype);
  });

  // Norms through torch.norm's reduction: vector norms over dim (all elements without it),
  // matrix norms over the last two dims.
  const viaNorm = (matrix: boolean) => (a: Map<string, Value>, ctx: CallContext): Value => {
    const t = a.get('x') ?? a.get('A');
    if (!isTensor(t) || !torchNorm) return unknownV();
    const kwargs = new Map<string, Value>();
    const dim = a.get('dim');
    if (dim && !isNone(dim)) kwargs.set('dim', dim);
    else if (matrix) kwargs.set('dim', { kind: 'tuple', items: [{ kind: 'int', value: -2 }, { kind: 'int', value: -1 }] });
    const keepdim = a.get('keepdim');
    if (keepdim) kwargs.set('keepdim', keepdim);
    const out = torchNorm([t], kwargs, ctx);
    return isTensor(out) ? ctx.newTensor(out.shape ? [...out.shape] : null, realOf(t.dtype)) : out;
  };
  def([linalg], ['vector_norm'], 'x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None', viaNorm(false));
  def([linalg], ['matrix_norm'], "A, ord='fro', dim=None, keepdim=False, *, dtype=None, out=None", viaNorm(true));
  def([linalg], ['norm'], 'A, ord=None, dim=None, keepdim=False, *, out=None, dtype=None', viaNorm(false));
  return { linalg, torch, methods };
}
