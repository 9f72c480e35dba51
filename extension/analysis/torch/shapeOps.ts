// Layers that only rearrange or pad: Flatten, Unflatten, PixelShuffle/Unshuffle,
// ChannelShuffle, ZeroPad/ConstantPad/ReflectionPad/ReplicationPad/CircularPad, and the
// shape rules torch.flatten / Tensor.unflatten / F.pad / F.pixel_shuffle share with them.
// MACs: 0.
import type { CallContext, Value } from '../interp/values';
import { add, constValue, dimEquals, floorDiv, mul, product, type Dim, type Shape } from '../shape/dim';
import { asDim, asDimList, asInt, dimsTuple, floatV, isTensor, normalizeDim, ntuple, unknownV } from './args';
import { lastDimFactors, setLastDimFactors } from './check';
import { slidingOutputSize } from './conv';
import { sameShape, storeArgs } from './activation';
import { setAttr, type LayerDef } from './layer';
import * as msg from './messages';

export function flattenTensor(op: string, input: Value | undefined, startV: Dim | undefined, endV: Dim | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  if (!input.shape) return ctx.newTensor(null, input.dtype);
  const rank = input.shape.length;
  if (rank === 0) return ctx.newTensor([1], input.dtype);
  const start = normalizeDim(startV ?? 0, rank);
  const end = normalizeDim(endV ?? -1, rank);
  if (start === undefined || end === undefined) {
    ctx.diagnostic('error', msg.dimOutOfRange(op, start === undefined ? startV ?? 0 : endV ?? -1, rank));
    return ctx.newTensor(null, input.dtype);
  }
  if (start > end) {
    ctx.diagnostic('error', msg.badArguments(op, 'start_dim cannot come after end_dim'));
    return ctx.newTensor(null, input.dtype);
  }
  const merged = input.shape.slice(start, end + 1);
  const out = ctx.newTensor([...input.shape.slice(0, start), product(merged), ...input.shape.slice(end + 1)], input.dtype);
  if (end === rank - 1) setLastDimFactors(out, merged);
  return out;
}

/** Sizes with at most one -1, inferred from `total`; reports an impossible request. */
export function inferSizes(op: string, sizes: readonly Dim[], total: Dim, shape: Shape, ctx: CallContext): Dim[] | undefined {
  const unknownAt = sizes.findIndex((s) => constValue(s) === -1);
  if (sizes.filter((s) => constValue(s) === -1).length > 1) {
    ctx.diagnostic('error', msg.badArguments(op, 'only one dimension can be inferred'));
    return undefined;
  }
  const known = product(sizes.filter((_, i) => i !== unknownAt));
  if (unknownAt < 0) {
    if (dimEquals(known, total) === false) {
      ctx.diagnostic('error', msg.viewMismatch(op, shape, total, sizes));
      return undefined;
    }
    return [...sizes];
  }
  const k = constValue(known);
  const t = constValue(total);
  if (k !== undefined && t !== undefined && (k === 0 || t % k !== 0)) {
    ctx.diagnostic('error', msg.viewMismatch(op, shape, total, sizes));
    return undefined;
  }
  const out = [...sizes];
  out[unknownAt] = floorDiv(total, known);
  // A symbolic total divided by a product that does not divide it evenly stays as floor();
  // that is still the best statement of the inferred size.
  return out;
}

export function unflattenTensor(op: string, input: Value | undefined, dimV: Dim | undefined, sizes: Dim[] | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  if (!input.shape || !sizes) return ctx.newTensor(null, input.dtype);
  const d = normalizeDim(dimV, input.shape.length);
  if (d === undefined) {
    ctx.diagnostic('error', msg.dimOutOfRange(op, dimV ?? 0, input.shape.length));
    return ctx.newTensor(null, input.dtype);
  }
  const inferred = inferSizes(op, sizes, input.shape[d], input.shape, ctx);
  if (!inferred) return ctx.newTensor(null, input.dtype);
  return ctx.newTensor([...input.shape.slice(0, d), ...inferred, ...input.shape.slice(d + 1)], input.dtype);
}

export function pixelShuffle(op: string, input: Value | undefined, factorV: Value | undefined, down: boolean, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  const r = asInt(factorV);
  if (!input.shape || r === undefined || input.shape.length < 3) return ctx.newTensor(null, input.dtype);
  const s = input.shape;
  const n = s.length;
  const c = s[n - 3];
  const h = s[n - 2];
  const w = s[n - 1];
  const lead = s.slice(0, n - 3);
  if (down) return ctx.newTensor([...lead, mul(c, r * r), floorDiv(h, r), floorDiv(w, r)], input.dtype);
  const cc = constValue(c);
  if (cc !== undefined && cc % (r * r) !== 0) ctx.diagnostic('error', msg.pixelShuffleDivides(op, c, r));
  return ctx.newTensor([...lead, floorDiv(c, r * r), mul(h, r), mul(w, r)], input.dtype);
}

/** F.pad: pairs (left, right) from the last dim backwards. */
export function padTensor(op: string, input: Value | undefined, pads: Dim[] | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  if (!input.shape || !pads) return ctx.newTensor(null, input.dtype);
  if (pads.length % 2 !== 0 || pads.length / 2 > input.shape.length) {
    ctx.diagnostic('error', msg.badArguments(op, `padding length ${pads.length} does not fit a ${input.shape.length}D input`));
    return ctx.newTensor(null, input.dtype);
  }
  const shape = [...input.shape];
  for (let i = 0; i < pads.length / 2; i++) {
    const d = shape.length - 1 - i;
    shape[d] = add(add(shape[d], pads[2 * i]), pads[2 * i + 1]);
  }
  return ctx.newTensor(shape, input.dtype);
}

/** F.unfold (im2col): [N, C, H, W] → [N, C·kh·kw, L] with L the number of sliding blocks. */
export function unfoldTensor(op: string, input: Value | undefined, k: Value | undefined, dil: Value | undefined, pad: Value | undefined, stride: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  const kernel = ntuple(k, 2);
  const d = ntuple(dil, 2);
  const p = ntuple(pad, 2);
  const s = ntuple(stride, 2);
  const shape = input.shape;
  if (!shape || !kernel || !d || !p || !s) return ctx.newTensor(null, input.dtype);
  if (shape.length !== 3 && shape.length !== 4) {
    ctx.diagnostic('error', msg.rankMismatch(op, '3D or 4D', shape));
    return ctx.newTensor(null, input.dtype);
  }
  const lead = shape.slice(0, shape.length - 3);
  const blocks = shape.slice(-2).map((x, i) => slidingOutputSize(x, kernel[i], s[i], p[i], d[i]));
  return ctx.newTensor([...lead, mul(shape[shape.length - 3], product(kernel)), product(blocks)], input.dtype);
}

/** F.fold (col2im): [N, C·kh·kw, L] → [N, C, *output_size]. */
export function foldTensor(op: string, input: Value | undefined, outputSize: Value | undefined, k: Value | undefined, dil: Value | undefined, pad: Value | undefined, stride: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  const size = ntuple(outputSize, 2);
  const kernel = ntuple(k, 2);
  const d = ntuple(dil, 2);
  const p = ntuple(pad, 2);
  const s = ntuple(stride, 2);
  const shape = input.shape;
  if (!shape || !size || !kernel || !d || !p || !s) return ctx.newTensor(null, input.dtype);
  if (shape.length !== 2 && shape.length !== 3) {
    ctx.diagnostic('error', msg.rankMismatch(op, '2D or 3D', shape));
    return ctx.newTensor(null, input.dtype);
  }
  const blocks = product(size.map((x, i) => slidingOutputSize(x, kernel[i], s[i], p[i], d[i])));
  const got = shape[shape.length - 1];
  if (dimEquals(blocks, got) === false) {
    ctx.diagnostic('error', msg.sizeMismatch(op, 'the number of sliding blocks (last input dim)', blocks, got));
    return ctx.newTensor(null, input.dtype);
  }
  const lead = shape.slice(0, shape.length - 2);
  return ctx.newTensor([...lead, floorDiv(shape[shape.length - 2], product(kernel)), ...size], input.dtype);
}

/** F.affine_grid: theta [N, 2, 3] with size [N, C, H, W] → [N, H, W, 2] (and the 3-D analogue). */
export function affineGrid(input: Value | undefined, size: Value | undefined, ctx: CallContext): Value {
  const dims = asDimList(size);
  const dtype = isTensor(input) ? input.dtype : 'float32';
  if (!dims || (dims.length !== 4 && dims.length !== 5)) return ctx.newTensor(null, dtype);
  return ctx.newTensor([dims[0], ...dims.slice(2), dims.length - 2], dtype);
}

function padLayer(name: string, n: number, constant: 'zero' | 'constant' | 'none'): LayerDef {
  return {
    name,
    home: 'padding',
    base: constant === 'zero' ? `ConstantPad${n}d` : undefined,
    signature: constant === 'constant' ? 'padding, value' : 'padding',
    init(self, a) {
      const pads = ntuple(a.get('padding'), 2 * n);
      setAttr(self, 'padding', pads ? dimsTuple(pads) : unknownV());
      if (constant === 'zero') setAttr(self, 'value', floatV(0));
      if (constant === 'constant') setAttr(self, 'value', a.get('value') ?? unknownV());
    },
    forward(self, a, ctx) {
      return padTensor(name, a.get('input'), asDimList(self.attrs.get('padding')), ctx);
    },
  };
}

export const shapeLayers: LayerDef[] = [
  {
    name: 'Flatten',
    home: 'flatten',
    signature: 'start_dim=1, end_dim=-1',
    init(self, a) {
      storeArgs(self, a, ['start_dim', 'end_dim']);
    },
    forward(self, a, ctx) {
      return flattenTensor('Flatten', a.get('input'), asDim(self.attrs.get('start_dim')), asDim(self.attrs.get('end_dim')), ctx);
    },
    arithmetic(self, a, output) {
      const factors = output.kind === 'tensor' ? lastDimFactors(output) : undefined;
      const out = output.kind === 'tensor' ? output.shape?.at(-1) : undefined;
      return factors && out !== undefined ? [msg.flattenArithmetic(factors, out)] : [];
    },
  },
  {
    name: 'Unflatten',
    home: 'flatten',
    signature: 'dim, unflattened_size',
    init(self, a) {
      storeArgs(self, a, ['dim', 'unflattened_size']);
    },
    forward(self, a, ctx) {
      return unflattenTensor('Unflatten', a.get('input'), asDim(self.attrs.get('dim')), asDimList(self.attrs.get('unflattened_size')), ctx);
    },
  },
  {
    name: 'PixelShuffle',
    home: 'pixelshuffle',
    signature: 'upscale_factor',
    init(self, a) {
      storeArgs(self, a, ['upscale_factor']);
    },
    forward(self, a, ctx) {
      return pixelShuffle('PixelShuffle', a.get('input'), self.attrs.get('upscale_factor'), false, ctx);
    },
  },
  {
    name: 'PixelUnshuffle',
    home: 'pixelshuffle',
    signature: 'downscale_factor',
    init(self, a) {
      storeArgs(self, a, ['downscale_factor']);
    },
    forward(self, a, ctx) {
      return pixelShuffle('PixelUnshuffle', a.get('input'), self.attrs.get('downscale_factor'), true, ctx);
    },
  },
  {
    name: 'Unfold',
    home: 'fold',
    signature: 'kernel_size, dilation=1, padding=0, stride=1',
    init(self, a) {
      storeArgs(self, a, ['kernel_size', 'dilation', 'padding', 'stride']);
    },
    forward(self, a, ctx) {
      const at = (k: string): Value | undefined => self.attrs.get(k);
      return unfoldTensor('Unfold', a.get('input'), at('kernel_size'), at('dilation'), at('padding'), at('stride'), ctx);
    },
  },
  {
    name: 'Fold',
    home: 'fold',
    signature: 'output_size, kernel_size, dilation=1, padding=0, stride=1',
    init(self, a) {
      storeArgs(self, a, ['output_size', 'kernel_size', 'dilation', 'padding', 'stride']);
    },
    forward(self, a, ctx) {
      const at = (k: string): Value | undefined => self.attrs.get(k);
      return foldTensor('Fold', a.get('input'), at('output_size'), at('kernel_size'), at('dilation'), at('padding'), at('stride'), ctx);
    },
  },
  {
    name: 'ChannelShuffle',
    home: 'channelshuffle',
    signature: 'groups',
    init(self, a) {
      storeArgs(self, a, ['groups']);
    },
    forward(self, a, ctx) {
      return sameShape(a.get('input'), ctx);
    },
  },
  ...[1, 2, 3].flatMap((n) => [
    padLayer(`ZeroPad${n}d`, n, 'zero'),
    padLayer(`ConstantPad${n}d`, n, 'constant'),
    padLayer(`ReflectionPad${n}d`, n, 'none'),
    padLayer(`ReplicationPad${n}d`, n, 'none'),
    padLayer(`CircularPad${n}d`, n, 'none'),
  ]),
];
