// Loss modules and their F.* forms: a scalar for reduction 'mean'/'sum'/'batchmean', the
// per-element shape for 'none'. CosineSimilarity and PairwiseDistance reduce one dim.
// MACs: 0.
import type { CallContext, Value } from '../interp/values';
import type { Shape } from '../shape/dim';
import { asBool, asDim, asStr, isTensor, normalizeDim, shapeOf, unknownV } from './args';
import { broadcastShapes } from './broadcast';
import { storeArgs } from './activation';
import { setAttr, setBuffer, type LayerDef } from './layer';
import { floatV } from './args';

type TargetRule = 'broadcast' | 'classes';

/** The loss value's shape: [] when reduced, else the per-element shape. */
export function lossShape(op: string, input: Value | undefined, target: Value | undefined, reduction: string | undefined, rule: TargetRule, ctx: CallContext): Value {
  if (!isTensor(input)) return unknownV();
  const dtype = input.dtype;
  if (reduction !== 'none') return ctx.newTensor([], dtype);
  const s = input.shape;
  const t = shapeOf(target);
  if (!s) return ctx.newTensor(null, dtype);
  if (rule === 'classes') {
    // Class-index targets drop the class dim (dim 1, or dim 0 for unbatched input).
    if (s.length === 1) return ctx.newTensor([], dtype);
    return ctx.newTensor([s[0], ...s.slice(2)], dtype);
  }
  if (!t) return ctx.newTensor([...s], dtype);
  return ctx.newTensor(broadcastShapes(op, s, t, ctx) ?? null, dtype);
}

function lossLayer(name: string, signature: string, stored: string[], rule: TargetRule, buffers: string[] = []): LayerDef {
  return {
    name,
    home: 'loss',
    signature,
    forwardSignature: 'input, target',
    init(self, a) {
      // size_average/reduce are deprecated; PyTorch folds them into `reduction`.
      storeArgs(self, a, stored);
      for (const b of buffers) {
        const v = a.get(b);
        setBuffer(self, b, isTensor(v) ? v : undefined);
      }
    },
    forward(self, a, ctx) {
      return lossShape(name, a.get('input'), a.get('target'), asStr(self.attrs.get('reduction')), rule, ctx);
    },
  };
}

export const lossLayers: LayerDef[] = [
  lossLayer('CrossEntropyLoss', "weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean', label_smoothing=0.0", ['reduction', 'ignore_index', 'label_smoothing'], 'classes', ['weight']),
  lossLayer('NLLLoss', "weight=None, size_average=None, ignore_index=-100, reduce=None, reduction='mean'", ['reduction', 'ignore_index'], 'classes', ['weight']),
  lossLayer('MSELoss', "size_average=None, reduce=None, reduction='mean'", ['reduction'], 'broadcast'),
  lossLayer('L1Loss', "size_average=None, reduce=None, reduction='mean'", ['reduction'], 'broadcast'),
  lossLayer('BCELoss', "weight=None, size_average=None, reduce=None, reduction='mean'", ['reduction'], 'broadcast', ['weight']),
  lossLayer('BCEWithLogitsLoss', "weight=None, size_average=None, reduce=None, reduction='mean', pos_weight=None", ['reduction'], 'broadcast', ['weight', 'pos_weight']),
  lossLayer('SmoothL1Loss', "size_average=None, reduce=None, reduction='mean', beta=1.0", ['reduction', 'beta'], 'broadcast'),
  lossLayer('HuberLoss', "reduction='mean', delta=1.0", ['reduction', 'delta'], 'broadcast'),
  lossLayer('KLDivLoss', "size_average=None, reduce=None, reduction='mean', log_target=False", ['reduction', 'log_target'], 'broadcast'),
  {
    name: 'CosineSimilarity',
    home: 'distance',
    signature: 'dim=1, eps=1e-08',
    forwardSignature: 'x1, x2',
    init(self, a) {
      storeArgs(self, a, ['dim', 'eps']);
    },
    forward(self, a, ctx) {
      return cosineSimilarity(a.get('x1'), a.get('x2'), asDim(self.attrs.get('dim')) ?? 1, ctx);
    },
  },
  {
    name: 'PairwiseDistance',
    home: 'distance',
    signature: 'p=2.0, eps=1e-06, keepdim=False',
    forwardSignature: 'x1, x2',
    init(self, a) {
      setAttr(self, 'norm', a.get('p') ?? floatV(2));
      storeArgs(self, a, ['eps', 'keepdim']);
    },
    forward(self, a, ctx) {
      const x1 = a.get('x1');
      const x2 = a.get('x2');
      if (!isTensor(x1)) return unknownV();
      const s = x1.shape && shapeOf(x2) ? broadcastShapes('pairwise_distance', x1.shape, shapeOf(x2)!, ctx) : undefined;
      if (!s) return ctx.newTensor(null, x1.dtype);
      const keep = asBool(self.attrs.get('keepdim')) ?? false;
      return ctx.newTensor(keep ? [...s.slice(0, -1), 1] : s.slice(0, -1), x1.dtype);
    },
  },
];

export function cosineSimilarity(x1: Value | undefined, x2: Value | undefined, dim: number | import('../shape/dim').Dim, ctx: CallContext): Value {
  if (!isTensor(x1)) return unknownV();
  const s2 = shapeOf(x2);
  if (!x1.shape || !s2) return ctx.newTensor(null, x1.dtype);
  const s: Shape | undefined = broadcastShapes('cosine_similarity', x1.shape, s2, ctx);
  if (!s) return ctx.newTensor(null, x1.dtype);
  const d = normalizeDim(dim, s.length);
  if (d === undefined) return ctx.newTensor(null, x1.dtype);
  return ctx.newTensor(s.filter((_, i) => i !== d), x1.dtype);
}
