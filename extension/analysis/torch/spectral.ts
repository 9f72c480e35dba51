// torch.fft (fft / rfft / irfft / hfft and their 2-D and n-D forms, shifts, frequencies),
// torch.stft / istft and the window functions: what spectral models (Fourier neural operators,
// audio front-ends, global filter networks) call. Shapes follow PyTorch 2.13: a real-to-complex
// transform keeps n // 2 + 1 bins on its last transformed dim, its inverse gives back
// 2 * (bins - 1) unless told the length.
import type { BuiltinImpl, CallContext, DType, TensorValue, Value } from '../interp/values';
import { add, floorDiv, mul, sub, type Dim, type Shape } from '../shape/dim';
import { asBool, asDim, asDimList, isNone, isTensor, normalizeDim, sig, unknownV } from './args';
import { complexOf, isFloating, realOf } from './broadcast';
import type { CatalogEnv } from './env';
import * as msg from './messages';
import { builtinFromSignature } from './tensorOps';

type Kind = 'c2c' | 'r2c' | 'c2r';

function isComplex(d: DType): boolean {
  return d === 'complex64' || d === 'complex128';
}

/** Output dtype of a transform: complex for c2c / r2c, real for c2r. */
function transformDtype(kind: Kind, input: DType): DType {
  if (kind === 'c2r') return realOf(input);
  return complexOf(isFloating(input) || isComplex(input) ? realOf(input) : 'float32');
}

/** Size of one transformed dim: n given or the input's; r2c halves the last one, c2r doubles it back. */
function transformedSize(kind: Kind, size: Dim, n: Dim | undefined, last: boolean): Dim {
  if (!last || kind === 'c2c') return n ?? size;
  if (kind === 'r2c') return add(floorDiv(n ?? size, 2), 1);
  return n ?? mul(sub(size, 1), 2);
}

/**
 * One transform over `dims` (already normalized, in the order given) with optional sizes `s`:
 * r2c / c2r act on the last of the dims.
 */
function transform(ctx: CallContext, name: string, kind: Kind, t: TensorValue, dims: number[] | undefined, s: Dim[] | undefined): Value {
  const dtype = transformDtype(kind, t.dtype);
  if (!t.shape || !dims) return ctx.newTensor(null, dtype);
  if (s && s.length !== dims.length) {
    ctx.diagnostic('error', msg.badArguments(name, `s has ${s.length} sizes for ${dims.length} dims`));
    return ctx.newTensor(null, dtype);
  }
  const out: Dim[] = [...t.shape];
  dims.forEach((d, i) => { out[d] = transformedSize(kind, t.shape![d]!, s?.[i], i === dims.length - 1); });
  return ctx.newTensor(out, dtype);
}

function dimsOf(v: Value | undefined, rank: number): number[] | undefined {
  const list = asDimList(v) ?? (asDim(v) !== undefined ? [asDim(v)!] : undefined);
  if (!list) return undefined;
  const out = list.map((d) => normalizeDim(d, rank));
  return out.every((d) => d !== undefined) ? (out as number[]) : undefined;
}

export function createSpectralFunctions(env: CatalogEnv): { fft: Map<string, BuiltinImpl>; torch: Map<string, BuiltinImpl> } {
  const fft = new Map<string, BuiltinImpl>();
  const torch = new Map<string, BuiltinImpl>();
  const def = (table: Map<string, BuiltinImpl>, names: string[], signature: string, impl: (a: Map<string, Value>, ctx: CallContext, name: string) => Value): void => {
    for (const name of names) table.set(name, builtinFromSignature(name, sig(signature), impl));
  };
  const input = (a: Map<string, Value>): TensorValue | undefined => {
    const t = a.get('input');
    return isTensor(t) ? t : undefined;
  };

  const oneDim: [string, Kind][] = [['fft', 'c2c'], ['ifft', 'c2c'], ['rfft', 'r2c'], ['ihfft', 'r2c'], ['irfft', 'c2r'], ['hfft', 'c2r']];
  for (const [name, kind] of oneDim) {
    def(fft, [name], 'input, n=None, dim=-1, norm=None, *, out=None', (a, ctx) => {
      const t = input(a);
      if (!t) return unknownV();
      const n = isNone(a.get('n')) ? undefined : asDim(a.get('n'));
      return transform(ctx, name, kind, t, t.shape ? dimsOf(a.get('dim'), t.shape.length) : undefined, n === undefined ? undefined : [n]);
    });
  }
  const manyDims: [string, Kind, boolean][] = [
    ['fft2', 'c2c', true], ['ifft2', 'c2c', true], ['rfft2', 'r2c', true], ['irfft2', 'c2r', true], ['hfft2', 'c2r', true], ['ihfft2', 'r2c', true],
    ['fftn', 'c2c', false], ['ifftn', 'c2c', false], ['rfftn', 'r2c', false], ['irfftn', 'c2r', false], ['hfftn', 'c2r', false], ['ihfftn', 'r2c', false],
  ];
  for (const [name, kind, twoD] of manyDims) {
    def(fft, [name], 'input, s=None, dim=None, norm=None, *, out=None', (a, ctx) => {
      const t = input(a);
      if (!t) return unknownV();
      const s = isNone(a.get('s')) ? undefined : asDimList(a.get('s'));
      const rank = t.shape?.length;
      if (rank === undefined) return ctx.newTensor(null, transformDtype(kind, t.dtype));
      // Without dim: 2-D forms take the last two dims; n-D forms the last len(s) dims, or all of them.
      const count = twoD ? 2 : s ? s.length : rank;
      const dims = isNone(a.get('dim'))
        ? (count <= rank ? Array.from({ length: count }, (_, i) => rank - count + i) : undefined)
        : dimsOf(a.get('dim'), rank);
      return transform(ctx, name, kind, t, dims, s);
    });
  }
  def(fft, ['fftshift', 'ifftshift'], 'input, dim=None', (a, ctx) => {
    const t = input(a);
    return t ? ctx.newTensor(t.shape ? [...t.shape] : null, t.dtype) : unknownV();
  });
  def(fft, ['fftfreq', 'rfftfreq'], 'n, d=1.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=False', (a, ctx, name) => {
    const n = asDim(a.get('n'));
    const dtype = env.dtypeOf(a.get('dtype')) ?? 'float32';
    if (n === undefined) return ctx.newTensor(null, dtype);
    return ctx.newTensor([name === 'rfftfreq' ? add(floorDiv(n, 2), 1) : n], dtype);
  });

  def(torch, ['hann_window', 'hamming_window', 'blackman_window', 'bartlett_window', 'kaiser_window'],
    'window_length, periodic=True, *args, dtype=None, layout=None, device=None, requires_grad=False, **kwargs', (a, ctx) => {
      const n = asDim(a.get('window_length'));
      return ctx.newTensor(n === undefined ? null : [n], env.dtypeOf(a.get('dtype')) ?? 'float32');
    });

  def(torch, ['stft'], "input, n_fft, hop_length=None, win_length=None, window=None, center=True, pad_mode='reflect', normalized=False, onesided=None, return_complex=None", (a, ctx) => {
    const t = input(a);
    const nFft = asDim(a.get('n_fft'));
    if (!t) return unknownV();
    // PyTorch requires return_complex for real inputs; complex is what it recommends and what code passes.
    const complex = isNone(a.get('return_complex')) || asBool(a.get('return_complex')) !== false;
    const dtype = complex ? complexOf(realOf(t.dtype)) : realOf(t.dtype);
    if (!t.shape || nFft === undefined || (t.shape.length !== 1 && t.shape.length !== 2)) return ctx.newTensor(null, dtype);
    const hop = isNone(a.get('hop_length')) ? floorDiv(nFft, 4) : asDim(a.get('hop_length'));
    if (hop === undefined) return ctx.newTensor(null, dtype);
    const length = t.shape[t.shape.length - 1]!;
    const center = asBool(a.get('center')) !== false;
    const frames = add(floorDiv(center ? length : sub(length, nFft), hop), 1);
    const window = a.get('window');
    const onesided = isNone(a.get('onesided')) ? !(isComplex(t.dtype) || (isTensor(window) && isComplex(window.dtype))) : asBool(a.get('onesided')) !== false;
    const bins = onesided ? add(floorDiv(nFft, 2), 1) : nFft;
    const shape: Shape = [...t.shape.slice(0, -1), bins, frames, ...(complex ? [] : [2])];
    return ctx.newTensor(shape, dtype);
  });
  def(torch, ['istft'], 'input, n_fft, hop_length=None, win_length=None, window=None, center=True, normalized=False, onesided=None, length=None, return_complex=False', (a, ctx) => {
    const t = input(a);
    const nFft = asDim(a.get('n_fft'));
    if (!t) return unknownV();
    const dtype = asBool(a.get('return_complex')) === true ? t.dtype : realOf(t.dtype);
    if (!t.shape || nFft === undefined || (t.shape.length !== 2 && t.shape.length !== 3)) return ctx.newTensor(null, dtype);
    const batch = t.shape.slice(0, -2);
    const given = isNone(a.get('length')) ? undefined : asDim(a.get('length'));
    if (given !== undefined) return ctx.newTensor([...batch, given], dtype);
    const hop = isNone(a.get('hop_length')) ? floorDiv(nFft, 4) : asDim(a.get('hop_length'));
    if (hop === undefined) return ctx.newTensor(null, dtype);
    const frames = t.shape[t.shape.length - 1]!;
    const full = add(nFft, mul(hop, sub(frames, 1)));
    const center = asBool(a.get('center')) !== false;
    const length = center ? sub(full, mul(floorDiv(nFft, 2), 2)) : full;
    return ctx.newTensor([...batch, length], dtype);
  });
  return { fft, torch };
}

