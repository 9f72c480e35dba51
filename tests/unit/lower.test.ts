// Lowering the analyzer's recorded forward graph to the engine graph spec: state_dict names equal
// PyTorch's (goldens made by scripts/goldens/make_state_dict_goldens.py), no-ops vanish, the
// batch stays free in reshapes, max_unpool2d names its pool, and an op the engine lacks is refused
// with the op, the file and the line. Runs without the add-on; tests/native/lowering.test.ts
// builds engines from these specs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { analyzeFile } from '../../extension/analysis/index';
import type { ModelReport } from '../../extension/analysis/reportTypes';
import { lowerModel, LoweringError, type EngineGraphSpec } from '../../extension/training/lower';

const repoRoot = path.resolve(__dirname, '..', '..');

interface StateDictGolden {
  file: string;
  entry: string;
  state_dict: { name: string; shape: number[]; dtype: string }[];
}

function stateDictGolden(name: string): StateDictGolden {
  return JSON.parse(fs.readFileSync(path.join(repoRoot, 'tests', 'unit', 'goldens', 'state_dict', `${name}.json`), 'utf8')) as StateDictGolden;
}

async function analyzed(file: string, entry: string, recordGraph = true): Promise<ModelReport> {
  const absolute = path.join(repoRoot, file);
  const report = await analyzeFile(absolute, fs.readFileSync(absolute, 'utf8'), { entry, recordGraph }, { astCacheDir: false });
  const model = report.models[0];
  assert.ok(model, `${file}: a model`);
  return model;
}

function stateKeys(spec: EngineGraphSpec): string[] {
  return [...new Set(spec.nodes.flatMap((node) => Object.values(node.params ?? {})))].sort();
}

for (const name of ['lenet5', 'resnet10_basic', 'fcn']) {
  test(`${name}: the lowered spec names exactly PyTorch's state_dict keys`, async () => {
    const golden = stateDictGolden(name);
    const spec = lowerModel(await analyzed(golden.file, golden.entry));
    assert.deepEqual(stateKeys(spec), golden.state_dict.map((entry) => entry.name).sort());
  });
}

test('LeNet-5 lowers call by call: F.relu, x.view(N, -1) as a batch-free reshape, modules by path', async () => {
  const spec = lowerModel(await analyzed('examples/lenet5.py', 'LeNet5()'));
  assert.deepEqual(spec.inputs, [{ name: 'x', shape: [1, 1, 32, 32], dtype: 'float32' }]);
  assert.deepEqual(spec.nodes.map((n) => n.op), [
    'conv2d', 'relu', 'avg_pool2d', 'conv2d', 'relu', 'avg_pool2d', 'reshape', 'linear', 'relu', 'linear', 'relu', 'linear',
  ]);
  const reshape = spec.nodes.find((n) => n.op === 'reshape');
  assert.deepEqual(reshape?.attrs['shape'], [-1, 400]);
  // The pool module is called twice: two nodes, distinct ids.
  const pools = spec.nodes.filter((n) => n.op === 'avg_pool2d').map((n) => n.id);
  assert.equal(new Set(pools).size, 2);
  assert.deepEqual(spec.outputs, ['fc3']);
  assert.deepEqual(spec.nodes.find((n) => n.id === 'fc1')?.params, { weight: 'fc1.weight', bias: 'fc1.bias' });
});

test('ResNet blocks: `out += identity` is an add of the block path and the downsample path', async () => {
  const spec = lowerModel(await analyzed('examples/resnet_blocks.py', 'resnet10_basic()'));
  const adds = spec.nodes.filter((n) => n.op === 'add');
  assert.equal(adds.length, 4);
  const firstDownsampled = adds.find((n) => n.inputs.includes('layer2.0.downsample.1'));
  assert.ok(firstDownsampled, 'layer2 adds its projection shortcut');
  assert.deepEqual(firstDownsampled.inputs, ['layer2.0.bn2', 'layer2.0.downsample.1']);
  // Inplace ReLU modules called twice per block keep their order through ids.
  assert.ok(spec.nodes.some((n) => n.id === 'layer1.0.relu#2'));
});

test('FCN: max_unpool2d takes its values and the pool node whose indices it uses', async () => {
  const spec = lowerModel(await analyzed('examples/fcn.py', 'SmallFCN()'));
  const unpool = spec.nodes.find((n) => n.op === 'max_unpool2d');
  assert.ok(unpool);
  assert.equal(unpool.inputs[1], 'pool');
  assert.deepEqual(unpool.attrs['output_size'], [32, 48]);
});

function writeModel(source: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-lower-'));
  const file = path.join(dir, 'model.py');
  fs.writeFileSync(file, source);
  return file;
}

async function analyzedSource(source: string, entry: string): Promise<{ model: ModelReport; file: string }> {
  const file = writeModel(source);
  const report = await analyzeFile(file, source, { entry, recordGraph: true }, { astCacheDir: false });
  assert.ok(report.models[0]);
  return { model: report.models[0], file };
}

test('an op the engine lacks is refused with the op, the file and the line', async () => {
  const source = [
    'import torch', 'import torch.nn as nn', '',
    '# netlens: input=(2, 8)',
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.fc = nn.Linear(8, 4)',
    '    def forward(self, x):',
    '        x = self.fc(x)',
    '        return torch.softmax(x, dim=1)',
    '',
  ].join('\n');
  const { model, file } = await analyzedSource(source, 'Net()');
  assert.throws(() => lowerModel(model), (error: unknown) => {
    assert.ok(error instanceof LoweringError);
    assert.equal(error.op, 'softmax');
    assert.equal(error.file, file);
    assert.equal(error.line, 11);
    assert.match(error.message, /'softmax' is not supported by the Netlens engine/);
    return true;
  });
});

test('the engine op list is checked: an op missing from it is refused at its line', async () => {
  const { model } = await analyzedSource(['import torch.nn as nn', '# netlens: input=(2, 8)', 'class Net(nn.Module):',
    '    def __init__(self):', '        super().__init__()', '        self.fc = nn.Linear(8, 4)', '        self.act = nn.GELU()',
    '    def forward(self, x):', '        return self.act(self.fc(x))', ''].join('\n'), 'Net()');
  assert.throws(() => lowerModel(model, { engineOps: ['linear', 'relu'] }), (error: unknown) =>
    error instanceof LoweringError && error.op === 'gelu' && error.line === 7 && /engine runs: linear, relu/.test(error.message));
});

test('no-ops vanish (Identity, contiguous, dropout stays for training), cat and mean lower', async () => {
  const source = [
    'import torch', 'import torch.nn as nn', 'import torch.nn.functional as F', '',
    '# netlens: input=(2, 3, 8, 8)',
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.a = nn.Conv2d(3, 4, 3, padding=1)',
    '        self.b = nn.Conv2d(3, 4, 1)',
    '        self.skip = nn.Identity()',
    '        self.drop = nn.Dropout(0.25)',
    '        self.fc = nn.Linear(8, 5)',
    '    def forward(self, x):',
    '        y = torch.cat([self.a(x), self.skip(self.b(x))], dim=1).contiguous()',
    '        y = y.mean(dim=(2, 3))',
    '        return self.fc(self.drop(y))',
    '',
  ].join('\n');
  const { model } = await analyzedSource(source, 'Net()');
  const spec = lowerModel(model, { loss: 'cross_entropy' });
  assert.deepEqual(spec.nodes.map((n) => n.op), ['conv2d', 'conv2d', 'cat', 'mean', 'dropout', 'linear']);
  assert.deepEqual(spec.nodes[2]?.inputs, ['a', 'b']);
  assert.equal(spec.nodes[2]?.attrs['dim'], 1);
  assert.deepEqual(spec.nodes[3]?.attrs, { keepdim: false, dim: [2, 3] });
  assert.deepEqual(spec.loss, { op: 'cross_entropy', input: 'fc', target: 'y' });
  assert.deepEqual(spec.inputs[1], { name: 'y', shape: [2], dtype: 'int64' });
});

test('the graph is recorded only when asked for', async () => {
  const model = await analyzed('examples/lenet5.py', 'LeNet5()', false);
  assert.equal(model.graph, undefined);
  assert.throws(() => lowerModel(model), LoweringError);
});

test('a tensor taken from a list (list.pop) is the same value, not a node; in-place ops are nodes', async () => {
  const source = [
    'import torch.nn as nn', '',
    '# netlens: input=(2, 8)',
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.a = nn.Linear(8, 8)',
    '        self.fc = nn.Linear(8, 3)',
    '    def forward(self, x):',
    '        saved = [self.a(x)]',
    '        y = saved.pop()',
    '        y.relu_()',
    '        return self.fc(y)',
    '',
  ].join('\n');
  const { model } = await analyzedSource(source, 'Net()');
  const spec = lowerModel(model);
  assert.deepEqual(spec.nodes.map((n) => [n.op, n.inputs]), [['linear', ['x']], ['relu', ['a']], ['linear', ['relu_1']]]);
});
