// Constructs found while checking the analyzer on code it had not seen (the held-out probes in
// tests/fixtures/heldout/, whose PyTorch goldens tests/unit/goldens.test.ts checks): each test is
// one construct, with what PyTorch 2.13 reports for the same code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { analyzeFile } from '../../extension/analysis/index';
import type { ModelReport } from '../../extension/analysis/reportTypes';

async function analyze(source: string, entry?: string): Promise<ModelReport> {
  const report = await analyzeFile('/virtual/model.py', source, entry ? { entry } : {});
  assert.equal(report.models.length, 1, JSON.stringify(report.diagnostics));
  return report.models[0]!;
}

function rows(model: ModelReport): string[] {
  return model.layers.map((l) => `${l.path} ${l.type} ${JSON.stringify(l.output)} ${l.params}`);
}

test("module._modules[name] = layer replaces the child (torchvision's _replace_relu)", async () => {
  const model = await analyze([
    'import torch.nn as nn',
    'def replace_relu(module):',
    '    swap = {}',
    '    for name, mod in module.named_children():',
    '        replace_relu(mod)',
    '        if type(mod) is nn.ReLU6:',
    '            swap[name] = nn.ReLU(inplace=False)',
    '    for key, value in swap.items():',
    '        module._modules[key] = value',
    '# netlens: input=(1, 3, 8, 8)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.a = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU6())',
    '        self.b = nn.ReLU6()',
    '        replace_relu(self)',
    '    def forward(self, x):',
    '        return self.b(self.a(x))',
  ].join('\n'));
  assert.deepEqual(model.layers.map((l) => `${l.path} ${l.type}`), ['a.0 Conv2d', 'a.1 ReLU', 'b ReLU']);
});

test('QuantStub, DeQuantStub and FloatFunctional: identity stubs, observed ops call activation_post_process', async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    'from torch.ao.quantization import QuantStub, DeQuantStub',
    '# netlens: input=(2, 4)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.quant = QuantStub()',
    '        self.fc = nn.Linear(4, 4)',
    '        self.skip = nn.quantized.FloatFunctional()',
    '        self.join = torch.ao.nn.quantized.FloatFunctional()',
    '        self.dequant = torch.quantization.DeQuantStub()',
    '    def forward(self, x):',
    '        x = self.quant(x)',
    '        y = self.skip.add_relu(self.fc(x), x)',
    '        y = self.skip.mul_scalar(y, 2.0)',
    '        return self.dequant(self.join.cat([x, y], dim=1))',
  ].join('\n'));
  assert.deepEqual(rows(model), [
    'quant QuantStub [[2,4]] 0',
    'fc Linear [[2,4]] 20',
    'skip.activation_post_process Identity [[2,4]] 0',
    'join.activation_post_process Identity [[2,8]] 0',
    'dequant DeQuantStub [[2,8]] 0',
  ]);
});

test('lazy layers take the input channels on the first call and become the concrete layer', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    '# netlens: input=(2, 3, 16, 16)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.c = nn.LazyConv2d(8, 3, padding=1, bias=False)',
    '        self.b = nn.LazyBatchNorm2d()',
    '        self.t = nn.LazyConvTranspose2d(4, 2, stride=2)',
    '    def forward(self, x):',
    '        return self.t(self.b(self.c(x)))',
  ].join('\n'));
  assert.deepEqual(rows(model), [
    'c Conv2d [[2,8,16,16]] 216',
    'b BatchNorm2d [[2,8,16,16]] 16',
    't ConvTranspose2d [[2,4,32,32]] 132',
  ]);
  assert.deepEqual(model.params, { total: 364, trainable: 364 });
});

test('TransformerEncoderLayer(norm_first=True) normalises once per block; clones own their activation module', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    '# netlens: input=(2, 5, 8)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=nn.GELU(), batch_first=True, norm_first=True)',
    '        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)',
    '    def forward(self, x):',
    '        return self.enc(x)',
  ].join('\n'));
  const paths = model.layers.map((l) => l.path);
  assert.equal(paths.filter((p) => p.endsWith('norm1')).length, 2);
  assert.deepEqual(paths.filter((p) => p.endsWith('activation')), ['enc.layers.0.activation', 'enc.layers.1.activation']);
});

test('weight reparametrisations: hook-based keep the layer a leaf, parametrizations add their module call', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    'from torch.nn.utils import parametrizations, spectral_norm, weight_norm',
    '# netlens: input=(2, 1, 20)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.a = spectral_norm(nn.Conv1d(1, 4, 3))',
    '        self.b = weight_norm(nn.Conv1d(4, 4, 3))',
    '        self.c = parametrizations.weight_norm(nn.Conv1d(4, 2, 3))',
    '    def forward(self, x):',
    '        return self.c(self.b(self.a(x)))',
  ].join('\n'));
  assert.deepEqual(rows(model), [
    'a Conv1d [[2,4,18]] 16',
    // weight_g (4, 1, 1) + weight_v (4, 4, 3) + bias (4)
    'b Conv1d [[2,4,16]] 56',
    'c.parametrizations.weight.0 _WeightNorm [[2,4,3]] 0',
  ]);
  // c: bias 2 + original0 (2, 1, 1) + original1 (2, 4, 3)
  assert.deepEqual(model.params, { total: 16 + 56 + 2 + 2 + 24, trainable: 100 });
  assert.deepEqual(model.output, [[2, 2, 14]]);
});

test('nn.DataParallel without a GPU runs the wrapped module: its layers under module.', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.fc = nn.Linear(4, 2)',
    '    def forward(self, x):',
    '        return self.fc(x)',
    '# netlens: input=(3, 4)',
    'model = nn.DataParallel(Net())',
  ].join('\n'), 'model');
  assert.deepEqual(rows(model), ['module.fc Linear [[3,2]] 10']);
});

test('Transformer.generate_square_subsequent_mask through the class or an instance: an (L, L) float mask', async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    '# netlens: input=(2, 5, 8)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.t = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)',
    '    def forward(self, x):',
    '        return self.t.generate_square_subsequent_mask(x.size(1)), nn.Transformer.generate_square_subsequent_mask(3)',
  ].join('\n'));
  assert.deepEqual(model.output, [[5, 5], [3, 3]]);
  assert.deepEqual(model.diagnostics, []);
});

test('annotations with generic and union types (List[int], int | None) evaluate without diagnostics', async () => {
  const model = await analyze([
    'from dataclasses import dataclass, field',
    'from typing import Callable, Dict, List, Optional, Tuple',
    'import torch.nn as nn',
    '@dataclass',
    'class Config:',
    '    widths: List[int] = field(default_factory=lambda: [4, 6])',
    '    extra: Optional[Dict[str, Tuple[int, ...]]] = None',
    '    act: Callable[..., nn.Module] = nn.ReLU',
    '    drop: float | None = None',
    '# netlens: input=(2, 3)',
    'class M(nn.Module):',
    '    def __init__(self, cfg: Config = Config()):',
    '        super().__init__()',
    '        self.fc = nn.Linear(3, cfg.widths[-1])',
    '        self.act = cfg.act()',
    '    def forward(self, x):',
    '        return self.act(self.fc(x))',
  ].join('\n'));
  assert.deepEqual(model.output, [[2, 6]]);
  assert.deepEqual(model.diagnostics, []);
});

test('a torch member the catalog lacks is one information diagnostic where it is called, never a wrong shape', async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    '# netlens: input=(2, 3)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.odd = nn.NoSuchLayer(3)',
    '    def forward(self, x):',
    '        return self.odd(torch.no_such_function(x))',
  ].join('\n'));
  assert.deepEqual(model.diagnostics.map((d) => [d.severity, d.line, d.message]), [
    ['info', 7, 'Netlens does not know torch.nn.NoSuchLayer; what it returns is unknown.'],
    ['info', 9, 'Netlens does not know torch.no_such_function; what it returns is unknown.'],
  ]);
  assert.deepEqual(model.output, []);
});

test("a star import through a module whose __all__ is computed (torchvision.models.mobilenet) finds the names", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-star-'));
  const pkg = path.join(dir, 'zoo');
  fs.mkdirSync(pkg);
  fs.writeFileSync(path.join(pkg, '__init__.py'), 'from .first import *\nfrom .both import *\nfrom .last import *\n');
  fs.writeFileSync(path.join(pkg, 'first.py'), '__all__ = ["first"]\ndef first():\n    return 1\n');
  fs.writeFileSync(path.join(pkg, 'v1.py'), 'import torch.nn as nn\n__all__ = ["small"]\ndef small():\n    return nn.Linear(4, 2)\n');
  fs.writeFileSync(path.join(pkg, 'v2.py'), 'import torch.nn as nn\n__all__ = ["large"]\ndef large():\n    return nn.Linear(4, 8)\n');
  fs.writeFileSync(path.join(pkg, 'both.py'), 'from .v1 import *\nfrom .v2 import *\nfrom .v1 import __all__ as a\nfrom .v2 import __all__ as b\n__all__ = a + b\n');
  fs.writeFileSync(path.join(pkg, 'last.py'), '__all__ = ["last"]\ndef last():\n    return 3\n');
  const file = path.join(dir, 'main.py');
  const source = 'import zoo\n# netlens: input=(2, 4)\nmodel = zoo.large()\n';
  fs.writeFileSync(file, source);
  const report = await analyzeFile(file, source, { entry: 'model' }, { astCacheDir: false });
  assert.deepEqual(report.models[0]?.output, [[2, 8]], JSON.stringify(report.diagnostics));
});

test('each module-level model takes the input comment right above it, also when built by a function', async () => {
  const source = [
    'import torch.nn as nn',
    'def make(width):',
    '    return nn.Sequential(nn.Linear(4, width), nn.ReLU())',
    '# netlens: input=(2, 4)',
    'first = make(8)',
    '# netlens: input=(5, 4)',
    'second = make(3)',
  ].join('\n');
  const report = await analyzeFile('/virtual/models.py', source, {});
  assert.deepEqual(report.models.map((m) => [m.entry, m.inputs, m.output]), [
    ['first', [[2, 4]], [[2, 8]]],
    ['second', [[5, 4]], [[5, 3]]],
  ]);
  const byEntry = await analyzeFile('/virtual/models.py', source, { entry: 'second' });
  assert.deepEqual(byEntry.models[0]?.inputs, [[5, 4]]);
});

test('p.requires_grad_(False) freezes the parameter: trainable counts follow', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    '# netlens: input=(2, 3)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.a = nn.Linear(3, 4)',
    '        self.b = nn.Linear(4, 2)',
    '        self.a.weight.requires_grad_(False)',
    '        for name, p in self.named_parameters():',
    '            if name.startswith("b"):',
    '                p.requires_grad_(False)',
    '    def forward(self, x):',
    '        return self.b(self.a(x))',
  ].join('\n'));
  assert.deepEqual(model.params, { total: 26, trainable: 4 });
});

test('globals()[name] and module.__dict__[name] find builders by name', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    'import collections',
    'def small():',
    '    return nn.Linear(4, 2)',
    'def large():',
    '    return nn.Linear(4, 8)',
    'ARCH = "large"',
    '# netlens: input=(3, 4)',
    'model = nn.Sequential(globals()[ARCH](), collections.__dict__["OrderedDict"] and nn.ReLU())',
  ].join('\n'), 'model');
  assert.deepEqual(model.output, [[3, 8]]);
});

test('argparse: parse_args() gives the defaults (through type=), store_true is False, explicit pairs apply', async () => {
  const source = [
    'import argparse',
    'import torch.nn as nn',
    'parser = argparse.ArgumentParser(description="train")',
    'parser.add_argument("--hidden-size", type=int, default="32")',
    'parser.add_argument("--deep", action="store_true")',
    'group = parser.add_argument_group("model")',
    'group.add_argument("-c", "--classes", default=5, type=int)',
    'args = parser.parse_args()',
    'tuned, _ = parser.parse_known_args(["--hidden-size", "8", "--deep"])',
    '# netlens: input=(2, 4)',
    'model = nn.Sequential(nn.Linear(4, args.hidden_size), nn.Linear(args.hidden_size, args.classes), *([nn.ReLU()] if args.deep else []))',
    '# netlens: input=(2, 4)',
    'small = nn.Sequential(nn.Linear(4, tuned.hidden_size), *([nn.ReLU()] if tuned.deep else []))',
  ].join('\n');
  const report = await analyzeFile('/virtual/train.py', source, {});
  assert.deepEqual(report.models.map((m) => [m.entry, m.layers.map((l) => l.type), m.output]), [
    ['model', ['Linear', 'Linear'], [[2, 5]]],
    ['small', ['Linear', 'ReLU'], [[2, 8]]],
  ]);
});

test('torch.jit.script/trace give back the module; torch.compile wraps it as OptimizedModule (_orig_mod.)', async () => {
  const source = [
    'import torch',
    'import torch.nn as nn',
    'device = torch.device("cuda" if torch.cuda.is_available() else "cpu")',
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.fc = nn.Linear(4, 3)',
    '    def forward(self, x):',
    '        return self.fc(x)',
    '# netlens: input=(2, 4)',
    'scripted = torch.jit.script(Net().to(device).eval())',
    '# netlens: input=(2, 4)',
    'traced = torch.jit.trace(Net(), torch.randn(1, 4))',
    '# netlens: input=(2, 4)',
    'compiled = torch.compile(Net(), mode="reduce-overhead")',
  ].join('\n');
  const report = await analyzeFile('/virtual/wrapped.py', source, {});
  assert.deepEqual(report.models.map((m) => [m.entry, m.name, m.layers.map((l) => l.path), m.output]), [
    ['scripted', 'Net', ['fc'], [[2, 3]]],
    ['traced', 'Net', ['fc'], [[2, 3]]],
    ['compiled', 'OptimizedModule', ['_orig_mod.fc'], [[2, 3]]],
  ]);
});

test('create_feature_extractor with a node that is not a module path: information, no model, no error', async (t) => {
  const pysrc = path.resolve(__dirname, '..', '..', '.cache', 'pysrc');
  if (!fs.existsSync(path.join(pysrc, 'torchvision', '__init__.py'))) {
    t.skip('torchvision sources absent from .cache/pysrc: run node scripts/fetch-python-sources.mjs');
    return;
  }
  const source = [
    'from torchvision.models import resnet18',
    'from torchvision.models.feature_extraction import create_feature_extractor',
    '# netlens: input=(1, 3, 64, 64)',
    'model = create_feature_extractor(resnet18(), return_nodes=["layer1", "flatten"])',
  ].join('\n');
  const report = await analyzeFile('/virtual/fx.py', source, { sitePackages: [pysrc] });
  assert.deepEqual(report.models, []);
  assert.deepEqual(report.diagnostics.map((d) => [d.severity, d.line, d.message]), [
    ['info', 4, "Netlens follows create_feature_extractor for module outputs only ('flatten' is not a module path of the model); the extractor is unknown."],
  ]);
});

test('inputs declared by model.forward(x) or torchinfo.summary(model, input_size=...) in __main__', async () => {
  const model = (main: string[]): string => [
    'import torch',
    'import torch.nn as nn',
    'from torchinfo import summary',
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.conv = nn.Conv2d(3, 4, 3)',
    '    def forward(self, x):',
    '        return self.conv(x)',
    'if __name__ == "__main__":',
    '    net = Net()',
    ...main.map((line) => `    ${line}`),
  ].join('\n');
  const inputsOf = async (source: string): Promise<unknown> => (await analyzeFile('/virtual/decl.py', source, {})).models[0]?.inputs;
  assert.deepEqual(await inputsOf(model(['y = net.forward(torch.rand(5, 3, 12, 12))'])), [[5, 3, 12, 12]]);
  assert.deepEqual(await inputsOf(model(['summary(net, input_size=(4, 3, 28, 28))'])), [[4, 3, 28, 28]]);
  assert.deepEqual(await inputsOf(model(['summary(net, (2, 3, 16, 16), depth=3)'])), [[2, 3, 16, 16]]);
  assert.deepEqual(await inputsOf(model(['summary(net, input_data=torch.zeros(1, 3, 8, 8))'])), [[1, 3, 8, 8]]);
});

test('json.loads of a config string: dicts in key order, int vs float kept, true/null; invalid text is unknown', async () => {
  const model = await analyze([
    'import json',
    'import torch.nn as nn',
    'CFG = \'{"widths": [4, 8], "p": 0.5, "bias": true, "extra": null, "act": "GELU", "nested": {"k": 3}}\'',
    '# netlens: input=(2, 3)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        cfg = json.loads(CFG)',
    '        assert isinstance(cfg["widths"][0], int) and isinstance(cfg["p"], float) and cfg["extra"] is None',
    '        assert list(cfg) == ["widths", "p", "bias", "extra", "act", "nested"]',
    '        copy = json.loads(json.dumps(cfg))',
    '        self.a = nn.Linear(3, copy["widths"][0], bias=cfg["bias"])',
    '        self.b = nn.Linear(cfg["widths"][0], cfg["widths"][1] * cfg["nested"]["k"])',
    '        self.act = getattr(nn, cfg["act"])()',
    '        self.drop = nn.Dropout(cfg["p"])',
    '    def forward(self, x):',
    '        return self.drop(self.act(self.b(self.a(x))))',
  ].join('\n'));
  assert.deepEqual(rows(model), ['a Linear [[2,4]] 16', 'b Linear [[2,24]] 120', 'act GELU [[2,24]] 0', 'drop Dropout [[2,24]] 0']);
  const report = await analyzeFile('/virtual/bad.py', [
    'import json',
    'import torch.nn as nn',
    'cfg = json.loads("{widths: [4]}")',
    'model = nn.Linear(3, cfg["widths"][0])',
  ].join('\n'), {});
  assert.ok(!report.models.some((m) => m.layers.some((l) => JSON.stringify(l.output).includes('4'))), 'invalid JSON must not give a shape');
});

test('__getattr__/__setattr__ overrides that call super(): registration renamed, AttributeError caught, object.__setattr__', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    'class Inner(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.stem = nn.Linear(4, 6)',
    '# netlens: input=(2, 4)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.inner = Inner()',
    '        self.head = nn.Linear(6, 2)',
    '        object.__setattr__(self, "plain", 3)',
    '    def __setattr__(self, name, value):',
    '        if isinstance(value, nn.Linear):',
    '            name = "fc_" + name',
    '        super().__setattr__(name, value)',
    '    def __getattr__(self, name):',
    '        try:',
    '            return super().__getattr__(name)',
    '        except AttributeError:',
    '            return getattr(self.inner, name)',
    '    def forward(self, x):',
    '        assert self.plain == 3',
    '        return self.fc_head(self.stem(x))',
  ].join('\n'), 'M()');
  assert.deepEqual(rows(model), ['inner.stem Linear [[2,6]] 30', 'fc_head Linear [[2,2]] 14']);
  assert.deepEqual(model.params, { total: 44, trainable: 44 });
});

test('torch.full / zeros / ones lengths are known: pack_padded_sequence packs exactly sum(lengths) rows', async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    'from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence',
    '# netlens: input=(4, 6, 8)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.lstm = nn.LSTM(8, 5, batch_first=True)',
    '    def forward(self, x):',
    '        lengths = torch.full((x.size(0),), x.size(1), dtype=torch.long)',
    '        ones = (torch.ones(x.size(0)) * 2).long()',
    '        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)',
    '        out, _ = self.lstm(packed)',
    '        short = pack_padded_sequence(x, ones + torch.zeros(4, dtype=torch.long), batch_first=True)',
    '        self.lstm(short)',
    '        return pad_packed_sequence(out, batch_first=True)[0]',
  ].join('\n'));
  assert.deepEqual(model.layers.map((l) => JSON.stringify(l.output[0])), ['[24,5]', '[8,5]']);
  assert.deepEqual(model.output, [[4, 6, 5]]);
});

test('a keyword that repeats a positional argument is a TypeError; before `/` it goes to **kwargs instead', async () => {
  const report = await analyzeFile('/virtual/twice.py', [
    'import torch.nn as nn',
    'def width(a, b=2):',
    '    return a * b',
    'def only(a, /, **kw):',
    '    return a + kw["a"]',
    'ok = nn.Linear(only(1, a=2), 4)',
    'model = nn.Linear(width(3, 4, b=5), 2)',
  ].join('\n'), {});
  assert.deepEqual(report.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.line, d.message]),
    [[7, "TypeError: width() got multiple values for argument 'b'."]]);
  const ok = await analyzeFile('/virtual/ok.py', 'import torch.nn as nn\ndef only(a, /, **kw):\n    return a + kw["a"]\nmodel = nn.Linear(only(1, a=2), 4)\n', { inputs: [{ shape: [2, 3] }] });
  assert.deepEqual(ok.models[0]?.layers.map((l) => l.output), [[[2, 4]]]);
});

test('del seq[-1], seq.pop(i) and del modlist[a:b] renumber the remaining children like PyTorch', async () => {
  const model = await analyze([
    'import torch.nn as nn',
    '# netlens: input=(2, 4)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.seq = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 6), nn.Tanh(), nn.Linear(6, 7))',
    '        del self.seq[-1]',
    '        self.seq.pop(1)',
    '        self.more = nn.ModuleList([nn.Linear(6, 6) for _ in range(4)])',
    '        del self.more[1:3]',
    '    def forward(self, x):',
    '        x = self.seq(x)',
    '        for m in self.more:',
    '            x = m(x)',
    '        return x',
  ].join('\n'));
  assert.deepEqual(rows(model), [
    'seq.0 Linear [[2,5]] 25', 'seq.1 Linear [[2,6]] 36', 'seq.2 Tanh [[2,6]] 0', 'more.0 Linear [[2,6]] 42', 'more.1 Linear [[2,6]] 42',
  ]);
});

test('max/min/sort/topk/cummax results read by field name (.values, .indices), aminmax as .min/.max', async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    '# netlens: input=(2, 5, 7)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.tap = nn.Identity()',
    '    def forward(self, x):',
    '        self.tap(x.max(dim=1).values)',
    '        self.tap(torch.min(x, -1, keepdim=True).indices)',
    '        self.tap(x.sort(dim=-1).values[..., :2])',
    '        self.tap(x.topk(3).indices)',
    '        self.tap(x.cummax(1).indices)',
    '        r = torch.aminmax(x, dim=0)',
    '        return r.max - r.min',
  ].join('\n'));
  assert.deepEqual(rows(model), [
    'tap Identity [[2,7]] 0', 'tap Identity [[2,5,1]] 0', 'tap Identity [[2,5,2]] 0', 'tap Identity [[2,5,3]] 0', 'tap Identity [[2,5,7]] 0',
  ]);
  assert.deepEqual(model.output, [[5, 7]]);
  assert.deepEqual(model.diagnostics, []);
});

test('a comprehension over something unknown is unknown (not an empty list); an undecidable ternary says which branch it took', async () => {
  const report = await analyzeFile('/virtual/unknowns.py', [
    'import torch.nn as nn',
    'from somewhere_missing import CONFIG',
    'sizes = tuple(int(p) for p in CONFIG.split("."))',
    'model = nn.Linear(3, 4 if sizes < (1, 12) else 5)',
  ].join('\n'), { inputs: [{ shape: [2, 3] }] });
  const infos = report.diagnostics.filter((d) => d.severity === 'info').map((d) => [d.line, d.message]);
  assert.deepEqual(infos.filter(([line]) => line === 3 || line === 4), [
    [3, 'Netlens cannot tell what this loop iterates over; it skips the loop body.'],
    [4, 'Netlens cannot decide this condition; it assumes it is true.'],
  ]);
});

test('torch.__version__ is 2.13.0 and packaging.version compares releases', async () => {
  const model = await analyze([
    'import torch',
    'import torch.nn as nn',
    'from packaging import version',
    'NEW = version.parse(torch.__version__) >= version.parse("2.0")',
    'MINOR = version.Version(torch.__version__).minor',
    'OLD = tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]) < (1, 12)',
    '# netlens: input=(2, 3)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.fc = nn.Linear(3, MINOR if NEW and not OLD else 1)',
    '    def forward(self, x):',
    '        return self.fc(x)',
  ].join('\n'));
  assert.deepEqual(rows(model), ['fc Linear [[2,13]] 52']);
});

test('defaultdict stores what its factory makes per key; deque left-end methods; sys.modules[__name__]', async () => {
  const model = await analyze([
    'import sys',
    'from collections import defaultdict, deque',
    'import torch.nn as nn',
    'def build(name, **kw):',
    '    return getattr(sys.modules[__name__], name)(**kw)',
    '# netlens: input=(2, 4)',
    'class M(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        groups = defaultdict(list)',
    '        for stage, width in [("a", 5), ("b", 6), ("a", 7)]:',
    '            groups[stage].append(width)',
    '        counts = defaultdict(int)',
    '        counts["x"] += 3',
    '        q = deque([groups["b"][0]])',
    '        q.appendleft(sum(groups["a"]))',
    '        first = q.popleft()',
    '        assert len(groups) == 2 and "c" not in groups and counts["x"] == 3',
    '        self.fc = nn.Linear(4, first + counts["x"])',
    '        self.out = nn.Linear(first + counts["x"], q[0])',
    '    def forward(self, x):',
    '        return self.out(self.fc(x))',
    'model = build("M")',
  ].join('\n'), 'model');
  assert.deepEqual(rows(model), ['fc Linear [[2,15]] 75', 'out Linear [[2,6]] 96']);
});
