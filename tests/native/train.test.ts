// `netlens bench` and `netlens train` end to end, as a user runs them: the model is analyzed and
// lowered in this process, the steps run in the engine process (EngineClient → host → add-on),
// events come out one JSON line each and land in the run store with a safetensors checkpoint. A GPU-less machine refuses
// --device cuda with a clear message; a model that does not fit the data or uses an op the
// engine lacks is refused before training starts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { decodeSafetensors } from '../../extension/training/safetensors';
import { nvidiaDriverLoaded, repoRoot } from './support';
import { runCli } from './cliSupport';



function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-train-'));
}

// LeNet-5 for 28×28 gray images (padding 2 on the first conv, as in the original paper's 32×32 input).
const lenet28 = `import torch
import torch.nn as nn
import torch.nn.functional as F

# netlens: input=(32, 1, 28, 28)
class LeNet5(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
`;

test('bench: 2 timed steps of LeNet-5 print the contract JSON', async () => {
  const result = await runCli(['bench', 'examples/lenet5.py', '--entry', 'LeNet5()', '--batch', '4', '--steps', '2', '--device', 'cpu', '--json']);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(report), ['device', 'batch', 'steps', 'step_ms_median', 'step_ms_min', 'images_per_s']);
  assert.equal(report['device'], 'cpu');
  assert.equal(report['batch'], 4);
  assert.equal(report['steps'], 2);
  const median = report['step_ms_median'] as number;
  const min = report['step_ms_min'] as number;
  assert.ok(min > 0 && min <= median, `min ${min} ≤ median ${median}`);
  assert.ok(Math.abs((report['images_per_s'] as number) - (4 * 1000) / median) / ((4 * 1000) / median) < 1e-2);
});

test('bench --device cuda on a machine without a GPU: a clear error and exit 1', { skip: nvidiaDriverLoaded() && 'this machine has an NVIDIA driver' }, async () => {
  const result = await runCli(['bench', 'examples/lenet5.py', '--steps', '2', '--device', 'cuda', '--json']);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /--device cuda: no usable CUDA GPU on this machine .*use --device cpu/);
});

test('train: LeNet-5 on the built-in shapes28 data learns, events are well formed and stored', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'lenet28.py'), lenet28);
  const steps = 80;
  const result = await runCli(['train', 'lenet28.py', '--data', 'default', '--batch', '32', '--lr', '0.05', '--max-steps', String(steps), '--json-events'], dir);
  assert.equal(result.code, 0, result.stderr);
  const events = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

  const [start, ...rest] = events;
  assert.equal(start?.['type'], 'start');
  assert.equal(start?.['data'], 'shapes28');
  const stepEvents = rest.filter((e) => e['type'] === 'step');
  assert.equal(stepEvents.length, steps);
  stepEvents.forEach((e, i) => {
    assert.deepEqual(Object.keys(e), ['type', 'epoch', 'step', 'loss', 'lr', 'images_per_s']);
    assert.equal(e['epoch'], 1);
    assert.equal(e['step'], i + 1);
    assert.equal(e['lr'], 0.05);
    assert.ok(Number.isFinite(e['loss']) && (e['images_per_s'] as number) > 0);
  });
  const losses = stepEvents.map((e) => e['loss'] as number);
  const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length;
  assert.ok(Math.abs(mean(losses.slice(0, 10)) - Math.log(10)) < 0.1, `starts near ln 10: ${mean(losses.slice(0, 10))}`);
  assert.ok(mean(losses.slice(-10)) < mean(losses.slice(0, 10)) - 0.2, `loss falls: ${mean(losses.slice(0, 10))} → ${mean(losses.slice(-10))}`);

  const epoch = rest.find((e) => e['type'] === 'epoch');
  assert.ok(epoch);
  assert.deepEqual(Object.keys(epoch), ['type', 'epoch', 'train_loss', 'train_acc', 'val_loss', 'val_acc']);
  assert.ok((epoch['val_acc'] as number) > 0.15, `better than chance on validation: ${epoch['val_acc']}`);
  const checkpoint = rest.find((e) => e['type'] === 'checkpoint');
  assert.ok(checkpoint, 'a checkpoint after the epoch');
  assert.deepEqual(Object.keys(checkpoint), ['type', 'epoch', 'step', 'path']);
  const saved = decodeSafetensors(fs.readFileSync(checkpoint['path'] as string));
  assert.deepEqual(saved.map((t) => t.name).sort(), ['conv1.bias', 'conv1.weight', 'conv2.bias', 'conv2.weight', 'fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight', 'fc3.bias', 'fc3.weight']);
  const done = events.at(-1);
  assert.equal(done?.['type'], 'done');
  assert.equal(done?.['steps'], steps);

  const runDir = start?.['run_dir'] as string;
  assert.equal(path.dirname(runDir), path.join(dir, '.netlens', 'runs'));
  const stored = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as unknown);
  assert.deepEqual(stored, events);
  const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { optimizer: unknown; spec: { nodes: unknown[] } };
  assert.deepEqual(config.optimizer, { type: 'sgd', lr: 0.05, momentum: 0.9 });
  assert.equal(config.spec.nodes.length, 12);
});

test('train refuses, before starting, a model whose input does not fit the built-in data', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'wide.py');
  fs.writeFileSync(file, `import torch.nn as nn

# netlens: input=(2, 1, 64, 64)
class Wide(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))

    def forward(self, x):
        return self.body(x)
`);
  const result = await runCli(['train', file, '--max-steps', '2'], dir);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /built-in data sets are 3×32×32 \(shapes32\) and 1×28×28 \(shapes28\).*model's input is \(N, 1, 64, 64\)/);
  assert.equal(fs.existsSync(path.join(dir, '.netlens')), false, 'no run was started');
});

test('train refuses a model with an op the engine lacks, naming the op, the file and the line', async () => {
  const dir = tempDir();
  const file = path.join(dir, 'cumsummed.py');
  fs.writeFileSync(file, lenet28.replace('        return self.fc3(x)', '        return torch.cumsum(self.fc3(x), dim=1)'));
  const result = await runCli(['train', file, '--max-steps', '2', '--json-events'], dir);
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:21: 'cumsum' is not supported by the Netlens engine`));
  const error = JSON.parse(result.stdout.trim()) as { type: string; message: string };
  assert.equal(error.type, 'error');
  assert.equal(fs.existsSync(path.join(dir, '.netlens')), false, 'no run was started');
});

const fixtures = path.join(repoRoot, 'tests', 'native', 'fixtures', 'data');
const tinyIdxModel = `import torch.nn as nn

# netlens: input=(4, 1, 5, 4)
class Tiny(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.flat = nn.Flatten()
        self.fc = nn.Linear(20, classes)

    def forward(self, x):
        return self.fc(self.flat(x))
`;

test('train --data PATH: an IDX image/label pair trains; data of another shape is refused naming both shapes', async () => {
  const dir = tempDir();
  fs.writeFileSync(path.join(dir, 'tiny.py'), tinyIdxModel);
  const data = `${path.join(fixtures, 'idx-images.gz')},${path.join(fixtures, 'idx-labels.gz')}`;
  const trained = await runCli(['train', 'tiny.py', '--data', data, '--batch', '4', '--epochs', '2', '--validation', '0', '--json-events'], dir);
  assert.equal(trained.code, 0, trained.stderr);
  const events = trained.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.equal(events.filter((e) => e['type'] === 'epoch').length, 2);
  assert.deepEqual(events.filter((e) => e['type'] === 'epoch').map((e) => e['val_acc']), [null, null]);
  assert.equal(events.at(-1)?.['type'], 'done');

  fs.writeFileSync(path.join(dir, 'wide.py'), tinyIdxModel.replace('(4, 1, 5, 4)', '(4, 1, 4, 5)'));
  const refused = await runCli(['train', 'wide.py', '--data', data], dir);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /the model's input is \(N, 1, 4, 5\) but the '.*' data set gives 1×5×4 samples/);

  fs.writeFileSync(path.join(dir, 'narrow.py'), tinyIdxModel.replace('classes=10', 'classes=2'));
  const narrow = await runCli(['train', 'narrow.py', '--data', data], dir);
  assert.equal(narrow.code, 1);
  assert.match(narrow.stderr, /the model scores 2 classes but 'mnist' has 10; make the last layer 10 wide/);
});
