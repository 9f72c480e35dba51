// Upsample / UpsamplingNearest2d / UpsamplingBilinear2d and F.interpolate: output sizes
// from `size`, or floor(input × scale_factor) per spatial dim (PyTorch computes the same
// floor with recompute_scale_factor). MACs: 0.
import type { BoundArgs, CallContext, Value } from '../interp/values';
import { constValue, floorMulRatio, type Dim } from '../shape/dim';
import { NONE, asDim, asNumber, asSequence, floatV, isNone, isTensor, shapeOf, strV, boolV, tupleV, unknownV } from './args';
import { storeArgs } from './activation';
import { setAttr, type LayerDef } from './layer';
import * as msg from './messages';

export const interpolateSignature = "input, size=None, scale_factor=None, mode='nearest', align_corners=None, recompute_scale_factor=None, antialias=False";

function scaled(x: Dim, factor: number): Dim {
  const c = constValue(x);
  // Concrete sizes follow PyTorch's float arithmetic exactly (floor(float(x) * s)).
  return c !== undefined ? Math.floor(c * factor) : floorMulRatio(x, factor);
}

export function interpolate(op: string, input: Value | undefined, size: Value | undefined, scale: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  if (!input.shape) return ctx.newTensor(null, input.dtype);
  const n = input.shape.length - 2;
  if (n < 1) {
    ctx.diagnostic('error', msg.rankMismatch(op, '3D, 4D or 5D', input.shape));
    return ctx.newTensor(null, input.dtype);
  }
  const lead = input.shape.slice(0, 2);
  const spatial = input.shape.slice(2);
  if (isNone(size) === isNone(scale)) {
    ctx.diagnostic('error', msg.interpolateNeedsSize());
    return ctx.newTensor(null, input.dtype);
  }
  if (!isNone(size)) {
    const single = asDim(size);
    const items = asSequence(size)?.map(asDim);
    const out = single !== undefined ? spatial.map(() => single) : items;
    if (!out || out.length !== n || out.some((d) => d === undefined)) return ctx.newTensor(null, input.dtype);
    return ctx.newTensor([...lead, ...(out as Dim[])], input.dtype);
  }
  const single = asNumber(scale);
  const factors = single !== undefined ? spatial.map(() => single) : asSequence(scale)?.map(asNumber);
  if (!factors || factors.length !== n || factors.some((f) => f === undefined)) return ctx.newTensor(null, input.dtype);
  return ctx.newTensor([...lead, ...spatial.map((x, i) => scaled(x, factors[i]!))], input.dtype);
}

function storedScale(v: Value | undefined): Value {
  const single = asNumber(v);
  if (single !== undefined) return floatV(single);
  const items = asSequence(v);
  if (v?.kind === 'tuple' && items) return tupleV(items.map((x) => floatV(asNumber(x) ?? NaN)));
  return v ?? NONE;
}

function upsampleLayer(name: string, signature: string, mode?: string, alignCorners?: boolean): LayerDef {
  return {
    name,
    home: 'upsampling',
    base: name === 'Upsample' ? undefined : 'Upsample',
    signature,
    init(self, a) {
      setAttr(self, 'name', strV(name));
      storeArgs(self, a, ['size']);
      setAttr(self, 'scale_factor', storedScale(a.get('scale_factor')));
      if (mode) {
        setAttr(self, 'mode', strV(mode));
        setAttr(self, 'align_corners', alignCorners ? boolV(true) : NONE);
        setAttr(self, 'recompute_scale_factor', NONE);
      } else {
        storeArgs(self, a, ['mode', 'align_corners', 'recompute_scale_factor']);
      }
    },
    forward(self, a, ctx) {
      return interpolate(name, a.get('input'), self.attrs.get('size'), self.attrs.get('scale_factor'), ctx);
    },
    arithmetic(self, a, output) {
      const input = shapeOf(a.get('input'));
      const out = shapeOf(output);
      if (!input || !out || input.length !== out.length || input.length < 3) return [];
      const n = input.length - 2;
      const scale = self.attrs.get('scale_factor');
      const factors = asNumber(scale) !== undefined ? Array(n).fill(asNumber(scale)) : asSequence(scale)?.map(asNumber);
      return msg.spatialNames(n).map((dimName, i) => {
        const f = factors?.[i];
        return f === undefined ? msg.sizeArithmetic(dimName, input[2 + i], out[2 + i]) : msg.scaleArithmetic(dimName, input[2 + i], f, out[2 + i]);
      });
    },
  };
}

export const upsampleLayers: LayerDef[] = [
  upsampleLayer('Upsample', "size=None, scale_factor=None, mode='nearest', align_corners=None, recompute_scale_factor=None"),
  upsampleLayer('UpsamplingNearest2d', 'size=None, scale_factor=None', 'nearest'),
  upsampleLayer('UpsamplingBilinear2d', 'size=None, scale_factor=None', 'bilinear', true),
];

export function functionalInterpolate(op: string, a: BoundArgs, ctx: CallContext): Value {
  return interpolate(op, a.get('input'), a.get('size'), a.get('scale_factor'), ctx);
}
