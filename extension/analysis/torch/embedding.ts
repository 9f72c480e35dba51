// Embedding and EmbeddingBag (and the rule F.embedding shares): a lookup appends
// embedding_dim to the index shape. MACs: 0 (a lookup, no multiply-adds).
import type { CallContext, Value } from '../interp/values';
import { constValue, sub, type Dim } from '../shape/dim';
import { asBool, asDim, asInt, intV, isTensor, knownShape, makeParam, shapeOf, unknownV } from './args';
import { storeArgs } from './activation';
import { setAttr, setParam, tensorMember, type LayerDef } from './layer';
import * as msg from './messages';

export function embeddingLookup(input: Value | undefined, weight: Value | undefined, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  const w = shapeOf(weight);
  const dtype = isTensor(weight) ? weight.dtype : 'float32';
  if (!input.shape || !w || w.length !== 2) return ctx.newTensor(null, dtype);
  return ctx.newTensor([...input.shape, w[1]], dtype);
}

/** EmbeddingBag: 2-D input → one bag per row; 1-D input → one bag per offset. */
export function embeddingBag(input: Value | undefined, offsets: Value | undefined, weight: Value | undefined, includeLastOffset: boolean, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  const w = shapeOf(weight);
  const dtype = isTensor(weight) ? weight.dtype : 'float32';
  if (!input.shape || !w) return ctx.newTensor(null, dtype);
  if (input.shape.length === 2) return ctx.newTensor([input.shape[0], w[1]], dtype);
  const off = shapeOf(offsets);
  if (input.shape.length !== 1 || !off) {
    ctx.diagnostic('error', msg.badArguments('EmbeddingBag', 'a 1D input needs offsets, or give a 2D input'));
    return ctx.newTensor(null, dtype);
  }
  const bags: Dim = includeLastOffset ? sub(off[0], 1) : off[0];
  return ctx.newTensor([bags, w[1]], dtype);
}

function normalisePaddingIdx(padding: Value | undefined, num: Dim | undefined): Value {
  const p = asInt(padding);
  const n = num === undefined ? undefined : constValue(num);
  if (p === undefined || n === undefined) return padding ?? unknownV();
  return intV(p < 0 ? p + n : p);
}

export const embeddingLayers: LayerDef[] = [
  {
    name: 'Embedding',
    home: 'sparse',
    signature: 'num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None',
    init(self, a, ctx) {
      storeArgs(self, a, ['num_embeddings', 'embedding_dim', 'max_norm', 'norm_type', 'scale_grad_by_freq', 'sparse']);
      const num = asDim(a.get('num_embeddings'));
      const dim = asDim(a.get('embedding_dim'));
      setAttr(self, 'padding_idx', normalisePaddingIdx(a.get('padding_idx'), num));
      const given = a.get('_weight');
      const weight = makeParam(ctx, isTensor(given) ? given.shape : knownShape([num, dim]));
      // Embedding.from_pretrained(freeze=True) passes _freeze: the weight does not train.
      if (asBool(a.get('_freeze'))) weight.requiresGrad = false;
      setParam(self, 'weight', weight);
    },
    forward(self, a, ctx) {
      return embeddingLookup(a.get('input'), tensorMember(self, 'weight'), ctx);
    },
  },
  {
    name: 'EmbeddingBag',
    home: 'sparse',
    signature: "num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, mode='mean', sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None, dtype=None",
    forwardSignature: 'input, offsets=None, per_sample_weights=None',
    init(self, a, ctx) {
      storeArgs(self, a, ['num_embeddings', 'embedding_dim', 'max_norm', 'norm_type', 'scale_grad_by_freq']);
      const num = asDim(a.get('num_embeddings'));
      setAttr(self, 'padding_idx', normalisePaddingIdx(a.get('padding_idx'), num));
      storeArgs(self, a, ['mode', 'sparse', 'include_last_offset']);
      const given = a.get('_weight');
      setParam(self, 'weight', makeParam(ctx, isTensor(given) ? given.shape : knownShape([num, asDim(a.get('embedding_dim'))])));
    },
    forward(self, a, ctx) {
      const include = self.attrs.get('include_last_offset');
      return embeddingBag(a.get('input'), a.get('offsets'), tensorMember(self, 'weight'), include?.kind === 'bool' && include.value, ctx);
    },
  },
];
