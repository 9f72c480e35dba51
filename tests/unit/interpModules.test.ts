// nn.Module machinery and model tracing: registration of children/parameters/buffers,
// containers, traversal, leaf-layer calls as forward hooks would see them, model
// discovery, entries and input selection. Uses the small test catalog (interpSupport.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSnippet } from './interpSupport';
import type { ModelReport } from '../../extension/analysis/reportTypes';

const HEADER = 'import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nfrom collections import OrderedDict\n';

async function model(source: string, options: Parameters<typeof analyzeSnippet>[1] = {}): Promise<ModelReport> {
  const report = await analyzeSnippet(HEADER + source, options);
  assert.equal(report.models.length, 1, JSON.stringify(report.diagnostics));
  return report.models[0];
}

const layerRows = (m: ModelReport) => m.layers.map((l) => `${l.path}:${l.type}:${JSON.stringify(l.output)}:${l.params}`);

test('children, parameters and leaf calls in execution order with named_modules paths', async () => {
  const m = await model(`
class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.act = nn.ReLU()
    def forward(self, x):
        return self.act(self.conv(x))
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(*[Block(3 if i == 0 else 8, 8) for i in range(2)])
        self.head = nn.Linear(8 * 4 * 4, 10)
    def forward(self, x):
        x = self.blocks(x)
        return self.head(x.view(x.size(0), -1))
`, { inputs: [{ shape: [2, 3, 4, 4] }] });
  assert.deepEqual(layerRows(m), [
    'blocks.0.conv:Conv2d:[[2,8,4,4]]:224', 'blocks.0.act:ReLU:[[2,8,4,4]]:0',
    'blocks.1.conv:Conv2d:[[2,8,4,4]]:584', 'blocks.1.act:ReLU:[[2,8,4,4]]:0',
    'head:Linear:[[2,10]]:1290',
  ]);
  assert.deepEqual(m.params, { total: 224 + 584 + 1290, trainable: 224 + 584 + 1290 });
  assert.deepEqual(m.output, [[2, 10]]);
  assert.equal(m.macs, 2 * 8 * 16 * 27 + 2 * 8 * 16 * 72 + 2 * 10 * 128);
  assert.equal(m.layers[0].line, 9);
});

test('layer rows carry the call inputs, own parameters and constructor column; forward statements carry their shapes', async () => {
  const m = await model(`
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 2 * 2, 5, bias=False)
    def forward(self, x):
        x = self.conv(x)
        x = x.flatten(1)
        return self.fc(x)
`, { inputs: [{ shape: [1, 3, 4, 4] }] });
  assert.deepEqual(m.layers.map((l) => [l.path, l.col, l.inputs, l.parameters]), [
    ['conv', 20, [[1, 3, 4, 4]], [{ name: 'weight', shape: [4, 3, 3, 3] }, { name: 'bias', shape: [4] }]],
    ['fc', 18, [[1, 16]], [{ name: 'weight', shape: [5, 16] }]],
  ]);
  assert.deepEqual(m.statements?.map((s) => [s.line, s.output]), [[12, [[1, 4, 2, 2]]], [13, [[1, 16]]], [14, [[1, 5]]]]);
});

test('Sequential with OrderedDict, indexing, slicing, len, iteration and append', async () => {
  const m = await model(`
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(OrderedDict([("c1", nn.Conv2d(1, 2, 1)), ("r1", nn.ReLU()), ("c2", nn.Conv2d(2, 2, 1))]))
        self.f.append(nn.ReLU())
        self.n = len(self.f)
        self.first_two = self.f[:2]
        self.kinds = [type(l).__name__ for l in self.f]
    def forward(self, x):
        assert self.n == 4 and self.kinds == ["Conv2d", "ReLU", "Conv2d", "ReLU"]
        return self.f[-1](self.f[2](self.first_two(x)))
`, { inputs: [{ shape: [1, 1, 2, 2] }] });
  assert.deepEqual(m.layers.map((l) => l.path), ['f.c1', 'f.r1', 'f.c2', 'f.3']);
});

test('ModuleList, ModuleDict, shared modules counted once, a module called twice appears twice', async () => {
  const m = await model(`
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        shared = nn.Linear(4, 4)
        self.layers = nn.ModuleList([shared, nn.ReLU(), shared])
        self.heads = nn.ModuleDict({"a": nn.Linear(4, 2), "b": nn.Linear(4, 3)})
    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return [self.heads[k](x) for k in sorted(self.heads.keys())]
`, { inputs: [{ shape: [1, 4] }] });
  assert.deepEqual(m.layers.map((l) => l.path), ['layers.0', 'layers.1', 'layers.0', 'heads.a', 'heads.b']);
  assert.deepEqual(m.params.total, 20 + 10 + 15);
  assert.deepEqual(m.output, [[1, 2], [1, 3]]);
});

test('nn.Parameter, register_buffer, requires_grad=False; a childless custom module is a leaf', async () => {
  const m = await model(`
class Scale(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n))
        self.register_buffer("running", torch.zeros(n))
        self.frozen = nn.Parameter(torch.zeros(2, n), requires_grad=False)
    def forward(self, x):
        return x * self.gamma
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 5)
        self.scale = Scale(5)
    def forward(self, x):
        return self.scale(self.fc(x))
`, { inputs: [{ shape: [2, 3] }] });
  assert.deepEqual(layerRows(m), ['fc:Linear:[[2,5]]:20', 'scale:Scale:[[2,5]]:15']);
  assert.deepEqual(m.params, { total: 35, trainable: 25 });
});

test('ParameterList/ParameterDict, add_module/register_module/register_parameter, apply and requires_grad_', async () => {
  const m = await model(`
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.ws = nn.ParameterList([nn.Parameter(torch.zeros(2, 2)) for _ in range(3)])
        self.bs = nn.ParameterDict({"a": nn.Parameter(torch.zeros(2)), "b": nn.Parameter(torch.zeros(5))})
        self.add_module("fc", nn.Linear(2, 2))
        self.register_module("frozen", nn.Linear(2, 3))
        self.register_parameter("scale", nn.Parameter(torch.ones(1)))
        self.register_parameter("unused", None)
        self.frozen.requires_grad_(False)
        self.seen = []
        self.apply(lambda mod: self.seen.append(type(mod).__name__))
    def forward(self, x):
        assert self.seen == ["ParameterList", "ParameterDict", "Linear", "Linear", "Net"], self.seen
        assert len(self.ws) == 3 and self.bs["b"].shape == (5,)
        return self.frozen(self.fc(x)) * self.scale
`, { inputs: [{ shape: [1, 2] }] });
  assert.deepEqual(m.params, { total: 12 + 7 + 6 + 9 + 1, trainable: 12 + 7 + 6 + 1 });
  assert.deepEqual(m.layers.map((l) => l.path), ['fc', 'frozen']);
  assert.deepEqual(m.diagnostics.filter((d) => d.severity !== 'info'), []);
});

test('modules(), named_parameters(), isinstance on layer classes, weight-init loops, train/eval and self.training', async () => {
  const m = await model(`
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(1, 1, 1)
        self.fc = nn.Linear(1, 1)
        self.convs = sum(1 for m in self.modules() if isinstance(m, nn.Conv2d))
        self.names = [n for n, _ in self.named_parameters()]
        self.kids = [n for n, _ in self.named_children()]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
        self.was_training = self.training
    def forward(self, x):
        assert self.convs == 1 and self.names == ["c.weight", "c.bias", "fc.weight", "fc.bias"] and self.kids == ["c", "fc"]
        assert self.was_training and not self.training
        return self.fc(self.c(x).flatten(1))
`, { inputs: [{ shape: [1, 1, 1, 1] }] });
  assert.deepEqual(m.output, [[1, 1]]);
  assert.deepEqual(m.diagnostics.filter((d) => d.severity === 'error'), []);
});

test('layer-construction mismatch shows up as a diagnostic at the call site', async () => {
  const m = await model(`
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(100, 10)
    def forward(self, x):
        x = self.conv(x)
        x = torch.flatten(x, 1)
        return self.fc(x)
`, { inputs: [{ shape: [1, 3, 6, 6] }] });
  const err = m.diagnostics.find((d) => d.severity === 'error');
  assert.ok(err, 'expected an error');
  assert.equal(err.message, 'Linear expects in_features=100, gets 128.');
  assert.equal(err.line, 14);
});

test('unknown attribute on a module is an error', async () => {
  const m = await model(`
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
    def forward(self, x):
        return self.fc2(x)
`, { inputs: [{ shape: [1, 2] }] });
  assert.ok(m.diagnostics.some((d) => d.severity === 'error' && d.message === "'Net' has no attribute 'fc2'." && d.line === 11));
});

test('inputs: --batch replaces dim 0, input comment, tensor passed in the file, symbolic from the first layer', async () => {
  const body = `
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
    def forward(self, x):
        return self.conv(x)
`;
  const commented = await model('# netlens: input=(N, 3, 8, 8)' + body);
  assert.deepEqual(commented.inputs, [['N', 3, 8, 8]]);
  assert.deepEqual(commented.output, [['N', 4, 6, 6]]);
  const batched = await model('# netlens: input=(N, 3, 8, 8)' + body, { batch: 16 });
  assert.deepEqual(batched.output, [[16, 4, 6, 6]]);
  const inFile = await model(body + '\nif __name__ == "__main__":\n    net = Net()\n    out = net(torch.randn(2, 3, 10, 10))\n');
  assert.deepEqual(inFile.inputs, [[2, 3, 10, 10]]);
  const symbolic = await model(body);
  assert.deepEqual(symbolic.inputs, [['N', 3, 'H', 'W']]);
  assert.deepEqual(symbolic.output, [['N', 4, 'H - 2', 'W - 2']]);
});

test('without any input, a size requirement (Linear after flatten) fixes the symbolic input size', async () => {
  const m = await model(`
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 6 * 6, 10)
    def forward(self, x):
        return self.fc(torch.flatten(self.conv(x), 1))
`);
  assert.deepEqual(m.inputs, [['N', 1, 8, 8]]);
  assert.deepEqual(m.layers.map((l) => l.output), [[['N', 4, 6, 6]], [['N', 10]]]);
  assert.ok(m.diagnostics.some((d) => d.code === 'input-solved' && d.message.includes('assumes H = 8, W = 8')));
});

test('Python ints taken from symbolic shapes stay symbolic through arithmetic and unpacking', async () => {
  const m = await model(`
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
    def forward(self, x):
        n, c, h, w = x.shape
        y = self.conv(x)
        half = (h * w) // 2
        return y.view(n, 4, 2, half)
`, { inputs: [{ shape: ['N', 3, 'H', 'W'] }] });
  assert.deepEqual(m.output, [['N', 4, 2, 'floor(H*W/2)']]);
});

test('a class with an unresolvable base and a forward() (e.g. a LightningModule) is analyzed as an nn.Module', async () => {
  const report = await analyzeSnippet(HEADER + `
import pytorch_lightning as pl
class Lit(pl.LightningModule):
    def __init__(self, hidden=16):
        super().__init__()
        self.save_hyperparameters()
        self.l1 = nn.Linear(28 * 28, hidden)
        self.l2 = nn.Linear(hidden, 10)
    def forward(self, x):
        return self.l2(self.l1(x.view(x.size(0), -1)))
    def training_step(self, batch, idx):
        return self(batch[0]).sum()
`, { inputs: [{ shape: [4, 1, 28, 28] }] });
  assert.deepEqual(report.models.map((m) => [m.name, m.output, m.params.total]), [['Lit', [[4, 10]], 784 * 16 + 16 + 170]]);
});

test('discovery: module-level instances and classes constructible without arguments; --entry expressions', async () => {
  const src = HEADER + `
class Small(nn.Module):
    def __init__(self, n=2):
        super().__init__()
        self.fc = nn.Linear(n, n)
    def forward(self, x):
        return self.fc(x)
class NeedsArgs(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.fc = nn.Linear(n, 1)
    def forward(self, x):
        return self.fc(x)
model = NeedsArgs(7)
`;
  const found = await analyzeSnippet(src);
  assert.deepEqual(found.models.map((m) => [m.name, m.entry]), [['NeedsArgs', 'model'], ['Small', 'Small()']]);
  assert.deepEqual(found.models[0].inputs, [['N', 7]]);
  const entry = await analyzeSnippet(src, { entry: 'Small(n=5)', inputs: [{ shape: [3, 5] }] });
  assert.deepEqual(entry.models.map((m) => [m.entry, m.output]), [['Small(n=5)', [[3, 5]]]]);
});

test('the __main__ block is followed for inputs, but what stops it (errors, endless loops) is only a note', async () => {
  const body = `
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 2)
    def forward(self, x):
        return self.fc(x)
if __name__ == "__main__":
    net = Net()
    print(net(torch.randn(3, 6)).shape)
    `;
  const raising = await analyzeSnippet(HEADER + body + 'raise SystemExit("usage: train.py DATA")\n');
  assert.deepEqual(raising.models.map((m) => [m.entry, m.inputs]), [['net', [[3, 6]]]]);
  assert.ok(raising.diagnostics.some((d) => d.code === 'main-block' && d.severity === 'info' && d.message.includes('SystemExit: usage: train.py DATA')));
  const looping = await analyzeSnippet(HEADER + body + 'while True:\n        net(torch.randn(3, 6))\n');
  assert.deepEqual(looping.models.map((m) => m.output), [[[3, 2]]]);
  assert.ok(looping.diagnostics.some((d) => d.code === 'main-block'));
});

test('functional matmul MACs count in the total', async () => {
  const m = await model(`
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 6))
    def forward(self, x):
        return x @ self.w
`, { inputs: [{ shape: [2, 4] }] });
  assert.equal(m.macs, 2 * 4 * 6);
  assert.deepEqual(m.layers.map((l) => [l.path, l.macs]), [['', 48]]);
});

test('a raise in __init__ (e.g. an unsupported option) is an error diagnostic, not a crash', async () => {
  const report = await analyzeSnippet(HEADER + `
class Net(nn.Module):
    def __init__(self, groups=2):
        super().__init__()
        if groups != 1:
            raise ValueError("BasicBlock only supports groups=1")
    def forward(self, x):
        return x
`);
  assert.equal(report.models.length, 0);
  assert.ok(report.diagnostics.some((d) => d.severity === 'error' && d.message === 'ValueError: BasicBlock only supports groups=1' && d.line === 10));
});

test('pathological model code ends within the budget with a diagnostic', async () => {
  const start = Date.now();
  const report = await analyzeSnippet(HEADER + `
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
    def forward(self, x):
        while True:
            x = self.fc(x)
`, { inputs: [{ shape: [1, 2] }], stepBudget: 50_000 });
  assert.ok(Date.now() - start < 3000);
  assert.ok(report.models[0].diagnostics.some((d) => d.code === 'step-budget'));
});
