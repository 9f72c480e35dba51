// Constructs found in round 3 of the held-out probes (timm.create_model across timm's families,
// and tests/fixtures/heldout files in styles not covered before): each test is one construct,
// with what Python / PyTorch 2.13 gives for the same code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { analyzeFile } from '../../extension/analysis/index';
import type { ModelReport } from '../../extension/analysis/reportTypes';
import { runModule } from './interpSupport';

async function analyze(source: string, entry?: string): Promise<ModelReport> {
  const report = await analyzeFile('/virtual/model.py', source, entry ? { entry } : {});
  assert.equal(report.models.length, 1, JSON.stringify(report.diagnostics));
  return report.models[0]!;
}

async function values(source: string, names: string[]): Promise<Record<string, string>> {
  const run = await runModule(source);
  assert.equal(run.outcome, 'ok', run.error);
  return Object.fromEntries(names.map((n) => [n, run.repr(n)]));
}

function rows(model: ModelReport): string[] {
  return model.layers.map((l) => `${l.path} ${l.type} ${JSON.stringify(l.output)} ${l.params}`);
}

test('match statements: literals, or-patterns, guards, sequences with a star, mappings with **rest, class patterns', async () => {
  const v = await values(`
def kind(spec):
    match spec:
        case 'tiny' | 'small':
            return 'named'
        case str(s) if s.startswith('wide'):
            return 'wide:' + s
        case ('conv', c):
            return ('conv', c)
        case [k, c, *rest]:
            return (k, c, rest)
        case {'kind': 'sep', 'out': c, **rest}:
            return ('sep', c, sorted(rest))
        case int(n) | float(n) if n < 0:
            return 'negative'
        case -1:
            return 'unreachable'
        case _:
            return 'other'
a = [kind('small'), kind('wide_x'), kind(('conv', 8)), kind(['res', 4, 2, 1]), kind({'kind': 'sep', 'out': 3, 'stride': 2}), kind(-5), kind(None)]
match 1, 2:
    case (x, y) if x > y:
        b = 'first'
    case x, y:
        b = x + y
`, ['a', 'b']);
  assert.equal(v.a, "['named', 'wide:wide_x', ('conv', 8), ('res', 4, [2, 1]), ('sep', 3, ['stride']), 'negative', 'other']");
  assert.equal(v.b, '3');
});

test('eval of a string in the caller scope (YOLO-style tables); an undefined bare name raises NameError', async () => {
  const v = await values(`
class Conv: pass
def resolve(m, args):
    m = eval(m) if isinstance(m, str) else m
    out = []
    for a in args:
        try:
            out.append(eval(a) if isinstance(a, str) else a)
        except NameError:
            out.append('kept:' + a)
    return m, out
nc = 80
a = resolve('Conv', ['nc', 'nearest', 3, 'nc * 2'])
b = eval('x + 1', {'x': 4})
`, ['a', 'b']);
  assert.equal(v.a, "(<class 'Conv'>, [80, 'kept:nearest', 3, 160])");
  assert.equal(v.b, '5');
});

test('Enum members mixed with str or int equal, hash and compute as their value', async () => {
  const v = await values(`
from enum import Enum, IntEnum
class Format(str, Enum):
    NCHW = 'NCHW'
    NLC = 'NLC'
class Level(IntEnum):
    LOW = 1
    HIGH = 2
f = Format('NLC')
a = (f in ('NCHW', 'NLC'), f == 'NLC', {'NLC': 1}[f], f.lower(), f.value)
b = (Level.HIGH + 1, Level.HIGH > Level.LOW, Level.LOW == 1)
`, ['a', 'b']);
  assert.equal(v.a, "(True, True, 1, 'nlc', 'NLC')");
  assert.equal(v.b, '(3, True, True)');
});

test("a partial of a partial is flattened (timm unbinds .func and .keywords)", async () => {
  const v = await values(`
from functools import partial
def layer(a, b=0, c=0, eps=1e-5):
    return (a, b, c, eps)
inner = partial(layer, b=1)
outer = partial(inner, eps=0.1)
a = (outer.func is layer, sorted(outer.keywords.items()), outer(5))
`, ['a']);
  assert.equal(v.a, "(True, [('b', 1), ('eps', 0.1)], (5, 1, 0, 0.1))");
});

test('__init_subclass__ receives the class keywords; Generic subclasses subscript to themselves', async () => {
  const v = await values(`
from typing import Generic, TypeVar
T = TypeVar('T')
REG = {}
class Base:
    def __init_subclass__(cls, kind=None, **kwargs):
        super().__init_subclass__(**kwargs)
        REG[kind] = cls.__name__
class A(Base, kind='a'): pass
class B(Base, kind='b'): pass
class Box(Generic[T]):
    def __init__(self, v):
        self.v = v
a = sorted(REG.items())
b = Box[int](3).v
`, ['a', 'b']);
  assert.equal(v.a, "[('a', 'A'), ('b', 'B')]");
  assert.equal(v.b, '3');
});

test('itertools.chain.from_iterable, itertools.pairwise, collections.Counter', async () => {
  const v = await values(`
import itertools
from collections import Counter
a = list(itertools.chain.from_iterable(zip([1, 2], [3, 4])))
b = list(itertools.chain([1], (2, 3)))
c = list(itertools.pairwise([8, 16, 32]))
counts = Counter(['conv', 'bn', 'conv'])
d = (counts['conv'], counts['missing'], sorted(counts.items()))
`, ['a', 'b', 'c', 'd']);
  assert.deepEqual(v, { a: '[1, 3, 2, 4]', b: '[1, 2, 3]', c: '[(8, 16), (16, 32)]', d: "(2, 0, [('bn', 1), ('conv', 2)])" });
});

test('an import that exists nowhere inside try/except ImportError takes the fallback, and says so', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    'try:',
    '    from apex.normalization import FusedLayerNorm as LayerNorm',
    'except ImportError:',
    '    LayerNorm = nn.LayerNorm',
    '# netlens: input=(2, 8)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.norm = LayerNorm(8)',
    '    def forward(self, x):',
    '        return self.norm(x)',
  ].join('\n'));
  assert.deepEqual(rows(model), ['norm LayerNorm [[2,8]] 16']);
  const report = await analyzeFile('/virtual/model.py', 'try:\n    import apex\nexcept ImportError:\n    apex = None\n', {});
  assert.deepEqual(report.diagnostics.map((d) => [d.severity, d.line, d.message]), [
    ['info', 2, "Cannot find module 'apex'; Netlens follows the except ImportError branch, as Python would without it."],
  ]);
});

test('forward hooks: pre-hooks rewrite inputs, hooks replace outputs and collect activations, removed handles stop', async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    '# netlens: input=(2, 3, 8, 8)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.conv = nn.Conv2d(3, 4, 3, padding=1)',
    '        self.pool = nn.AdaptiveAvgPool2d(1)',
    '        self.fc = nn.Linear(4, 2)',
    '        self.feats = {}',
    "        self.conv.register_forward_hook(lambda m, i, o: self.feats.__setitem__('conv', o))",
    '        self.pool.register_forward_hook(lambda m, i, o: o.flatten(1))',
    '        self.fc.register_forward_pre_hook(lambda m, args: (args[0] * 2,))',
    '        h = self.fc.register_forward_hook(lambda m, i, o: o[:, :1])',
    '        h.remove()',
    '    def forward(self, x):',
    '        y = self.fc(self.pool(self.conv(x)))',
    "        return y, self.feats['conv']",
  ].join('\n'));
  assert.deepEqual(rows(model), ['conv Conv2d [[2,4,8,8]] 112', 'pool AdaptiveAvgPool2d [[2,4]] 0', 'fc Linear [[2,2]] 10']);
  assert.deepEqual(model.output, [[2, 2], [2, 4, 8, 8]]);
});

test('a forward assigned on the instance (self.forward = self.forward_split) is the one called', async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    '# netlens: input=(1, 8, 4, 4)',
    'class Partial(nn.Module):',
    "    def __init__(self, mode='split'):",
    '        super().__init__()',
    '        self.conv = nn.Conv2d(2, 2, 3, padding=1)',
    "        self.forward = self.forward_split if mode == 'split' else self.forward_slice",
    '    def forward_split(self, x):',
    '        a, b = torch.split(x, [2, 6], dim=1)',
    '        return torch.cat((self.conv(a), b), 1)',
    '    def forward_slice(self, x):',
    '        return x',
  ].join('\n'));
  assert.deepEqual(rows(model), ['conv Conv2d [[1,2,4,4]] 38']);
  assert.deepEqual(model.output, [[1, 8, 4, 4]]);
});

test('complex tensors: torch.polar, view_as_complex/view_as_real, complex products (rotary embeddings)', async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    '# netlens: input=(2, 5, 4, 8)',
    'class Rope(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        freqs = torch.outer(torch.arange(16).float(), torch.ones(4))',
    '        self.register_buffer("cis", torch.polar(torch.ones_like(freqs), freqs), persistent=False)',
    '    def forward(self, x):',
    '        xc = torch.view_as_complex(x.float().reshape(*x.shape[:-1], -1, 2))',
    '        cis = self.cis[:x.shape[1]].view(1, x.shape[1], 1, -1)',
    '        out = torch.view_as_real(xc * cis)',
    '        return out.flatten(3), xc.real, xc.abs(), (xc * cis).dtype == torch.complex64',
  ].join('\n'));
  assert.deepEqual(model.output, [[2, 5, 4, 8], [2, 5, 4, 4], [2, 5, 4, 4]]);
  assert.deepEqual(model.diagnostics, []);
});

test('view_as_complex needs a last dimension of 2', async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    '# netlens: input=(2, 3)',
    'class M(nn.Module):',
    '    def forward(self, x):',
    '        return torch.view_as_complex(x)',
  ].join('\n'));
  assert.deepEqual(model.diagnostics.map((d) => [d.severity, d.message]), [
    ['error', 'view_as_complex: the last dimension must have size 2 (real and imaginary parts), got shape [2, 3]'],
  ]);
});

test('parameters of unknown size are named in an information diagnostic instead of silently left out', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    'import not_installed_pkg',
    '# netlens: input=(2, 4)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.hidden = nn.Linear(4, not_installed_pkg.width())',
    '        self.out = nn.Linear(4, 2)',
    '    def forward(self, x):',
    '        return self.out(x)',
  ].join('\n'));
  assert.deepEqual(model.params, { total: 10, trainable: 10 });
  assert.deepEqual(model.diagnostics.map((d) => [d.severity, d.message]), [
    ['info', "The sizes of 2 parameters (the first: 'hidden.weight') are unknown to Netlens; the parameter counts leave them out."],
  ]);
});

test('listing a library registry by iteration first runs the package modules that fill it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-registry-'));
  const pkg = path.join(dir, 'zoo');
  fs.mkdirSync(path.join(pkg, 'nets'), { recursive: true });
  fs.writeFileSync(path.join(pkg, '__init__.py'), 'from .registry import build, names\nfrom .nets import *\n');
  fs.writeFileSync(path.join(pkg, 'registry.py'), [
    '_MODELS = {}',
    'def register(fn):',
    '    _MODELS[fn.__name__] = fn',
    '    return fn',
    'def names():',
    '    return sorted(k for k in _MODELS)',
    'def build(name, **kw):',
    '    return _MODELS[name](**kw)',
  ].join('\n'));
  fs.writeFileSync(path.join(pkg, 'nets', '__init__.py'), 'from .small import *\n');
  fs.writeFileSync(path.join(pkg, 'nets', 'small.py'), [
    'import torch.nn as nn',
    'from ..registry import register',
    "__all__ = ['small_mlp']",
    '@register',
    'def small_mlp(width=4):',
    '    return nn.Sequential(nn.Linear(3, width), nn.ReLU())',
  ].join('\n'));
  const file = path.join(dir, 'train.py');
  const source = 'import zoo\n# netlens: input=(2, 3)\nmodel = zoo.build(zoo.names()[0], width=6)\n';
  fs.writeFileSync(file, source);
  const report = await analyzeFile(file, source, {});
  assert.equal(report.models.length, 1, JSON.stringify(report.diagnostics));
  assert.deepEqual(rows(report.models[0]!), ['0 Linear [[2,6]] 24', '1 ReLU [[2,6]] 0']);
});

test('an output Netlens cannot follow, with nothing else said, gets an information diagnostic', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-opaque-'));
  fs.writeFileSync(path.join(dir, 'opaque.py'), 'import torch\ndef make():\n    return torch.no_such_factory()\n');
  const file = path.join(dir, 'model.py');
  const source = [
    'import torch.nn as nn',
    'import opaque',
    '# netlens: input=(2, 3)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.inner = opaque.make()',
    '    def forward(self, x):',
    '        return self.inner(x)',
  ].join('\n');
  fs.writeFileSync(file, source);
  const report = await analyzeFile(file, source, {});
  const model = report.models[0]!;
  assert.deepEqual(model.output, []);
  assert.deepEqual(model.diagnostics.map((d) => [d.severity, d.message]), [
    ['info', "Netlens could not follow M's forward to its output (it uses something Netlens does not model); its output, and the layers and parameters behind it, are unknown."],
  ]);
});

test('SyncBatchNorm.convert_sync_batchnorm swaps every BatchNorm in the tree, keeping its tensors and settings', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    '# netlens: input=(2, 3, 8, 8)',
    'def build():',
    '    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, affine=False), nn.Sequential(nn.BatchNorm2d(4)))',
    '    return nn.SyncBatchNorm.convert_sync_batchnorm(net)',
    'model = build()',
  ].join('\n'), 'model');
  assert.deepEqual(rows(model), ['0 Conv2d [[2,4,6,6]] 112', '1 SyncBatchNorm [[2,4,6,6]] 0', '2.0 SyncBatchNorm [[2,4,6,6]] 8']);
});

test('pkgutil.get_data reads a data file next to the module (decoded text); os.path joins and splits strings', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-pkgdata-'));
  const pkg = path.join(dir, 'widths');
  fs.mkdirSync(path.join(pkg, 'tables'), { recursive: true });
  fs.writeFileSync(path.join(pkg, '__init__.py'), [
    'import os',
    'import pkgutil',
    'def load(name):',
    "    raw = pkgutil.get_data(__name__, os.path.join('tables', name + '.txt'))",
    "    return [int(w) for w in raw.decode('utf-8').strip().split(',')]",
    "STEM, EXT = os.path.splitext(os.path.basename('/a/b/small.txt'))",
  ].join('\n'));
  fs.writeFileSync(path.join(pkg, 'tables', 'small.txt'), '3,5,7\n');
  const file = path.join(dir, 'model.py');
  const source = [
    'import torch.nn as nn',
    'import widths',
    'w = widths.load(widths.STEM)',
    '# netlens: input=(2, 3)',
    'model = nn.Sequential(nn.Linear(w[0], w[1]), nn.Linear(w[1], w[2]))',
  ].join('\n');
  fs.writeFileSync(file, source);
  const report = await analyzeFile(file, source, {});
  assert.deepEqual(rows(report.models[0]!), ['0 Linear [[2,5]] 20', '1 Linear [[2,7]] 42']);
});

test('subclasses of dict / OrderedDict keep items apart from attributes (HF ModelOutput, AttrDict configs)', async () => {
  const v = await values(`
from collections import OrderedDict
from dataclasses import dataclass, fields
class Config(dict):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = 'cfg'
c = Config({'depth': 2}, width=8)
a = (sorted(c.keys()), c['width'], len(c), 'depth' in c, c.get('missing', 0), c.name)
class ModelOutput(OrderedDict):
    def __post_init__(self):
        for f in fields(self):
            if getattr(self, f.name) is not None:
                self[f.name] = getattr(self, f.name)
@dataclass
class Out(ModelOutput):
    logits: int = None
    hidden: int = None
o = Out(logits=3)
b = (list(o.keys()), o['logits'], o.hidden, list(o.values()))
`, ['a', 'b']);
  assert.equal(v.a, "(['depth', 'width'], 8, 2, True, 0, 'cfg')");
  assert.equal(v.b, "(['logits'], 3, None, [3])");
});

test("a forward returning a dict subclass reports its tensors, like hooks; torch.finfo(dtype).min masks", async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    'from collections import OrderedDict',
    'class Output(OrderedDict):',
    '    pass',
    '# netlens: input=(2, 5)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.fc = nn.Linear(5, 3)',
    '    def forward(self, x):',
    '        mask = (1.0 - torch.ones(2, 3)) * torch.finfo(x.dtype).min',
    '        out = Output()',
    "        out['logits'] = self.fc(x) + mask",
    "        out['features'] = x",
    '        return out',
  ].join('\n'));
  assert.deepEqual(model.output, [[2, 3], [2, 5]]);
  assert.deepEqual(model.diagnostics, []);
});

test('torch.fx.symbolic_trace keeps the root class name and drops submodules forward never calls', async () => {
  const model = await analyze([
    'import torch.fx',
    'import torch.nn as nn',
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.used = nn.Linear(4, 2)',
    '        self.unused = nn.Linear(4, 8)',
    '    def forward(self, x):',
    '        return self.used(x)',
    '# netlens: input=(3, 4)',
    'model = torch.fx.symbolic_trace(Net())',
  ].join('\n'), 'model');
  assert.equal(model.name, 'Net');
  assert.deepEqual(rows(model), ['used Linear [[3,2]] 10']);
  assert.deepEqual(model.params, { total: 10, trainable: 10 });
});
