// torch.distributions as VAEs, policies and flows use them: each distribution knows its
// batch_shape and event_shape; sample / rsample give sample_shape + batch + event, log_prob
// the value's batch dims broadcast with batch_shape, entropy / cdf the batch, mean / stddev /
// variance batch + event; Independent moves trailing batch dims into the event; kl_divergence
// broadcasts the two batch shapes.
import type { BuiltinFunctionValue, BuiltinImpl, CallContext, ClassValue, DType, InstanceValue, TensorValue, Value } from '../interp/values';
import type { Shape } from '../shape/dim';
import { asDimList, asInt, isNone, isTensor, tupleV, unknownV } from './args';
import { broadcastShapes } from './broadcast';

interface Layout { batch: Shape; event: Shape; dtype: DType; sampleDtype: DType }

/** How a family reads its parameters: the tensor that fixes the shapes and how many trailing dims are the event. */
interface Family { params: string[]; eventDims: number; discrete?: 'int' | 'float'; eventFromLastDim?: boolean; batchDropsLast?: boolean }

const FAMILIES: Record<string, Family> = {
  Normal: { params: ['loc', 'scale'], eventDims: 0 },
  LogNormal: { params: ['loc', 'scale'], eventDims: 0 },
  Laplace: { params: ['loc', 'scale'], eventDims: 0 },
  Cauchy: { params: ['loc', 'scale'], eventDims: 0 },
  Gumbel: { params: ['loc', 'scale'], eventDims: 0 },
  Uniform: { params: ['low', 'high'], eventDims: 0 },
  Beta: { params: ['concentration1', 'concentration0'], eventDims: 0 },
  Gamma: { params: ['concentration', 'rate'], eventDims: 0 },
  Exponential: { params: ['rate'], eventDims: 0 },
  Poisson: { params: ['rate'], eventDims: 0, discrete: 'float' },
  Bernoulli: { params: ['probs', 'logits'], eventDims: 0, discrete: 'float' },
  Categorical: { params: ['probs', 'logits'], eventDims: 0, discrete: 'int', batchDropsLast: true },
  OneHotCategorical: { params: ['probs', 'logits'], eventDims: 1, discrete: 'float', eventFromLastDim: true },
  Dirichlet: { params: ['concentration'], eventDims: 1, eventFromLastDim: true },
  RelaxedOneHotCategorical: { params: ['temperature', 'probs', 'logits'], eventDims: 1, eventFromLastDim: true },
  MultivariateNormal: { params: ['loc', 'covariance_matrix', 'precision_matrix', 'scale_tril'], eventDims: 1, eventFromLastDim: true },
};

export function createDistributions(nextId: () => number, objectClass: ClassValue): Map<string, Value> {
  const layouts = new WeakMap<InstanceValue, Layout>();
  const base: ClassValue = { kind: 'class', name: 'Distribution', mro: [], attrs: new Map(), isModule: false };
  base.mro = [base, objectClass];
  const fn = (name: string, call: BuiltinImpl): BuiltinFunctionValue => ({ kind: 'builtin', name, call });
  const layoutOf = (v: Value | undefined): Layout | undefined => (v?.kind === 'instance' ? layouts.get(v) : undefined);

  const make = (cls: ClassValue, layout: Layout, ctx: CallContext, extra: [string, Value][] = []): InstanceValue => {
    const inst: InstanceValue = { kind: 'instance', cls, attrs: new Map(extra), module: undefined, id: nextId() };
    layouts.set(inst, layout);
    const full = [...layout.batch, ...layout.event];
    inst.attrs.set('batch_shape', tupleV(layout.batch.map((d) => ({ kind: 'int', value: d }))));
    inst.attrs.set('event_shape', tupleV(layout.event.map((d) => ({ kind: 'int', value: d }))));
    for (const name of ['mean', 'stddev', 'variance', 'mode']) inst.attrs.set(name, ctx.newTensor([...full], layout.dtype));
    return inst;
  };
  const sampleShape = (v: Value | undefined): Shape | undefined => (v === undefined || isNone(v) ? [] : asDimList(v) ?? (asInt(v) !== undefined ? [asInt(v)!] : undefined));
  const sampler = (name: string) => fn(name, (args, kwargs, ctx) => {
    const layout = layoutOf(args[0]);
    const s = sampleShape(args[1] ?? kwargs.get('sample_shape'));
    if (!layout) return unknownV();
    return ctx.newTensor(s ? [...s, ...layout.batch, ...layout.event] : null, layout.sampleDtype);
  });
  base.attrs.set('sample', sampler('sample'));
  base.attrs.set('rsample', sampler('rsample'));
  base.attrs.set('sample_n', sampler('sample_n'));
  const batchResult = (name: string) => fn(name, (args, _kwargs, ctx) => {
    const layout = layoutOf(args[0]);
    return layout ? ctx.newTensor([...layout.batch], layout.dtype) : unknownV();
  });
  base.attrs.set('entropy', batchResult('entropy'));
  base.attrs.set('perplexity', batchResult('perplexity'));
  const valueResult = (name: string) => fn(name, (args, kwargs, ctx) => {
    const layout = layoutOf(args[0]);
    const value = args[1] ?? kwargs.get('value');
    if (!layout || !isTensor(value)) return unknownV();
    if (!value.shape) return ctx.newTensor(null, layout.dtype);
    const valueBatch = value.shape.slice(0, value.shape.length - layout.event.length);
    const shape = broadcastShapes(`${name}`, valueBatch, layout.batch, ctx);
    return ctx.newTensor(shape ?? null, layout.dtype);
  });
  for (const name of ['log_prob', 'cdf', 'icdf']) base.attrs.set(name, valueResult(name));

  const members = new Map<string, Value>([['Distribution', base]]);
  const construct = (familyName: string, family: Family, cls: ClassValue) => (args: Value[], kwargs: Map<string, Value>, ctx: CallContext): Value => {
    const given: [string, Value][] = [];
    family.params.forEach((p, i) => {
      const v = kwargs.get(p) ?? args[i];
      if (v !== undefined && !isNone(v)) given.push([p, v]);
    });
    const tensors = given.map(([, v]) => v).filter(isTensor) as TensorValue[];
    // RelaxedOneHotCategorical's temperature is a scalar: the probabilities fix the shapes.
    const shaping = familyName === 'RelaxedOneHotCategorical' ? tensors.filter((t) => t !== given.find(([p]) => p === 'temperature')?.[1]) : tensors;
    const dtype: DType = shaping[0]?.dtype ?? 'float32';
    let full: Shape | undefined = [];
    for (const t of shaping) {
      if (!t.shape || !full) { full = undefined; break; }
      // Matrices (covariance, scale_tril) add one trailing dim beyond the event.
      const shape = familyName === 'MultivariateNormal' && given.find(([, v]) => v === t)?.[0] !== 'loc' ? t.shape.slice(0, -1) : t.shape;
      full = broadcastShapes(familyName, full, shape, ctx);
    }
    const numbers = given.some(([, v]) => v.kind === 'int' || v.kind === 'float');
    if (full === undefined || (shaping.length === 0 && !numbers)) return unknownV(`torch.distributions.${familyName}`);
    const cut = family.batchDropsLast || family.eventFromLastDim ? full.length - 1 : full.length;
    const batch = full.slice(0, Math.max(0, cut));
    const event = family.eventFromLastDim ? full.slice(cut) : [];
    const sampleDtype: DType = family.discrete === 'int' ? 'int64' : dtype;
    return make(cls, { batch, event, dtype, sampleDtype }, ctx, given);
  };
  for (const [name, family] of Object.entries(FAMILIES)) {
    const cls: ClassValue = { kind: 'class', name, mro: [], attrs: new Map(), isModule: false };
    cls.mro = [cls, base, objectClass];
    // Called like a class; made by a builtin so the catalog needs no interpreter hook (isinstance against it is not followed).
    members.set(name, fn(name, construct(name, family, cls)));
  }
  const independent: ClassValue = { kind: 'class', name: 'Independent', mro: [], attrs: new Map(), isModule: false };
  independent.mro = [independent, base, objectClass];
  members.set('Independent', fn('Independent', (args, kwargs, ctx) => {
    const inner = args[0] ?? kwargs.get('base_distribution');
    const layout = layoutOf(inner);
    const n = asInt(args[1] ?? kwargs.get('reinterpreted_batch_ndims'));
    if (!layout || n === undefined || n > layout.batch.length) return unknownV('torch.distributions.Independent');
    const cut = layout.batch.length - n;
    return make(independent, { ...layout, batch: layout.batch.slice(0, cut), event: [...layout.batch.slice(cut), ...layout.event] }, ctx, [['base_dist', inner!]]);
  }));
  members.set('kl_divergence', fn('kl_divergence', (args, kwargs, ctx) => {
    const p = layoutOf(args[0] ?? kwargs.get('p'));
    const q = layoutOf(args[1] ?? kwargs.get('q'));
    if (!p || !q) return unknownV('torch.distributions.kl_divergence');
    const shape = broadcastShapes('kl_divergence', p.batch, q.batch, ctx);
    return ctx.newTensor(shape ?? null, p.dtype);
  }));
  return members;
}
