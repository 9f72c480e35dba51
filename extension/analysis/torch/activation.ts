// Activations and other shape-preserving layers. Their constructor arguments are stored
// as attributes exactly as given (PyTorch does not convert them), and forward returns a
// tensor of the input's shape. MACs: 0 (torchinfo's convention: only weight layers count).
// Softmax-family layers and GLU change shape or need a dim and live here too.
import type { BoundArgs, CallContext, InstanceValue, Value } from '../interp/values';
import { floorDiv, type Dim } from '../shape/dim';
import { asDim, asInt, floatV, isTensor, makeParam, normalizeDim, unknownV } from './args';
import { setAttr, setParam, type LayerDef } from './layer';
import * as msg from './messages';

/** A layer whose attributes are its constructor arguments, stored as given. */
export function elementwiseLayer(name: string, home: string, signature: string, stored: string[] = [], base?: string): LayerDef {
  return {
    name,
    home,
    base,
    signature,
    init(self, a) {
      storeArgs(self, a, stored);
    },
    forward(self, a, ctx) {
      return sameShape(a.get('input'), ctx);
    },
  };
}

export function storeArgs(self: InstanceValue, a: BoundArgs, names: readonly string[]): void {
  for (const n of names) setAttr(self, n, a.get(n) ?? unknownV());
}

/** A new tensor with the input's shape and dtype (what every elementwise op returns). */
export function sameShape(input: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  return ctx.newTensor(input.shape === null ? null : [...input.shape], input.dtype);
}

/** GLU halves `dim`. */
export function gluShape(input: Value | undefined, dim: Dim | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  if (!input.shape) return ctx.newTensor(null, input.dtype);
  const d = normalizeDim(dim, input.shape.length);
  if (d === undefined) {
    ctx.diagnostic('error', msg.dimOutOfRange('glu', dim ?? -1, input.shape.length));
    return ctx.newTensor(null, input.dtype);
  }
  const shape = [...input.shape];
  shape[d] = floorDiv(shape[d], 2);
  return ctx.newTensor(shape, input.dtype);
}

const inplace = 'inplace=False';

export const activationLayers: LayerDef[] = [
  elementwiseLayer('ReLU', 'activation', inplace, ['inplace']),
  elementwiseLayer('SELU', 'activation', inplace, ['inplace']),
  elementwiseLayer('SiLU', 'activation', inplace, ['inplace']),
  elementwiseLayer('Mish', 'activation', inplace, ['inplace']),
  elementwiseLayer('Hardswish', 'activation', inplace, ['inplace']),
  elementwiseLayer('Hardsigmoid', 'activation', inplace, ['inplace']),
  elementwiseLayer('LeakyReLU', 'activation', 'negative_slope=0.01, inplace=False', ['negative_slope', 'inplace']),
  elementwiseLayer('ELU', 'activation', 'alpha=1.0, inplace=False', ['alpha', 'inplace']),
  elementwiseLayer('CELU', 'activation', 'alpha=1.0, inplace=False', ['alpha', 'inplace']),
  elementwiseLayer('GELU', 'activation', "approximate='none'", ['approximate']),
  elementwiseLayer('Softplus', 'activation', 'beta=1.0, threshold=20.0', ['beta', 'threshold']),
  elementwiseLayer('Threshold', 'activation', 'threshold, value, inplace=False', ['threshold', 'value', 'inplace']),
  elementwiseLayer('Hardshrink', 'activation', 'lambd=0.5', ['lambd']),
  elementwiseLayer('Softshrink', 'activation', 'lambd=0.5', ['lambd']),
  elementwiseLayer('RReLU', 'activation', 'lower=0.125, upper=0.3333333333333333, inplace=False', ['lower', 'upper', 'inplace']),
  ...['Sigmoid', 'Tanh', 'Softsign', 'Tanhshrink', 'LogSigmoid', 'Softmax2d'].map((n) => elementwiseLayer(n, 'activation', '*args, **kwargs')),
  ...['Softmax', 'LogSoftmax', 'Softmin'].map((n) => elementwiseLayer(n, 'activation', 'dim=None', ['dim'])),
  {
    name: 'Hardtanh',
    home: 'activation',
    signature: 'min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None',
    init(self, a) {
      // The deprecated min_value/max_value win when given, as in PyTorch.
      const minValue = a.get('min_value');
      const maxValue = a.get('max_value');
      setAttr(self, 'min_val', minValue && minValue.kind !== 'none' ? minValue : a.get('min_val') ?? floatV(-1));
      setAttr(self, 'max_val', maxValue && maxValue.kind !== 'none' ? maxValue : a.get('max_val') ?? floatV(1));
      setAttr(self, 'inplace', a.get('inplace') ?? unknownV());
    },
    forward(self, a, ctx) {
      return sameShape(a.get('input'), ctx);
    },
  },
  {
    name: 'ReLU6',
    home: 'activation',
    base: 'Hardtanh',
    signature: inplace,
    init(self, a) {
      setAttr(self, 'min_val', floatV(0));
      setAttr(self, 'max_val', floatV(6));
      setAttr(self, 'inplace', a.get('inplace') ?? unknownV());
    },
    forward(self, a, ctx) {
      return sameShape(a.get('input'), ctx);
    },
  },
  {
    name: 'PReLU',
    home: 'activation',
    signature: 'num_parameters=1, init=0.25, device=None, dtype=None',
    init(self, a, ctx) {
      storeArgs(self, a, ['num_parameters', 'init']);
      const n = asDim(a.get('num_parameters'));
      setParam(self, 'weight', makeParam(ctx, n === undefined ? null : [n]));
    },
    forward(self, a, ctx) {
      return sameShape(a.get('input'), ctx);
    },
  },
  {
    name: 'GLU',
    home: 'activation',
    signature: 'dim=-1',
    init(self, a) {
      storeArgs(self, a, ['dim']);
    },
    forward(self, a, ctx) {
      return gluShape(a.get('input'), asInt(self.attrs.get('dim')), ctx);
    },
  },
];
