// Reading ONNX files: the layer table of a model exported by torch.onnx.export matches PyTorch's
// own layers (shapes and parameters, from scripts/goldens/make_onnx_goldens.py), encoding round-
// trips, and corrupt or truncated files get an OnnxFileError naming the file, never a crash.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { buildLayerTable, formatLayerTable, valuesWithoutShape } from '../../extension/onnx/layers';
import { decodeOnnx, encodeOnnx, inlineExternalData, OnnxFileError, readOnnxFile, type OnnxModel } from '../../extension/onnx/model';

const GOLDENS = path.join(__dirname, 'goldens', 'onnx');
const MODEL_FILE = path.join(GOLDENS, 'small_cnn.onnx');

interface GoldenLayer { path: string; type: string; output: number[]; weight_params: number; bias_params: number }
interface Golden { params_total: number; layers: GoldenLayer[]; onnx_nodes: { name: string; op: string }[] }
const golden = JSON.parse(fs.readFileSync(path.join(GOLDENS, 'small_cnn.json'), 'utf8')) as Golden;

/** The shapes PyTorch recorded, as value_info, so the table can be built without onnxruntime. */
function withGoldenValueInfo(model: OnnxModel): OnnxModel {
  const byPath = new Map(golden.layers.map((layer) => [layer.path, layer.output]));
  const valueInfo = model.graph.nodes.flatMap((node) => {
    const modulePath = node.name.split('/').slice(1, -1).join('.');
    const shape = byPath.get(modulePath);
    return shape && node.outputs[0] ? [{ name: node.outputs[0], elemType: 1, shape }] : [];
  });
  return { ...model, graph: { ...model.graph, valueInfo } };
}

describe('ONNX reading', () => {
  const bytes = fs.readFileSync(MODEL_FILE);

  it('decodes the exported model: nodes in order, opset, inputs and outputs', () => {
    const model = decodeOnnx(bytes, MODEL_FILE);
    assert.deepEqual(model.graph.nodes.map((n) => ({ name: n.name, op: n.opType })), golden.onnx_nodes);
    assert.deepEqual(model.opsets, [{ domain: '', version: 17 }]);
    assert.deepEqual(model.graph.inputs.map((i) => [i.name, i.shape]), [['input', [1, 3, 32, 32]]]);
    assert.deepEqual(model.graph.outputs.map((o) => [o.name, o.shape]), [['logits', [1, 10]]]);
    // torch.onnx.export writes no value_info here: intermediate shapes must come from elsewhere.
    assert.equal(valuesWithoutShape(model).length, golden.onnx_nodes.length - 1);
  });

  it('counts parameters per layer exactly as PyTorch does, split into weight and bias', () => {
    const model = withGoldenValueInfo(decodeOnnx(bytes, MODEL_FILE));
    const table = buildLayerTable(model, MODEL_FILE);
    for (const layer of golden.layers) {
      const row = table.layers.find((r) => r.name.split('/').slice(1, -1).join('.') === layer.path);
      if (layer.type === 'Dropout') {
        assert.equal(row, undefined, 'an eval-mode export has no Dropout node');
        continue;
      }
      assert.ok(row, `no node for ${layer.path}`);
      assert.equal(row.weightParams, layer.weight_params, `${layer.path} weights`);
      assert.equal(row.biasParams, layer.bias_params, `${layer.path} bias`);
      assert.deepEqual(row.outputs[0]?.shape, layer.output, `${layer.path} shape`);
      assert.equal(row.outputs[0]?.source, 'model');
    }
    assert.equal(table.totals.params, golden.params_total);
    const bn = table.layers.find((r) => r.opType === 'BatchNormalization')!;
    assert.equal(bn.bufferElements, 16, 'running mean and var are buffers, not parameters');
    assert.match(formatLayerTable(table), /Total params: 1,046 \(weights 1,008, biases 38\)/);
  });

  it('says a shape is unknown when neither the model nor a runtime pass gives it', () => {
    const table = buildLayerTable(decodeOnnx(bytes, MODEL_FILE), MODEL_FILE, { runtimeProblem: 'onnxruntime was not available' });
    const conv = table.layers[0]!;
    assert.equal(conv.outputs[0]?.source, 'unknown');
    assert.deepEqual(table.outputs[0]?.shape, [1, 10]);
    assert.match(table.shapeNote, /14 unknown \(onnxruntime was not available\)/);
  });

  it('re-encodes to a model that decodes the same', () => {
    const model = decodeOnnx(bytes, MODEL_FILE);
    const again = decodeOnnx(encodeOnnx(model), 'again.onnx');
    assert.deepEqual(again.graph.nodes, model.graph.nodes);
    assert.deepEqual(again.graph.initializers.map((t) => [t.name, t.dims, Buffer.from(t.raw!).toString('hex')]), model.graph.initializers.map((t) => [t.name, t.dims, Buffer.from(t.raw!).toString('hex')]));
  });

  it('reads tensors stored as external data and checks their size', () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-onnx-'));
    const model = decodeOnnx(bytes, MODEL_FILE);
    const fc = model.graph.initializers.find((t) => t.name === 'fc.weight')!;
    fs.writeFileSync(path.join(folder, 'weights.bin'), Buffer.concat([Buffer.alloc(16), Buffer.from(fc.raw!)]));
    const external: OnnxModel = {
      ...model,
      graph: { ...model.graph, initializers: model.graph.initializers.map((t) => (t === fc ? { name: t.name, dims: t.dims, dataType: t.dataType, external: { location: 'weights.bin', offset: 16, length: fc.raw!.length } } : t)) },
    };
    const file = path.join(folder, 'model.onnx');
    fs.writeFileSync(file, encodeOnnx(external));
    const read = readOnnxFile(file);
    assert.equal(read.graph.initializers.find((t) => t.name === 'fc.weight')?.external?.location, 'weights.bin');
    const inlined = inlineExternalData(read, file);
    assert.deepEqual(Buffer.from(inlined.graph.initializers.find((t) => t.name === 'fc.weight')!.raw!), Buffer.from(fc.raw!));
    fs.writeFileSync(path.join(folder, 'weights.bin'), Buffer.alloc(20));
    assert.throws(() => inlineExternalData(read, file), (e: unknown) => e instanceof OnnxFileError && /external data is truncated/.test(e.message) && e.message.startsWith(file));
    fs.rmSync(folder, { recursive: true, force: true });
  });
});

describe('corrupt ONNX files', () => {
  const bytes = fs.readFileSync(MODEL_FILE);
  const file = '/models/broken.onnx';

  const expectFileError = (data: Uint8Array, pattern?: RegExp): void => {
    assert.throws(() => decodeOnnx(data, file), (error: unknown) => {
      assert.ok(error instanceof OnnxFileError, `expected OnnxFileError, got ${String(error)}`);
      assert.ok(error.message.startsWith(`${file}: `), error.message);
      if (pattern) assert.match(error.message, pattern);
      return true;
    });
  };

  it('names the problem for an empty file, a text file and a truncated model', () => {
    expectFileError(new Uint8Array(0), /the file is empty/);
    expectFileError(Buffer.from('def forward(self, x):\n    return x\n'), /malformed|no graph|IR version/);
    expectFileError(bytes.subarray(0, Math.floor(bytes.length / 2)), /truncated or corrupt/);
    expectFileError(bytes.subarray(0, bytes.length - 3), /truncated or corrupt/);
  });

  it('gives an OnnxFileError or a valid model for every truncation', () => {
    let errors = 0;
    for (let length = 1; length < bytes.length; length += 7) {
      try {
        const model = decodeOnnx(bytes.subarray(0, length), file);
        buildLayerTable(model, file);
      } catch (error) {
        assert.ok(error instanceof OnnxFileError, `length ${length}: ${String(error)}`);
        assert.ok(error.message.startsWith(`${file}: `));
        errors++;
      }
    }
    assert.ok(errors > 0.9 * (bytes.length / 7), `only ${errors} truncations were refused`);
  });

  it('gives an OnnxFileError or a valid model for random byte flips', () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    let refused = 0;
    for (let trial = 0; trial < 400; trial++) {
      const copy = Buffer.from(bytes);
      const flips = 1 + Math.floor(random() * 4);
      for (let k = 0; k < flips; k++) copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
      try {
        const model = decodeOnnx(copy, file);
        const table = buildLayerTable(model, file);
        assert.ok(Number.isFinite(table.totals.params));
      } catch (error) {
        assert.ok(error instanceof OnnxFileError, `trial ${trial}: ${error instanceof Error ? error.stack : String(error)}`);
        refused++;
      }
    }
    // Most flips land in weight bytes, which stay a valid model; the structural ones must be refused.
    assert.ok(refused > 0);
  });

  it('refuses a node reading a value nothing defines', () => {
    const model = decodeOnnx(bytes, MODEL_FILE);
    const broken: OnnxModel = { ...model, graph: { ...model.graph, nodes: model.graph.nodes.map((n, i) => (i === 2 ? { ...n, inputs: ['nowhere'] } : n)) } };
    expectFileError(encodeOnnx(broken), /node \/relu1\/Relu reads 'nowhere'/);
  });

  it('refuses a weight whose data is shorter than its shape', () => {
    const model = decodeOnnx(bytes, MODEL_FILE);
    const broken: OnnxModel = { ...model, graph: { ...model.graph, initializers: model.graph.initializers.map((t) => (t.name === 'fc.bias' ? { ...t, raw: t.raw!.subarray(0, 12) } : t)) } };
    expectFileError(encodeOnnx(broken), /tensor 'fc.bias' should hold 40 bytes of data but has 12/);
  });

  it('reports a missing file as unreadable', () => {
    assert.throws(() => readOnnxFile('/nonexistent/model.onnx'), (e: unknown) => e instanceof OnnxFileError && /cannot read the file/.test(e.message));
  });
});
