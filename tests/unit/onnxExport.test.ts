// Export to ONNX of a model lowered for the engine: the exported file, run in onnxruntime-node,
// gives the engine's own forward outputs (relative error < 1e-4) with a checkpoint's weights, reads
// back with the layer table (shapes from its value_info, parameters as the engine counts them), and
// an op the export cannot write is refused with the op. Needs the native add-on (npm install).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { findAddon, loadAddon, type NativeAddon } from '../../extension/engine/addon';
import { exportVerified } from '../../extension/onnx/engineRequests';
import { exportToOnnx, OnnxExportError } from '../../extension/onnx/export';
import { buildLayerTable } from '../../extension/onnx/layers';
import { readOnnxFile } from '../../extension/onnx/model';
import { loadOnnxRuntime } from '../../extension/onnx/runtime';
import { prepareModel } from '../../extension/training/modelSpec';
import { encodeSafetensors } from '../../extension/training/safetensors';

const repoRoot = path.resolve(__dirname, '..', '..');

const MODEL_SOURCE = `
import torch
import torch.nn as nn
import torch.nn.functional as F

class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=1, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU6()
        self.pool = nn.MaxPool2d(2)
        self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8, bias=False)
        self.pw = nn.Conv2d(8, 8, 1)
        self.side = nn.Conv2d(8, 4, 3, padding='same')
        self.avg = nn.AvgPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(12, 16)
        self.norm = nn.LayerNorm(16)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(16, 5)

    def forward(self, x):
        x = self.pool(self.act(self.bn(self.stem(x))))
        y = F.leaky_relu(self.pw(self.dw(x)), 0.2) + x
        z = torch.sigmoid(self.side(x)) * 2.0
        x = torch.cat([F.hardswish(y), F.silu(z)], dim=1)
        x = self.gap(self.avg(x))
        x = torch.flatten(x, 1)
        x = F.gelu(self.norm(self.fc1(x)))
        return self.fc2(self.drop(x))


`;

describe('export to ONNX', () => {
  let addon: NativeAddon;
  let folder: string;
  before(() => {
    const location = findAddon(repoRoot);
    if (!location.path) throw new Error(`netlens.node not found (tried ${location.tried.join(', ')}); build it with \`npm install\``);
    addon = loadAddon(location.path);
    folder = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-onnx-export-'));
  });
  after(() => fs.rmSync(folder, { recursive: true, force: true }));

  it('round-trips: onnxruntime on the exported model equals the engine with the checkpoint weights', async () => {
    const file = path.join(folder, 'mixed.py');
    fs.writeFileSync(file, MODEL_SOURCE);
    const prepared = await prepareModel({ file, analyze: { entry: 'Mixed()', inputs: [{ shape: [1, 3, 16, 16] }] }, engineOps: addon.engineOps(), optimizer: { type: 'sgd', lr: 0.1 } });
    const specJson = JSON.stringify(prepared.spec);
    // A checkpoint whose every value differs from the seed's initial state (running statistics included).
    const engine = addon.createEngine(specJson, 3);
    const state = engine.stateNames().map((name) => {
      const tensor = engine.getState(name);
      const data = name.endsWith('num_batches_tracked') ? tensor.data : Float32Array.from(tensor.data, (v, i) => (name.endsWith('running_var') ? 0.5 + (i % 5) * 0.2 : v + 0.05 * Math.sin(i + name.length)));
      return { name, shape: tensor.shape, data };
    });
    const checkpoint = path.join(folder, 'mixed.safetensors');
    fs.writeFileSync(checkpoint, encodeSafetensors(state));
    const out = path.join(folder, 'out', 'mixed.onnx');

    const result = await exportVerified(addon, loadOnnxRuntime(), { spec: specJson, seed: 0, checkpoint, out });
    assert.ok(result.maxRelativeError < 1e-4, `relative error ${result.maxRelativeError}`);
    assert.equal(result.opset, 17);
    assert.equal(result.verifiedBatch, 2);
    assert.ok(fs.statSync(out).size === result.bytes);

    // The written file reads back; its value_info gives every shape, parameters equal the model's.
    const model = readOnnxFile(out);
    const ops = new Set(model.graph.nodes.map((n) => n.opType));
    for (const op of ['Conv', 'BatchNormalization', 'Clip', 'MaxPool', 'LeakyRelu', 'Add', 'Sigmoid', 'Mul', 'HardSwish', 'Concat', 'AveragePool', 'GlobalAveragePool', 'Flatten', 'Gemm', 'LayerNormalization', 'Erf', 'Identity']) {
      assert.ok(ops.has(op), `no ${op} in ${[...ops].join(', ')}`);
    }
    const table = buildLayerTable(model, out);
    assert.equal(table.totals.params, prepared.model.params.total);
    assert.ok(table.layers.every((layer) => layer.outputs.every((o) => o.source === 'model')), table.shapeNote);
    assert.deepEqual(table.inputs[0]?.shape, ['N', 3, 16, 16]);
    assert.deepEqual(table.layers.find((l) => l.name === 'fc2')?.outputs[0]?.shape, ['N', 5]);
  });

  it('refuses a checkpoint that does not match before writing anything', async () => {
    const file = path.join(folder, 'mixed.py');
    const prepared = await prepareModel({ file, analyze: { entry: 'Mixed()', inputs: [{ shape: [1, 3, 16, 16] }] }, engineOps: addon.engineOps(), optimizer: { type: 'sgd', lr: 0.1 } });
    const checkpoint = path.join(folder, 'wrong.safetensors');
    fs.writeFileSync(checkpoint, encodeSafetensors([{ name: 'stem.weight', shape: [1], data: new Float32Array(1) }]));
    const out = path.join(folder, 'wrong.onnx');
    await assert.rejects(exportVerified(addon, loadOnnxRuntime(), { spec: JSON.stringify(prepared.spec), seed: 0, checkpoint, out }), /wrong\.safetensors/);
    assert.equal(fs.existsSync(out), false);
  });

  it('refuses an op it cannot write, naming the op and the node', () => {
    const spec = { inputs: [{ name: 'x', shape: [1, 4, 8], dtype: 'float32' as const }], nodes: [{ id: 'rnn', op: 'lstm', attrs: {}, inputs: ['x'] }], outputs: ['rnn'] };
    assert.throws(
      () => exportToOnnx({ spec, state: new Map(), shapes: { x: [1, 4, 8], rnn: [1, 4, 16] }, producerVersion: 'test' }),
      (error: unknown) => error instanceof OnnxExportError && error.op === 'lstm' && /'lstm' \(node rnn\) has no ONNX export/.test(error.message),
    );
  });
});
