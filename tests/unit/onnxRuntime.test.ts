// Running ONNX models in onnxruntime-node: the table's missing shapes measured on zeros equal
// PyTorch's, the output and the chosen activations for a fixed input match PyTorch's (relative
// error < 1e-4, goldens from scripts/goldens/make_onnx_goldens.py), and the occlusion map is
// consistent with separate runs.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { layerTableOf, loadOnnxRuntime, OnnxSessions, probabilitiesOf, topPredictions } from '../../extension/onnx/runtime';

const GOLDENS = path.join(__dirname, 'goldens', 'onnx');
const MODEL_FILE = path.join(GOLDENS, 'small_cnn.onnx');

interface Golden {
  input_shape: number[];
  params_total: number;
  layers: { path: string; type: string; output: number[]; weight_params: number; bias_params: number }[];
  logits: number[];
  probabilities: number[];
  activations: Record<string, { shape: number[]; data: number[] }>;
}
const golden = JSON.parse(fs.readFileSync(path.join(GOLDENS, 'small_cnn.json'), 'utf8')) as Golden;

/** x[i] = float32(1.5·sin(0.1·i)), as the generator script computes it. */
function fixedInput(): Float32Array {
  const count = golden.input_shape.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: count }, (_, i) => 1.5 * Math.sin(0.1 * i));
}

function maxRelativeError(actual: ArrayLike<number>, expected: readonly number[]): number {
  assert.equal(actual.length, expected.length);
  const scale = Math.max(...expected.map(Math.abs), 1e-6);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / scale);
  return worst;
}

describe('ONNX models in onnxruntime-node', () => {
  const ort = loadOnnxRuntime();

  it('fills the shapes the model lacks from a zeros run, equal to PyTorch’s', async () => {
    const { table } = await layerTableOf(MODEL_FILE, ort);
    for (const layer of golden.layers.filter((l) => l.type !== 'Dropout')) {
      const row = table.layers.find((r) => r.name.split('/').slice(1, -1).join('.') === layer.path)!;
      assert.deepEqual(row.outputs[0]?.shape, layer.output, layer.path);
      // The last layer's value is the graph output, whose shape the model declares.
      assert.equal(row.outputs[0]?.source, layer.path === 'fc' ? 'model' : 'runtime', layer.path);
      assert.equal(row.weightParams + row.biasParams, layer.weight_params + layer.bias_params);
    }
    assert.deepEqual(table.layers.find((r) => r.opType === 'Concat')?.outputs[0]?.shape, [1, 12, 16, 16]);
    assert.deepEqual(table.layers.find((r) => r.opType === 'Add')?.outputs[0]?.shape, [1, 8, 16, 16]);
    assert.equal(table.totals.params, golden.params_total);
    assert.match(table.shapeNote, /14 measured by onnxruntime/);
  });

  it('matches PyTorch’s output and activations for a fixed input', async () => {
    const sessions = new OnnxSessions(ort);
    const opened = await sessions.open(MODEL_FILE, false);
    assert.equal(opened.provider, 'cpu');
    assert.deepEqual(opened.inputShape, [3, 32, 32]);
    assert.equal(opened.classes, 10);
    const wanted = ['/relu1/Relu', '/pool1/MaxPool', '/merge_relu/Relu'];
    const result = await sessions.run(opened.session, fixedInput(), wanted);
    const probabilityError = maxRelativeError(result.probabilities, golden.probabilities);
    assert.ok(probabilityError < 1e-4, `probabilities differ by ${probabilityError}`);
    assert.deepEqual(result.activations.map((a) => a.id), wanted);
    for (const activation of result.activations) {
      const layer = activation.id.split('/')[1]!;
      const expected = golden.activations[layer]!;
      assert.deepEqual(activation.shape, expected.shape.slice(1));
      const error = maxRelativeError(activation.data, expected.data);
      assert.ok(error < 1e-4, `${activation.id} differs by ${error}`);
    }
    const top = topPredictions(result.probabilities, 3);
    const expectedTop = golden.probabilities.indexOf(Math.max(...golden.probabilities));
    assert.equal(top[0]?.classIndex, expectedTop);
    // Without layers only the output comes back.
    const plain = await sessions.run(opened.session, fixedInput(), []);
    assert.equal(plain.activations.length, 0);
    assert.ok(maxRelativeError(plain.probabilities, golden.probabilities) < 1e-4);
    await sessions.close(opened.session);
    await assert.rejects(sessions.run(opened.session, fixedInput()), /ONNX session \d+ is not open/);
  });

  it('computes an occlusion map equal to separate occluded runs', async () => {
    const sessions = new OnnxSessions(ort);
    const opened = await sessions.open(MODEL_FILE, false);
    const image = fixedInput();
    const classIndex = 3;
    const occlusion = await sessions.occlusion(opened.session, image, classIndex, 8, 8);
    assert.equal(occlusion.rows, 4);
    assert.equal(occlusion.cols, 4);
    assert.ok(Math.abs(occlusion.baseline - golden.probabilities[classIndex]!) < 1e-5);
    // Position (1, 2): rows 8..15, columns 16..23 set to 0 in every channel.
    const copy = Float32Array.from(image);
    for (let c = 0; c < 3; c++) for (let y = 8; y < 16; y++) copy.fill(0, c * 1024 + y * 32 + 16, c * 1024 + y * 32 + 24);
    const occluded = await sessions.run(opened.session, copy, []);
    assert.ok(Math.abs(occlusion.map[1 * 4 + 2]! - (occlusion.baseline - occluded.probabilities[classIndex]!)) < 1e-6);
    await sessions.close(opened.session);
  });

  it('falls back to the CPU with a notice when the CUDA provider cannot start', async () => {
    const sessions = new OnnxSessions(ort);
    const opened = await sessions.open(MODEL_FILE, true);
    // This package ships no CUDA provider library (installed with onnxruntime-node-install=skip).
    if (opened.provider === 'cpu') assert.match(opened.notice ?? '', /CUDA execution provider could not start/);
    await sessions.close(opened.session);
  });

  it('takes a distribution as it is and softmaxes scores', () => {
    assert.deepEqual(probabilitiesOf([0.25, 0.75]), [0.25, 0.75]);
    const p = probabilitiesOf([1, 2, 3]);
    assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-12 && p[2]! > p[1]!);
  });
});
