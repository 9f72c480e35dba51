// Pooling: max/avg (ceil_mode, dilation, return_indices, count_include_pad), adaptive
// avg/max (None keeps a size), max-unpool (output_size), LP pooling and fractional max
// pooling; the module and F.* forms share `poolOutputShape`.
// MACs: 0 for every pooling layer (torchinfo's convention; pooling has no weights).
import type { BoundArgs, CallContext, Value } from '../interp/values';
import { add, constValue, floorMulRatio, mul, sub, type Dim, type Shape } from '../shape/dim';
import {
  NONE, asBool, asDim, asDimList, asNumber, asSequence, dimsTuple, floatV, isNone, isTensor, ntuple, ntupleExact, shapeOf, tupleV, unknownV,
} from './args';
import { slidingOutputSize } from './conv';
import { setAttr, setBuffer, type LayerDef } from './layer';
import { storeArgs } from './activation';
import * as msg from './messages';

/** Spatial output of a sliding-window pool over the last `n` dims; null when unknown. */
export function poolOutputShape(
  layer: string,
  n: number,
  input: Shape,
  kernel: Dim[],
  stride: Dim[],
  padding: Dim[],
  dilation: Dim[],
  ceilMode: boolean,
  ctx: CallContext,
): Shape | null {
  if (input.length !== n + 1 && input.length !== n + 2) {
    ctx.diagnostic('error', msg.rankMismatch(layer, `${n + 1}D or ${n + 2}D`, input));
    return null;
  }
  const lead = input.slice(0, input.length - n);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const x = input[input.length - n + i];
    const k = kernel[i] ?? kernel[0];
    const s = stride[i] ?? stride[0];
    const p = padding[i] ?? padding[0];
    const d = dilation[i] ?? dilation[0];
    const kc = constValue(k);
    const pc = constValue(p);
    if (kc !== undefined && pc !== undefined && pc * 2 > kc) {
      ctx.diagnostic('error', msg.badArguments(layer, `pad should be at most half of effective kernel size, but got pad=${pc}, kernel_size=${kc}`));
    }
    const size = slidingOutputSize(x, k, s, p, d, ceilMode);
    const c = constValue(size);
    if (c !== undefined && c <= 0) ctx.diagnostic('error', msg.outputNotPositive(layer, x, add(mul(d, sub(k, 1)), 1), p, s, size, ceilMode));
    out.push(size);
  }
  return [...lead, ...out];
}

function withIndices(out: Value, returnIndices: boolean | undefined, ctx: CallContext): Value {
  if (!returnIndices || out.kind !== 'tensor') return out;
  return tupleV([out, ctx.newTensor(out.shape === null ? null : [...out.shape], 'int64')]);
}

interface PoolArgs {
  kernel: Value | undefined;
  stride: Value | undefined;
  padding: Value | undefined;
  dilation: Value | undefined;
  ceilMode: Value | undefined;
}

function slidingPool(layer: string, n: number, input: Value | undefined, p: PoolArgs, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  const kernel = ntupleExact(p.kernel, n);
  // stride=None (or an empty list, which F.max_pool2d also accepts) means stride = kernel.
  const strideSeq = asSequence(p.stride);
  const stride = isNone(p.stride) || (strideSeq && strideSeq.length === 0) ? kernel : ntupleExact(p.stride, n);
  const padding = p.padding === undefined ? Array(n).fill(0) : ntupleExact(p.padding, n);
  const dilation = p.dilation === undefined ? Array(n).fill(1) : ntupleExact(p.dilation, n);
  const ceil = asBool(p.ceilMode) ?? false;
  if (!input.shape || !kernel || !stride || !padding || !dilation) return ctx.newTensor(null, input.dtype);
  return ctx.newTensor(poolOutputShape(layer, n, input.shape, kernel, stride, padding, dilation, ceil, ctx), input.dtype);
}

/** Adaptive pools: each output size is given, or None to keep the input's. */
export function adaptivePool(layer: string, n: number, input: Value | undefined, outputSize: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  if (!input.shape) return ctx.newTensor(null, input.dtype);
  if (input.shape.length !== n + 1 && input.shape.length !== n + 2) {
    ctx.diagnostic('error', msg.rankMismatch(layer, `${n + 1}D or ${n + 2}D`, input.shape));
    return ctx.newTensor(null, input.dtype);
  }
  const single = asDim(outputSize);
  const items = asSequence(outputSize);
  const lead = input.shape.slice(0, input.shape.length - n);
  const spatial = input.shape.slice(input.shape.length - n);
  const out: Dim[] = [];
  if (single === undefined && items?.length !== n) return ctx.newTensor(null, input.dtype);
  for (let i = 0; i < n; i++) {
    const item = single !== undefined ? outputSize : items?.[i];
    if (item === undefined) return ctx.newTensor(null, input.dtype);
    if (item.kind === 'none') out.push(spatial[i]);
    else {
      const d = asDim(item);
      if (d === undefined) return ctx.newTensor(null, input.dtype);
      out.push(d);
    }
  }
  return ctx.newTensor([...lead, ...out], input.dtype);
}

/** MaxUnpool: (x − 1)·s − 2p + k, or the requested output_size. */
export function maxUnpool(layer: string, n: number, input: Value | undefined, kernelV: Value | undefined, strideV: Value | undefined, paddingV: Value | undefined, outputSize: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  if (!input.shape) return ctx.newTensor(null, input.dtype);
  const lead = input.shape.slice(0, input.shape.length - n);
  const requested = asDimList(outputSize);
  if (requested) {
    const spatial = requested.slice(requested.length - n);
    return ctx.newTensor([...lead, ...spatial], input.dtype);
  }
  const kernel = ntupleExact(kernelV, n);
  const stride = isNone(strideV) ? kernel : ntupleExact(strideV, n);
  const padding = ntupleExact(paddingV, n);
  if (!kernel || !stride || !padding) return ctx.newTensor(null, input.dtype);
  const spatial = input.shape.slice(input.shape.length - n).map((x, i) => add(sub(mul(sub(x, 1), stride[i]), mul(2, padding[i])), kernel[i]));
  return ctx.newTensor([...lead, ...spatial], input.dtype);
}

function fractionalMaxPool(layer: string, n: number, input: Value | undefined, outputSize: Value | undefined, outputRatio: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  if (!input.shape) return ctx.newTensor(null, input.dtype);
  const lead = input.shape.slice(0, input.shape.length - n);
  const spatial = input.shape.slice(input.shape.length - n);
  const sizes = ntupleExact(outputSize, n);
  if (sizes) return ctx.newTensor([...lead, ...sizes], input.dtype);
  const ratios = asSequence(outputRatio)?.map(asNumber) ?? Array(n).fill(asNumber(outputRatio));
  if (ratios.length !== n || ratios.some((r) => r === undefined) || spatial.length !== n) return ctx.newTensor(null, input.dtype);
  return ctx.newTensor([...lead, ...spatial.map((x, i) => floorMulRatio(x, ratios[i]!))], input.dtype);
}

/** Hover arithmetic of a sliding-window pool, from its attributes and the call's shapes. */
function poolArithmetic(n: number, input: Value | undefined, output: Value, p: PoolArgs): string[] {
  const inShape = shapeOf(input);
  const outShape = shapeOf(output.kind === 'tuple' ? output.items[0] : output);
  const kernel = ntupleExact(p.kernel, n);
  const stride = isNone(p.stride) ? kernel : ntupleExact(p.stride, n);
  const padding = p.padding === undefined ? Array(n).fill(0) : ntupleExact(p.padding, n);
  const dilation = p.dilation === undefined ? Array(n).fill(1) : ntupleExact(p.dilation, n);
  if (!inShape || !outShape || !kernel || !stride || !padding || !dilation || inShape.length !== outShape.length || inShape.length < n) return [];
  const ceil = asBool(p.ceilMode) ?? false;
  return msg.spatialNames(n).map((name, i) => {
    const x = inShape[inShape.length - n + i];
    const effective = add(mul(dilation[i], sub(kernel[i], 1)), 1);
    return msg.slidingArithmetic(name, x, kernel[i], dilation[i], padding[i], stride[i], effective, outShape[outShape.length - n + i], ceil);
  });
}

function adaptiveArithmetic(n: number, input: Value | undefined, output: Value): string[] {
  const inShape = shapeOf(input);
  const outShape = shapeOf(output.kind === 'tuple' ? output.items[0] : output);
  if (!inShape || !outShape || inShape.length !== outShape.length || inShape.length < n) return [];
  return msg.spatialNames(n).map((name, i) => msg.adaptiveArithmetic(name, inShape[inShape.length - n + i], outShape[outShape.length - n + i]));
}

function maxPoolLayer(n: number): LayerDef {
  const name = `MaxPool${n}d`;
  return {
    name,
    home: 'pooling',
    signature: 'kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False',
    init(self, a) {
      storeArgs(self, a, ['kernel_size', 'stride', 'padding', 'dilation', 'return_indices', 'ceil_mode']);
      if (isNone(a.get('stride'))) setAttr(self, 'stride', a.get('kernel_size') ?? unknownV());
    },
    forward(self, a, ctx) {
      const at = (k: string): Value | undefined => self.attrs.get(k);
      const out = slidingPool(name, n, a.get('input'), { kernel: at('kernel_size'), stride: at('stride'), padding: at('padding'), dilation: at('dilation'), ceilMode: at('ceil_mode') }, ctx);
      return withIndices(out, asBool(at('return_indices')), ctx);
    },
    arithmetic(self, a, output) {
      const at = (k: string): Value | undefined => self.attrs.get(k);
      return poolArithmetic(n, a.get('input'), output, { kernel: at('kernel_size'), stride: at('stride'), padding: at('padding'), dilation: at('dilation'), ceilMode: at('ceil_mode') });
    },
  };
}

function avgPoolLayer(n: number): LayerDef {
  const name = `AvgPool${n}d`;
  return {
    name,
    home: 'pooling',
    signature:
      n === 1
        ? 'kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True'
        : 'kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None',
    init(self, a) {
      storeArgs(self, a, ['kernel_size', 'stride', 'padding', 'ceil_mode', 'count_include_pad']);
      if (n > 1) storeArgs(self, a, ['divisor_override']);
      if (isNone(a.get('stride'))) setAttr(self, 'stride', a.get('kernel_size') ?? unknownV());
      if (n === 1) {
        // AvgPool1d normalises with _single, the 2d/3d versions keep what was given.
        for (const k of ['kernel_size', 'stride', 'padding']) {
          const t = ntuple(self.attrs.get(k), 1);
          setAttr(self, k, t ? dimsTuple(t) : unknownV());
        }
      }
    },
    forward(self, a, ctx) {
      const at = (k: string): Value | undefined => self.attrs.get(k);
      return slidingPool(name, n, a.get('input'), { kernel: at('kernel_size'), stride: at('stride'), padding: at('padding'), dilation: undefined, ceilMode: at('ceil_mode') }, ctx);
    },
    arithmetic(self, a, output) {
      const at = (k: string): Value | undefined => self.attrs.get(k);
      return poolArithmetic(n, a.get('input'), output, { kernel: at('kernel_size'), stride: at('stride'), padding: at('padding'), dilation: undefined, ceilMode: at('ceil_mode') });
    },
  };
}

function adaptiveLayer(n: number, max: boolean): LayerDef {
  const name = `Adaptive${max ? 'Max' : 'Avg'}Pool${n}d`;
  return {
    name,
    home: 'pooling',
    signature: max ? 'output_size, return_indices=False' : 'output_size',
    init(self, a) {
      storeArgs(self, a, max ? ['output_size', 'return_indices'] : ['output_size']);
    },
    forward(self, a, ctx) {
      const out = adaptivePool(name, n, a.get('input'), self.attrs.get('output_size'), ctx);
      return max ? withIndices(out, asBool(self.attrs.get('return_indices')), ctx) : out;
    },
    arithmetic(self, a, output) {
      return adaptiveArithmetic(n, a.get('input'), output);
    },
  };
}

function maxUnpoolLayer(n: number): LayerDef {
  const name = `MaxUnpool${n}d`;
  return {
    name,
    home: 'pooling',
    signature: 'kernel_size, stride=None, padding=0',
    forwardSignature: 'input, indices, output_size=None',
    init(self, a) {
      const kernel = ntuple(a.get('kernel_size'), n);
      const stride = isNone(a.get('stride')) ? kernel : ntuple(a.get('stride'), n);
      const padding = ntuple(a.get('padding'), n);
      setAttr(self, 'kernel_size', kernel ? dimsTuple(kernel) : unknownV());
      setAttr(self, 'stride', stride ? dimsTuple(stride) : unknownV());
      setAttr(self, 'padding', padding ? dimsTuple(padding) : unknownV());
    },
    forward(self, a, ctx) {
      const at = (k: string): Value | undefined => self.attrs.get(k);
      return maxUnpool(name, n, a.get('input'), at('kernel_size'), at('stride'), at('padding'), a.get('output_size'), ctx);
    },
  };
}

function lpPoolLayer(n: number): LayerDef {
  const name = `LPPool${n}d`;
  return {
    name,
    home: 'pooling',
    signature: 'norm_type, kernel_size, stride=None, ceil_mode=False',
    init(self, a) {
      storeArgs(self, a, ['norm_type', 'kernel_size', 'stride', 'ceil_mode']);
    },
    forward(self, a, ctx) {
      const at = (k: string): Value | undefined => self.attrs.get(k);
      return slidingPool(name, n, a.get('input'), { kernel: at('kernel_size'), stride: at('stride'), padding: undefined, dilation: undefined, ceilMode: at('ceil_mode') }, ctx);
    },
  };
}

function fractionalLayer(n: number): LayerDef {
  const name = `FractionalMaxPool${n}d`;
  return {
    name,
    home: 'pooling',
    signature: 'kernel_size, output_size=None, output_ratio=None, return_indices=False, _random_samples=None',
    init(self, a) {
      const kernel = ntuple(a.get('kernel_size'), n);
      setAttr(self, 'kernel_size', kernel ? dimsTuple(kernel) : unknownV());
      setAttr(self, 'return_indices', a.get('return_indices') ?? unknownV());
      setBuffer(self, '_random_samples', undefined);
      const size = ntuple(a.get('output_size'), n);
      setAttr(self, 'output_size', isNone(a.get('output_size')) ? NONE : size ? dimsTuple(size) : unknownV());
      const ratio = a.get('output_ratio');
      const r = asNumber(ratio);
      setAttr(self, 'output_ratio', r !== undefined ? tupleV(Array.from({ length: n }, () => floatV(r))) : ratio ?? NONE);
    },
    forward(self, a, ctx) {
      const out = fractionalMaxPool(name, n, a.get('input'), self.attrs.get('output_size'), self.attrs.get('output_ratio'), ctx);
      return withIndices(out, asBool(self.attrs.get('return_indices')), ctx);
    },
  };
}

export const poolLayers: LayerDef[] = [
  ...[1, 2, 3].flatMap((n) => [maxPoolLayer(n), avgPoolLayer(n), adaptiveLayer(n, false), adaptiveLayer(n, true), maxUnpoolLayer(n), lpPoolLayer(n)]),
  fractionalLayer(2),
  fractionalLayer(3),
];

// ------------------------------------------------------------------------- F.* forms

export const poolFunctionSignatures = {
  max: 'input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False',
  avg1: 'input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True',
  avg: 'input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None',
  adaptiveAvg: 'input, output_size',
  adaptiveMax: 'input, output_size, return_indices=False',
  unpool: 'input, indices, kernel_size, stride=None, padding=0, output_size=None',
  lp: 'input, norm_type, kernel_size, stride=None, ceil_mode=False',
};

export function functionalMaxPool(n: number, a: BoundArgs, ctx: CallContext, forceIndices = false): Value {
  const out = slidingPool(`max_pool${n}d`, n, a.get('input'), { kernel: a.get('kernel_size'), stride: a.get('stride'), padding: a.get('padding'), dilation: a.get('dilation'), ceilMode: a.get('ceil_mode') }, ctx);
  return withIndices(out, forceIndices || asBool(a.get('return_indices')), ctx);
}

export function functionalAvgPool(n: number, a: BoundArgs, ctx: CallContext): Value {
  return slidingPool(`avg_pool${n}d`, n, a.get('input'), { kernel: a.get('kernel_size'), stride: a.get('stride'), padding: a.get('padding'), dilation: undefined, ceilMode: a.get('ceil_mode') }, ctx);
}

export function functionalLpPool(n: number, a: BoundArgs, ctx: CallContext): Value {
  return slidingPool(`lp_pool${n}d`, n, a.get('input'), { kernel: a.get('kernel_size'), stride: a.get('stride'), padding: undefined, dilation: undefined, ceilMode: a.get('ceil_mode') }, ctx);
}

export function functionalAdaptive(n: number, max: boolean, a: BoundArgs, ctx: CallContext, forceIndices = false): Value {
  const out = adaptivePool(`adaptive_${max ? 'max' : 'avg'}_pool${n}d`, n, a.get('input'), a.get('output_size'), ctx);
  return max ? withIndices(out, forceIndices || asBool(a.get('return_indices')), ctx) : out;
}

export function functionalUnpool(n: number, a: BoundArgs, ctx: CallContext): Value {
  return maxUnpool(`max_unpool${n}d`, n, a.get('input'), a.get('kernel_size'), a.get('stride'), a.get('padding'), a.get('output_size'), ctx);
}
