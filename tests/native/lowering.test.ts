// The engine accepts what lowering makes of the analyzed examples: an Engine is built from the
// lowered spec of LeNet-5, a small ResNet and the FCN (max_unpool2d), its parameters and buffers
// are PyTorch's state_dict (names and shapes, from the committed goldens) with each layer's
// parameter count as PyTorch's forward hooks saw it, a forward pass on zeros
// gives the analyzer's output shape, and every op lowering emits is one the engine lists. Whole
// fixture models (tests/native/fixtures/lowering_ops.py) run with PyTorch's weights give PyTorch's
// outputs and input gradients (goldens/lowered_models.json), so the lowering is checked end to end.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { analyzeFile } from '../../extension/analysis/index';
import { EMITTED_OPS, lowerModel } from '../../extension/training/lower';
import { addonPath, repoRoot } from './support';

interface TensorValue {
  shape: number[];
  data: Float32Array;
}
interface NativeEngine {
  stateNames(): string[];
  isTrainable(name: string): boolean;
  getState(name: string): TensorValue;
  forward(inputs: Record<string, TensorValue>): Record<string, TensorValue>;
}
interface GradientEngine extends NativeEngine {
  setState(name: string, value: TensorValue): void;
  setTraining(training: boolean): void;
  backward(seeds: Record<string, TensorValue>): Record<string, TensorValue>;
}
interface LoweringAddon {
  Engine: new (specJson: string, seed?: number) => GradientEngine;
  engineOps(): string[];
}

function loadAddon(): LoweringAddon {
  const module: { exports: Record<string, unknown> } = { exports: {} };
  process.dlopen(module, path.resolve(addonPath()));
  assert.equal(typeof module.exports['Engine'], 'function');
  assert.equal(typeof module.exports['engineOps'], 'function');
  return module.exports as unknown as LoweringAddon;
}

interface StateDictGolden {
  file: string;
  entry: string;
  state_dict: { name: string; shape: number[] }[];
}

/** The analyzer goldens made by PyTorch (tests/unit/goldens/models): per-layer parameter counts. */
const modelGoldens: Record<string, string> = {
  lenet5: 'ex_lenet5__LeNet5.json',
  resnet10_basic: 'ex_resnet_blocks__resnet10_basic.json',
  fcn: 'ex_fcn__model.json',
};

for (const name of ['lenet5', 'resnet10_basic', 'fcn']) {
  test(`${name}: the engine runs the lowered spec with PyTorch's state_dict`, async () => {
    const addon = loadAddon();
    const golden = JSON.parse(fs.readFileSync(path.join(repoRoot, 'tests', 'unit', 'goldens', 'state_dict', `${name}.json`), 'utf8')) as StateDictGolden;
    const file = path.join(repoRoot, golden.file);
    const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), { entry: golden.entry, recordGraph: true }, { astCacheDir: false });
    const model = report.models[0];
    assert.ok(model);
    const spec = lowerModel(model, { engineOps: addon.engineOps() });
    const engine = new addon.Engine(JSON.stringify(spec), 7);

    assert.deepEqual([...engine.stateNames()].sort(), golden.state_dict.map((entry) => entry.name).sort());
    for (const entry of golden.state_dict) assert.deepEqual(engine.getState(entry.name).shape, entry.shape, entry.name);

    // Every layer's own parameters, as PyTorch counted them, are the engine's trainable tensors under its path.
    const layers = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'tests', 'unit', 'goldens', 'models', modelGoldens[name]!), 'utf8')) as {
      layers: { path: string; params: number }[];
    }).layers;
    for (const layer of layers) {
      const own = engine.stateNames().filter((state) => state.startsWith(`${layer.path}.`) && !state.slice(layer.path.length + 1).includes('.') && engine.isTrainable(state));
      const count = own.reduce((sum, state) => sum + engine.getState(state).data.length, 0);
      assert.equal(count, layer.params, `${layer.path} (${own.join(', ')})`);
    }

    const input = spec.inputs[0]!;
    const size = input.shape.reduce((a, b) => a * b, 1);
    const outputs = engine.forward({ [input.name]: { shape: input.shape, data: new Float32Array(size) } });
    assert.deepEqual(spec.outputs.map((id) => outputs[id]?.shape), model.output);
    for (const id of spec.outputs) assert.ok(outputs[id]!.data.every(Number.isFinite), `${id} is finite`);
  });
}

test('models using the newer ops (LRN, PReLU, squeeze-excitation, softmax, permute) run forward in the engine', async () => {
  const addon = loadAddon();
  const cases: [string, string][] = [
    ['examples/alexnet.py', 'AlexNet(num_classes=10)'],
    ['tests/native/fixtures/lowering_ops.py', 'OpsNet()'],
  ];
  for (const [relative, entry] of cases) {
    const file = path.join(repoRoot, relative);
    const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), { entry, recordGraph: true }, { astCacheDir: false });
    const model = report.models[0];
    assert.ok(model, relative);
    const spec = lowerModel(model, { engineOps: addon.engineOps() });
    const engine = new addon.Engine(JSON.stringify(spec), 7);
    const input = spec.inputs[0]!;
    const size = input.shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37));
    const outputs = engine.forward({ [input.name]: { shape: input.shape, data } });
    assert.deepEqual(spec.outputs.map((id) => outputs[id]?.shape), model.output, relative);
    for (const id of spec.outputs) assert.ok(outputs[id]!.data.every(Number.isFinite), `${relative}: ${id} is finite`);
  }
});

interface GoldenTensor {
  shape: number[];
  data: number[];
}
interface LoweredModelGolden {
  file: string;
  entry: string;
  input: GoldenTensor;
  input_dtype: 'float32' | 'int64';
  state: Record<string, GoldenTensor>;
  output: GoldenTensor;
  grad_output: GoldenTensor;
  input_grad?: GoldenTensor;
}

/** Largest |a − b| relative to the largest |b| (the engine goldens' measure). */
function relativeError(actual: Float32Array, expected: readonly number[]): number {
  assert.equal(actual.length, expected.length);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  }
  return worst / Math.max(scale, 1e-12);
}

const tensor = (golden: GoldenTensor): TensorValue => ({ shape: golden.shape, data: Float32Array.from(golden.data) });

// The lowering is faithful: PyTorch's own forward (and input gradient) of whole models written with
// modules, F.*, torch.*, tensor methods, operators, indexing and recurrent layers, from the same
// state_dict, matches the engine running the lowered spec (goldens: make_kernel_goldens.py).
const loweredGoldens = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'tests', 'native', 'goldens', 'lowered_models.json'), 'utf8')) as {
  models: LoweredModelGolden[];
}).models;
for (const golden of loweredGoldens) {
  test(`${golden.entry} from ${path.basename(golden.file)}: the engine's output equals PyTorch's within 1e-4`, async () => {
    const addon = loadAddon();
    const file = path.join(repoRoot, golden.file);
    const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'),
      { entry: golden.entry, recordGraph: true, inputs: [{ shape: golden.input.shape, dtype: golden.input_dtype }] }, { astCacheDir: false });
    const model = report.models[0];
    assert.ok(model);
    const spec = lowerModel(model, { engineOps: addon.engineOps() });
    assert.equal(spec.inputs[0]?.dtype, golden.input_dtype);
    const engine = new addon.Engine(JSON.stringify(spec), 3);
    assert.deepEqual([...engine.stateNames()].sort(), Object.keys(golden.state).sort());
    for (const [name, value] of Object.entries(golden.state)) engine.setState(name, tensor(value));
    engine.setTraining(false);
    const outputs = engine.forward({ [spec.inputs[0]!.name]: tensor(golden.input) });
    const output = outputs[spec.outputs[0]!]!;
    assert.deepEqual(output.shape, golden.output.shape);
    const outputError = relativeError(output.data, golden.output.data);
    assert.ok(outputError < 1e-4, `output relative error ${outputError}`);
    if (golden.input_grad) {
      const gradients = engine.backward({ [spec.outputs[0]!]: tensor(golden.grad_output) });
      const gradientError = relativeError(gradients[spec.inputs[0]!.name]!.data, golden.input_grad.data);
      assert.ok(gradientError < 1e-4, `input gradient relative error ${gradientError}`);
    }
  });
}

test("lowering's op list is exactly the engine's", () => {
  assert.deepEqual([...EMITTED_OPS].sort(), [...loadAddon().engineOps()].sort());
});
