// RNN / LSTM / GRU (num_layers, bidirectional, batch_first, proj_size, bias, unbatched
// input) and RNNCell / LSTMCell / GRUCell, with PyTorch's parameter names and order
// (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, weight_hr_l0, then _reverse).
// MACs (torch's flop counter does not see the fused CPU kernels, so this is our own
// convention, documented): per time step and batch element, for every layer and
// direction, gates × hidden × (layer input + hidden state) for the two matmuls, plus
// proj_size × hidden for LSTM projections. Gate nonlinearities and bias adds are not counted.
import type { CallContext, InstanceValue, TensorValue, Value } from '../interp/values';
import type { CatalogEnv } from './env';
import { add, mul, product, type Dim } from '../shape/dim';
import { asBool, asDim, asInt, asNumber, asStr, floatV, intV, isTensor, knownShape, makeParam, strV, tupleV, unknownV } from './args';
import { requireDim } from './check';
import { storeArgs } from './activation';
import { setAttr, setParam, type LayerDef } from './layer';
import * as msg from './messages';

type Mode = 'LSTM' | 'GRU' | 'RNN';
const GATES: Record<Mode, number> = { LSTM: 4, GRU: 3, RNN: 1 };

interface RnnConfig {
  mode: Mode;
  input: Dim;
  hidden: Dim;
  layers: number;
  bias: boolean;
  batchFirst: boolean;
  directions: number;
  proj: Dim;
}

function readConfig(self: InstanceValue, mode: Mode): RnnConfig | undefined {
  const at = (k: string): Value | undefined => self.attrs.get(k);
  const input = asDim(at('input_size'));
  const hidden = asDim(at('hidden_size'));
  const layers = asInt(at('num_layers'));
  if (input === undefined || hidden === undefined || layers === undefined) return undefined;
  return {
    mode,
    input,
    hidden,
    layers,
    bias: asBool(at('bias')) ?? true,
    batchFirst: asBool(at('batch_first')) ?? false,
    directions: asBool(at('bidirectional')) ? 2 : 1,
    proj: asDim(at('proj_size')) ?? 0,
  };
}

function outputSize(c: RnnConfig): Dim {
  return c.proj !== 0 ? c.proj : c.hidden;
}

function layerInput(c: RnnConfig, layer: number): Dim {
  return layer === 0 ? c.input : mul(outputSize(c), c.directions);
}

/** MACs of one time step for one batch element, all layers and directions. */
function stepMacs(c: RnnConfig): Dim {
  const gates = mul(GATES[c.mode], c.hidden);
  let total: Dim = 0;
  for (let l = 0; l < c.layers; l++) {
    let perDirection = mul(gates, add(layerInput(c, l), outputSize(c)));
    if (c.proj !== 0) perDirection = add(perDirection, mul(c.proj, c.hidden));
    total = add(total, mul(perDirection, c.directions));
  }
  return total;
}

function rnnLayer(mode: Mode, env: CatalogEnv): LayerDef {
  const signature =
    mode === 'RNN'
      ? "input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None"
      : mode === 'LSTM'
        ? 'input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None'
        : 'input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None';
  return {
    name: mode,
    home: 'rnn',
    signature,
    forwardSignature: 'input, hx=None',
    init(self, a, ctx) {
      if (mode === 'RNN') storeArgs(self, a, ['nonlinearity']);
      const nonlinearity = asStr(a.get('nonlinearity')) ?? 'tanh';
      if (mode === 'RNN' && nonlinearity !== 'tanh' && nonlinearity !== 'relu') {
        ctx.diagnostic('error', msg.badArguments('RNN', `unknown nonlinearity '${nonlinearity}'`));
      }
      setAttr(self, 'mode', strV(mode === 'RNN' ? (nonlinearity === 'relu' ? 'RNN_RELU' : 'RNN_TANH') : mode));
      storeArgs(self, a, ['input_size', 'hidden_size', 'num_layers', 'bias', 'batch_first']);
      setAttr(self, 'dropout', floatV(asNumber(a.get('dropout')) ?? 0));
      storeArgs(self, a, ['bidirectional']);
      setAttr(self, 'proj_size', mode === 'LSTM' ? a.get('proj_size') ?? intV(0) : intV(0));
      const c = readConfig(self, mode);
      if (!c) return;
      const gates = mul(GATES[mode], c.hidden);
      for (let l = 0; l < c.layers; l++) {
        for (let d = 0; d < c.directions; d++) {
          const suffix = `_l${l}${d === 1 ? '_reverse' : ''}`;
          setParam(self, `weight_ih${suffix}`, makeParam(ctx, knownShape([gates, layerInput(c, l)])));
          setParam(self, `weight_hh${suffix}`, makeParam(ctx, knownShape([gates, outputSize(c)])));
          if (c.bias) {
            setParam(self, `bias_ih${suffix}`, makeParam(ctx, [gates]));
            setParam(self, `bias_hh${suffix}`, makeParam(ctx, [gates]));
          }
          if (c.proj !== 0) setParam(self, `weight_hr${suffix}`, makeParam(ctx, [c.proj, c.hidden]));
        }
      }
    },
    forward(self, a, ctx) {
      const input = a.get('input');
      const packed = env.packed.unpack(input);
      if (packed && input?.kind === 'instance') return packedForward(mode, self, input, packed, ctx, env);
      if (!isTensor(input)) return unknownV();
      const c = readConfig(self, mode);
      const unknownResult = (): Value => {
        const h = ctx.newTensor(null, input.dtype);
        return tupleV([ctx.newTensor(null, input.dtype), mode === 'LSTM' ? tupleV([h, ctx.newTensor(null, input.dtype)]) : h]);
      };
      if (!c || !input.shape) return unknownResult();
      const s = input.shape;
      if (s.length !== 2 && s.length !== 3) {
        ctx.diagnostic('error', msg.rankMismatch(mode, '2D (unbatched) or 3D', s));
        return unknownResult();
      }
      const features = s[s.length - 1];
      requireDim(ctx, mode, 'input features', c.input, features, () => msg.sizeMismatch(mode, 'input.size(-1) == input_size', c.input, features));
      const batched = s.length === 3;
      const seq = batched ? (c.batchFirst ? s[1] : s[0]) : s[0];
      const batch = batched ? (c.batchFirst ? s[0] : s[1]) : undefined;
      const out = mul(c.directions, outputSize(c));
      const outputShape = batched ? (c.batchFirst ? [batch!, seq, out] : [seq, batch!, out]) : [seq, out];
      const stateShape = (size: Dim): Dim[] => (batched ? [c.directions * c.layers, batch!, size] : [c.directions * c.layers, size]);
      const output = ctx.newTensor(outputShape, input.dtype);
      const h = ctx.newTensor(stateShape(outputSize(c)), input.dtype);
      if (mode === 'LSTM') return tupleV([output, tupleV([h, ctx.newTensor(stateShape(c.hidden), input.dtype)])]);
      return tupleV([output, h]);
    },
    macs(self, a) {
      const given = a.get('input');
      const input = env.packed.unpack(given)?.data ?? given;
      const c = readConfig(self, mode);
      if (!c || !isTensor(input) || !input.shape) return 0;
      // Every time step of every sequence: all dims but the feature dim.
      return mul(product(input.shape.slice(0, -1)), stepMacs(c));
    },
  };
}

/** An RNN over a PackedSequence: packed output with the same batch bookkeeping, padded-size states. */
function packedForward(mode: Mode, self: InstanceValue, input: InstanceValue, packed: NonNullable<ReturnType<CatalogEnv['packed']['unpack']>>, ctx: CallContext, env: CatalogEnv): Value {
  const c = readConfig(self, mode);
  const data = packed.data;
  const batch = packed.batch;
  if (!c || !data.shape || data.shape.length !== 2) {
    const h = ctx.newTensor(null, data.dtype);
    return tupleV([env.packed.withData(input, ctx.newTensor(null, data.dtype)), mode === 'LSTM' ? tupleV([h, ctx.newTensor(null, data.dtype)]) : h]);
  }
  const features = data.shape[1];
  requireDim(ctx, mode, 'input features', c.input, features, () => msg.sizeMismatch(mode, 'input.size(-1) == input_size', c.input, features));
  const output = env.packed.withData(input, ctx.newTensor([data.shape[0], mul(c.directions, outputSize(c))], data.dtype));
  const state = (size: Dim): TensorValue => ctx.newTensor(batch === undefined ? null : [c.directions * c.layers, batch, size], data.dtype);
  const h = state(outputSize(c));
  return tupleV([output, mode === 'LSTM' ? tupleV([h, state(c.hidden)]) : h]);
}

function cellLayer(mode: Mode): LayerDef {
  const name = `${mode}Cell`;
  return {
    name,
    home: 'rnn',
    signature: mode === 'RNN' ? "input_size, hidden_size, bias=True, nonlinearity='tanh', device=None, dtype=None" : 'input_size, hidden_size, bias=True, device=None, dtype=None',
    forwardSignature: 'input, hx=None',
    init(self, a, ctx) {
      storeArgs(self, a, mode === 'RNN' ? ['input_size', 'hidden_size', 'bias', 'nonlinearity'] : ['input_size', 'hidden_size', 'bias']);
      const input = asDim(a.get('input_size'));
      const hidden = asDim(a.get('hidden_size'));
      const gates = hidden === undefined ? undefined : mul(GATES[mode], hidden);
      setParam(self, 'weight_ih', makeParam(ctx, knownShape([gates, input])));
      setParam(self, 'weight_hh', makeParam(ctx, knownShape([gates, hidden])));
      const bias = asBool(a.get('bias')) ?? true;
      setParam(self, 'bias_ih', bias ? makeParam(ctx, knownShape([gates])) : undefined);
      setParam(self, 'bias_hh', bias ? makeParam(ctx, knownShape([gates])) : undefined);
    },
    forward(self, a, ctx) {
      const input = a.get('input');
      if (!isTensor(input)) return unknownV();
      const hidden = asDim(self.attrs.get('hidden_size'));
      const inputSize = asDim(self.attrs.get('input_size'));
      const s = input.shape;
      let shape: Dim[] | null = null;
      if (s && hidden !== undefined) {
        if (s.length !== 1 && s.length !== 2) ctx.diagnostic('error', msg.rankMismatch(name, '1D or 2D', s));
        else {
          if (inputSize !== undefined) {
            const got = s[s.length - 1];
            requireDim(ctx, name, 'input features', inputSize, got, () => msg.sizeMismatch(name, 'input.size(-1) == input_size', inputSize, got));
          }
          shape = s.length === 2 ? [s[0], hidden] : [hidden];
        }
      }
      const h = ctx.newTensor(shape, input.dtype);
      return mode === 'LSTM' ? tupleV([h, ctx.newTensor(shape ? [...shape] : null, input.dtype)]) : h;
    },
    macs(self, a) {
      const input = a.get('input');
      const hidden = asDim(self.attrs.get('hidden_size'));
      const inputSize = asDim(self.attrs.get('input_size'));
      if (!isTensor(input) || !input.shape || hidden === undefined || inputSize === undefined) return 0;
      return mul(product(input.shape.slice(0, -1)), mul(mul(GATES[mode], hidden), add(inputSize, hidden)));
    },
  };
}

export function recurrentLayers(env: CatalogEnv): LayerDef[] {
  return [rnnLayer('RNN', env), rnnLayer('LSTM', env), rnnLayer('GRU', env), cellLayer('RNN'), cellLayer('LSTM'), cellLayer('GRU')];
}
