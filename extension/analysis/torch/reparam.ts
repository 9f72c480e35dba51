// Weight reparametrisations, both generations:
// - hook-based torch.nn.utils.spectral_norm / weight_norm: the weight parameter becomes
//   `weight_orig` (+ buffers `weight_u`, `weight_v`) or `weight_g` + `weight_v`, and a plain
//   tensor named `weight` that the layer's forward reads; the layer stays a leaf.
// - torch.nn.utils.parametrize.register_parametrization and parametrizations.weight_norm /
//   spectral_norm: the layer gets a `parametrizations` ModuleDict holding one
//   ParametrizationList per tensor (its originals as parameters, the parametrization modules
//   as children). The layer is no longer a leaf; reading the weight calls the list, so hooks
//   see `<layer>.parametrizations.weight.0` (the interpreter calls it before the layer's forward,
//   once per call, and hands the result to the forward as the weight).
import type { BuiltinImpl, CallContext, InstanceValue, TensorValue, Value } from '../interp/values';
import { floorDiv, product, type Dim, type Shape } from '../shape/dim';
import { asInt, asSequence, asStr, isNone, isTensor, makeBuffer, makeParam, unknownV } from './args';
import type { CatalogEnv } from './env';
import { state, type LayerDef } from './layer';

/** PyTorch's default `dim` of spectral norm: 1 for transposed convolutions, else 0. */
function spectralDim(module: InstanceValue, given: Value | undefined): number {
  const d = asInt(given);
  if (d !== undefined) return d;
  return /^ConvTranspose\dd$/.test(module.cls.name) || module.cls.mro.some((c) => c.name === '_ConvTransposeNd') ? 1 : 0;
}

/** Shape of the weight-norm magnitude g: the weight's size along `dim`, 1 elsewhere; a scalar for dim None/-1. */
function magnitudeShape(weight: Shape, dim: number | undefined): Shape {
  if (dim === undefined || dim === -1) return [];
  const d = dim < 0 ? dim + weight.length : dim;
  return weight.map((size, i) => (i === d ? size : 1));
}

/** The power-iteration vectors u (rows of the weight matrix along `dim`) and v (the rest). */
function spectralVectors(weight: Shape, dim: number): [Dim, Dim] | undefined {
  const d = dim < 0 ? dim + weight.length : dim;
  const rows = weight[d];
  if (rows === undefined) return undefined;
  return [rows, floorDiv(product(weight), rows)];
}

function weightOf(module: Value | undefined, name: string): { module: InstanceValue; weight: TensorValue } | undefined {
  if (module?.kind !== 'instance' || !module.module) return undefined;
  const weight = module.module.params.get(name);
  return isTensor(weight) ? { module, weight } : undefined;
}

/** Replaces parameter `name` by the tensor the layer's forward reads from now on. */
function detachWeight(module: InstanceValue, name: string, weight: TensorValue, ctx: CallContext): void {
  module.module!.params.delete(name);
  module.attrs.set(name, ctx.newTensor(weight.shape ? [...weight.shape] : null, weight.dtype));
}

function originalParam(ctx: CallContext, like: TensorValue, shape: Shape | null = like.shape ? [...like.shape] : null): TensorValue {
  const p = makeParam(ctx, shape, like.dtype);
  p.requiresGrad = like.requiresGrad ?? true;
  return p;
}

const hookSpectralNorm: BuiltinImpl = (args, kwargs, ctx) => {
  const name = asStr(args[1] ?? kwargs.get('name')) ?? 'weight';
  const found = weightOf(args[0] ?? kwargs.get('module'), name);
  if (!found) return args[0] ?? unknownV('spectral_norm');
  const { module, weight } = found;
  const dim = spectralDim(module, args[4] ?? kwargs.get('dim'));
  detachWeight(module, name, weight, ctx);
  module.module!.params.set(`${name}_orig`, weight);
  const vectors = weight.shape ? spectralVectors(weight.shape, dim) : undefined;
  module.module!.buffers.set(`${name}_u`, makeBuffer(ctx, vectors ? [vectors[0]] : null, weight.dtype));
  module.module!.buffers.set(`${name}_v`, makeBuffer(ctx, vectors ? [vectors[1]] : null, weight.dtype));
  return module;
};

const hookWeightNorm: BuiltinImpl = (args, kwargs, ctx) => {
  const name = asStr(args[1] ?? kwargs.get('name')) ?? 'weight';
  const found = weightOf(args[0] ?? kwargs.get('module'), name);
  if (!found) return args[0] ?? unknownV('weight_norm');
  const { module, weight } = found;
  const dimValue = args[2] ?? kwargs.get('dim');
  const dim = dimValue === undefined ? 0 : isNone(dimValue) ? undefined : asInt(dimValue);
  detachWeight(module, name, weight, ctx);
  module.module!.params.set(`${name}_g`, originalParam(ctx, weight, weight.shape ? magnitudeShape(weight.shape, dim) : null));
  module.module!.params.set(`${name}_v`, originalParam(ctx, weight));
  return module;
};

/** Undoes the hook-based versions: `weight` is a parameter again. */
function removeHook(suffixes: string[], buffers: string[]): BuiltinImpl {
  return (args, kwargs, ctx) => {
    const module = args[0] ?? kwargs.get('module');
    const name = asStr(args[1] ?? kwargs.get('name')) ?? 'weight';
    if (module?.kind !== 'instance' || !module.module) return module ?? unknownV();
    const st = module.module;
    const first = st.params.get(`${name}${suffixes[suffixes.length - 1]}`);
    for (const s of suffixes) st.params.delete(`${name}${s}`);
    for (const b of buffers) st.buffers.delete(`${name}${b}`);
    const computed = module.attrs.get(name);
    module.attrs.delete(name);
    const like = isTensor(computed) ? computed : isTensor(first) ? first : undefined;
    if (like) st.params.set(name, originalParam(ctx, like));
    return module;
  };
}

export function reparamLayers(): LayerDef[] {
  return [
    {
      name: '_WeightNorm',
      home: 'parametrizations',
      hidden: true,
      signature: 'dim=0',
      forwardSignature: 'weight_g, weight_v',
      init(self, a) {
        const d = a.get('dim');
        self.attrs.set('dim', d === undefined || isNone(d) ? { kind: 'int', value: -1 } : d);
      },
      forward(_self, a, ctx) {
        const v = a.get('weight_v');
        return isTensor(v) ? ctx.newTensor(v.shape ? [...v.shape] : null, v.dtype) : unknownV();
      },
    },
    {
      name: '_SpectralNorm',
      home: 'parametrizations',
      hidden: true,
      signature: 'weight, n_power_iterations=1, dim=0, eps=1e-12',
      forwardSignature: 'weight',
      init(self, a, ctx) {
        const weight = a.get('weight');
        const dim = asInt(a.get('dim')) ?? 0;
        self.attrs.set('dim', { kind: 'int', value: dim });
        // A 1-D weight is normalised directly; others keep u and v for the power iteration.
        if (isTensor(weight) && weight.shape && weight.shape.length > 1) {
          const vectors = spectralVectors(weight.shape, dim);
          state(self).buffers.set('_u', makeBuffer(ctx, vectors ? [vectors[0]] : null, weight.dtype));
          state(self).buffers.set('_v', makeBuffer(ctx, vectors ? [vectors[1]] : null, weight.dtype));
        }
      },
      forward(_self, a, ctx) {
        const w = a.get('weight');
        return isTensor(w) ? ctx.newTensor(w.shape ? [...w.shape] : null, w.dtype) : unknownV();
      },
    },
    {
      // parametrizations.orthogonal: the weight is a batch of matrices over its last two dims;
      // with the trivialization a `base` buffer holds the square completion (max(n, k) on each side).
      name: '_Orthogonal',
      home: 'parametrizations',
      hidden: true,
      signature: 'weight, orthogonal_map=None, *, use_trivialization=True',
      forwardSignature: 'X',
      init(self, a, ctx) {
        const weight = a.get('weight');
        const trivialization = a.get('use_trivialization');
        if (trivialization?.kind === 'bool' && !trivialization.value) return;
        if (!isTensor(weight) || !weight.shape || weight.shape.length < 2) return;
        const [n, k] = weight.shape.slice(-2) as [Dim, Dim];
        const side = typeof n === 'number' && typeof k === 'number' ? Math.max(n, k) : undefined;
        state(self).buffers.set('base', makeBuffer(ctx, side === undefined ? null : [...weight.shape.slice(0, -2), side, side], weight.dtype));
      },
      forward(_self, a, ctx) {
        const x = a.get('X');
        return isTensor(x) ? ctx.newTensor(x.shape ? [...x.shape] : null, x.dtype) : unknownV();
      },
    },
    {
      name: 'ParametrizationList',
      home: 'parametrize',
      hidden: true,
      signature: 'modules, original, unsafe=False',
      forwardSignature: '',
      init(self, a) {
        const st = state(self);
        (asSequence(a.get('modules')) ?? []).forEach((m, i) => { if (m.kind === 'instance') st.children.set(String(i), m); });
        const original = a.get('original');
        if (original?.kind === 'tuple') original.items.forEach((t, i) => { if (isTensor(t)) st.params.set(`original${i}`, t); });
        else if (isTensor(original)) st.params.set('original', original);
      },
      forward(self, _a, ctx) {
        const st = self.module;
        if (!st) return unknownV();
        const originals = [...st.params.values()].filter(isTensor);
        let x: Value | undefined;
        for (const m of st.children.values()) {
          if (m.kind !== 'instance') continue;
          x = x === undefined ? ctx.callValue(m, originals) : ctx.callValue(m, [x]);
        }
        return x ?? originals[0] ?? unknownV();
      },
    },
  ];
}

/**
 * Registers `parametrization` on `module.<name>`: the first one turns the parameter into the
 * list's original(s) (`originals`: what right_inverse gives, default the weight itself).
 */
function registerParametrization(env: CatalogEnv, ctx: CallContext, module: InstanceValue, name: string, parametrization: Value, originals?: TensorValue[]): InstanceValue {
  const st = module.module!;
  let container = st.children.get('parametrizations');
  if (container?.kind !== 'instance') {
    const dictClass = env.containerClass('ModuleDict');
    const made = dictClass ? ctx.callValue(dictClass, []) : undefined;
    if (made?.kind !== 'instance') return module;
    container = made;
    st.children.set('parametrizations', container);
  }
  const existing = state(container).children.get(name);
  if (existing?.kind === 'instance' && existing.module) {
    if (parametrization.kind === 'instance') existing.module.children.set(String(existing.module.children.size), parametrization);
    return module;
  }
  const weight = st.params.get(name) ?? st.buffers.get(name);
  if (!isTensor(weight)) return module;
  const listClass = env.classes.get('ParametrizationList');
  if (!listClass) return module;
  const original: Value = originals && originals.length > 1 ? { kind: 'tuple', items: originals } : originals?.[0] ?? weight;
  const list = ctx.callValue(listClass, [{ kind: 'list', items: [parametrization] }, original]);
  if (list.kind !== 'instance') return module;
  st.params.delete(name);
  st.buffers.delete(name);
  state(container).children.set(name, list);
  module.attrs.set(name, ctx.newTensor(weight.shape ? [...weight.shape] : null, weight.dtype));
  return module;
}

export function reparamFunctions(env: CatalogEnv): { hooks: Map<string, BuiltinImpl>; parametrizations: Map<string, BuiltinImpl>; parametrize: Map<string, BuiltinImpl> } {
  const hooks = new Map<string, BuiltinImpl>([
    ['spectral_norm', hookSpectralNorm],
    ['weight_norm', hookWeightNorm],
    ['remove_spectral_norm', removeHook(['_orig'], ['_u', '_v'])],
    ['remove_weight_norm', removeHook(['_g', '_v'], [])],
  ]);
  const parametrizations = new Map<string, BuiltinImpl>([
    ['weight_norm', (args, kwargs, ctx) => {
      const name = asStr(args[1] ?? kwargs.get('name')) ?? 'weight';
      const found = weightOf(args[0] ?? kwargs.get('module'), name);
      const cls = env.classes.get('_WeightNorm');
      if (!found || !cls) return args[0] ?? unknownV('weight_norm');
      const dimValue = args[2] ?? kwargs.get('dim') ?? { kind: 'int', value: 0 };
      const dim = isNone(dimValue) ? undefined : asInt(dimValue);
      const norm = ctx.callValue(cls, [dimValue]);
      const { weight } = found;
      const g = originalParam(ctx, weight, weight.shape ? magnitudeShape(weight.shape, dim) : null);
      return registerParametrization(env, ctx, found.module, name, norm, [g, originalParam(ctx, weight)]);
    }],
    ['spectral_norm', (args, kwargs, ctx) => {
      const name = asStr(args[1] ?? kwargs.get('name')) ?? 'weight';
      const found = weightOf(args[0] ?? kwargs.get('module'), name);
      const cls = env.classes.get('_SpectralNorm');
      if (!found || !cls) return args[0] ?? unknownV('spectral_norm');
      const dim = spectralDim(found.module, args[4] ?? kwargs.get('dim'));
      const norm = ctx.callValue(cls, [found.weight], new Map([['dim', { kind: 'int', value: dim }]]));
      return registerParametrization(env, ctx, found.module, name, norm, [originalParam(ctx, found.weight)]);
    }],
  ]);
  parametrizations.set('orthogonal', (args, kwargs, ctx) => {
    const name = asStr(args[1] ?? kwargs.get('name')) ?? 'weight';
    const found = weightOf(args[0] ?? kwargs.get('module'), name);
    const cls = env.classes.get('_Orthogonal');
    if (!found || !cls) return args[0] ?? unknownV('orthogonal');
    const trivialization = kwargs.get('use_trivialization') ?? { kind: 'bool', value: true };
    const orth = ctx.callValue(cls, [found.weight, args[2] ?? kwargs.get('orthogonal_map') ?? { kind: 'none' }], new Map([['use_trivialization', trivialization]]));
    return registerParametrization(env, ctx, found.module, name, orth, [originalParam(ctx, found.weight)]);
  });
  const parametrize = new Map<string, BuiltinImpl>([
    // A cache of parametrized tensors for the duration of a `with` block: shapes do not change.
    ['cached', () => ({ kind: 'none' })],
    ['register_parametrization', (args, kwargs, ctx) => {
      const module = args[0] ?? kwargs.get('module');
      const name = asStr(args[1] ?? kwargs.get('tensor_name'));
      const parametrization = args[2] ?? kwargs.get('parametrization');
      if (module?.kind !== 'instance' || !module.module || name === undefined || parametrization?.kind !== 'instance') return module ?? unknownV();
      const weight = module.module.params.get(name);
      return registerParametrization(env, ctx, module, name, parametrization, isTensor(weight) ? [originalParam(ctx, weight)] : undefined);
    }],
    ['is_parametrized', (args) => {
      const module = args[0];
      const container = module?.kind === 'instance' ? module.module?.children.get('parametrizations') : undefined;
      if (container?.kind !== 'instance') return { kind: 'bool', value: false };
      const name = asStr(args[1]);
      return { kind: 'bool', value: name === undefined ? true : !!container.module?.children.has(name) };
    }],
  ]);
  return { hooks, parametrizations, parametrize };
}

