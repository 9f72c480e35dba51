// Lowering the analyzer's recorded forward graph to the engine graph spec: state_dict names equal
// PyTorch's (goldens made by scripts/goldens/make_state_dict_goldens.py), no-ops vanish, the
// batch stays free in reshapes, max_unpool2d names its pool, and an op the engine lacks is refused
// with the op, the file and the line. Every spelling of the newer ops (activations, arithmetic
// with broadcasting and numbers, softmax, permute, indexing, recurrent layers, resizing, chunk)
// lowers to the engine op and attrs PyTorch's call means. Runs without the add-on;
// tests/native/lowering.test.ts builds engines from these specs.
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
    '        return torch.cumsum(x, dim=1)',
    '',
  ].join('\n');
  const { model, file } = await analyzedSource(source, 'Net()');
  assert.throws(() => lowerModel(model), (error: unknown) => {
    assert.ok(error instanceof LoweringError);
    assert.equal(error.op, 'cumsum');
    assert.equal(error.file, file);
    assert.equal(error.line, 11);
    assert.match(error.message, /'cumsum' is not supported by the Netlens engine/);
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

/** A small model whose forward is `lines` (x is (2, 8, 4, 4) after a 3→8 conv). */
async function lowerForward(lines: string[], modules: string[] = [], options: Parameters<typeof lowerModel>[1] = {}): Promise<EngineGraphSpec> {
  const source = [
    'import torch', 'import torch.nn as nn', 'import torch.nn.functional as F', '',
    '# netlens: input=(2, 3, 4, 4)',
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.conv = nn.Conv2d(3, 8, 3, padding=1)',
    ...modules.map((line) => `        ${line}`),
    '    def forward(self, x):',
    '        x = self.conv(x)',
    ...lines.map((line) => `        ${line}`),
    '        return x',
    '',
  ].join('\n');
  const { model } = await analyzedSource(source, 'Net()');
  return lowerModel(model, options);
}

function opsAndAttrs(spec: EngineGraphSpec): [string, Record<string, unknown>][] {
  return spec.nodes.slice(1).map((n) => [n.op, n.attrs]);
}

test('activations lower from every spelling with their arguments and PyTorch defaults', async () => {
  const spec = await lowerForward([
    'x = self.elu(x)', 'x = F.elu(x, 0.3)', 'x = torch.selu(x)', 'x = F.celu(x, alpha=2.0)', 'x = self.softplus(x)',
    'x = F.softplus(x)', 'x = self.hardtanh(x)', 'x = F.hardtanh(x, -3.0)', 'x = F.hardsigmoid(x)', 'x = F.mish(x)',
    'x = F.softsign(x)', 'x = F.logsigmoid(x)', 'x = F.tanhshrink(x)', 'x = self.softshrink(x)', 'x = F.hardshrink(x, 0.25)',
    'x = self.prelu(x)',
  ], ['self.elu = nn.ELU(alpha=0.5)', 'self.softplus = nn.Softplus(beta=2, threshold=5)', 'self.hardtanh = nn.Hardtanh(-2.0, 2.0)',
    'self.softshrink = nn.Softshrink(0.75)', 'self.prelu = nn.PReLU(8)']);
  assert.deepEqual(opsAndAttrs(spec), [
    ['elu', { alpha: 0.5 }], ['elu', { alpha: 0.3 }], ['selu', {}], ['celu', { alpha: 2 }],
    ['softplus', { beta: 2, threshold: 5 }], ['softplus', { beta: 1, threshold: 20 }],
    ['hardtanh', { min_val: -2, max_val: 2 }], ['hardtanh', { min_val: -3, max_val: 1 }], ['hardsigmoid', {}], ['mish', {}],
    ['softsign', {}], ['logsigmoid', {}], ['tanhshrink', {}], ['softshrink', { lambd: 0.75 }], ['hardshrink', { lambd: 0.25 }],
    ['prelu', { num_parameters: 8, init: 0.25 }],
  ]);
  assert.deepEqual(spec.nodes.at(-1)?.params, { weight: 'prelu.weight' });
});

test('arithmetic lowers with broadcasting (squeeze-excitation) and numbers on either side', async () => {
  const spec = await lowerForward([
    's = x.mean((2, 3), keepdim=True)', 'x = x * torch.sigmoid(s)', 'x = x - 0.5', 'x = 1 - x', 'x = x / 4', 'x = 2.0 / x',
    'x = torch.add(x, s, alpha=0.5)', 'x = x.div(s)', 'x = torch.mul(x, 3)', 'x = torch.rsub(x, 1.5)',
  ]);
  assert.deepEqual(spec.nodes.slice(1).map((n) => [n.op, n.inputs.length, n.attrs]), [
    ['mean', 1, { keepdim: true, dim: [2, 3] }], ['sigmoid', 1, {}], ['mul', 2, {}], ['sub', 1, { other: 0.5 }],
    ['sub', 1, { other: 1, reverse: true }], ['div', 1, { other: 4 }], ['div', 1, { other: 2, reverse: true }],
    ['add', 2, { alpha: 0.5 }], ['div', 2, {}], ['mul', 1, { other: 3 }], ['sub', 1, { other: 1.5, reverse: true }],
  ]);
  assert.deepEqual(spec.nodes[3]?.inputs, ['conv', 'sigmoid_2']);
});

test('integer division modes are refused with the line', async () => {
  await assert.rejects(lowerForward(['x = torch.div(x, 2, rounding_mode="floor")']), (error: unknown) =>
    error instanceof LoweringError && error.line === 12 && /rounding_mode "floor"/.test(error.message));
});

test("F.dropout: PyTorch's default training=True drops in eval too; training=self.training follows the mode", async () => {
  const spec = await lowerForward(['x = F.dropout(x, 0.2)', 'x = F.dropout(x, p=0.3, training=self.training)', 'x = F.dropout(x, 0.4, True)']);
  assert.deepEqual(opsAndAttrs(spec), [['dropout', { p: 0.2, always: true }], ['dropout', { p: 0.3 }], ['dropout', { p: 0.4, always: true }]]);
});

test('softmax and log_softmax keep their dim (None: the legacy implicit one); permute and transpose become permute', async () => {
  const spec = await lowerForward([
    'x = F.softmax(x, dim=1)', 'x = x.log_softmax(-1)', 'x = torch.softmax(x, 2)', 'x = self.sm(x)', 'x = x.permute(0, 2, 3, 1)',
    'x = x.transpose(1, -1)', 'x = torch.permute(x, (0, 1, 3, 2))', 'x = F.adaptive_max_pool2d(x, 2)', 'x = self.lrn(x)',
  ], ['self.sm = nn.LogSoftmax()', 'self.lrn = nn.LocalResponseNorm(3, k=2.0)']);
  assert.deepEqual(opsAndAttrs(spec), [
    ['softmax', { dim: 1 }], ['log_softmax', { dim: -1 }], ['softmax', { dim: 2 }], ['log_softmax', { dim: 1 }],
    ['permute', { dims: [0, 2, 3, 1] }], ['permute', { dims: [0, 3, 2, 1] }], ['permute', { dims: [0, 1, 3, 2] }],
    ['adaptive_max_pool2d', { output_size: 2 }], ['local_response_norm', { size: 3, alpha: 0.0001, beta: 0.75, k: 2 }],
  ]);
});

test('AlexNet lowers its local response norms', async () => {
  const spec = lowerModel(await analyzed('examples/alexnet.py', 'AlexNet()'));
  assert.deepEqual(spec.nodes.filter((n) => n.op === 'local_response_norm').map((n) => [n.id, n.attrs]), [
    ['features.norm1', { size: 5, alpha: 0.0001, beta: 0.75, k: 2 }], ['features.norm2', { size: 5, alpha: 0.0001, beta: 0.75, k: 2 }],
  ]);
});

test('GRU classifier: token ids become an int64 input, h_n a recurrent_state node, h_n[-2] a select', async () => {
  const report = await analyzeFile(path.join(repoRoot, 'examples/gru_classifier.py'), fs.readFileSync(path.join(repoRoot, 'examples/gru_classifier.py'), 'utf8'),
    { entry: 'GRUClassifier()', recordGraph: true, inputs: [{ shape: [4, 12], dtype: 'int64' }] }, { astCacheDir: false });
  const spec = lowerModel(report.models[0]!, { loss: 'cross_entropy' });
  assert.deepEqual(spec.inputs[0], { name: 'x', shape: [4, 12], dtype: 'int64' });
  assert.deepEqual(spec.nodes.slice(0, 6).map((n) => [n.id, n.op, n.inputs, n.attrs]), [
    ['embedding', 'embedding', ['x'], { num_embeddings: 20000, embedding_dim: 128, padding_idx: 0 }],
    ['gru', 'gru', ['embedding'], { input_size: 128, hidden_size: 128, num_layers: 2, bias: true, batch_first: true, dropout: 0, bidirectional: true }],
    ['gru.h_n', 'recurrent_state', ['gru'], { state: 'h' }],
    ['select_2', 'select', ['gru.h_n'], { dim: 0, index: -2 }],
    ['select_3', 'select', ['gru.h_n'], { dim: 0, index: -1 }],
    ['cat_4', 'cat', ['select_2', 'select_3'], { dim: 1 }],
  ]);
  // Parameters in PyTorch's order and names: per layer, per direction, w_ih, w_hh, b_ih, b_hh.
  assert.deepEqual(Object.values(spec.nodes[1]!.params!).slice(0, 5), [
    'gru.weight_ih_l0', 'gru.weight_hh_l0', 'gru.bias_ih_l0', 'gru.bias_hh_l0', 'gru.weight_ih_l0_reverse',
  ]);
  assert.equal(Object.keys(spec.nodes[1]!.params!).length, 16);
});

test('LSTM: `out, (h, c) = self.lstm(x)` gives output, h_n and c_n; out[:, -1] selects; a narrower slice is refused', async () => {
  const lines = ['import torch.nn as nn', '# netlens: input=(2, 3, 4)', 'class Net(nn.Module):', '    def __init__(self):',
    '        super().__init__()', '        self.lstm = nn.LSTM(4, 5, batch_first=True)', '    def forward(self, x):',
    '        out, (h, c) = self.lstm(x)'];
  const { model } = await analyzedSource([...lines, '        return out[:, -1, :] + h[-1] + c[0]', ''].join('\n'), 'Net()');
  const spec = lowerModel(model);
  assert.deepEqual(spec.nodes.map((n) => [n.id, n.op, n.inputs, n.attrs]).slice(1), [
    ['lstm.h_n', 'recurrent_state', ['lstm'], { state: 'h' }],
    ['lstm.c_n', 'recurrent_state', ['lstm'], { state: 'c' }],
    ['select_1', 'select', ['lstm'], { dim: 1, index: -1 }],
    ['select_2', 'select', ['lstm.h_n'], { dim: 0, index: -1 }],
    ['add_3', 'add', ['select_1', 'select_2'], {}],
    ['select_4', 'select', ['lstm.c_n'], { dim: 0, index: 0 }],
    ['add_5', 'add', ['add_3', 'select_4'], {}],
  ]);
  const narrow = await analyzedSource([...lines, '        return out[:, 1:, :]', ''].join('\n'), 'Net()');
  assert.throws(() => lowerModel(narrow.model), (error: unknown) => error instanceof LoweringError && error.line === 9 && /narrower/.test(error.message));
});

test('resizing lowers from Upsample modules and F.interpolate with the recorded size and the given scale_factor', async () => {
  const spec = await lowerForward([
    'x = self.up(x)', 'x = F.interpolate(x, scale_factor=0.5, mode="bilinear")', 'x = self.bilinear(x)',
    'x = F.interpolate(x, size=(3, 5), mode="bilinear", align_corners=True)', 'x = F.interpolate(x, size=(6, 6))',
  ], ['self.up = nn.Upsample(scale_factor=2)', 'self.bilinear = nn.UpsamplingBilinear2d(size=(7, 7))']);
  assert.deepEqual(opsAndAttrs(spec), [
    ['interpolate', { size: [8, 8], mode: 'nearest', scale_factor: 2 }],
    ['interpolate', { size: [4, 4], mode: 'bilinear', align_corners: false, scale_factor: 0.5 }],
    ['interpolate', { size: [7, 7], mode: 'bilinear', align_corners: true }],
    ['interpolate', { size: [3, 5], mode: 'bilinear', align_corners: true }],
    ['interpolate', { size: [6, 6], mode: 'nearest' }],
  ]);
  await assert.rejects(lowerForward(['x = F.interpolate(x, scale_factor=2, mode="bicubic")']), (error: unknown) =>
    error instanceof LoweringError && /mode 'bicubic'/.test(error.message));
});

test('chunk and split become narrow nodes placed by the recorded pieces; unbind selects; sum, neg, squeeze/unsqueeze lower', async () => {
  const spec = await lowerForward([
    'a, b = x.chunk(2, dim=1)', 'c, d = torch.split(x, [3, 5], 1)', 'e = x.unbind(1)[2]',
    'x = torch.cat([b, -a], 1) + x.sum(1, keepdim=True).unsqueeze(1).squeeze(1) + torch.cat([d, c], 1) + e.unsqueeze(1)',
  ]);
  assert.deepEqual(spec.nodes.slice(1, 8).map((n) => [n.id, n.op, n.attrs]), [
    ['chunk_1.0', 'narrow', { dim: 1, start: 0, length: 4 }], ['chunk_1.1', 'narrow', { dim: 1, start: 4, length: 4 }],
    ['split_2.0', 'narrow', { dim: 1, start: 0, length: 3 }], ['split_2.1', 'narrow', { dim: 1, start: 3, length: 5 }],
    ['unbind_3.0', 'select', { dim: 1, index: 0 }], ['unbind_3.1', 'select', { dim: 1, index: 1 }], ['unbind_3.2', 'select', { dim: 1, index: 2 }],
  ]);
  // unbind makes all 8 pieces (only the third is used).
  assert.equal(spec.nodes.filter((n) => n.id.startsWith('unbind_3.')).length, 8);
  const ops = spec.nodes.slice(13).map((n) => [n.op, n.attrs]);
  assert.deepEqual(ops.slice(0, 5), [
    ['mul', { other: -1 }], ['cat', { dim: 1 }], ['sum', { keepdim: true, dim: 1 }], ['reshape', { shape: [-1, 1, 1, 4, 4] }], ['reshape', { shape: [-1, 1, 4, 4] }],
  ]);
});

test('@, torch.matmul and bmm lower to matmul; a vector operand is refused', async () => {
  const spec = await lowerForward(['y = x.flatten(2)', 'x = (y @ y.transpose(1, 2)).softmax(-1)', 'x = torch.bmm(x, y).reshape(2, 8, 4, 4)']);
  assert.deepEqual(spec.nodes.slice(1).map((n) => n.op), ['flatten', 'permute', 'matmul', 'softmax', 'matmul', 'reshape']);
  assert.deepEqual(spec.nodes[3]?.inputs, ['flatten_1', 'permute_2']);
  await assert.rejects(lowerForward(['x = x.flatten(1) @ x.flatten(1).mean(0)']), (error: unknown) =>
    error instanceof LoweringError && error.line === 12 && /not a matrix/.test(error.message));
});

test('element-wise math lowers from its spellings: exp, log, sqrt, rsqrt, abs, x ** p, pow, square, clamp/clip', async () => {
  const spec = await lowerForward([
    'x = torch.exp(x).log()', 'x = x.abs().sqrt()', 'x = torch.rsqrt(x + 1)', 'x = x ** 2', 'x = torch.pow(x, 0.5)', 'x = torch.square(x)',
    'x = torch.clamp(x, min=0.1)', 'x = x.clamp(-1.0, 1.0)', 'x = x.clip(max=0.5)', 'x = torch.clamp_min(x, 0.2)',
  ]);
  assert.deepEqual(opsAndAttrs(spec), [
    ['exp', {}], ['log', {}], ['abs', {}], ['sqrt', {}], ['add', { other: 1 }], ['rsqrt', {}], ['pow', { exponent: 2 }], ['pow', { exponent: 0.5 }],
    ['pow', { exponent: 2 }], ['clamp', { min: 0.1 }], ['clamp', { min: -1, max: 1 }], ['clamp', { max: 0.5 }], ['clamp', { min: 0.2 }],
  ]);
  await assert.rejects(lowerForward(['x = 2 ** x']), (error: unknown) => error instanceof LoweringError && /tensor as exponent/.test(error.message));
});
