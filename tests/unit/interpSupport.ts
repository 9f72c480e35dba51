// A deliberately small torch catalog for the interpreter tests, so they check the
// interpreter alone (the real catalog has its own tests): Conv2d, Linear, ReLU, Flatten,
// torch.randn/zeros/cat/flatten, tensor.view/size/flatten/shape, elementwise + and @.
import type { TorchCatalog } from '../../extension/analysis/torch/catalog';
import type { BuiltinImpl, CallContext, ClassValue, InstanceValue, ModuleSpec, ParamSpec, TensorValue, Value } from '../../extension/analysis/interp/values';
import * as dim from '../../extension/analysis/shape/dim';
import type { Dim } from '../../extension/analysis/shape/dim';
import { analyzeFile } from '../../extension/analysis/index';
import type { AnalyzeOptions, FileReport } from '../../extension/analysis/reportTypes';

const NONE: Value = { kind: 'none' };
const int = (v: Dim): Value => ({ kind: 'int', value: v });
const intOf = (v: Value | undefined): Dim => (v && v.kind === 'int' ? v.value : v && v.kind === 'bool' ? (v.value ? 1 : 0) : NaN);
const pair = (v: Value): [Dim, Dim] => (v.kind === 'tuple' ? [intOf(v.items[0]), intOf(v.items[1])] : [intOf(v), intOf(v)]);
const p = (name: string, dflt?: Value): ParamSpec => (dflt === undefined ? { name } : { name, default: dflt });

function param(ctx: CallContext, shape: Dim[]): TensorValue {
  const t = ctx.newTensor(shape);
  t.isParameter = true;
  t.requiresGrad = true;
  return t;
}

function layer(spec: ModuleSpec, moduleBase: ClassValue): ClassValue {
  const c: ClassValue = { kind: 'class', name: spec.name, mro: [], attrs: new Map(), builtinModule: spec, isModule: true };
  c.mro = [c, ...moduleBase.mro];
  return c;
}

export function createTestCatalog(moduleBase: ClassValue): TorchCatalog {
  const conv2d: ModuleSpec = {
    name: 'Conv2d',
    signature: [p('in_channels'), p('out_channels'), p('kernel_size'), p('stride', int(1)), p('padding', int(0)), p('bias', { kind: 'bool', value: true })],
    init(self, a, ctx) {
      const [k0, k1] = pair(a.get('kernel_size')!);
      self.attrs.set('in_channels', a.get('in_channels')!);
      self.attrs.set('out_channels', a.get('out_channels')!);
      self.attrs.set('kernel_size', { kind: 'tuple', items: [int(k0), int(k1)] });
      self.attrs.set('stride', a.get('stride')!);
      self.attrs.set('padding', a.get('padding')!);
      self.module!.params.set('weight', param(ctx, [intOf(a.get('out_channels')), intOf(a.get('in_channels')), k0, k1]));
      const bias = a.get('bias')!;
      self.module!.params.set('bias', bias.kind === 'bool' && bias.value ? param(ctx, [intOf(a.get('out_channels'))]) : (NONE as { kind: 'none' }));
    },
    forwardSignature: [p('input')],
    forward(self, a, ctx) {
      const x = a.get('input')!;
      if (x.kind !== 'tensor' || !x.shape) return { kind: 'unknown' };
      const [k0, k1] = pair(self.attrs.get('kernel_size')!);
      const [s0, s1] = pair(self.attrs.get('stride')!);
      const [p0, p1] = pair(self.attrs.get('padding')!);
      const cin = intOf(self.attrs.get('in_channels'));
      if (dim.dimEquals(x.shape[1], cin) === false) ctx.diagnostic('error', `Conv2d expects ${dim.dimToString(cin)} input channels, gets ${dim.dimToString(x.shape[1])}.`);
      const out = (n: Dim, k: Dim, s: Dim, pad: Dim) => dim.add(dim.floorDiv(dim.sub(dim.add(n, dim.mul(2, pad)), k), s), 1);
      return ctx.newTensor([x.shape[0], intOf(self.attrs.get('out_channels')), out(x.shape[2], k0, s0, p0), out(x.shape[3], k1, s1, p1)]);
    },
    macs(self, _a, output) {
      if (output.kind !== 'tensor' || !output.shape) return 0;
      const [k0, k1] = pair(self.attrs.get('kernel_size')!);
      return dim.mul(dim.product(output.shape), dim.mul(intOf(self.attrs.get('in_channels')), dim.mul(k0, k1)));
    },
  };
  const linear: ModuleSpec = {
    name: 'Linear',
    signature: [p('in_features'), p('out_features'), p('bias', { kind: 'bool', value: true })],
    init(self, a, ctx) {
      self.attrs.set('in_features', a.get('in_features')!);
      self.attrs.set('out_features', a.get('out_features')!);
      self.module!.params.set('weight', param(ctx, [intOf(a.get('out_features')), intOf(a.get('in_features'))]));
      const bias = a.get('bias')!;
      self.module!.params.set('bias', bias.kind === 'bool' && bias.value ? param(ctx, [intOf(a.get('out_features'))]) : (NONE as { kind: 'none' }));
    },
    forwardSignature: [p('input')],
    forward(self, a, ctx) {
      const x = a.get('input')!;
      if (x.kind !== 'tensor' || !x.shape) return { kind: 'unknown' };
      const fin = intOf(self.attrs.get('in_features'));
      const last = x.shape[x.shape.length - 1];
      const same = dim.dimEquals(last, fin);
      if (same === false) ctx.diagnostic('error', `Linear expects in_features=${dim.dimToString(fin)}, gets ${dim.dimToString(last)}.`);
      if (same === undefined && typeof fin === 'number') ctx.requireSize?.(last, fin);
      return ctx.newTensor([...x.shape.slice(0, -1), intOf(self.attrs.get('out_features'))]);
    },
    macs(self, _a, output) {
      return output.kind === 'tensor' && output.shape ? dim.mul(dim.product(output.shape), intOf(self.attrs.get('in_features'))) : 0;
    },
  };
  const relu: ModuleSpec = {
    name: 'ReLU', signature: [p('inplace', { kind: 'bool', value: false })], init() {}, forwardSignature: [p('input')],
    forward(_self, a, ctx) { const x = a.get('input')!; return x.kind === 'tensor' ? ctx.newTensor(x.shape, x.dtype) : x; },
  };
  const flattenShape = (s: Dim[], start: number): Dim[] => [...s.slice(0, start), dim.product(s.slice(start))];
  const flatten: ModuleSpec = {
    name: 'Flatten', signature: [p('start_dim', int(1)), p('end_dim', int(-1))], init() {}, forwardSignature: [p('input')],
    forward(_self, a, ctx) { const x = a.get('input')!; return x.kind === 'tensor' && x.shape ? ctx.newTensor(flattenShape(x.shape, 1)) : x; },
  };
  const shapeArgs = (args: Value[]): Dim[] => {
    const first = args[0];
    if (first && (first.kind === 'tuple' || first.kind === 'list')) return first.items.map(intOf);
    return args.map(intOf);
  };
  const factory: BuiltinImpl = (args, kwargs, ctx) => {
    const dtype = kwargs.get('dtype');
    return ctx.newTensor(shapeArgs(args), dtype && dtype.kind === 'str' ? (dtype.value as 'int64') : 'float32');
  };
  const torch = new Map<string, Value>([
    ['randn', { kind: 'builtin', name: 'randn', call: factory }],
    ['zeros', { kind: 'builtin', name: 'zeros', call: factory }],
    ['ones', { kind: 'builtin', name: 'ones', call: factory }],
    ['long', { kind: 'str', value: 'int64' }],
    ['flatten', { kind: 'builtin', name: 'flatten', call: (args, kwargs, ctx) => {
      const x = args[0];
      const start = intOf(args[1] ?? kwargs.get('start_dim') ?? int(0)) as number;
      return x.kind === 'tensor' && x.shape ? ctx.newTensor(flattenShape(x.shape, start)) : { kind: 'unknown' };
    } }],
    ['cat', { kind: 'builtin', name: 'cat', call: (args, kwargs, ctx) => {
      const ts = args[0].kind === 'list' || args[0].kind === 'tuple' ? args[0].items : [];
      const d = intOf(args[1] ?? kwargs.get('dim') ?? int(0)) as number;
      const shapes = ts.map((t) => (t.kind === 'tensor' ? t.shape : null));
      if (shapes.some((s) => !s)) return { kind: 'unknown' };
      const out = shapes[0]!.slice();
      out[d] = shapes.reduce<Dim>((acc, s) => dim.add(acc, s![d]), 0);
      return ctx.newTensor(out);
    } }],
  ]);
  const nn = new Map<string, Value>([
    ['Conv2d', layer(conv2d, moduleBase)], ['Linear', layer(linear, moduleBase)], ['ReLU', layer(relu, moduleBase)], ['Flatten', layer(flatten, moduleBase)],
  ]);
  const functional = new Map<string, Value>([
    ['relu', { kind: 'builtin', name: 'relu', call: (args, _kw, ctx) => (args[0].kind === 'tensor' ? ctx.newTensor(args[0].shape) : args[0]) }],
  ]);
  const init = new Map<string, Value>([['kaiming_normal_', { kind: 'builtin', name: 'kaiming_normal_', call: (args) => args[0] }], ['zeros_', { kind: 'builtin', name: 'zeros_', call: (args) => args[0] }]]);
  const tensorMethods = new Map<string, BuiltinImpl>([
    ['size', (args) => {
      const t = args[0] as TensorValue;
      if (!t.shape) return { kind: 'unknown' };
      if (args[1]) { const i = intOf(args[1]) as number; return int(t.shape[i < 0 ? t.shape.length + i : i]); }
      return { kind: 'tuple', items: t.shape.map(int) };
    }],
    ['view', (args, _kw, ctx) => {
      const t = args[0] as TensorValue;
      const dims = shapeArgs(args.slice(1));
      if (!t.shape) return ctx.newTensor(null);
      const total = dim.product(t.shape);
      const known = dims.filter((d) => d !== -1);
      const i = dims.indexOf(-1);
      if (i >= 0) dims[i] = dim.floorDiv(total, dim.product(known));
      return ctx.newTensor(dims, t.dtype);
    }],
    ['flatten', (args, _kw, ctx) => {
      const t = args[0] as TensorValue;
      const start = args[1] ? (intOf(args[1]) as number) : 0;
      return t.shape ? ctx.newTensor(flattenShape(t.shape, start)) : ctx.newTensor(null);
    }],
  ]);
  return {
    modules: new Map([['torch', torch], ['torch.nn', nn], ['torch.nn.functional', functional], ['torch.nn.init', init]]),
    tensorMethod: (name) => tensorMethods.get(name),
    tensorAttribute(t, name) {
      if (name === 'shape') return t.shape ? { kind: 'tuple', items: t.shape.map(int) } : { kind: 'unknown' };
      if (name === 'ndim') return t.shape ? int(t.shape.length) : { kind: 'unknown' };
      return undefined;
    },
    binaryOp(op, a, b, ctx) {
      const t = (a.kind === 'tensor' ? a : b) as TensorValue;
      if (op === '@' && a.kind === 'tensor' && b.kind === 'tensor' && a.shape && b.shape) {
        const k = a.shape[a.shape.length - 1];
        ctx.addMacs(dim.mul(dim.product(a.shape), b.shape[b.shape.length - 1]));
        void k;
        return ctx.newTensor([...a.shape.slice(0, -1), b.shape[b.shape.length - 1]]);
      }
      return ctx.newTensor(t.shape, t.dtype);
    },
    unaryOp: (_op, a, ctx) => ctx.newTensor(a.shape, a.dtype),
    getItem(t, index, ctx) {
      if (!t.shape) return ctx.newTensor(null);
      if (index.kind === 'int') return ctx.newTensor(t.shape.slice(1), t.dtype);
      return ctx.newTensor(t.shape, t.dtype);
    },
  };
}

/** Analyze a snippet with the test catalog. */
export function analyzeSnippet(source: string, options: AnalyzeOptions = {}, file = '/tmp/netlens-test/snippet.py'): Promise<FileReport> {
  return analyzeFile(file, source, options, { catalogFactory: createTestCatalog });
}

export type { InstanceValue };

import { loadPythonParser } from '../../extension/analysis/python/parser';
import { createInterpreter } from '../../extension/analysis/interp/setup';
import { defaultFileSystem } from '../../extension/analysis/interp/imports';
import { AnalysisAbort, PyRaise } from '../../extension/analysis/interp/interpreter';
import { pyRepr } from '../../extension/analysis/interp/pyvalues';

export interface ModuleRun {
  /** A module-level variable. */
  get(name: string): Value;
  /** repr() of a module-level variable, e.g. '[1, 2]'. */
  repr(name: string): string;
  diagnostics: { severity: string; message: string; line: number }[];
  /** How the run ended: normally, by an uncaught raise, or by the budget/recursion limit. */
  outcome: 'ok' | 'raise' | 'budget' | 'recursion';
  error?: string;
}

/** Executes a snippet as a module (no model tracing) and exposes its namespace. */
export async function runModule(source: string, opts: { files?: Record<string, string>; stepBudget?: number; recursionLimit?: number } = {}): Promise<ModuleRun> {
  const parser = await loadPythonParser();
  const files = opts.files ?? {};
  const main = '/virtual/main.py';
  const fsa = defaultFileSystem((f) => (f === main ? source : files[f]));
  fsa.isFile = (f) => f === main || f in files;
  const interp = createInterpreter({
    fs: fsa,
    parse: (s) => parser.parse(s),
    importRoots: ['/virtual'],
    stepBudget: opts.stepBudget ?? 200_000,
    recursionLimit: opts.recursionLimit ?? 100,
    importStepBudget: 100_000,
  }, createTestCatalog);
  interp.mainFile = main;
  interp.beginRun();
  const record = interp.registerFileModule('main', main, source, false);
  record.value.attrs.set('__name__', { kind: 'str', value: '__main__' });
  let outcome: ModuleRun['outcome'] = 'ok';
  let error: string | undefined;
  try {
    interp.ensureLoaded(record);
  } catch (e) {
    if (e instanceof PyRaise) { outcome = 'raise'; error = e.message; }
    else if (e instanceof AnalysisAbort) { outcome = e.reason; error = e.message; }
    else throw e;
  }
  const get = (name: string): Value => record.value.attrs.get(name) ?? { kind: 'unknown', reason: 'not defined' };
  return {
    get,
    repr: (name) => pyRepr(get(name)),
    diagnostics: interp.diagnostics.map((d) => ({ severity: d.severity, message: d.message, line: d.location.line })),
    outcome,
    error,
  };
}
