// Builds an interpreter world: object/type, builtins and stdlib, the nn.Module machinery,
// the torch catalog, and the few torch members model code needs for control flow
// (torch.jit.annotate/is_scripting, torch.fx.wrap, torch._assert, checkpoint) when the
// catalog does not provide them.
import type { TorchCatalog } from '../torch/catalog';
import type { BuiltinFunctionValue, BuiltinImpl, ClassValue, Value } from './values';
import { Interpreter, type InterpreterConfig } from './interpreter';
import { installBuiltins } from './builtins';
import { installFeatureExtraction } from './featureExtraction';
import { installNn } from './nn';
import { FALSE, NONE, UNKNOWN, intV, numberOf, pyStr, strV, truthy, tupleV } from './pyvalues';
import { messages } from '../messages';

export type CatalogFactory = (moduleBase: ClassValue) => TorchCatalog;

export function createInterpreter(config: InterpreterConfig, catalogFactory: CatalogFactory): Interpreter {
  const interp = new Interpreter(config);
  const objectClass: ClassValue = { kind: 'class', name: 'object', mro: [], attrs: new Map(), isModule: false };
  objectClass.mro = [objectClass];
  const typeClass: ClassValue = { kind: 'class', name: 'type', mro: [], attrs: new Map(), isModule: false };
  typeClass.mro = [typeClass, objectClass];
  interp.special = { object: objectClass, type: typeClass } as Interpreter['special'];
  installBuiltins(interp, objectClass, typeClass);
  const nn = installNn(interp, objectClass);
  interp.special.moduleBase = nn.moduleBase;
  interp.special.parameter = nn.parameter;
  interp.catalog = catalogFactory(nn.moduleBase);
  completeTorchModules(interp, nn);
  installFeatureExtraction(interp);
  return interp;
}

function fn(name: string, call: BuiltinImpl): BuiltinFunctionValue {
  return { kind: 'builtin', name, call };
}

function completeTorchModules(interp: Interpreter, nn: ReturnType<typeof installNn>): void {
  const modules = interp.catalog.modules;
  const get = (name: string): Map<string, Value> => {
    let m = modules.get(name);
    if (!m) { m = new Map(); modules.set(name, m); }
    return m;
  };
  const provide = (moduleName: string, name: string, v: Value): void => {
    const m = get(moduleName);
    if (!m.has(name)) m.set(name, v);
  };
  const containers: [string, Value][] = [
    ['Module', nn.moduleBase], ['Sequential', nn.sequential], ['ModuleList', nn.moduleList], ['ModuleDict', nn.moduleDict],
    ['ParameterList', nn.parameterList], ['ParameterDict', nn.parameterDict], ['Parameter', nn.parameter],
  ];
  for (const [k, v] of containers) {
    // The interpreter owns these (they need its machinery): they replace any catalog placeholder.
    get('torch.nn').set(k, v);
    get('torch.nn.modules').set(k, v);
  }
  get('torch.nn.modules.module').set('Module', nn.moduleBase);
  for (const k of ['Sequential', 'ModuleList', 'ModuleDict', 'ParameterList', 'ParameterDict']) get('torch.nn.modules.container').set(k, containers.find(([n]) => n === k)![1]);
  get('torch.nn.parameter').set('Parameter', nn.parameter);

  let tensor = get('torch').get('Tensor');
  if (!tensor || tensor.kind !== 'class') {
    const t: ClassValue = { kind: 'class', name: 'Tensor', mro: [], attrs: new Map(), isModule: false };
    t.mro = [t, interp.special.object];
    tensor = t;
    get('torch').set('Tensor', t);
  }
  interp.special.tensor = tensor;
  installLegacyTensorConstructors(interp, get('torch'), get('torch.cuda'), tensor as ClassValue);
  installAutogradFunction(interp, get('torch.autograd'), get('torch.autograd.function'), fn('identity', (args) => args[0] ?? NONE));
  nn.parameter.mro = [nn.parameter, tensor as ClassValue, interp.special.object];

  const identity = fn('identity', (args) => args[0] ?? NONE);
  // torch.jit.script(fn | module), torch.jit.trace(module, example) and bare decorators give back
  // what they wrap; called with options only (`@torch.jit.ignore(drop=True)`) they are a decorator.
  const decorator = fn('decorator', (args) => {
    const first = args[0];
    if (first && (first.kind === 'function' || first.kind === 'class' || first.kind === 'builtin' || (first.kind === 'instance' && !!first.module))) return first;
    return identity;
  });
  provide('torch.jit', 'annotate', fn('annotate', (args) => args[1] ?? UNKNOWN));
  provide('torch.jit', 'is_scripting', fn('is_scripting', () => FALSE));
  provide('torch.jit', 'is_tracing', fn('is_tracing', () => FALSE));
  for (const d of ['unused', 'ignore', 'export', 'script', 'script_method', '_overload_method', '_overload', 'interface', 'trace']) provide('torch.jit', d, decorator);
  provide('torch.jit', 'Final', UNKNOWN);
  provide('torch.fx', 'wrap', decorator);
  provide('torch.fx._symbolic_trace', 'is_fx_tracing', fn('is_fx_tracing', () => FALSE));
  // The catalog follows PyTorch 2.13: version checks in model code take that branch.
  provide('torch', '__version__', strV('2.13.0'));
  provide('torch', 'is_tensor', fn('is_tensor', (args) => ({ kind: 'bool', value: args[0]?.kind === 'tensor' })));
  provide('torch', '_assert', fn('_assert', (args, _kw, ctx) => {
    if (args[0] && truthy(args[0]) === false) interp.raise('AssertionError', messages.assertionFailed(args[1] ? pyStr(args[1]) : ''), ctx.location);
    for (const tap of interp.effectTaps) tap();
    return NONE;
  }));
  provide('torch.utils.checkpoint', 'checkpoint', fn('checkpoint', (args, kwargs, ctx) => {
    const [f, ...rest] = args;
    const kw = new Map(kwargs);
    kw.delete('use_reentrant');
    kw.delete('preserve_rng_state');
    return f ? ctx.callValue(f, rest, kw) : UNKNOWN;
  }));
  provide('torch.utils.checkpoint', 'checkpoint_sequential', fn('checkpoint_sequential', (args, _kw, ctx) => {
    const [f, , input] = args;
    return f && input ? ctx.callValue(f, [input]) : UNKNOWN;
  }));
  const ntuple = (n: number) => fn(`_ntuple(${n})`, (args) => {
    const v = args[0];
    if (!v) return UNKNOWN;
    if (v.kind === 'tuple' || v.kind === 'list') return tupleV(v.items);
    return tupleV(new Array(n).fill(v));
  });
  provide('torch.nn.modules.utils', '_single', ntuple(1));
  provide('torch.nn.modules.utils', '_pair', ntuple(2));
  provide('torch.nn.modules.utils', '_triple', ntuple(3));
  provide('torch.nn.modules.utils', '_quadruple', ntuple(4));
  provide('torch.nn.modules.utils', '_ntuple', fn('_ntuple', (args) => ntuple(numberOf(args[0] ?? intV(2)) ?? 2)));
  for (const name of ['torch.utils', 'torch.nn.init', 'torch.nn.functional', 'torch.ops', 'torch.cuda', 'torch.backends', 'torch.autograd', 'torch.distributed', 'torch.hub', 'torch._C', 'torch.overrides']) get(name);
}

/**
 * torch.Tensor(...) and the legacy typed constructors (torch.FloatTensor, torch.LongTensor, ...)
 * that older paper code still uses for raw parameters: `nn.Parameter(torch.FloatTensor(in, out))`.
 * Integer sizes give an uninitialized tensor of that shape, a list gives its data (like
 * torch.tensor), a tensor is taken as is. A tuple is torch.Size (sizes) or data depending on its
 * Python type, which the analyzer does not keep apart, so its shape stays unknown.
 */
function installLegacyTensorConstructors(interp: Interpreter, torch: Map<string, Value>, cuda: Map<string, Value>, tensorClass: ClassValue): void {
  const construct = (dtypeName: string) => (args: Value[], kwargs: Map<string, Value>, ctx: Parameters<BuiltinImpl>[2]): Value => {
    const dtype = torch.get(dtypeName);
    const withDtype = new Map<string, Value>(dtype ? [['dtype', dtype]] : []);
    const device = kwargs.get('device');
    if (device) withDtype.set('device', device);
    const first = args[0];
    if (args.length === 0) return callTorch('empty', [intV(0)], withDtype);
    if (args.length === 1 && first?.kind === 'tensor') return first;
    if (args.length === 1 && first?.kind === 'list') return callTorch('tensor', [first], withDtype);
    if (args.every((a) => a.kind === 'int')) return callTorch('empty', args, withDtype);
    return callTorch('empty', [], withDtype, true);

    function callTorch(name: string, callArgs: Value[], callKwargs: Map<string, Value>, shapeUnknown = false): Value {
      const f = torch.get(name);
      if (!f) return UNKNOWN;
      const out = ctx.callValue(f, callArgs, callKwargs);
      return shapeUnknown && out.kind === 'tensor' ? interp.newTensor(null, out.dtype) : out;
    }
  };
  interp.nativeClasses.set(tensorClass, { construct: (_cls, args, kwargs, ctx) => construct('float32')(args, kwargs, ctx) });
  const legacy: [string, string][] = [
    ['FloatTensor', 'float32'], ['DoubleTensor', 'float64'], ['HalfTensor', 'float16'], ['BFloat16Tensor', 'bfloat16'],
    ['LongTensor', 'int64'], ['IntTensor', 'int32'], ['CharTensor', 'int8'],
    ['ByteTensor', 'uint8'], ['BoolTensor', 'bool'],
  ];
  for (const [name, dtypeName] of legacy) {
    for (const owner of [torch, cuda]) if (!owner.has(name)) owner.set(name, fn(name, construct(dtypeName)));
  }
}

/**
 * torch.autograd.Function subclasses (gradient reversal, straight-through estimators) run
 * through `MyFn.apply(*args)`: the static forward gets a context object first (or, with a
 * setup_context of its own, only the arguments). Backward never runs in an analysis.
 * Variable is the identity it has been since PyTorch 0.4.
 */
function installAutogradFunction(interp: Interpreter, autograd: Map<string, Value>, functionModule: Map<string, Value>, identity: BuiltinFunctionValue): void {
  const objectClass = interp.special.object;
  const noOp = fn('no_op', () => NONE);
  const contextClass: ClassValue = { kind: 'class', name: 'FunctionCtx', mro: [], attrs: new Map(), isModule: false };
  contextClass.mro = [contextClass, objectClass];
  for (const name of ['save_for_backward', 'mark_dirty', 'mark_non_differentiable', 'set_materialize_grads', 'save_for_forward']) contextClass.attrs.set(name, noOp);
  contextClass.attrs.set('saved_tensors', tupleV([]));
  contextClass.attrs.set('needs_input_grad', tupleV([]));

  const functionClass: ClassValue = { kind: 'class', name: 'Function', mro: [], attrs: new Map(), isModule: false };
  functionClass.mro = [functionClass, objectClass];
  const baseSetupContext = fn('setup_context', () => NONE);
  functionClass.attrs.set('setup_context', { kind: 'function', name: 'setup_context', impl: { kind: 'staticmethod', fn: baseSetupContext, attrs: new Map() } } as Value);
  const apply = fn('apply', (args, kwargs, ctx) => {
    const [cls, ...rest] = args;
    if (cls?.kind !== 'class') return UNKNOWN;
    const forward = interp.getAttr(cls, 'forward', ctx.location);
    const setup = interp.getAttr(cls, 'setup_context', ctx.location);
    const ownSetup = setup.kind === 'function';
    const call = ownSetup ? rest : [interp.newInstance(contextClass), ...rest];
    return ctx.callValue(forward, call, kwargs);
  });
  functionClass.attrs.set('apply', { kind: 'function', name: 'apply', impl: { kind: 'classmethod', fn: apply, attrs: new Map() } } as Value);
  for (const owner of [autograd, functionModule]) {
    if (!owner.has('Function')) owner.set('Function', functionClass);
    if (!owner.has('Variable')) owner.set('Variable', identity);
  }
  if (!functionModule.has('once_differentiable')) functionModule.set('once_differentiable', identity);
  if (!functionModule.has('FunctionCtx')) functionModule.set('FunctionCtx', contextClass);
}

