// The CPU engine through the add-on: `new Engine(specJson, seed)` trains from Node with the same
// results as PyTorch (the golden training runs of tests/native/goldens/kernels.json), copies
// tensors into JS-owned Float32Arrays, and turns core errors into JS errors with the core's text.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { addonPath, repoRoot } from './support';

interface TensorValue {
  shape: number[];
  data: Float32Array;
}
type Inputs = Record<string, TensorValue>;
interface NativeEngine {
  stateNames(): string[];
  isTrainable(name: string): boolean;
  getState(name: string): TensorValue;
  setState(name: string, value: TensorValue): void;
  setTraining(training: boolean): void;
  forward(inputs: Inputs): Record<string, TensorValue>;
  trainSteps(batches: Inputs[]): { losses: number[]; learningRates: number[] };
}
type EngineConstructor = new (specJson: string, seed?: number) => NativeEngine;

function loadEngine(): EngineConstructor {
  const module: { exports: Record<string, unknown> } = { exports: {} };
  process.dlopen(module, path.resolve(addonPath()));
  const engine = module.exports['Engine'];
  assert.equal(typeof engine, 'function', 'the add-on exports an Engine class');
  return engine as EngineConstructor;
}

interface GoldenTensor {
  shape: number[];
  data: number[];
}
interface TrainingGoldens {
  graph: Record<string, unknown>;
  state: Record<string, GoldenTensor>;
  batches: Record<string, GoldenTensor>[];
  runs: { name: string; optimizer: Record<string, unknown>; losses: number[]; lrs: number[]; state_after: Record<string, GoldenTensor> }[];
}

function tensor(golden: GoldenTensor): TensorValue {
  return { shape: golden.shape, data: Float32Array.from(golden.data) };
}

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs((actual[i] ?? NaN) - (expected[i] ?? NaN)));
    scale = Math.max(scale, Math.abs(expected[i] ?? 0));
  }
  return worst / (scale + 1e-12);
}

const goldens = JSON.parse(fs.readFileSync(path.join(repoRoot, 'tests', 'native', 'goldens', 'kernels.json'), 'utf8')) as {
  training: TrainingGoldens;
};

test('trainSteps follows PyTorch step by step for every optimizer', () => {
  const Engine = loadEngine();
  const training = goldens.training;
  for (const run of training.runs) {
    const engine = new Engine(JSON.stringify({ ...training.graph, optimizer: run.optimizer }));
    for (const [name, value] of Object.entries(training.state)) engine.setState(name, tensor(value));
    const batches = training.batches.map((batch) => Object.fromEntries(Object.entries(batch).map(([k, v]) => [k, tensor(v)])));
    const { losses, learningRates } = engine.trainSteps(batches);
    run.losses.forEach((expected, step) => {
      assert.ok(Math.abs((losses[step] ?? NaN) - expected) <= 1e-4 * Math.abs(expected), `${run.name} step ${step}: ${losses[step]} vs ${expected}`);
      assert.ok(Math.abs((learningRates[step] ?? NaN) - (run.lrs[step] ?? NaN)) <= 1e-12, `${run.name} lr at step ${step}`);
    });
    for (const [name, expected] of Object.entries(run.state_after)) {
      const actual = engine.getState(name);
      assert.deepEqual(actual.shape, expected.shape, `${run.name} ${name} shape`);
      assert.ok(actual.data instanceof Float32Array);
      assert.ok(relativeError(actual.data, expected.data) < 1e-4, `${run.name} ${name}: ${relativeError(actual.data, expected.data)}`);
    }
  }
});

const lenet = {
  inputs: [
    { name: 'x', shape: [8, 1, 28, 28] },
    { name: 'y', shape: [8], dtype: 'int64' },
  ],
  nodes: [
    { id: 'conv1', op: 'conv2d', inputs: ['x'], attrs: { in_channels: 1, out_channels: 6, kernel_size: 5, padding: 2 } },
    { id: 'relu1', op: 'relu', inputs: ['conv1'] },
    { id: 'pool1', op: 'max_pool2d', inputs: ['relu1'], attrs: { kernel_size: 2 } },
    { id: 'conv2', op: 'conv2d', inputs: ['pool1'], attrs: { in_channels: 6, out_channels: 16, kernel_size: 5 } },
    { id: 'relu2', op: 'relu', inputs: ['conv2'] },
    { id: 'pool2', op: 'max_pool2d', inputs: ['relu2'], attrs: { kernel_size: 2 } },
    { id: 'flat', op: 'flatten', inputs: ['pool2'] },
    { id: 'fc1', op: 'linear', inputs: ['flat'], attrs: { in_features: 400, out_features: 120 } },
    { id: 'relu3', op: 'relu', inputs: ['fc1'] },
    { id: 'fc2', op: 'linear', inputs: ['relu3'], attrs: { in_features: 120, out_features: 10 } },
  ],
  outputs: ['fc2'],
  loss: { op: 'cross_entropy', input: 'fc2', target: 'y' },
  optimizer: { type: 'adam', lr: 0.003 },
};

function batch(seed: number): Inputs {
  let state = seed;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const x = new Float32Array(8 * 28 * 28).map(() => random() * 2 - 1);
  const y = new Float32Array(8).map((_, i) => i % 10);
  return { x: { shape: [8, 1, 28, 28], data: x }, y: { shape: [8], data: y } };
}

test('a LeNet-5 spec runs forward and learns a fixed batch', () => {
  const Engine = loadEngine();
  const engine = new Engine(JSON.stringify(lenet), 1);
  assert.deepEqual(engine.stateNames(), ['conv1.weight', 'conv1.bias', 'conv2.weight', 'conv2.bias', 'fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
  assert.deepEqual(engine.getState('conv2.weight').shape, [16, 6, 5, 5]);
  const data = batch(7);
  const out = engine.forward({ x: data['x'] as TensorValue });
  assert.deepEqual(out['fc2']?.shape, [8, 10]);
  assert.ok(out['fc2']?.data.every(Number.isFinite));
  const { losses } = engine.trainSteps(Array.from({ length: 25 }, () => data));
  const first = losses[0] ?? NaN;
  const last = losses[losses.length - 1] ?? NaN;
  assert.ok(first > 2 && last < 0.25 * first, `loss ${first} -> ${last}`);
});

test('engineOps() lists the op set a lowering may use', () => {
  const module: { exports: Record<string, unknown> } = { exports: {} };
  process.dlopen(module, path.resolve(addonPath()));
  const engineOps = module.exports['engineOps'];
  assert.equal(typeof engineOps, 'function');
  const ops = (engineOps as () => unknown)();
  assert.ok(Array.isArray(ops));
  for (const op of ['conv2d', 'conv_transpose2d', 'linear', 'batch_norm2d', 'max_unpool2d', 'layer_norm', 'dropout', 'cat', 'mean']) {
    assert.ok(ops.includes(op), `${op} is supported`);
  }
  assert.ok(!ops.includes('not_an_op'));
});

test('core errors reach JS with their message', () => {
  const Engine = loadEngine();
  assert.throws(() => new Engine('{"inputs":[],"nodes":[{"id":"a","op":"not_an_op","inputs":[]}],"outputs":[]}'), /unknown op "not_an_op"/);
  assert.throws(() => new Engine('{'), /not valid JSON/);
  const engine = new Engine(JSON.stringify(lenet));
  assert.throws(() => engine.setState('conv1.weight', { shape: [6, 1, 5, 5], data: new Float32Array(3) }), /has 3 values for shape \[6, 1, 5, 5\]/);
  assert.throws(() => engine.getState('conv9.weight'), /no parameter or buffer named "conv9.weight"/);
  const poisoned = batch(3);
  (poisoned['x'] as TensorValue).data[0] = Number.NaN;
  assert.throws(() => engine.trainSteps([poisoned]), /training loss is NaN at step 1/);
  assert.throws(() => engine.forward({ x: { shape: [8, 3, 28, 28], data: new Float32Array(8 * 3 * 28 * 28) } }), /the graph expects \[8, 1, 28, 28\]/);
});
