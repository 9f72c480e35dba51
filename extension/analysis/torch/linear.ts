// Linear, Bilinear, LazyLinear, Identity and NonDynamicallyQuantizableLinear (the
// out_proj child of MultiheadAttention), plus the shape rule F.linear shares.
// MACs: output elements × in_features (batch included); Bilinear: output elements ×
// in1 × in2. Bias adds are not counted.
import type { CallContext, InstanceValue, TensorValue, Value } from '../interp/values';
import { mul, product, type Dim, type Shape } from '../shape/dim';
import { asBool, asDim, intV, isTensor, knownShape, makeParam, shapeOf, unknownV } from './args';
import { lastDimFactors, requireDim, type SizeArgument } from './check';
import { setAttr, setParam, tensorMember, type LayerDef } from './layer';
import * as msg from './messages';
import type { CatalogEnv } from './env';

/** Output shape of `input @ weight.T` for a weight [out, in] (or [in] for a 1-D weight). */
export function linearOutputShape(layer: string, input: TensorValue, weightShape: Shape, ctx: CallContext, source?: SizeArgument): Shape | null {
  if (input.shape === null) return null;
  if (input.shape.length === 0) {
    ctx.diagnostic('error', msg.rankMismatch(layer, 'at least 1D', input.shape));
    return null;
  }
  const inFeatures = weightShape[weightShape.length - 1];
  const got = input.shape[input.shape.length - 1];
  requireDim(ctx, layer, 'input features', inFeatures, got, () => msg.featureMismatch(layer, inFeatures, got, lastDimFactors(input)), source);
  const lead = input.shape.slice(0, -1);
  return weightShape.length === 2 ? [...lead, weightShape[0]] : lead;
}

export function linearLayers(env: CatalogEnv): LayerDef[] {
  const linear = (name: string, base?: string): LayerDef => ({
    name,
    home: 'linear',
    base,
    signature: 'in_features, out_features, bias=True, device=None, dtype=None',
    init(self, a, ctx) {
      const inF = asDim(a.get('in_features'));
      const outF = asDim(a.get('out_features'));
      setAttr(self, 'in_features', inF === undefined ? unknownV() : intV(inF));
      setAttr(self, 'out_features', outF === undefined ? unknownV() : intV(outF));
      setParam(self, 'weight', makeParam(ctx, knownShape([outF, inF])));
      setParam(self, 'bias', asBool(a.get('bias')) === false ? undefined : makeParam(ctx, knownShape([outF])));
    },
    forward(self, a, ctx) {
      return linearForward(name, self, a.get('input'), ctx);
    },
    macs(self, a, output) {
      return linearMacs(tensorMember(self, 'weight'), output);
    },
  });
  return [
    linear('Linear'),
    linear('NonDynamicallyQuantizableLinear', 'Linear'),
    {
      name: 'LazyLinear',
      home: 'linear',
      signature: 'out_features, bias=True, device=None, dtype=None',
      init(self, a, ctx) {
        const outF = asDim(a.get('out_features'));
        setAttr(self, 'in_features', intV(0));
        setAttr(self, 'out_features', outF === undefined ? unknownV() : intV(outF));
        setParam(self, 'weight', makeParam(ctx, null));
        setParam(self, 'bias', asBool(a.get('bias')) === false ? undefined : makeParam(ctx, null));
      },
      forward(self, a, ctx) {
        const input = a.get('input');
        const inF = shapeOf(input)?.at(-1);
        const outF = asDim(self.attrs.get('out_features'));
        // The first call materialises the parameters and turns the module into a Linear,
        // as torch.nn.modules.lazy does (cls_to_become).
        if (tensorMember(self, 'weight')?.shape === null && inF !== undefined) {
          setAttr(self, 'in_features', intV(inF));
          setParam(self, 'weight', makeParam(ctx, knownShape([outF, inF])));
          if (self.module?.params.get('bias')?.kind === 'tensor') setParam(self, 'bias', makeParam(ctx, knownShape([outF])));
          const target = env.classes.get('Linear');
          if (target) self.cls = target;
        }
        return linearForward('LazyLinear', self, input, ctx);
      },
      macs(self, a, output) {
        return linearMacs(tensorMember(self, 'weight'), output);
      },
    },
    {
      name: 'Bilinear',
      home: 'linear',
      signature: 'in1_features, in2_features, out_features, bias=True, device=None, dtype=None',
      forwardSignature: 'input1, input2',
      init(self, a, ctx) {
        const in1 = asDim(a.get('in1_features'));
        const in2 = asDim(a.get('in2_features'));
        const outF = asDim(a.get('out_features'));
        setAttr(self, 'in1_features', in1 === undefined ? unknownV() : intV(in1));
        setAttr(self, 'in2_features', in2 === undefined ? unknownV() : intV(in2));
        setAttr(self, 'out_features', outF === undefined ? unknownV() : intV(outF));
        setParam(self, 'weight', makeParam(ctx, knownShape([outF, in1, in2])));
        setParam(self, 'bias', asBool(a.get('bias')) === false ? undefined : makeParam(ctx, knownShape([outF])));
      },
      forward(self, a, ctx) {
        return bilinearForward('Bilinear', a.get('input1'), a.get('input2'), tensorMember(self, 'weight'), ctx);
      },
      macs(self, a, output) {
        const w = shapeOf(tensorMember(self, 'weight'));
        const out = shapeOf(output);
        return w && out ? mul(product(out), mul(w[1], w[2])) : 0;
      },
    },
    {
      name: 'Identity',
      home: 'linear',
      signature: '*args, **kwargs',
      init() {},
      forward(self, a) {
        return a.get('input') ?? unknownV();
      },
    },
  ];
}

function linearForward(layer: string, self: InstanceValue, input: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  let weightShape = tensorMember(self, 'weight')?.shape ?? null;
  if (!weightShape) {
    // A weight of unknown shape (out_features or in_features not known): so is the output.
    const inF = asDim(self.attrs.get('in_features'));
    const outF = asDim(self.attrs.get('out_features'));
    if (inF === undefined || outF === undefined) return ctx.newTensor(null, input.dtype);
    weightShape = [outF, inF];
  }
  return ctx.newTensor(linearOutputShape(layer, input, weightShape, ctx, { module: self, argument: 'in_features', code: 'linear-in-features' }), input.dtype);
}

function linearMacs(weight: TensorValue | undefined, output: Value): Dim {
  const w = shapeOf(weight);
  const out = shapeOf(output);
  return w && out && w.length === 2 ? mul(product(out), w[1]) : 0;
}

/** Shared by nn.Bilinear and F.bilinear / torch.bilinear: weight [out, in1, in2]. */
export function bilinearForward(layer: string, x1: Value | undefined, x2: Value | undefined, weight: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(x1) || !isTensor(x2)) return unknownV();
  const w = shapeOf(weight);
  if (!x1.shape || !x2.shape || !w || w.length !== 3) return ctx.newTensor(null, x1.dtype);
  const f1 = x1.shape[x1.shape.length - 1];
  const f2 = x2.shape[x2.shape.length - 1];
  requireDim(ctx, layer, 'input1 features', w[1], f1, () => msg.featureMismatch(layer, w[1], f1, undefined));
  requireDim(ctx, layer, 'input2 features', w[2], f2, () => msg.featureMismatch(layer, w[2], f2, undefined));
  return ctx.newTensor([...x1.shape.slice(0, -1), w[0]], x1.dtype);
}

/** F.linear(input, weight, bias=None). */
export function functionalLinear(input: Value | undefined, weight: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  const w = shapeOf(weight);
  if (!w) return ctx.newTensor(null, input.dtype);
  const shape = linearOutputShape('linear', input, w, ctx);
  if (shape) ctx.addMacs(mul(product(shape), w[w.length - 1]));
  return ctx.newTensor(shape, input.dtype);
}
