// "Export Training Script (torchrun)": the generated Python compiles for every data kind and optimizer;
// its readers, validation split, augmentation and normalization give the engine's samples; and, when
// PyTorch is installed, the script really trains under `torchrun --nproc_per_node=2` (gloo on CPU):
// rank 0's metrics.jsonl is in the run-store format, the two ranks' shards are the whole training
// split, and the checkpoint loads back into the engine with exactly its state names and shapes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test, type TestContext } from 'node:test';

import { exportTorchrun, importableEntry, parseExportTorchrun } from '../../extension/cli/exportTorchrun';
import { main } from '../../extension/cli/main';
import { pythonInterpreterCandidates } from '../../extension/cli/pythonEnvironment';
import { findAddon, loadAddon, type NativeAddon, type NativeDatasetSpec } from '../../extension/engine/addon';
import type { EngineOptimizerSpec } from '../../extension/training/lower';
import { decodeSafetensors, safetensorsMetadata } from '../../extension/training/safetensors';
import { completeOptimizer, pythonLiteral, torchrunCommandLines, torchrunScript, type TorchrunData, type TorchrunScriptOptions } from '../../extension/training/torchrun';
import { npyBytes, npzBytes } from '../../extension/training/torchrunData';
import { runDirFromOutput, startTorchrun, stopTorchrun, torchrunArguments } from '../../extension/training/torchrunLaunch';

const repoRoot = path.resolve(__dirname, '..', '..');
const quietEnv = { ...process.env, NETLENS_PYTHON: 'none', VIRTUAL_ENV: '', CONDA_PREFIX: '', OMP_NUM_THREADS: '1' };

function python(args: string[], options: { cwd?: string; timeout?: number } = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('python3', args, { encoding: 'utf8', env: quietEnv, cwd: options.cwd, timeout: options.timeout ?? 60_000, maxBuffer: 256 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? (result.error ? String(result.error) : '') };
}

/** Why a Python-dependent test cannot run here, or undefined when it can. */
function missingPython(modules: string): string | undefined {
  const probe = python(['-c', `import ${modules}`], { timeout: 60_000 });
  if (probe.status === 0) return undefined;
  return probe.status === null ? `python3 is not available (${probe.stderr.trim() || 'not found'})` : `python3 cannot import ${modules}: ${probe.stderr.trim().split('\n').pop()}`;
}

function addonOrReason(): NativeAddon | string {
  const location = findAddon(repoRoot);
  return location.path ? loadAddon(location.path) : `the native add-on is not built (tried ${location.tried.join(', ')})`;
}

const tempDirs: string[] = [];

/** A fresh folder, removed after the tests (the exported data set alone is 30 MB). */
function tempDir(): string {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-torchrun-'));
  tempDirs.push(folder);
  return folder;
}

after(() => {
  for (const folder of tempDirs) fs.rmSync(folder, { recursive: true, force: true });
});

const optimizers: Record<string, EngineOptimizerSpec> = {
  sgd: { type: 'sgd', lr: 0.05 },
  momentum: { type: 'sgd', lr: 0.01, momentum: 0.9, nesterov: true, weight_decay: 5e-4, schedule: { type: 'step', step_size: 30, gamma: 0.1 } },
  adam: { type: 'adam', lr: 0.001, schedule: { type: 'cosine', t_max: 100, eta_min: 1e-5, warmup_steps: 10, warmup_start_factor: 0.1 } },
  adamw: { type: 'adamw', lr: 0.001, frozen: ['features.0'] },
  rmsprop: { type: 'rmsprop', lr: 0.01 },
};

const dataKinds: TorchrunData[] = [
  { kind: 'npy', paths: ['netlens-shapes32-train.npz'], name: 'shapes32' },
  { kind: 'npy', paths: ['/data/images.npy', '/data/labels.npy'], name: 'images.npy' },
  { kind: 'idx', paths: ['/data/mnist'], name: 'mnist' },
  { kind: 'cifar', paths: ['/data/cifar-10-batches-bin/data_batch_1.bin'], name: 'cifar10' },
  { kind: 'folder', paths: ['/data/pets'], name: 'pets', options: { channels: 3, size: [32, 32] } },
];

function scriptOptions(folder: string, data: TorchrunData, optimizer: EngineOptimizerSpec, sampleShape = [3, 32, 32]): TorchrunScriptOptions {
  return {
    scriptPath: path.join(folder, 'train_net_torchrun.py'), modelFile: path.join(folder, 'models', 'net.py'), entry: "Net(num_classes=10, name='a\"b')", modelName: 'Net',
    sampleShape, pythonPath: [], data, epochs: 3, batch: 16, validation: 0.25, augment: true, seed: 7, optimizer, labelSmoothing: 0.1,
    spec: null, config: { file: path.join(folder, 'models', 'net.py') },
  };
}

test('the script spells out every hyperparameter and compiles for each data kind and optimizer', (t) => {
  const folder = tempDir();
  const noPython = missingPython('sys');
  const files: string[] = [];
  for (const data of dataKinds) {
    for (const [name, optimizer] of Object.entries(optimizers)) {
      const text = torchrunScript(scriptOptions(folder, data, optimizer));
      const complete = completeOptimizer(optimizer);
      assert.match(text, new RegExp(`"type": "${complete.type}",`), name);
      assert.match(text, new RegExp(`"weight_decay": ${pythonLiteral(complete.weight_decay)},`), name);
      assert.match(text, new RegExp(`"lr": ${pythonLiteral(optimizer.lr)},`), name);
      assert.ok(text.includes(`DATA = ${pythonLiteral(data)}`), `${data.kind} ${name}: DATA`);
      // The model file sits under the script's folder, so it is written relative to it (the folder can move).
      assert.ok(text.includes('MODEL_FILE = "models/net.py"'));
      assert.ok(text.includes(`MODEL_ENTRY = ${JSON.stringify("Net(num_classes=10, name='a\"b')")}`));
      assert.ok(text.includes('torchrun --standalone --nproc_per_node=gpu train_net_torchrun.py'));
      const file = path.join(folder, `${data.kind}-${data.paths.length}-${name}.py`);
      fs.writeFileSync(file, text);
      files.push(file);
    }
  }
  if (!noPython) {
    // One interpreter compiles them all (and names the file that does not compile).
    const compiled = python(['-m', 'py_compile', ...files]);
    assert.equal(compiled.status, 0, `a generated script does not compile:\n${compiled.stderr}`);
  }
  assert.equal(completeOptimizer({ type: 'adamw', lr: 1 }).weight_decay, 0.01, 'AdamW decays 0.01 by default, in the engine as in PyTorch');
  assert.equal(completeOptimizer({ type: 'adam', lr: 1 }).weight_decay, 0);
  if (noPython) t.diagnostic(`compiled nothing: ${noPython}`);
});

test('command lines: one machine with several GPUs, several machines with a rendezvous endpoint', () => {
  const lines = torchrunCommandLines('my dir/train.py', { processesPerNode: 8, nodes: 4, endpoint: 'node0:29400', scriptArguments: ['--runs-root', '/runs'] });
  assert.equal(lines.singleMachine, "torchrun --standalone --nproc_per_node=8 'my dir/train.py' --runs-root /runs");
  assert.equal(lines.multiMachine, "torchrun --nnodes=4 --node_rank=NODE_RANK --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=node0:29400 --rdzv_id=netlens 'my dir/train.py' --runs-root /runs");
});

test('Launch runs python -m torch.distributed.run into the workspace and reads the run folder back', () => {
  assert.deepEqual(torchrunArguments({ script: '/w/train.py', processes: 4, runsRoot: '/w', device: 'cuda', maxSteps: 10 }),
    ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=4', '/w/train.py', '--runs-root', '/w', '--device', 'cuda', '--max-steps', '10']);
  assert.equal(runDirFromOutput('noise\ncancelled: 12 steps; run in /w/.netlens/runs/20261127-101010\n'), '/w/.netlens/runs/20261127-101010');
  assert.equal(runDirFromOutput('Traceback (most recent call last):'), undefined);
  const venv = tempDir();
  fs.mkdirSync(path.join(venv, 'bin'));
  fs.writeFileSync(path.join(venv, 'bin', 'python3'), '');
  assert.deepEqual(pythonInterpreterCandidates({ VIRTUAL_ENV: venv }), [path.join(venv, 'bin', 'python3'), 'python3', 'python']);
  assert.deepEqual(pythonInterpreterCandidates({ NETLENS_PYTHON: '/opt/py/bin/python' }), ['/opt/py/bin/python']);
  assert.deepEqual(pythonInterpreterCandidates({ NETLENS_PYTHON: 'none' }), []);
});

test('an .npz written by Netlens (stored zip of .npy members) reads back in the engine as the same samples', (t: TestContext) => {
  const addon = addonOrReason();
  if (typeof addon === 'string') return t.skip(addon);
  const pixels = randomBytes(5 * 3 * 8 * 8, 9);
  const file = path.join(tempDir(), 'set.npz');
  fs.writeFileSync(file, npzBytes({
    x: { dtype: '|u1', shape: [5, 3, 8, 8], data: Buffer.from(pixels) },
    y: { dtype: '<i8', shape: [5], data: Buffer.from(BigInt64Array.from([0, 1, 2, 1, 0], BigInt).buffer) },
    class_names: { dtype: '<U1', shape: [1], data: Buffer.from([0x41, 0, 0, 0]) },
  }));
  const dataset = addon.openDataset({ kind: 'npy', paths: [file] });
  assert.deepEqual({ count: dataset.info().count, shape: dataset.info().shape, classes: dataset.info().classes }, { count: 5, shape: [3, 8, 8], classes: 3 });
  const loader = dataset.loader({ batchSize: 5, shuffle: false, normalize: false });
  loader.startEpoch(0);
  const batch = loader.next()!;
  loader.close();
  assert.deepEqual([...batch.labels], [0, 1, 2, 1, 0]);
  assert.deepEqual([...batch.images], [...pixels].map((b) => Math.fround(b / 255)));
});

test('export-torchrun takes train\'s flags plus its own, and refuses what only native runs do', () => {
  const options = parseExportTorchrun(['net.py', '--entry', 'Net()', '--optimizer', 'adam', '--epochs', '4', '--out', 'x.py', '--nnodes', '3', '--rdzv-endpoint', 'h:1234', '--json']);
  assert.ok(options !== 'help');
  assert.equal(options.optimizer, 'adam');
  assert.equal(options.epochs, 4);
  assert.equal(options.out, 'x.py');
  assert.equal(options.nodes, 3);
  assert.equal(options.endpoint, 'h:1234');
  assert.equal(options.json, true);
  assert.throws(() => parseExportTorchrun(['net.py', '--resume', 'run']), /--resume is for native runs/);
  assert.throws(() => parseExportTorchrun(['net.py', '--rdzv-endpoint', 'nohost']), /HOST:PORT/);
  assert.throws(() => parseExportTorchrun(['net.py', '--bogus', '1']), /unknown option --bogus for 'netlens export-torchrun'/);
});

test('an entry made only in the __main__ block becomes the expression it was assigned', () => {
  const source = 'import torch.nn as nn\nnet = Net()\n\ndef build():\n    model = Other()\n    return model\n\nif __name__ == "__main__":\n    model = Net(num_classes=3)  # the demo\n';
  assert.deepEqual(importableEntry(source, 'Net()', 'm.py', 'Net'), { entry: 'Net()' });
  assert.deepEqual(importableEntry(source, 'net', 'm.py', 'Net'), { entry: 'net' });
  const rewritten = importableEntry(source, 'model', 'm.py', 'Net');
  assert.equal(rewritten.entry, 'Net(num_classes=3)');
  assert.match(rewritten.note ?? '', /__main__ block/);
  assert.throws(() => importableEntry('x = 1\n', 'model', 'm.py', 'Net'), /--entry 'Net\(\)'/);
});

function idxBytes(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt8(0x08, 2);
  header.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, Buffer.from(data)]);
}

function randomBytes(count: number, seed: number): Uint8Array {
  let state = seed;
  return Uint8Array.from({ length: count }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 24;
  });
}

test('the script\'s readers, split, augmentation and normalization give the engine\'s samples; its safetensors writer the engine\'s format', { timeout: 120_000 }, (t: TestContext) => {
  const addon = addonOrReason();
  if (typeof addon === 'string') return t.skip(addon);
  const missing = missingPython('numpy, torch');
  if (missing) return t.skip(missing);
  const folder = tempDir();
  const count = 40;
  const labels = Array.from({ length: count }, (_, i) => (i * 7) % 10);
  // IDX (gray 28×28), CIFAR-10 records split over two files, an NHWC float .npy pair and a uint8 .npz.
  fs.writeFileSync(path.join(folder, 'images.idx'), idxBytes([count, 28, 28], randomBytes(count * 784, 1)));
  fs.writeFileSync(path.join(folder, 'labels.idx'), idxBytes([count], Uint8Array.from(labels)));
  const records = (from: number, to: number): Buffer => Buffer.concat(labels.slice(from, to).map((label, i) => Buffer.concat([Buffer.from([label]), Buffer.from(randomBytes(3072, 100 + from + i))])));
  fs.writeFileSync(path.join(folder, 'a.bin'), records(0, 25));
  fs.writeFileSync(path.join(folder, 'b.bin'), records(25, count));
  const floats = Float32Array.from(randomBytes(count * 32 * 32 * 3, 3), (b) => b / 100 - 1);
  fs.writeFileSync(path.join(folder, 'images.npy'), npyBytes({ dtype: '<f4', shape: [count, 32, 32, 3], data: Buffer.from(floats.buffer) }));
  fs.writeFileSync(path.join(folder, 'labels.npy'), npyBytes({ dtype: '<i8', shape: [count], data: Buffer.from(BigInt64Array.from(labels, BigInt).buffer) }));
  fs.writeFileSync(path.join(folder, 'set.npz'), npzBytes({
    x: { dtype: '|u1', shape: [count, 3, 32, 32], data: Buffer.from(randomBytes(count * 3072, 4)) },
    y: { dtype: '<i8', shape: [count], data: Buffer.from(BigInt64Array.from(labels, BigInt).buffer) },
  }));
  const cases: { name: string; data: TorchrunData; native: NativeDatasetSpec; shape: number[] }[] = [
    { name: 'idx', data: { kind: 'idx', paths: ['images.idx', 'labels.idx'], name: 'mnist' }, native: { kind: 'idx', paths: [path.join(folder, 'images.idx'), path.join(folder, 'labels.idx')] }, shape: [1, 28, 28] },
    { name: 'cifar', data: { kind: 'cifar', paths: ['a.bin', 'b.bin'], name: 'cifar10' }, native: { kind: 'cifar', paths: [path.join(folder, 'a.bin'), path.join(folder, 'b.bin')] }, shape: [3, 32, 32] },
    { name: 'npy', data: { kind: 'npy', paths: ['images.npy', 'labels.npy'], name: 'images.npy' }, native: { kind: 'npy', paths: [path.join(folder, 'images.npy'), path.join(folder, 'labels.npy')] }, shape: [3, 32, 32] },
    { name: 'npz', data: { kind: 'npy', paths: ['set.npz'], name: 'set.npz' }, native: { kind: 'npy', paths: [path.join(folder, 'set.npz')] }, shape: [3, 32, 32] },
    // PNGs of 40×36 written by Pillow in the probe below, resized to 32×32 by both sides.
    { name: 'folder', data: { kind: 'folder', paths: ['pets'], name: 'pets', options: { channels: 3, size: [32, 32] } }, native: { kind: 'folder', paths: [path.join(folder, 'pets')], options: { channels: 3, size: [32, 32] } }, shape: [3, 32, 32] },
  ];
  const seed = 11;
  const epoch = 2;
  const fraction = 0.375; // 1.5 of each class's 4 samples: rounding half away from zero is checked
  const picked = [0, 3, 5];
  for (const c of cases) {
    const options = { ...scriptOptions(folder, c.data, optimizers['sgd']!, c.shape), seed, validation: fraction };
    fs.writeFileSync(path.join(folder, `${c.name}.py`), torchrunScript(options));
  }
  const probe = `
import importlib.util, json, os, sys, torch
import numpy as np
names = ${JSON.stringify(cases.map((c) => c.name).filter((name) => name !== 'folder'))}
try:
    from PIL import Image
    rng = np.random.default_rng(5)
    for label in ["cat", "dog"]:
        os.makedirs(os.path.join(${JSON.stringify(folder)}, "pets", label))
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)).save(os.path.join(${JSON.stringify(folder)}, "pets", label, f"{i}.png"))
    names.append("folder")
except ImportError:
    pass  # no Pillow: the folder reader is not compared
out = {}
for name in names:
    spec = importlib.util.spec_from_file_location(name, ${JSON.stringify(folder)} + "/" + name + ".py")
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    data = m.load_data()
    train, validation = m.validation_split(data, ${fraction}, ${seed})
    samples = m.Samples(data, ${JSON.stringify(picked)}, True)
    samples.epoch = ${epoch}
    plain = m.Samples(data, ${JSON.stringify(picked)}, False)
    out[name] = {"train": train, "validation": validation, "mean": data.mean.tolist(), "std": data.std.tolist(),
                 "augmented": [samples[i][0].flatten().tolist() for i in range(len(samples))],
                 "plain": [plain[i][0].flatten().tolist() for i in range(len(plain))],
                 "labels": [samples[i][1] for i in range(len(samples))]}
# The writer the script falls back on without the safetensors package.
state = {"conv.weight": torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) / 7, "bn.num_batches_tracked": torch.tensor(42), "fc.bias": torch.tensor([1.5, -2.0])}
m.write_safetensors(state, ${JSON.stringify(path.join(folder, 'state.safetensors'))}, {"format": "pt", "step": "3"})
json.dump(out, sys.stdout)
`;
  const run = python(['-c', probe], { cwd: folder, timeout: 100_000 });
  assert.equal(run.status, 0, run.stderr);
  const results = JSON.parse(run.stdout) as Record<string, { train: number[]; validation: number[]; mean: number[]; std: number[]; augmented: number[][]; plain: number[][]; labels: number[] }>;
  if (!results['folder']) t.diagnostic('image folder not compared: python3 has no Pillow');
  for (const c of cases.filter((x) => results[x.name] !== undefined)) {
    const got = results[c.name]!;
    const dataset = addon.openDataset(c.native);
    const info = dataset.info();
    const split = dataset.validationSplit({ fraction, seed, stratified: true });
    assert.deepEqual(got.train, [...split.train], `${c.name}: training split`);
    assert.deepEqual(got.validation, [...split.validation], `${c.name}: validation split`);
    got.mean.forEach((m, i) => assert.ok(Math.abs(m - info.mean[i]!) < 1e-6, `${c.name}: mean ${m} vs ${info.mean[i]}`));
    got.std.forEach((s, i) => assert.ok(Math.abs(s - info.std[i]!) < 1e-6, `${c.name}: std ${s} vs ${info.std[i]}`));
    for (const [key, augment] of [['augmented', true], ['plain', false]] as const) {
      const loader = dataset.loader({ batchSize: picked.length, shuffle: false, normalize: true, seed, indices: picked, ...(augment ? { cropPadding: 4, horizontalFlip: true } : {}) });
      loader.startEpoch(epoch);
      const batch = loader.next()!;
      loader.close();
      assert.deepEqual(got.labels, [...batch.labels], `${c.name}: labels`);
      const size = batch.images.length / picked.length;
      got[key].forEach((image, s) => image.forEach((value, i) => {
        const expected = batch.images[s * size + i]!;
        if (Math.abs(value - expected) > 1e-5) assert.fail(`${c.name} ${key}: sample ${picked[s]} value ${i}: script ${value}, engine ${expected}`);
      }));
    }
  }

  const bytes = fs.readFileSync(path.join(folder, 'state.safetensors'));
  assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0, 'the header is padded to 8 bytes');
  assert.deepEqual(safetensorsMetadata(bytes), { format: 'pt', step: '3' });
  const tensors = Object.fromEntries(decodeSafetensors(bytes).map((x) => [x.name, x]));
  assert.deepEqual(tensors['conv.weight']!.shape, [2, 3, 2, 2]);
  assert.deepEqual([...tensors['conv.weight']!.data], Array.from({ length: 24 }, (_, i) => Math.fround(Math.fround(i) / 7)));
  assert.deepEqual(tensors['bn.num_batches_tracked']!.shape, []);
  assert.deepEqual([...tensors['bn.num_batches_tracked']!.data], [42]);
  assert.deepEqual([...tensors['fc.bias']!.data], [1.5, -2]);
});

const tinyModel = `import torch.nn as nn


# netlens: input=(1, 3, 32, 32)
class TinyNet(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.head = nn.Linear(16 * 8 * 8, classes)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))
`;

test('the exported script trains under torchrun with 2 CPU processes, its checkpoint loads into the engine, and a stop ends it with a checkpoint', { timeout: 240_000 }, async (t: TestContext) => {
  const addon = addonOrReason();
  if (typeof addon === 'string') return t.skip(addon);
  const missing = missingPython('numpy, torch, torch.distributed');
  if (missing) return t.skip(`${missing}; install torch (pip install torch==2.13.0+cpu) to run the script under torchrun`);
  const folder = tempDir();
  fs.writeFileSync(path.join(folder, 'tiny.py'), tinyModel);
  let stdout = '';
  let stderr = '';
  const io = { stdout: (text: string) => { stdout += text; }, stderr: (text: string) => { stderr += text; }, cwd: folder, env: quietEnv };
  const code = await main(['export-torchrun', 'tiny.py', '--entry', 'TinyNet()', '--optimizer', 'adam', '--out', 'ddp/train.py', '--json'], io);
  assert.equal(code, 0, stderr);
  const exported = JSON.parse(stdout) as Awaited<ReturnType<typeof exportTorchrun>>;
  assert.equal(exported.script, path.join(folder, 'ddp', 'train.py'));
  assert.equal(exported.dataFile, path.join(folder, 'ddp', 'netlens-shapes32-train.npz'));
  // The exported .npz is the built-in set: the engine reads it back as the same samples.
  const builtIn = addon.openDataset({ kind: 'default', options: { variant: 'shapes32', split: 'train' } }).info();
  const reread = addon.openDataset({ kind: 'npy', paths: [exported.dataFile!] }).info();
  assert.equal(reread.count, builtIn.count);
  assert.deepEqual(reread.mean, builtIn.mean);
  assert.deepEqual(reread.std, builtIn.std);

  const steps = 4;
  const runsRoot = path.join(folder, 'workspace');
  const started = Date.now();
  const run = python(['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', exported.script, '--device', 'cpu', '--max-steps', String(steps), '--record-shards', '--runs-root', runsRoot], { cwd: folder, timeout: 150_000 });
  t.diagnostic(`torchrun with 2 processes: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(run.status, 0, `torchrun failed:\n${run.stdout}\n${run.stderr}`);
  const runs = fs.readdirSync(path.join(runsRoot, '.netlens', 'runs'));
  assert.equal(runs.length, 1, 'rank 0 alone creates the run folder');
  const runDir = path.join(runsRoot, '.netlens', 'runs', runs[0]!);
  assert.match(runs[0]!, /^\d{8}-\d{6}$/);

  const events = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(events.map((e) => e['type']), ['start', ...Array<string>(steps).fill('step'), 'epoch', 'checkpoint', 'done']);
  const start = events[0]!;
  assert.equal(start['run_dir'], runDir);
  assert.equal(start['data'], 'shapes32');
  assert.equal(start['train_samples'], 9000);
  assert.equal(start['validation_samples'], 1000);
  assert.equal(start['batches_per_epoch'], Math.floor(9000 / 2 / 32));
  assert.equal(start['world_size'], 2);
  events.slice(1, 1 + steps).forEach((step, i) => {
    assert.deepEqual(Object.keys(step).sort(), ['epoch', 'images_per_s', 'loss', 'lr', 'step', 'type']);
    assert.equal(step['epoch'], 1);
    assert.equal(step['step'], i + 1);
    assert.ok(Number.isFinite(step['loss']) && (step['loss'] as number) > 0, `finite loss at step ${i + 1}`);
    assert.equal(step['lr'], 0.001);
    assert.ok((step['images_per_s'] as number) > 0);
  });
  const epoch = events[1 + steps]!;
  assert.deepEqual(Object.keys(epoch).sort(), ['epoch', 'train_acc', 'train_loss', 'type', 'val_acc', 'val_loss']);
  for (const key of ['train_acc', 'train_loss', 'val_acc', 'val_loss']) assert.ok(Number.isFinite(epoch[key]), `${key} is finite`);
  const checkpointEvent = events[2 + steps]!;
  const checkpoint = path.join(runDir, 'checkpoints', `step-${steps}.safetensors`);
  assert.deepEqual(checkpointEvent, { type: 'checkpoint', epoch: 1, step: steps, path: checkpoint });
  assert.deepEqual({ ...events[3 + steps], seconds: 0 }, { type: 'done', epochs: 1, steps, seconds: 0, status: 'completed' });
  const status = JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(status['status'], 'completed');
  assert.equal(status['steps'], steps);
  const config = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(config['entry'], 'TinyNet()');
  assert.equal(config['world_size'], 2);
  assert.equal(config['launcher'], 'torchrun');
  assert.deepEqual(config['data'], { kind: 'default', options: { variant: 'shapes32', split: 'train' } });

  // Both ranks' shards of the first epoch are the engine's training split, each sample once.
  const shards = JSON.parse(fs.readFileSync(path.join(runDir, 'shards.json'), 'utf8')) as { world_size: number; ranks: number[][] };
  assert.equal(shards.ranks.length, 2);
  assert.equal(shards.ranks[0]!.length, 4500);
  assert.equal(shards.ranks[1]!.length, 4500);
  const split = addon.openDataset({ kind: 'default', options: { variant: 'shapes32', split: 'train' } }).validationSplit({ fraction: 0.1, seed: 0, stratified: true });
  assert.deepEqual([...shards.ranks[0]!, ...shards.ranks[1]!].sort((a, b) => a - b), [...split.train]);

  // The checkpoint holds exactly the engine's state: same names, same shapes, and the engine takes every tensor.
  const bytes = fs.readFileSync(checkpoint);
  assert.deepEqual(safetensorsMetadata(bytes), { format: 'pt', epoch: '0', step: String(steps), epoch_step: String(steps) });
  const tensors = decodeSafetensors(bytes, checkpoint);
  const engine = addon.createEngine(JSON.stringify(config['spec']), 0);
  assert.deepEqual(tensors.map((x) => x.name).sort(), [...engine.stateNames()].sort());
  for (const tensor of tensors) {
    assert.deepEqual(tensor.shape, engine.getState(tensor.name).shape, tensor.name);
    engine.setState(tensor.name, { shape: tensor.shape, data: tensor.data });
    assert.deepEqual([...engine.getState(tensor.name).data], [...tensor.data], `${tensor.name} was set`);
  }
  assert.deepEqual([...tensors.find((x) => x.name === 'features.1.num_batches_tracked')!.data], [steps]);
  engine.setTraining(false);
  const logits = Object.values(engine.forward({ x: { shape: [2, 3, 32, 32], data: new Float32Array(2 * 3 * 32 * 32).fill(0.5) } }))[0]!;
  assert.deepEqual(logits.shape, [2, 10]);
  assert.ok([...logits.data].every(Number.isFinite));

  // `netlens train --resume RUN_DIR` continues the torchrun run natively, in the same run folder.
  let resumedOut = '';
  const resumed = await main(['train', 'tiny.py', '--entry', 'TinyNet()', '--optimizer', 'adam', '--resume', runDir, '--max-steps', String(steps + 2), '--json-events'],
    { ...io, stdout: (text: string) => { resumedOut += text; } });
  assert.equal(resumed, 0, `${resumedOut}\n${stderr}`);
  const appended = fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).slice(events.length);
  assert.deepEqual(appended[0]!['resumed_from'], { checkpoint, epoch: 0, step: steps });
  assert.deepEqual(appended.filter((e) => e['type'] === 'step').map((e) => e['step']), [steps + 1, steps + 2]);

  // "Launch with torchrun" and its stop: SIGTERM to the process group; every rank stops after the
  // step in flight and rank 0 writes a checkpoint and a cancelled `done`.
  const launchRoot = path.join(folder, 'launched');
  fs.mkdirSync(launchRoot);
  const launch = { script: exported.script, processes: 2, runsRoot: launchRoot, device: 'cpu' as const, epochs: 50 };
  assert.deepEqual(torchrunArguments(launch).slice(0, 4), ['-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2']);
  const child = startTorchrun('python3', launch, quietEnv);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
  child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString('utf8'); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const metricsFile = (): string | undefined => {
    const runsDir = path.join(launchRoot, '.netlens', 'runs');
    const id = fs.existsSync(runsDir) ? fs.readdirSync(runsDir)[0] : undefined;
    return id ? path.join(runsDir, id, 'metrics.jsonl') : undefined;
  };
  const deadline = Date.now() + 150_000;
  for (;;) {
    const file = metricsFile();
    if (file && fs.existsSync(file) && fs.readFileSync(file, 'utf8').split('"type":"step"').length > 2) break;
    if (child.exitCode !== null || Date.now() > deadline) assert.fail(`torchrun made no steps:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  stopTorchrun(child);
  await exited;
  const launchedDir = path.dirname(metricsFile()!);
  assert.equal(runDirFromOutput(output), launchedDir);
  const launchedEvents = fs.readFileSync(path.join(launchedDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const done = launchedEvents.at(-1)!;
  assert.equal(done['type'], 'done');
  assert.equal(done['status'], 'cancelled');
  const saved = launchedEvents.filter((e) => e['type'] === 'checkpoint').at(-1)!;
  assert.equal(saved['step'], done['steps']);
  assert.ok(fs.existsSync(saved['path'] as string), 'the checkpoint written on stop exists');
  assert.equal((JSON.parse(fs.readFileSync(path.join(launchedDir, 'status.json'), 'utf8')) as { status: string }).status, 'cancelled');
});
