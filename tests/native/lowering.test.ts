// The engine accepts what lowering makes of the analyzed examples: an Engine is built from the
// lowered spec of LeNet-5, a small ResNet and the FCN (max_unpool2d), its parameters and buffers
// are PyTorch's state_dict (names and shapes, from the committed goldens) with each layer's
// parameter count as PyTorch's forward hooks saw it, a forward pass on zeros
// gives the analyzer's output shape, and every op lowering emits is one the engine lists.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { analyzeFile } from '../../extension/analysis/index';
import { lowerModel } from '../../extension/training/lower';
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
interface LoweringAddon {
  Engine: new (specJson: string, seed?: number) => NativeEngine;
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
