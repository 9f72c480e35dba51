// Assembles the torch catalog: layer classes (torch.nn, torch.nn.modules.<file>),
// torch.nn.functional, torch.* functions, dtypes and devices, torch.nn.init and
// torch.nn.modules.utils, plus tensor methods/attributes/operators for the interpreter.
import type {
  BuiltinFunctionValue, BuiltinImpl, ClassValue, DType, InstanceValue, Value,
} from '../interp/values';
import { constValue } from '../shape/dim';
import { NONE, asDim, asDimList, asSequence, asStr, boolV, floatV, intV, isTensor, strV, tupleV, unknownV } from './args';
import type { TorchCatalog } from './catalog';
import { activationLayers } from './activation';
import { attentionLayers } from './attention';
import { convLayers } from './conv';
import { dropoutLayers } from './dropout';
import { embeddingLayers } from './embedding';
import type { CatalogEnv } from './env';
import { createDistributions } from './distributions';
import { createLinalg } from './linalg';
import { createSpectralFunctions } from './spectral';
import { createFunctional } from './functional';
import { state, toModuleSpec, type LayerDef } from './layer';
import { linearLayers } from './linear';
import { lossLayers } from './loss';
import { normLayers } from './norm';
import { lazyLayers } from './lazy';
import { compileBuiltin, parallelLayers } from './parallel';
import { poolLayers } from './pool';
import { reparamFunctions, reparamLayers } from './reparam';
import { floatFunctionalMethods, quantizationLayers } from './quantization';
import { createPackedSequences } from './packed';
import { recurrentLayers } from './recurrent';
import { shapeLayers } from './shapeOps';
import { createTensorOps, dtypeBytes, restartDataDependentNames } from './tensorOps';
import { upsampleLayers } from './upsample';

/** dtype names PyTorch exposes, with their aliases. */
const DTYPE_NAMES: [string, DType][] = [
  ['float32', 'float32'], ['float', 'float32'], ['float64', 'float64'], ['double', 'float64'], ['float16', 'float16'], ['half', 'float16'],
  ['bfloat16', 'bfloat16'], ['int64', 'int64'], ['long', 'int64'], ['int32', 'int32'], ['int', 'int32'], ['int8', 'int8'], ['uint8', 'uint8'], ['bool', 'bool'],
  ['complex64', 'complex64'], ['cfloat', 'complex64'], ['complex128', 'complex128'], ['cdouble', 'complex128'],
];

function builtin(name: string, call: BuiltinImpl): BuiltinFunctionValue {
  return { kind: 'builtin', name, call };
}

/**
 * A container class for TransformerEncoder's `layers` (PyTorch uses nn.ModuleList; the
 * real ModuleList belongs to the interpreter, which the catalog cannot reach). It is
 * named ModuleList so paths and types in the layer table read as PyTorch's.
 */
const moduleListContainer: LayerDef = {
  name: 'ModuleList',
  home: 'container',
  hidden: true,
  signature: 'modules=None',
  init(self, a) {
    (asSequence(a.get('modules')) ?? []).forEach((m, i) => {
      if (m.kind === 'instance') state(self).children.set(String(i), m);
    });
  },
  forward() {
    return unknownV('ModuleList is not callable');
  },
};

/** PyTorch's abstract base classes of a layer, nearest first, with their torch.nn.modules file. */
function abstractAncestors(name: string): [string, string][] {
  if (/^Conv\dd$/.test(name)) return [['_ConvNd', 'conv']];
  if (/^ConvTranspose\dd$/.test(name)) return [['_ConvTransposeNd', 'conv'], ['_ConvNd', 'conv']];
  if (/^BatchNorm\dd$|^SyncBatchNorm$/.test(name)) return [['_BatchNorm', 'batchnorm'], ['_NormBase', 'batchnorm']];
  if (/^InstanceNorm\dd$/.test(name)) return [['_InstanceNorm', 'instancenorm'], ['_NormBase', 'batchnorm']];
  if (/^MaxPool\dd$/.test(name)) return [['_MaxPoolNd', 'pooling']];
  if (/^AvgPool\dd$/.test(name)) return [['_AvgPoolNd', 'pooling']];
  if (/^AdaptiveAvgPool\dd$/.test(name)) return [['_AdaptiveAvgPoolNd', 'pooling']];
  if (/^AdaptiveMaxPool\dd$/.test(name)) return [['_AdaptiveMaxPoolNd', 'pooling']];
  if (/^MaxUnpool\dd$/.test(name)) return [['_MaxUnpoolNd', 'pooling']];
  if (/^LPPool\dd$/.test(name)) return [['_LPPoolNd', 'pooling']];
  if (/Dropout/.test(name)) return [['_DropoutNd', 'dropout']];
  if (/^(RNN|LSTM|GRU)$/.test(name)) return [['RNNBase', 'rnn']];
  if (/^(RNN|LSTM|GRU)Cell$/.test(name)) return [['RNNCellBase', 'rnn']];
  if (/^(CrossEntropyLoss|NLLLoss|BCELoss)$/.test(name)) return [['_WeightedLoss', 'loss'], ['_Loss', 'loss']];
  if (/Loss$/.test(name)) return [['_Loss', 'loss']];
  if (/^(ZeroPad|ConstantPad)\dd$/.test(name)) return [['_ConstantPadNd', 'padding']];
  if (/^ReflectionPad\dd$/.test(name)) return [['_ReflectionPadNd', 'padding']];
  if (/^ReplicationPad\dd$/.test(name)) return [['_ReplicationPadNd', 'padding']];
  if (/^CircularPad\dd$/.test(name)) return [['_CircularPadNd', 'padding']];
  return [];
}

function isAncestor(child: string, parent: string): boolean {
  const probe: Record<string, string> = { _ConvTransposeNd: 'ConvTranspose2d', _BatchNorm: 'BatchNorm2d', _InstanceNorm: 'InstanceNorm2d', _WeightedLoss: 'NLLLoss' };
  const example = probe[child];
  return example !== undefined && abstractAncestors(example).some(([n]) => n === parent);
}

const inPlaceMethod: BuiltinImpl = (args) => args[0] ?? unknownV();

export function createTorchCatalog(moduleBase: ClassValue): TorchCatalog {
  restartDataDependentNames();
  const modules = new Map<string, Map<string, Value>>();
  const ns = (name: string): Map<string, Value> => {
    let m = modules.get(name);
    if (!m) modules.set(name, (m = new Map()));
    return m;
  };

  // --- dtypes and devices: one value per dtype, so `x.dtype == torch.float16` compares by identity.
  const dtypeClass: ClassValue = { kind: 'class', name: 'dtype', mro: [], attrs: new Map(), isModule: false };
  dtypeClass.mro.push(dtypeClass);
  const deviceClass: ClassValue = { kind: 'class', name: 'device', mro: [], attrs: new Map(), isModule: false };
  deviceClass.mro.push(deviceClass);
  const dtypeValues = new Map<DType, InstanceValue>();
  let nextId = -1;
  const dtypeValue = (d: DType): InstanceValue => {
    let v = dtypeValues.get(d);
    if (!v) {
      v = {
        kind: 'instance',
        cls: dtypeClass,
        attrs: new Map<string, Value>([
          ['__dtype__', strV(d)],
          ['is_floating_point', boolV(d.startsWith('float') || d === 'bfloat16')],
          ['is_complex', boolV(d.startsWith('complex'))],
          ['itemsize', intV(dtypeBytes(d))],
        ]),
        module: undefined,
        id: nextId--,
      };
      dtypeValues.set(d, v);
    }
    return v;
  };
  const deviceValues = new Map<string, InstanceValue>();
  const deviceValue = (type: string): InstanceValue => {
    let v = deviceValues.get(type);
    if (!v) {
      const [kind, index] = type.split(':');
      v = { kind: 'instance', cls: deviceClass, attrs: new Map<string, Value>([['type', strV(kind)], ['index', index === undefined ? NONE : intV(Number(index))]]), module: undefined, id: nextId-- };
      deviceValues.set(type, v);
    }
    return v;
  };
  const dtypeOf = (v: Value | undefined): DType | undefined => {
    if (!v) return undefined;
    if (v.kind === 'instance' && v.cls === dtypeClass) {
      const d = v.attrs.get('__dtype__');
      return d?.kind === 'str' ? (d.value as DType) : undefined;
    }
    if (v.kind === 'str') return DTYPE_NAMES.find(([n]) => n === v.value.replace(/^torch\./, ''))?.[1];
    return undefined;
  };

  const classes = new Map<string, ClassValue>();
  // F.* first: layer signatures use F.relu as a default (Transformer layers).
  const functionalTables = createFunctional();
  const functional = ns('torch.nn.functional');
  for (const [name, impl] of functionalTables.functional) functional.set(name, builtin(name, impl));
  const packed = createPackedSequences(() => nextId--);
  const rnnUtils = ns('torch.nn.utils.rnn');
  rnnUtils.set('PackedSequence', packed.cls);
  for (const [name, impl] of packed.functions) rnnUtils.set(name, builtin(name, impl));
  const env: CatalogEnv = {
    classes,
    packed,
    dtypeValue,
    deviceValue,
    dtypeOf,
    functional(name) {
      return ns('torch.nn.functional').get(name) ?? unknownV();
    },
    torchFunction(name) {
      return ns('torch').get(name) ?? unknownV();
    },
    containerClass(name) {
      // The interpreter installs the real nn containers into torch.nn after the catalog is built.
      const live = ns('torch.nn').get(name);
      return live?.kind === 'class' ? live : classes.get(name);
    },
  };

  // --- layers
  const defs: LayerDef[] = [
    ...convLayers,
    ...linearLayers(env),
    ...activationLayers,
    ...dropoutLayers,
    ...poolLayers,
    ...normLayers,
    ...embeddingLayers,
    ...shapeLayers,
    ...upsampleLayers,
    ...recurrentLayers(env),
    ...attentionLayers(env),
    ...lossLayers,
    ...quantizationLayers(env),
    ...lazyLayers(env),
    ...parallelLayers,
    ...reparamLayers(),
    moduleListContainer,
  ];
  for (const def of defs) {
    classes.set(def.name, { kind: 'class', name: def.name, mro: [], attrs: new Map(), builtinModule: toModuleSpec(def), isModule: true });
  }
  // PyTorch's abstract bases (_ConvNd, _BatchNorm, RNNBase, _Loss, ...), so isinstance
  // checks in model code (weight init loops, freezing BatchNorm) see the real hierarchy.
  const abstractClasses = new Map<string, ClassValue>();
  const abstract = (name: string, home: string): ClassValue => {
    let c = abstractClasses.get(name);
    if (!c) {
      c = { kind: 'class', name, mro: [], attrs: new Map(), isModule: true };
      abstractClasses.set(name, c);
      ns(`torch.nn.modules.${home}`).set(name, c);
    }
    return c;
  };
  // Layers with a concrete base come after it, so the base's mro is complete when copied.
  const ordered = [...defs.filter((d) => !d.base), ...defs.filter((d) => d.base)];
  for (const def of ordered) {
    const cls = classes.get(def.name)!;
    const base = def.base ? classes.get(def.base) : undefined;
    const ancestors = abstractAncestors(def.name).map(([n, home]) => abstract(n, home));
    cls.mro.push(cls, ...(base ? base.mro.slice(0, -1) : []), ...ancestors.filter((a) => !base?.mro.includes(a)), moduleBase);
    if (def.hidden) continue;
    ns('torch.nn').set(def.name, cls);
    ns('torch.nn.modules').set(def.name, cls);
    ns(`torch.nn.modules.${def.home}`).set(def.name, cls);
  }

  // Methods model code calls on layers: no-ops for shapes.
  const noOp = builtin('noop', () => NONE);
  for (const def of defs) {
    const cls = classes.get(def.name)!;
    for (const m of ['reset_parameters', '_reset_parameters', 'reset_running_stats', 'extra_repr']) cls.attrs.set(m, noOp);
  }
  for (const n of ['RNN', 'LSTM', 'GRU']) classes.get(n)?.attrs.set('flatten_parameters', noOp);
  // Embedding.from_pretrained / EmbeddingBag.from_pretrained (classmethods): the layer with
  // the given weight's shape, frozen by default.
  for (const n of ['Embedding', 'EmbeddingBag']) {
    const cls = classes.get(n)!;
    cls.attrs.set('from_pretrained', builtin('from_pretrained', (args, kwargs, ctx) => {
      const rest = args[0]?.kind === 'class' || args[0]?.kind === 'instance' ? args.slice(1) : args;
      const weight = rest[0] ?? kwargs.get('embeddings');
      if (!isTensor(weight) || !weight.shape || weight.shape.length !== 2) return unknownV('from_pretrained weights');
      const freeze = kwargs.get('freeze') ?? rest[1] ?? boolV(true);
      const options = new Map([...kwargs].filter(([k]) => k !== 'embeddings' && k !== 'freeze'));
      options.set('_weight', weight);
      if (n === 'Embedding') options.set('_freeze', freeze);
      const made = ctx.callValue(cls, [intV(weight.shape[0]), intV(weight.shape[1])], options);
      // EmbeddingBag has no _freeze argument; PyTorch sets requires_grad on the weight afterwards.
      const w = made.kind === 'instance' ? made.module?.params.get('weight') : undefined;
      if (w?.kind === 'tensor' && freeze.kind === 'bool') w.requiresGrad = !freeze.value;
      return made;
    }));
  }

  // Eager-mode quantization (hidden above: they live outside torch.nn), under every module
  // path PyTorch exposes them by, the deprecated torch.quantization / torch.nn.quantized included.
  for (const home of ['torch.ao.quantization', 'torch.ao.quantization.stubs', 'torch.quantization', 'torch.quantization.stubs']) {
    for (const n of ['QuantStub', 'DeQuantStub']) ns(home).set(n, classes.get(n)!);
  }
  const floatFunctional = classes.get('FloatFunctional')!;
  for (const [name, impl] of floatFunctionalMethods()) floatFunctional.attrs.set(name, builtin(name, impl));
  for (const home of ['torch.ao.nn.quantized', 'torch.ao.nn.quantized.modules', 'torch.ao.nn.quantized.modules.functional_modules',
    'torch.nn.quantized', 'torch.nn.quantized.modules', 'torch.nn.quantized.modules.functional_modules']) {
    ns(home).set('FloatFunctional', floatFunctional);
  }
  ns('torch.ao');
  ns('torch.ao.nn');
  // Weight reparametrisations: the hook-based functions of torch.nn.utils and the
  // parametrize/parametrizations modules (see reparam.ts).
  const reparam = reparamFunctions(env);
  for (const [name, impl] of reparam.hooks) {
    ns('torch.nn.utils').set(name, builtin(name, impl));
    ns(`torch.nn.utils.${name.replace(/^remove_/, '')}`).set(name, builtin(name, impl));
  }
  for (const [name, impl] of reparam.parametrizations) ns('torch.nn.utils.parametrizations').set(name, builtin(name, impl));
  for (const n of ['_WeightNorm', '_SpectralNorm', '_Orthogonal']) ns('torch.nn.utils.parametrizations').set(n, classes.get(n)!);
  for (const [name, impl] of reparam.parametrize) ns('torch.nn.utils.parametrize').set(name, builtin(name, impl));
  ns('torch.nn.utils.parametrize').set('ParametrizationList', classes.get('ParametrizationList')!);
  ns('torch.nn.parallel').set('DataParallel', classes.get('DataParallel')!);
  ns('torch.nn.parallel.data_parallel').set('DataParallel', classes.get('DataParallel')!);

  // nn.Transformer.generate_square_subsequent_mask(sz, device=None, dtype=None): a static
  // method, reached through the class or an instance; a float (sz, sz) mask.
  classes.get('Transformer')?.attrs.set('generate_square_subsequent_mask', builtin('generate_square_subsequent_mask', (args, kwargs, ctx) => {
    const rest = args[0]?.kind === 'class' || args[0]?.kind === 'instance' ? args.slice(1) : args;
    const size = asDim(rest[0] ?? kwargs.get('sz'));
    return ctx.newTensor(size === undefined ? null : [size, size], dtypeOf(rest[2] ?? kwargs.get('dtype')) ?? 'float32');
  }));

  // nn.SyncBatchNorm.convert_sync_batchnorm(module): every _BatchNorm in the tree becomes a
  // SyncBatchNorm with the same settings, sharing its parameters and buffers (PyTorch's classmethod).
  const syncBatchNorm = classes.get('SyncBatchNorm');
  syncBatchNorm?.attrs.set('convert_sync_batchnorm', builtin('convert_sync_batchnorm', (args, kwargs, ctx) => {
    const rest = args[0]?.kind === 'class' ? args.slice(1) : args;
    const convert = <M extends Value>(module: M): M | InstanceValue => {
      if (module.kind !== 'instance' || !module.module) return module;
      let out: InstanceValue = module;
      if (module.cls.mro.some((c) => c.name === '_BatchNorm') && module.cls !== syncBatchNorm) {
        const settings = ['num_features', 'eps', 'momentum', 'affine', 'track_running_stats'].map((k) => module.attrs.get(k) ?? unknownV());
        const made = ctx.callValue(syncBatchNorm!, [...settings, rest[1] ?? kwargs.get('process_group') ?? NONE]);
        if (made.kind !== 'instance' || !made.module) return module;
        for (const [k, v] of module.module.params) made.module.params.set(k, v);
        for (const [k, v] of module.module.buffers) made.module.buffers.set(k, v);
        made.module.training = module.module.training;
        out = made;
      }
      for (const [name, child] of [...module.module.children]) out.module!.children.set(name, convert(child));
      return out;
    };
    return rest[0] ? convert(rest[0]) : unknownV();
  }));

  for (const c of abstractClasses.values()) {
    const chain = [...abstractClasses.values()].filter((other) => other !== c && isAncestor(c.name, other.name));
    c.mro.push(c, ...chain, moduleBase);
  }

  // --- functional and torch.*
  const tensorOps = createTensorOps(env);
  const torch = ns('torch');
  for (const [name, impl] of tensorOps.functions) torch.set(name, builtin(name, impl));
  for (const [name, impl] of functionalTables.torch) if (!torch.has(name)) torch.set(name, builtin(name, impl));
  const spectral = createSpectralFunctions(env);
  for (const [name, impl] of spectral.torch) if (!torch.has(name)) torch.set(name, builtin(name, impl));
  const fftModule = ns('torch.fft');
  for (const [name, impl] of spectral.fft) fftModule.set(name, builtin(name, impl));
  const linear = createLinalg(tensorOps.functions.get('norm'));
  for (const [name, impl] of linear.torch) if (!torch.has(name)) torch.set(name, builtin(name, impl));
  const distributions = createDistributions(() => nextId--, moduleBase.mro[moduleBase.mro.length - 1]!);
  for (const name of ['torch.distributions', 'torch.distributions.distribution', 'torch.distributions.normal', 'torch.distributions.kl', 'torch.distributions.independent', 'torch.distributions.categorical', 'torch.distributions.bernoulli']) {
    const target = ns(name);
    for (const [k, v] of distributions) if (!target.has(k)) target.set(k, v);
  }
  const linalgModule = ns('torch.linalg');
  for (const [name, impl] of linear.linalg) linalgModule.set(name, builtin(name, impl));
  for (const [name, impl] of linear.methods) if (!tensorOps.methods.has(name)) tensorOps.methods.set(name, impl);
  for (const [name, d] of DTYPE_NAMES) torch.set(name, dtypeValue(d));
  // torch.sparse as GNN code uses it: the products have the dense shapes; a sparse tensor is
  // followed as a tensor of its full (dense) shape.
  const sparse = ns('torch.sparse');
  const mm = torch.get('mm');
  if (mm) for (const owner of [sparse, torch]) owner.set(owner === torch ? 'spmm' : 'mm', mm);
  const addmm = torch.get('addmm');
  if (addmm) sparse.set('addmm', addmm);
  const sparseTensor = builtin('sparse_coo_tensor', (args, kwargs, ctx) => {
    const values = args[1] ?? kwargs.get('values');
    const size = asDimList(args[2] ?? kwargs.get('size'));
    const dtype = env.dtypeOf(kwargs.get('dtype')) ?? (values?.kind === 'tensor' ? values.dtype : 'float32');
    return ctx.newTensor(size ?? null, dtype);
  });
  torch.set('sparse_coo_tensor', sparseTensor);
  torch.set('dtype', dtypeClass);
  torch.set('compile', builtin('compile', compileBuiltin(() => classes.get('OptimizedModule'))));
  torch.set('device', builtin('device', (args) => {
    const type = asStr(args[0]);
    return type === undefined ? (args[0]?.kind === 'instance' ? args[0] : unknownV()) : deviceValue(args[1] && asDim(args[1]) !== undefined ? `${type}:${String(constValue(asDim(args[1])!))}` : type);
  }));
  torch.set('Size', builtin('Size', (args) => tupleV(asSequence(args[0]) ?? [])));
  // torch.Tensor is left to the interpreter, whose class hierarchy (object) it belongs to.
  // Grad-mode and autocast contexts: usable as `with torch.no_grad():`, `@torch.no_grad()`
  // and `@torch.no_grad`; shapes do not depend on them.
  const passThrough = builtin('context', (args) => (args[0]?.kind === 'function' ? args[0] : NONE));
  for (const n of ['no_grad', 'enable_grad', 'inference_mode', 'autocast', 'set_grad_enabled']) {
    torch.set(n, builtin(n, (args) => (args[0]?.kind === 'function' ? args[0] : passThrough)));
  }
  ns('torch.amp').set('autocast', torch.get('autocast')!);
  ns('torch.cuda.amp').set('autocast', torch.get('autocast')!);
  ns('torch.autograd').set('no_grad', torch.get('no_grad')!);
  torch.set('is_autocast_enabled', builtin('is_autocast_enabled', () => boolV(false)));
  torch.set('get_default_device', builtin('get_default_device', () => deviceValue('cpu')));
  torch.set('manual_seed', builtin('manual_seed', () => NONE));
  torch.set('is_grad_enabled', builtin('is_grad_enabled', () => boolV(true)));
  torch.set('get_default_dtype', builtin('get_default_dtype', () => dtypeValue('float32')));
  // torch.finfo / torch.iinfo: the limits of a dtype (attention masks fill with finfo(dtype).min).
  const finfoClass: ClassValue = { kind: 'class', name: 'finfo', mro: [], attrs: new Map(), isModule: false };
  finfoClass.mro.push(finfoClass);
  const iinfoClass: ClassValue = { kind: 'class', name: 'iinfo', mro: [], attrs: new Map(), isModule: false };
  iinfoClass.mro.push(iinfoClass);
  const FLOAT_LIMITS: Partial<Record<DType, { max: number; eps: number; tiny: number; bits: number; resolution: number }>> = {
    float32: { max: 3.4028234663852886e38, eps: 1.1920928955078125e-7, tiny: 1.1754943508222875e-38, bits: 32, resolution: 1e-6 },
    float64: { max: 1.7976931348623157e308, eps: 2.220446049250313e-16, tiny: 2.2250738585072014e-308, bits: 64, resolution: 1e-15 },
    float16: { max: 65504, eps: 0.0009765625, tiny: 6.103515625e-5, bits: 16, resolution: 0.001 },
    bfloat16: { max: 3.3895313892515355e38, eps: 0.0078125, tiny: 1.1754943508222875e-38, bits: 16, resolution: 0.01 },
  };
  const INT_LIMITS: Partial<Record<DType, { min: number; max: number; bits: number }>> = {
    int64: { min: -(2 ** 63), max: 2 ** 63 - 1, bits: 64 }, int32: { min: -(2 ** 31), max: 2 ** 31 - 1, bits: 32 },
    int8: { min: -128, max: 127, bits: 8 }, uint8: { min: 0, max: 255, bits: 8 },
  };
  let infoIds = -1_000_000;
  const info = (cls: ClassValue, fields: [string, Value][]): InstanceValue => ({ kind: 'instance', cls, attrs: new Map(fields), module: undefined, id: infoIds-- });
  torch.set('finfo', builtin('finfo', (args, kwargs) => {
    const given = args[0] ?? kwargs.get('type');
    const d = given === undefined ? 'float32' : dtypeOf(given);
    const limits = d ? FLOAT_LIMITS[d] : undefined;
    if (!limits || !d) return unknownV('torch.finfo');
    return info(finfoClass, [['min', floatV(-limits.max)], ['max', floatV(limits.max)], ['eps', floatV(limits.eps)], ['tiny', floatV(limits.tiny)],
      ['smallest_normal', floatV(limits.tiny)], ['bits', intV(limits.bits)], ['resolution', floatV(limits.resolution)], ['dtype', strV(d)]]);
  }));
  torch.set('iinfo', builtin('iinfo', (args, kwargs) => {
    const d = dtypeOf(args[0] ?? kwargs.get('type'));
    const limits = d ? INT_LIMITS[d] : undefined;
    if (!limits || !d) return unknownV('torch.iinfo');
    return info(iinfoClass, [['min', intV(limits.min)], ['max', intV(limits.max)], ['bits', intV(limits.bits)], ['dtype', strV(d)]]);
  }));
  torch.set('pi', floatV(Math.PI));
  torch.set('inf', floatV(Infinity));
  torch.set('nan', floatV(NaN));
  const cuda = ns('torch.cuda');
  cuda.set('is_available', builtin('is_available', () => boolV(false)));
  cuda.set('device_count', builtin('device_count', () => intV(0)));
  ns('torch.backends.cudnn');

  // --- torch.nn.init: in-place initialisers return their tensor.
  const init = ns('torch.nn.init');
  for (const n of ['uniform_', 'normal_', 'constant_', 'ones_', 'zeros_', 'eye_', 'dirac_', 'xavier_uniform_', 'xavier_normal_', 'kaiming_uniform_',
    'kaiming_normal_', 'trunc_normal_', 'orthogonal_', 'sparse_', 'uniform', 'normal', 'constant', 'xavier_uniform', 'xavier_normal', 'kaiming_uniform', 'kaiming_normal']) {
    init.set(n, builtin(n, (args, kwargs) => args[0] ?? kwargs.get('tensor') ?? unknownV()));
  }
  init.set('calculate_gain', builtin('calculate_gain', () => unknownV('init gain')));
  init.set('_calculate_fan_in_and_fan_out', builtin('_calculate_fan_in_and_fan_out', (args) => {
    const t = args[0];
    if (!isTensor(t) || !t.shape || t.shape.length < 2) return unknownV();
    const receptive = t.shape.slice(2).reduce<number | undefined>((acc, d) => (acc === undefined || constValue(d) === undefined ? undefined : acc * constValue(d)!), 1);
    const inF = constValue(t.shape[1]);
    const outF = constValue(t.shape[0]);
    return receptive === undefined || inF === undefined || outF === undefined ? unknownV() : tupleV([intV(inF * receptive), intV(outF * receptive)]);
  }));

  // --- torch.nn.modules.utils: _single/_pair/_triple/_quadruple/_ntuple
  const utils = ns('torch.nn.modules.utils');
  const ntupleBuiltin = (n: number, name: string): BuiltinFunctionValue =>
    builtin(name, (args) => {
      const v = args[0] ?? unknownV();
      if (v.kind === 'tuple' || v.kind === 'list') return tupleV(v.items);
      if (v.kind === 'unknown') return v;
      return tupleV(Array.from({ length: n }, () => v));
    });
  utils.set('_single', ntupleBuiltin(1, '_single'));
  utils.set('_pair', ntupleBuiltin(2, '_pair'));
  utils.set('_triple', ntupleBuiltin(3, '_triple'));
  utils.set('_quadruple', ntupleBuiltin(4, '_quadruple'));
  utils.set('_ntuple', builtin('_ntuple', (args) => {
    const n = asDim(args[0]);
    const c = n === undefined ? undefined : constValue(n);
    return c === undefined ? unknownV() : ntupleBuiltin(c, `_ntuple(${c})`);
  }));

  return {
    modules,
    tensorMethod(name) {
      const direct = tensorOps.methods.get(name);
      if (direct) return direct;
      // PyTorch's in-place variant of any known op (erfinv_, hardtanh_, ...) returns the tensor itself.
      if (name.endsWith('_') && !name.startsWith('_') && tensorOps.methods.has(name.slice(0, -1))) return inPlaceMethod;
      return undefined;
    },
    tensorAttribute(t, name, ctx) {
      return tensorOps.attribute(t, name, ctx);
    },
    binaryOp(op, a, b, ctx) {
      return tensorOps.binaryOp(op, a, b, ctx);
    },
    unaryOp(op, a, ctx) {
      return tensorOps.unaryOp(op, a, ctx);
    },
    getItem(t, index, ctx) {
      return tensorOps.getItem(t, index, ctx);
    },
  };
}
