// MultiheadAttention (kdim/vdim, batch_first, add_bias_kv, add_zero_attn, need_weights,
// average_attn_weights, unbatched input), TransformerEncoderLayer/DecoderLayer,
// TransformerEncoder/Decoder, and F.scaled_dot_product_attention.
// MultiheadAttention has a child (out_proj, a NonDynamicallyQuantizableLinear) that it
// creates through ctx.callValue, like PyTorch; its forward does not call out_proj, so
// its MACs include the output projection: q/k/v projections + QKᵀ + AV + out_proj.
// The Transformer layers call their children through ctx.callValue, so every leaf call
// is recorded as PyTorch's forward hooks would see it.
import type { BoundArgs, CallContext, InstanceValue, Value } from '../interp/values';
import { add, constValue, floorDiv, mul, product, type Dim, type Shape } from '../shape/dim';
import {
  NONE, sig, asBool, asDim, asInt, asStr, boolV, intV, isNone, isTensor, knownShape, makeParam, shapeOf, unknownV,
} from './args';
import { broadcastShapes } from './broadcast';
import { requireDim } from './check';
import { storeArgs } from './activation';
import type { CatalogEnv } from './env';
import { initArgsOf, setAttr, setParam, state, tensorMember, type LayerDef } from './layer';
import * as msg from './messages';
import { elementwiseBinary } from './tensorOps';

function child(env: CatalogEnv, ctx: CallContext, className: string, args: Value[], kwargs: [string, Value][] = []): InstanceValue | undefined {
  const cls = env.classes.get(className);
  if (!cls) return undefined;
  const inst = ctx.callValue(cls, args, new Map(kwargs));
  return inst.kind === 'instance' ? inst : undefined;
}

function addChild(self: InstanceValue, name: string, inst: InstanceValue | undefined): void {
  state(self).children.set(name, inst ?? NONE);
}

function callChild(self: InstanceValue, name: string, args: Value[], ctx: CallContext, kwargs: [string, Value][] = []): Value {
  const c = self.module?.children.get(name) ?? self.attrs.get(name);
  if (!c || c.kind === 'none') return unknownV();
  return ctx.callValue(c, args, new Map(kwargs));
}

function first(v: Value): Value {
  return v.kind === 'tuple' ? v.items[0] ?? unknownV() : v;
}

// ---------------------------------------------------------------- MultiheadAttention

interface MhaConfig {
  embed: Dim;
  kdim: Dim;
  vdim: Dim;
  heads: Dim;
  batchFirst: boolean;
  extraKeys: number;
}

function mhaConfig(self: InstanceValue): MhaConfig | undefined {
  const at = (k: string): Value | undefined => self.attrs.get(k);
  const embed = asDim(at('embed_dim'));
  const kdim = asDim(at('kdim'));
  const vdim = asDim(at('vdim'));
  const heads = asDim(at('num_heads'));
  if (embed === undefined || kdim === undefined || vdim === undefined || heads === undefined) return undefined;
  const extraKeys = (tensorMember(self, 'bias_k') ? 1 : 0) + (asBool(at('add_zero_attn')) ? 1 : 0);
  return { embed, kdim, vdim, heads, batchFirst: asBool(at('batch_first')) ?? false, extraKeys };
}

/** (batched?, L or S, N) of an attention input in the module's layout. */
function seqBatch(shape: Shape, batchFirst: boolean): { seq: Dim; batch: Dim | undefined } {
  if (shape.length === 2) return { seq: shape[0], batch: undefined };
  return batchFirst ? { seq: shape[1], batch: shape[0] } : { seq: shape[0], batch: shape[1] };
}

function mhaForward(self: InstanceValue, a: BoundArgs, ctx: CallContext): Value {
  const q = a.get('query');
  const k = a.get('key');
  const v = a.get('value');
  const c = mhaConfig(self);
  if (!isTensor(q)) return unknownV();
  const needWeights = asBool(a.get('need_weights')) ?? true;
  const unknownResult = (): Value => ({ kind: 'tuple', items: [ctx.newTensor(null, q.dtype), needWeights ? ctx.newTensor(null, q.dtype) : NONE] });
  if (!c || !q.shape || !isTensor(k) || !k.shape || !isTensor(v) || !v.shape) return unknownResult();
  if (q.shape.length !== 2 && q.shape.length !== 3) {
    ctx.diagnostic('error', msg.rankMismatch('MultiheadAttention', '2D (unbatched) or 3D query', q.shape));
    return unknownResult();
  }
  const layer = 'MultiheadAttention';
  const qE = q.shape[q.shape.length - 1];
  const kE = k.shape[k.shape.length - 1];
  const vE = v.shape[v.shape.length - 1];
  requireDim(ctx, layer, 'query embedding', c.embed, qE, () => msg.sizeMismatch(layer, 'query embedding size (embed_dim)', c.embed, qE));
  requireDim(ctx, layer, 'key embedding', c.kdim, kE, () => msg.sizeMismatch(layer, 'key embedding size (kdim)', c.kdim, kE));
  requireDim(ctx, layer, 'value embedding', c.vdim, vE, () => msg.sizeMismatch(layer, 'value embedding size (vdim)', c.vdim, vE));
  const { seq: L, batch } = seqBatch(q.shape, c.batchFirst);
  const { seq: S } = seqBatch(k.shape, c.batchFirst);
  const output = ctx.newTensor([...q.shape.slice(0, -1), c.embed], q.dtype);
  if (!needWeights) return { kind: 'tuple', items: [output, NONE] };
  const keys = add(S, c.extraKeys);
  const average = asBool(a.get('average_attn_weights')) ?? true;
  const tail = average ? [L, keys] : [c.heads, L, keys];
  return { kind: 'tuple', items: [output, ctx.newTensor(batch === undefined ? tail : [batch, ...tail], q.dtype)] };
}

function mhaMacs(self: InstanceValue, a: BoundArgs): Dim {
  const c = mhaConfig(self);
  const q = shapeOf(a.get('query'));
  const k = shapeOf(a.get('key'));
  if (!c || !q || !k || (q.length !== 2 && q.length !== 3)) return 0;
  const { seq: L, batch } = seqBatch(q, c.batchFirst);
  const { seq: S } = seqBatch(k, c.batchFirst);
  const n = batch ?? 1;
  const projections = add(add(mul(mul(L, c.embed), c.embed), mul(mul(S, c.embed), c.kdim)), mul(mul(S, c.embed), c.vdim));
  const attention = mul(2, mul(mul(L, add(S, c.extraKeys)), c.embed)); // heads × head_dim = embed
  const outProj = mul(mul(L, c.embed), c.embed);
  return mul(n, add(add(projections, attention), outProj));
}

function multiheadAttention(env: CatalogEnv): LayerDef {
  return {
    name: 'MultiheadAttention',
    home: 'activation',
    signature: 'embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None, dtype=None',
    forwardSignature: 'query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False',
    init(self, a, ctx) {
      const embed = asDim(a.get('embed_dim'));
      const heads = asDim(a.get('num_heads'));
      const kdim = isNone(a.get('kdim')) ? embed : asDim(a.get('kdim'));
      const vdim = isNone(a.get('vdim')) ? embed : asDim(a.get('vdim'));
      setAttr(self, 'embed_dim', embed === undefined ? unknownV() : intV(embed));
      setAttr(self, 'kdim', kdim === undefined ? unknownV() : intV(kdim));
      setAttr(self, 'vdim', vdim === undefined ? unknownV() : intV(vdim));
      const same = embed !== undefined && kdim !== undefined && vdim !== undefined && constValue(kdim) === constValue(embed) && constValue(vdim) === constValue(embed) && constValue(embed) !== undefined;
      setAttr(self, '_qkv_same_embed_dim', boolV(same));
      storeArgs(self, a, ['num_heads', 'dropout', 'batch_first']);
      const e = embed === undefined ? undefined : constValue(embed);
      const h = heads === undefined ? undefined : constValue(heads);
      if (e !== undefined && h !== undefined && h > 0 && e % h !== 0) ctx.diagnostic('error', msg.badArguments('MultiheadAttention', `embed_dim (${e}) must be divisible by num_heads (${h})`));
      setAttr(self, 'head_dim', embed !== undefined && heads !== undefined ? intV(floorDiv(embed, heads)) : unknownV());
      if (same) {
        setParam(self, 'in_proj_weight', makeParam(ctx, knownShape([embed === undefined ? undefined : mul(3, embed), embed])));
        for (const n of ['q_proj_weight', 'k_proj_weight', 'v_proj_weight']) setParam(self, n, undefined);
      } else {
        setParam(self, 'q_proj_weight', makeParam(ctx, knownShape([embed, embed])));
        setParam(self, 'k_proj_weight', makeParam(ctx, knownShape([embed, kdim])));
        setParam(self, 'v_proj_weight', makeParam(ctx, knownShape([embed, vdim])));
        setParam(self, 'in_proj_weight', undefined);
      }
      const bias = asBool(a.get('bias')) ?? true;
      setParam(self, 'in_proj_bias', bias ? makeParam(ctx, knownShape([embed === undefined ? undefined : mul(3, embed)])) : undefined);
      addChild(self, 'out_proj', child(env, ctx, 'NonDynamicallyQuantizableLinear', [embed === undefined ? unknownV() : intV(embed), embed === undefined ? unknownV() : intV(embed)], [['bias', boolV(bias)]]));
      if (asBool(a.get('add_bias_kv'))) {
        setParam(self, 'bias_k', makeParam(ctx, knownShape([1, 1, embed])));
        setParam(self, 'bias_v', makeParam(ctx, knownShape([1, 1, embed])));
      } else {
        setAttr(self, 'bias_k', NONE);
        setAttr(self, 'bias_v', NONE);
      }
      storeArgs(self, a, ['add_zero_attn']);
    },
    forward: mhaForward,
    macs: mhaMacs,
  };
}

// ---------------------------------------------------------------------- Transformers

function activationValue(env: CatalogEnv, v: Value | undefined): { fn: Value; code: number } {
  const name = asStr(v);
  if (name === 'relu' || name === 'gelu') return { fn: env.functional(name), code: name === 'relu' ? 1 : 2 };
  if (v?.kind === 'builtin' && (v.name === 'relu' || v.name === 'gelu')) return { fn: v, code: v.name === 'relu' ? 1 : 2 };
  return { fn: v ?? env.functional('relu'), code: 0 };
}

function transformerLayer(env: CatalogEnv, decoder: boolean): LayerDef {
  const name = decoder ? 'TransformerDecoderLayer' : 'TransformerEncoderLayer';
  return {
    name,
    home: 'transformer',
    signature: sig('d_model, nhead, dim_feedforward=2048, dropout=0.1, activation, layer_norm_eps=1e-05, batch_first=False, norm_first=False, bias=True, device=None, dtype=None', {
      activation: env.functional('relu'),
    }),
    forwardSignature: decoder
      ? 'tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False'
      : 'src, src_mask=None, src_key_padding_mask=None, is_causal=False',
    init(self, a, ctx) {
      const g = (k: string): Value => a.get(k) ?? unknownV();
      const attnKw: [string, Value][] = [['dropout', g('dropout')], ['bias', g('bias')], ['batch_first', g('batch_first')]];
      addChild(self, 'self_attn', child(env, ctx, 'MultiheadAttention', [g('d_model'), g('nhead')], attnKw));
      if (decoder) addChild(self, 'multihead_attn', child(env, ctx, 'MultiheadAttention', [g('d_model'), g('nhead')], attnKw));
      addChild(self, 'linear1', child(env, ctx, 'Linear', [g('d_model'), g('dim_feedforward')], [['bias', g('bias')]]));
      addChild(self, 'dropout', child(env, ctx, 'Dropout', [g('dropout')]));
      addChild(self, 'linear2', child(env, ctx, 'Linear', [g('dim_feedforward'), g('d_model')], [['bias', g('bias')]]));
      setAttr(self, 'norm_first', g('norm_first'));
      const normKw: [string, Value][] = [['eps', g('layer_norm_eps')], ['bias', g('bias')]];
      const norms = decoder ? 3 : 2;
      for (let i = 1; i <= norms; i++) addChild(self, `norm${i}`, child(env, ctx, 'LayerNorm', [g('d_model')], normKw));
      for (let i = 1; i <= norms; i++) addChild(self, `dropout${i}`, child(env, ctx, 'Dropout', [g('dropout')]));
      const activation = activationValue(env, a.get('activation'));
      if (!decoder) setAttr(self, 'activation_relu_or_gelu', intV(activation.code));
      // A module passed as activation becomes a child, like any module attribute.
      if (activation.fn.kind === 'instance' && activation.fn.cls.isModule) addChild(self, 'activation', activation.fn);
      else setAttr(self, 'activation', activation.fn);
    },
    forward(self, a, ctx) {
      const x0 = a.get(decoder ? 'tgt' : 'src');
      if (!isTensor(x0)) return unknownV();
      const normFirst = asBool(self.attrs.get('norm_first')) ?? false;
      const memory = a.get('memory') ?? NONE;
      // The residual sums go through torch.add so that the forward graph records them (the memory
      // model needs the new tensor each makes, which the next LayerNorm keeps).
      const add = env.torchFunction('add');
      const plus = (x: Value, y: Value): Value => (add.kind === 'builtin' ? ctx.callValue(add, [x, y]) : elementwiseBinary('+', x, y, ctx, 'promote'));
      const attention = (child: string, x: Value, kv: Value, dropout: string): Value =>
        callChild(self, dropout, [first(callChild(self, child, [x, kv, kv], ctx, [['need_weights', boolV(false)]]))], ctx);
      const feedForward = (x: Value): Value => {
        const activation = self.module?.children.get('activation') ?? self.attrs.get('activation') ?? env.functional('relu');
        const callable = ['builtin', 'function', 'instance', 'class'].includes(activation.kind);
        const hidden = callable ? ctx.callValue(activation, [callChild(self, 'linear1', [x], ctx)]) : unknownV();
        return callChild(self, `dropout${decoder ? 3 : 2}`, [callChild(self, 'linear2', [callChild(self, 'dropout', [hidden], ctx)], ctx)], ctx);
      };
      let x: Value = x0;
      const n = (i: number, v: Value): Value => callChild(self, `norm${i}`, [v], ctx);
      if (normFirst) {
        // PyTorch normalises once and feeds the result as query, key and value.
        const normed = n(1, x);
        x = plus(x, attention('self_attn', normed, normed, 'dropout1'));
        if (decoder) x = plus(x, attention('multihead_attn', n(2, x), memory, 'dropout2'));
        x = plus(x, feedForward(n(decoder ? 3 : 2, x)));
      } else {
        x = n(1, plus(x, attention('self_attn', x, x, 'dropout1')));
        if (decoder) x = n(2, plus(x, attention('multihead_attn', x, memory, 'dropout2')));
        x = n(decoder ? 3 : 2, plus(x, feedForward(x)));
      }
      return x;
    },
  };
}

/** TransformerEncoder/Decoder: `layers` holds num_layers clones of the given layer. */
function transformerStack(env: CatalogEnv, decoder: boolean): LayerDef {
  const name = decoder ? 'TransformerDecoder' : 'TransformerEncoder';
  return {
    name,
    home: 'transformer',
    signature: decoder ? 'decoder_layer, num_layers, norm=None' : 'encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True',
    forwardSignature: decoder
      ? 'tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False'
      : 'src, mask=None, src_key_padding_mask=None, is_causal=None',
    init(self, a, ctx) {
      const layer = a.get(decoder ? 'decoder_layer' : 'encoder_layer');
      const count = asInt(a.get('num_layers'));
      const clones: Value[] = [];
      if (layer?.kind === 'instance' && count !== undefined) {
        // copy.deepcopy of a catalog layer = the same constructor call again; a layer the
        // catalog did not build is shared (its parameters then count once, not num_layers times).
        const args = initArgsOf(layer);
        // A catalog module among the arguments (activation=nn.GELU()) is deep-copied too: each
        // clone owns its own, so hooks name it under every layer.
        const copied = (v: Value): Value => {
          const own = v.kind === 'instance' ? initArgsOf(v) : undefined;
          return own && v.kind === 'instance' ? ctx.callValue(v.cls, [], new Map([...own].filter(([k]) => k !== 'args' && k !== 'kwargs'))) : v;
        };
        for (let i = 0; i < count; i++) {
          clones.push(args ? ctx.callValue(layer.cls, [], new Map([...args].filter(([k]) => k !== 'args' && k !== 'kwargs').map(([k, v]) => [k, copied(v)]))) : layer);
        }
      }
      const container = env.containerClass('ModuleList');
      const list = container ? ctx.callValue(container, [{ kind: 'list', items: clones }]) : undefined;
      addChild(self, 'layers', list?.kind === 'instance' ? list : undefined);
      storeArgs(self, a, ['num_layers']);
      const norm = a.get('norm');
      if (norm?.kind === 'instance') addChild(self, 'norm', norm);
      else setAttr(self, 'norm', NONE);
      if (!decoder) {
        storeArgs(self, a, ['enable_nested_tensor']);
        let nested = asBool(a.get('enable_nested_tensor')) ?? true;
        if (layer?.kind === 'instance') {
          const attn = layer.module?.children.get('self_attn');
          const attnAttrs = attn?.kind === 'instance' ? attn.attrs : new Map<string, Value>();
          const heads = asInt(attnAttrs.get('num_heads'));
          if (
            layer.cls.name !== 'TransformerEncoderLayer' ||
            asBool(layer.attrs.get('norm_first')) ||
            !asBool(attnAttrs.get('batch_first')) ||
            !asBool(attnAttrs.get('_qkv_same_embed_dim')) ||
            (heads !== undefined && heads % 2 === 1) ||
            asInt(layer.attrs.get('activation_relu_or_gelu')) === 0
          ) {
            nested = false;
          }
        }
        setAttr(self, 'use_nested_tensor', boolV(nested));
        storeArgs(self, a, ['mask_check']);
      }
    },
    forward(self, a, ctx) {
      let x: Value = a.get(decoder ? 'tgt' : 'src') ?? unknownV();
      const list = self.module?.children.get('layers');
      if (list?.kind !== 'instance') return isTensor(x) ? ctx.newTensor(null, x.dtype) : unknownV();
      for (const layer of list.module?.children.values() ?? []) {
        if (layer.kind !== 'instance') continue;
        x = decoder ? ctx.callValue(layer, [x, a.get('memory') ?? NONE]) : ctx.callValue(layer, [x]);
      }
      const norm = self.module?.children.get('norm');
      if (norm?.kind === 'instance') x = ctx.callValue(norm, [x]);
      return x;
    },
  };
}

/** nn.Transformer: an encoder and a decoder stack, each with a final LayerNorm. */
function transformer(env: CatalogEnv): LayerDef {
  return {
    name: 'Transformer',
    home: 'transformer',
    signature: sig('d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048, dropout=0.1, activation, custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-05, batch_first=False, norm_first=False, bias=True, device=None, dtype=None', {
      activation: env.functional('relu'),
    }),
    forwardSignature: 'src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None, memory_is_causal=False',
    init(self, a, ctx) {
      const g = (k: string): Value => a.get(k) ?? unknownV();
      const layerKw: [string, Value][] = ['dim_feedforward', 'dropout', 'activation', 'layer_norm_eps', 'batch_first', 'norm_first', 'bias'].map((k) => [k, g(k)]);
      const normKw: [string, Value][] = [['eps', g('layer_norm_eps')], ['bias', g('bias')]];
      for (const [part, custom, count] of [['encoder', 'custom_encoder', 'num_encoder_layers'], ['decoder', 'custom_decoder', 'num_decoder_layers']] as const) {
        const given = a.get(custom);
        if (given?.kind === 'instance' && given.cls.isModule) {
          addChild(self, part, given);
          continue;
        }
        const layer = child(env, ctx, part === 'encoder' ? 'TransformerEncoderLayer' : 'TransformerDecoderLayer', [g('d_model'), g('nhead')], layerKw);
        const norm = child(env, ctx, 'LayerNorm', [g('d_model')], normKw);
        addChild(self, part, child(env, ctx, part === 'encoder' ? 'TransformerEncoder' : 'TransformerDecoder', [layer ?? unknownV(), g(count), norm ?? NONE]));
      }
      storeArgs(self, a, ['d_model', 'nhead', 'batch_first']);
    },
    forward(self, a, ctx) {
      const memory = callChild(self, 'encoder', [a.get('src') ?? unknownV()], ctx);
      return callChild(self, 'decoder', [a.get('tgt') ?? unknownV(), memory], ctx);
    },
  };
}

export function attentionLayers(env: CatalogEnv): LayerDef[] {
  return [
    multiheadAttention(env),
    transformerLayer(env, false),
    transformerLayer(env, true),
    transformerStack(env, false),
    transformerStack(env, true),
    transformer(env),
  ];
}

/** F.scaled_dot_product_attention: (..., L, E) × (..., S, E) × (..., S, Ev) → (..., L, Ev). */
export function scaledDotProductAttention(a: BoundArgs, ctx: CallContext): Value {
  const q = a.get('query');
  const k = shapeOf(a.get('key'));
  const v = shapeOf(a.get('value'));
  if (!isTensor(q)) return unknownV();
  if (!q.shape || !k || !v || q.shape.length < 2) return ctx.newTensor(null, q.dtype);
  const L = q.shape[q.shape.length - 2];
  const E = q.shape[q.shape.length - 1];
  const S = k[k.length - 2];
  const Ev = v[v.length - 1];
  requireDim(ctx, 'scaled_dot_product_attention', 'key embedding', E, k[k.length - 1], () => msg.sizeMismatch('scaled_dot_product_attention', 'key embedding size', E, k[k.length - 1]));
  const batch = broadcastShapes('scaled_dot_product_attention', q.shape.slice(0, -2), k.slice(0, -2), ctx) ?? q.shape.slice(0, -2);
  ctx.addMacs(mul(product(batch), mul(mul(L, S), add(E, Ev))));
  return ctx.newTensor([...batch, L, Ev], q.dtype);
}
