// Normalization layers: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d (affine and
// track_running_stats decide which parameters and buffers exist), LayerNorm, GroupNorm,
// RMSNorm, LocalResponseNorm. All preserve the input's shape.
// MACs: 0 (torchinfo counts normalization weights as multiply-adds per output element;
// Netlens counts only weight layers and matmuls, see docs).
import type { CallContext, InstanceValue, Value } from '../interp/values';
import { constValue, type Dim } from '../shape/dim';
import {
  asBool, asDim, asDimList, dimsTuple, isTensor, knownShape, makeBuffer, makeParam, unknownV,
} from './args';
import { requireDim } from './check';
import { sameShape, storeArgs } from './activation';
import { setAttr, setBuffer, setParam, type LayerDef } from './layer';
import * as msg from './messages';

function registerAffine(self: InstanceValue, ctx: CallContext, shape: (Dim | undefined)[], weight: boolean, bias: boolean): void {
  setParam(self, 'weight', weight ? makeParam(ctx, knownShape(shape)) : undefined);
  setParam(self, 'bias', bias ? makeParam(ctx, knownShape(shape)) : undefined);
}

function registerRunningStats(self: InstanceValue, ctx: CallContext, n: Dim | undefined, track: boolean): void {
  setBuffer(self, 'running_mean', track ? makeBuffer(ctx, knownShape([n])) : undefined);
  setBuffer(self, 'running_var', track ? makeBuffer(ctx, knownShape([n])) : undefined);
  setBuffer(self, 'num_batches_tracked', track ? makeBuffer(ctx, [], 'int64') : undefined);
}

/** BatchNorm and InstanceNorm share `_NormBase`'s parameters and buffers. */
function normBaseLayer(name: string, ranks: number[], instance: boolean): LayerDef {
  const defaults = instance ? 'affine=False, track_running_stats=False' : 'affine=True, track_running_stats=True';
  const sync = name === 'SyncBatchNorm';
  return {
    name,
    home: instance ? 'instancenorm' : 'batchnorm',
    signature: sync
      ? 'num_features, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, process_group=None, device=None, dtype=None, *, bias=True'
      : `num_features, eps=1e-05, momentum=0.1, ${defaults}, device=None, dtype=None, *, bias=True`,
    init(self, a, ctx) {
      storeArgs(self, a, ['num_features', 'eps', 'momentum', 'affine', 'track_running_stats']);
      if (sync) storeArgs(self, a, ['process_group']);
      const n = asDim(a.get('num_features'));
      const affine = asBool(a.get('affine')) ?? true;
      registerAffine(self, ctx, [n], affine, affine && (asBool(a.get('bias')) ?? true));
      registerRunningStats(self, ctx, n, asBool(a.get('track_running_stats')) ?? false);
    },
    forward(self, a, ctx) {
      const input = a.get('input');
      if (!isTensor(input)) return unknownV();
      if (input.shape) {
        const rank = input.shape.length;
        if (!ranks.includes(rank)) {
          ctx.diagnostic('error', msg.rankMismatch(name, ranks.map((r) => `${r}D`).join(' or '), input.shape));
        } else {
          // Unbatched InstanceNorm input has channels first; everything else at dim 1.
          const channelDim = instance && rank === ranks[0] ? 0 : 1;
          const n = asDim(self.attrs.get('num_features'));
          const hasState = self.module?.buffers.get('running_mean')?.kind === 'tensor' || self.module?.params.get('weight')?.kind === 'tensor';
          if (n !== undefined && hasState) {
            const got = input.shape[channelDim];
            requireDim(ctx, name, 'channels', n, got, () => msg.channelMismatch(name, n, got, input.shape!));
          }
        }
      }
      return sameShape(input, ctx);
    },
  };
}

function normalizedShape(v: Value | undefined): Dim[] | undefined {
  const d = asDim(v);
  return d !== undefined ? [d] : asDimList(v);
}

/** Checks that the input ends with `normalized`; used by LayerNorm, RMSNorm and their F.* forms. */
export function checkNormalizedShape(layer: string, input: Value | undefined, normalized: Dim[] | undefined, ctx: CallContext): void {
  if (!isTensor(input) || !input.shape || !normalized) return;
  const tail = input.shape.slice(input.shape.length - normalized.length);
  if (tail.length !== normalized.length) {
    ctx.diagnostic('error', msg.normalizedShapeMismatch(layer, normalized, input.shape));
    return;
  }
  for (let i = 0; i < normalized.length; i++) {
    if (!requireDim(ctx, layer, 'a trailing size of', normalized[i], tail[i], () => msg.normalizedShapeMismatch(layer, normalized, input.shape!))) return;
  }
}

export const normLayers: LayerDef[] = [
  normBaseLayer('BatchNorm1d', [2, 3], false),
  normBaseLayer('BatchNorm2d', [4], false),
  normBaseLayer('BatchNorm3d', [5], false),
  // Single-process analysis: SyncBatchNorm behaves like BatchNorm on any input of rank ≥ 2.
  normBaseLayer('SyncBatchNorm', [2, 3, 4, 5, 6], false),
  normBaseLayer('InstanceNorm1d', [2, 3], true),
  normBaseLayer('InstanceNorm2d', [3, 4], true),
  normBaseLayer('InstanceNorm3d', [4, 5], true),
  {
    name: 'LayerNorm',
    home: 'normalization',
    signature: 'normalized_shape, eps=1e-05, elementwise_affine=True, bias=True, device=None, dtype=None',
    init(self, a, ctx) {
      const shape = normalizedShape(a.get('normalized_shape'));
      setAttr(self, 'normalized_shape', shape ? dimsTuple(shape) : unknownV());
      storeArgs(self, a, ['eps', 'elementwise_affine']);
      const affine = asBool(a.get('elementwise_affine')) ?? true;
      setParam(self, 'weight', affine ? makeParam(ctx, shape ?? null) : undefined);
      setParam(self, 'bias', affine && (asBool(a.get('bias')) ?? true) ? makeParam(ctx, shape ?? null) : undefined);
    },
    forward(self, a, ctx) {
      checkNormalizedShape('LayerNorm', a.get('input'), asDimList(self.attrs.get('normalized_shape')), ctx);
      return sameShape(a.get('input'), ctx);
    },
  },
  {
    name: 'RMSNorm',
    home: 'normalization',
    signature: 'normalized_shape, eps=None, elementwise_affine=True, device=None, dtype=None',
    forwardSignature: 'x',
    init(self, a, ctx) {
      const shape = normalizedShape(a.get('normalized_shape'));
      setAttr(self, 'normalized_shape', shape ? dimsTuple(shape) : unknownV());
      storeArgs(self, a, ['eps', 'elementwise_affine']);
      setParam(self, 'weight', (asBool(a.get('elementwise_affine')) ?? true) ? makeParam(ctx, shape ?? null) : undefined);
    },
    forward(self, a, ctx) {
      checkNormalizedShape('RMSNorm', a.get('x'), asDimList(self.attrs.get('normalized_shape')), ctx);
      return sameShape(a.get('x'), ctx);
    },
  },
  {
    name: 'GroupNorm',
    home: 'normalization',
    signature: 'num_groups, num_channels, eps=1e-05, affine=True, device=None, dtype=None, *, bias=True',
    init(self, a, ctx) {
      storeArgs(self, a, ['num_groups', 'num_channels', 'eps', 'affine']);
      const groups = asDim(a.get('num_groups'));
      const channels = asDim(a.get('num_channels'));
      const g = groups === undefined ? undefined : constValue(groups);
      const c = channels === undefined ? undefined : constValue(channels);
      if (g !== undefined && c !== undefined && g > 0 && c % g !== 0) ctx.diagnostic('error', msg.groupsDivide('GroupNorm', 'num_channels', c, g));
      const affine = asBool(a.get('affine')) ?? true;
      registerAffine(self, ctx, [channels], affine, affine && (asBool(a.get('bias')) ?? true));
    },
    forward(self, a, ctx) {
      const input = a.get('input');
      const c = asDim(self.attrs.get('num_channels'));
      if (isTensor(input) && input.shape && input.shape.length >= 2 && c !== undefined) {
        const got = input.shape[1];
        requireDim(ctx, 'GroupNorm', 'channels', c, got, () => msg.channelMismatch('GroupNorm', c, got, input.shape!));
      }
      return sameShape(input, ctx);
    },
  },
  {
    name: 'LocalResponseNorm',
    home: 'normalization',
    signature: 'size, alpha=0.0001, beta=0.75, k=1.0',
    init(self, a) {
      storeArgs(self, a, ['size', 'alpha', 'beta', 'k']);
    },
    forward(self, a, ctx) {
      return sameShape(a.get('input'), ctx);
    },
  },
];
