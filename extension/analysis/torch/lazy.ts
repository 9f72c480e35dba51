// Lazy layers (LazyConv1d/2d/3d, LazyConvTranspose1d/2d/3d, LazyBatchNorm1d/2d/3d,
// LazyInstanceNorm1d/2d/3d): parameters of unknown shape until the first call, which reads the
// input's channels, materialises them as the concrete layer would, and turns the module into
// that layer (torch.nn.modules.lazy's cls_to_become), so forward hooks report e.g. Conv2d.
// LazyLinear lives in linear.ts.
import type { InstanceValue } from '../interp/values';
import { NONE, asBool, intV, isTensor, makeBuffer, makeParam, unknownV } from './args';
import type { CatalogEnv } from './env';
import { initArgsOf, setParam, state, type LayerDef } from './layer';

type Family = 'conv' | 'convTranspose' | 'batchNorm' | 'instanceNorm';

const SIGNATURES: Record<Family, string> = {
  conv: "out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros', device=None, dtype=None",
  convTranspose: "out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1, padding_mode='zeros', device=None, dtype=None",
  // _LazyNormBase's defaults, for instance norms too (unlike InstanceNorm2d's affine=False).
  batchNorm: 'eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None, *, bias=True',
  instanceNorm: 'eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, device=None, dtype=None, *, bias=True',
};

function lazyLayer(env: CatalogEnv, family: Family, target: string, home: string, spatialDims: number): LayerDef {
  return {
    name: `Lazy${target}`,
    home,
    signature: SIGNATURES[family],
    forwardSignature: family === 'convTranspose' ? 'input, output_size=None' : undefined,
    init(self, a, ctx) {
      // Uninitialized parameters: registered, shape unknown until the first call.
      if (family === 'conv' || family === 'convTranspose') {
        setParam(self, 'weight', makeParam(ctx, null));
        setParam(self, 'bias', asBool(a.get('bias')) === false ? undefined : makeParam(ctx, null));
        return;
      }
      const affine = asBool(a.get('affine')) ?? true;
      setParam(self, 'weight', affine ? makeParam(ctx, null) : undefined);
      setParam(self, 'bias', affine && asBool(a.get('bias')) !== false ? makeParam(ctx, null) : undefined);
      if (asBool(a.get('track_running_stats')) ?? true) {
        const st = state(self);
        st.buffers.set('running_mean', makeBuffer(ctx, null));
        st.buffers.set('running_var', makeBuffer(ctx, null));
        st.buffers.set('num_batches_tracked', makeBuffer(ctx, [], 'int64'));
      }
    },
    forward(self, a, ctx) {
      const input = a.get('input');
      const targetClass = env.classes.get(target);
      const spec = targetClass?.builtinModule;
      if (!isTensor(input) || !input.shape || !targetClass || !spec) return isTensor(input) ? ctx.newTensor(null, input.dtype) : unknownV();
      // Convolutions: channels are dim 1 of a batched input, dim 0 of an unbatched one
      // (_LazyConvXdMixin._get_in_channels); norms always read dim 1 (_LazyNormBase).
      const convolution = family === 'conv' || family === 'convTranspose';
      const channels = !convolution || input.shape.length === spatialDims + 2 ? input.shape[1] : input.shape[0];
      if (channels === undefined) return ctx.newTensor(null, input.dtype);
      const options = new Map([...(initArgsOf(self) ?? new Map())].filter(([name]) => name !== 'device' && name !== 'dtype'));
      const made = ctx.callValue(targetClass, [intV(channels)], options);
      if (made.kind !== 'instance' || !made.module) return ctx.newTensor(null, input.dtype);
      become(self, made);
      return spec.forward(self, a, ctx);
    },
    macs(self, a, output) {
      return env.classes.get(target)?.builtinModule?.macs?.(self, a, output) ?? 0;
    },
  };
}

/** The lazy module takes the concrete layer's class, attributes and registered tensors. */
function become(self: InstanceValue, made: InstanceValue): void {
  const st = state(self);
  self.cls = made.cls;
  self.attrs.clear();
  for (const [k, v] of made.attrs) self.attrs.set(k, v);
  for (const table of ['params', 'buffers'] as const) {
    st[table].clear();
    for (const [k, v] of made.module![table]) st[table].set(k, v.kind === 'tensor' ? v : NONE);
  }
}

export function lazyLayers(env: CatalogEnv): LayerDef[] {
  const defs: LayerDef[] = [];
  for (const n of [1, 2, 3]) {
    defs.push(lazyLayer(env, 'conv', `Conv${n}d`, 'conv', n));
    defs.push(lazyLayer(env, 'convTranspose', `ConvTranspose${n}d`, 'conv', n));
    defs.push(lazyLayer(env, 'batchNorm', `BatchNorm${n}d`, 'batchnorm', n));
    defs.push(lazyLayer(env, 'instanceNorm', `InstanceNorm${n}d`, 'instancenorm', n));
  }
  return defs;
}
