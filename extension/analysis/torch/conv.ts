// Convolutions: Conv1d/2d/3d and ConvTranspose1d/2d/3d, and the shape rule F.conv*d and
// F.conv_transpose*d share with them.
// MACs: conv = output elements × in_channels/groups × kernel elements; transposed conv =
// input elements × out_channels/groups × kernel elements (the multiplies really done, as
// torch.utils.flop_counter counts them). Bias adds are not counted.
import type { BoundArgs, CallContext, InstanceValue, Value } from '../interp/values';
import { add, ceilDiv, constValue, floorDiv, mod, mul, neg, product, sub, type Dim, type Shape } from '../shape/dim';
import {
  asBool, asDim, asDimList, asStr, boolV, dimsTuple, intV, isTensor, knownShape, makeParam, ntuple, ntupleExact, shapeOf, strV, unknownV,
} from './args';
import { requireDim, type SizeArgument } from './check';
import { getAttr, setAttr, setParam, tensorMember, type LayerDef } from './layer';
import * as msg from './messages';

export interface ConvGeometry {
  stride: Dim[];
  padding: Dim[] | 'same' | 'valid';
  dilation: Dim[];
  groups: Dim;
  /** Transposed convolutions only. */
  outputPadding?: Dim[];
}

/**
 * `floor((x + 2p − d(k−1) − 1)/s) + 1`, PyTorch's conv and pooling output size. With
 * ceil_mode the division rounds up, and the last window is dropped when it would start
 * past the input and left padding: with span = x + 2p − d(k−1) − 1 and c = d(k−1) + 1 − p,
 * that happens exactly when (−span mod s) ≥ c, which stays exact for symbolic x.
 */
export function slidingOutputSize(x: Dim, k: Dim, s: Dim, p: Dim, dil: Dim, ceilMode = false): Dim {
  const span = sub(add(x, mul(2, p)), add(mul(dil, sub(k, 1)), 1));
  if (!ceilMode) return add(floorDiv(span, s), 1);
  const out = add(ceilDiv(span, s), 1);
  const sc = constValue(s);
  const c = constValue(sub(effectiveKernel(k, dil), p));
  if (sc === undefined || c === undefined || sc <= 0 || c > sc - 1) return out;
  if (c <= 0) return sub(out, 1);
  return sub(out, floorDiv(add(mod(neg(span), sc), sc - c), sc));
}

/** Transposed conv output without output_padding: (x − 1)·s − 2p + d·(k − 1) + 1. */
function transposedBase(x: Dim, s: Dim, p: Dim, k: Dim, dil: Dim): Dim {
  return add(sub(mul(sub(x, 1), s), mul(2, p)), effectiveKernel(k, dil));
}

function effectiveKernel(k: Dim, dil: Dim): Dim {
  return add(mul(dil, sub(k, 1)), 1);
}

/**
 * Output shape of a (transposed) convolution of `input` with a weight of `weightShape`
 * ([out, in/g, *k], or [in, out/g, *k] when transposed). Reports mismatches; null when
 * the result cannot be known.
 */
export function convOutputShape(
  layer: string,
  spatial: number,
  input: Shape,
  weightShape: Shape,
  geometry: ConvGeometry,
  transposed: boolean,
  ctx: CallContext,
  source?: SizeArgument,
): Shape | null {
  if (input.length !== spatial + 2 && input.length !== spatial + 1) {
    ctx.diagnostic('error', msg.rankMismatch(layer, `${spatial + 1}D (unbatched) or ${spatial + 2}D (batched)`, input));
    return null;
  }
  if (weightShape.length !== spatial + 2) return null;
  const batched = input.length === spatial + 2;
  const cIndex = batched ? 1 : 0;
  const kernel = weightShape.slice(2);
  const inChannels = transposed ? weightShape[0] : mul(weightShape[1], geometry.groups);
  const outChannels = transposed ? mul(weightShape[1], geometry.groups) : weightShape[0];
  // With groups, the new value must also be divisible by groups: no certain fix.
  const fixable = constValue(geometry.groups) === 1;
  requireDim(ctx, layer, 'input channels', inChannels, input[cIndex], () => msg.channelMismatch(layer, inChannels, input[cIndex], input), source && { ...source, fixable });
  const out: Dim[] = [];
  for (let i = 0; i < spatial; i++) {
    const x = input[cIndex + 1 + i];
    const k = kernel[i];
    const s = geometry.stride[i] ?? 1;
    const dil = geometry.dilation[i] ?? 1;
    let size: Dim;
    if (transposed) {
      const p = Array.isArray(geometry.padding) ? geometry.padding[i] ?? 0 : 0;
      const op = geometry.outputPadding?.[i] ?? 0;
      size = add(add(sub(mul(sub(x, 1), s), mul(2, p)), mul(dil, sub(k, 1))), add(op, 1));
      const c = constValue(size);
      if (c !== undefined && c <= 0) ctx.diagnostic('error', msg.transposedOutputNotPositive(layer, x, size));
    } else if (geometry.padding === 'same') {
      size = x;
    } else {
      const p = geometry.padding === 'valid' ? 0 : geometry.padding[i] ?? 0;
      size = slidingOutputSize(x, k, s, p, dil);
      const c = constValue(size);
      if (c !== undefined && c <= 0) {
        ctx.diagnostic('error', msg.outputNotPositive(layer, x, effectiveKernel(k, dil), p, s, size));
      }
    }
    out.push(size);
  }
  return batched ? [input[0], outChannels, ...out] : [outChannels, ...out];
}

/** ConvTranspose's `output_size` forward argument: the output_padding that reaches it. */
function outputPaddingFor(
  layer: string,
  spatial: number,
  input: Shape,
  weightShape: Shape,
  geometry: ConvGeometry,
  requested: Dim[],
  ctx: CallContext,
): Dim[] | undefined {
  const sizes = requested.length === spatial + 2 ? requested.slice(2) : requested.length === spatial + 1 && input.length === spatial + 1 ? requested.slice(1) : requested;
  if (sizes.length !== spatial) return undefined;
  const base = convOutputShape(layer, spatial, input, weightShape, { ...geometry, outputPadding: Array(spatial).fill(0) }, true, ctx);
  if (!base) return undefined;
  const baseSpatial = base.slice(base.length - spatial);
  return sizes.map((want, i) => {
    const min = baseSpatial[i];
    const max = add(min, sub(geometry.stride[i] ?? 1, 1));
    const w = constValue(want);
    const lo = constValue(min);
    const hi = constValue(max);
    if (w !== undefined && lo !== undefined && hi !== undefined && (w < lo || w > hi)) {
      ctx.diagnostic('error', msg.outputSizeOutOfRange(layer, want, min, max));
    }
    return sub(want, min);
  });
}

/** Reads conv hyper-parameters the way `_ConvNd.__init__` normalises them. */
function readGeometry(layer: string, a: BoundArgs, spatial: number, ctx: CallContext): ConvGeometry | undefined {
  const stride = ntupleExact(a.get('stride'), spatial);
  const dilation = ntupleExact(a.get('dilation'), spatial);
  const groups = asDim(a.get('groups'));
  const paddingStr = asStr(a.get('padding'));
  let padding: ConvGeometry['padding'] | undefined;
  if (paddingStr !== undefined) {
    if (paddingStr !== 'same' && paddingStr !== 'valid') {
      ctx.diagnostic('error', msg.invalidPaddingString(layer, paddingStr));
      return undefined;
    }
    padding = paddingStr;
    if (paddingStr === 'same' && stride?.some((s) => constValue(s) !== 1)) ctx.diagnostic('error', msg.paddingSameStride(layer));
  } else {
    padding = ntupleExact(a.get('padding'), spatial);
  }
  if (!stride || !dilation || groups === undefined || padding === undefined) return undefined;
  return { stride, padding, dilation, groups };
}

function convLayer(spatial: number, transposed: boolean): LayerDef {
  const name = `Conv${transposed ? 'Transpose' : ''}${spatial}d`;
  return {
    name,
    home: 'conv',
    signature: transposed
      ? "in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1, padding_mode='zeros', device=None, dtype=None"
      : "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros', device=None, dtype=None",
    forwardSignature: transposed ? 'input, output_size=None' : 'input',
    init(self, a, ctx) {
      const inC = asDim(a.get('in_channels'));
      const outC = asDim(a.get('out_channels'));
      const kernel = ntupleExact(a.get('kernel_size'), spatial);
      const groups = asDim(a.get('groups'));
      const geometry = readGeometry(name, a, spatial, ctx);
      if (groups !== undefined && constValue(groups) !== undefined) {
        const g = constValue(groups)!;
        if (g <= 0) ctx.diagnostic('error', msg.badArguments(name, 'groups must be a positive integer'));
        for (const [what, v] of [['in_channels', inC], ['out_channels', outC]] as const) {
          const c = v === undefined ? undefined : constValue(v);
          if (g > 0 && c !== undefined && c % g !== 0) ctx.diagnostic('error', msg.groupsDivide(name, what, c, g));
        }
      }
      setAttr(self, 'in_channels', inC === undefined ? unknownV() : intV(inC));
      setAttr(self, 'out_channels', outC === undefined ? unknownV() : intV(outC));
      setAttr(self, 'kernel_size', kernel ? dimsTuple(kernel) : unknownV());
      setAttr(self, 'stride', geometry ? dimsTuple(geometry.stride) : unknownV());
      const pad = geometry?.padding;
      setAttr(self, 'padding', pad === undefined ? unknownV() : typeof pad === 'string' ? strV(pad) : dimsTuple(pad));
      setAttr(self, 'dilation', geometry ? dimsTuple(geometry.dilation) : unknownV());
      setAttr(self, 'transposed', boolV(transposed));
      const outputPadding = transposed ? ntuple(a.get('output_padding'), spatial) : Array(spatial).fill(0);
      setAttr(self, 'output_padding', outputPadding ? dimsTuple(outputPadding) : unknownV());
      setAttr(self, 'groups', groups === undefined ? unknownV() : intV(groups));
      setAttr(self, 'padding_mode', a.get('padding_mode') ?? strV('zeros'));
      const perGroupIn = inC !== undefined && groups !== undefined ? floorDiv(inC, groups) : undefined;
      const perGroupOut = outC !== undefined && groups !== undefined ? floorDiv(outC, groups) : undefined;
      const weightShape = transposed
        ? knownShape([inC, perGroupOut, ...(kernel ?? [undefined])])
        : knownShape([outC, perGroupIn, ...(kernel ?? [undefined])]);
      setParam(self, 'weight', makeParam(ctx, weightShape));
      setParam(self, 'bias', asBool(a.get('bias')) === false ? undefined : makeParam(ctx, knownShape([outC])));
    },
    forward(self, a, ctx) {
      return convModuleForward(name, spatial, transposed, self, a, ctx);
    },
    arithmetic(self, a, output) {
      const input = shapeOf(a.get('input'));
      const weight = shapeOf(tensorMember(self, 'weight'));
      const out = shapeOf(output);
      const g = geometryFromAttrs(self, spatial);
      if (!input || !weight || !out || !g || out.length !== input.length) return [];
      const names = msg.spatialNames(spatial);
      return names.map((name, i) => {
        const x = input[input.length - spatial + i];
        const k = weight[2 + i];
        const dil = g.dilation[i] ?? 1;
        const result = out[out.length - spatial + i];
        if (transposed) {
          const p = Array.isArray(g.padding) ? g.padding[i] ?? 0 : 0;
          return msg.transposedArithmetic(name, x, g.stride[i] ?? 1, p, effectiveKernel(k, dil), sub(result, transposedBase(x, g.stride[i] ?? 1, p, k, dil)), result);
        }
        if (g.padding === 'same') return msg.samePaddingArithmetic(name, x);
        const p = g.padding === 'valid' ? 0 : g.padding[i] ?? 0;
        return msg.slidingArithmetic(name, x, k, dil, p, g.stride[i] ?? 1, effectiveKernel(k, dil), result, false);
      });
    },
    macs(self, a, output) {
      const weight = shapeOf(tensorMember(self, 'weight'));
      const counted = transposed ? shapeOf(a.get('input')) : shapeOf(output);
      if (!weight || !counted) return 0;
      return mul(product(counted), product(weight.slice(1)));
    },
  };
}

function geometryFromAttrs(self: InstanceValue, spatial: number): ConvGeometry | undefined {
  const stride = asDimList(getAttr(self, 'stride'));
  const dilation = asDimList(getAttr(self, 'dilation'));
  const groups = asDim(getAttr(self, 'groups'));
  const padAttr = getAttr(self, 'padding');
  const padStr = asStr(padAttr);
  const padding = padStr === 'same' || padStr === 'valid' ? padStr : asDimList(padAttr);
  const outputPadding = asDimList(getAttr(self, 'output_padding')) ?? Array(spatial).fill(0);
  if (!stride || !dilation || groups === undefined || !padding) return undefined;
  return { stride, dilation, groups, padding, outputPadding };
}

function convModuleForward(name: string, spatial: number, transposed: boolean, self: InstanceValue, a: BoundArgs, ctx: CallContext): Value {
  const input = a.get('input');
  if (!isTensor(input)) return unknownV();
  const weight = tensorMember(self, 'weight');
  const geometry = geometryFromAttrs(self, spatial);
  if (input.shape === null || !weight?.shape || !geometry) return ctx.newTensor(null, input.dtype);
  if (transposed) {
    const requested = asDimList(a.get('output_size'));
    if (requested) {
      const op = outputPaddingFor(name, spatial, input.shape, weight.shape, geometry, requested, ctx);
      if (op) geometry.outputPadding = op;
    }
  }
  const source: SizeArgument = { module: self, argument: 'in_channels', code: 'conv-in-channels' };
  return ctx.newTensor(convOutputShape(name, spatial, input.shape, weight.shape, geometry, transposed, ctx, source), input.dtype);
}

/** F.conv{1,2,3}d / F.conv_transpose{1,2,3}d(input, weight, bias, stride, padding, ...). */
export function functionalConv(spatial: number, transposed: boolean, a: BoundArgs, ctx: CallContext): Value {
  const name = transposed ? `conv_transpose${spatial}d` : `conv${spatial}d`;
  const input = a.get('input');
  const weight = a.get('weight');
  if (!isTensor(input)) return unknownV();
  if (!isTensor(weight) || input.shape === null || weight.shape === null) return ctx.newTensor(null, input.dtype);
  const geometry = readGeometry(name, a, spatial, ctx);
  if (!geometry) return ctx.newTensor(null, input.dtype);
  if (transposed) geometry.outputPadding = ntuple(a.get('output_padding'), spatial) ?? Array(spatial).fill(0);
  const shape = convOutputShape(name, spatial, input.shape, weight.shape, geometry, transposed, ctx);
  if (shape) ctx.addMacs(mul(product(transposed ? input.shape : shape), product(weight.shape.slice(1))));
  return ctx.newTensor(shape, input.dtype);
}

export const functionalConvSignature = "input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1";
export const functionalConvTransposeSignature = 'input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1';

export const convLayers: LayerDef[] = [1, 2, 3].flatMap((n) => [convLayer(n, false), convLayer(n, true)]);
