// `netlens onnx FILE.onnx [--json]` and the usage errors of `netlens export-onnx`, through main().
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { main } from '../../extension/cli/main';
import type { OnnxLayerTable } from '../../extension/onnx/layers';

const golden = path.join(__dirname, 'goldens', 'onnx', 'small_cnn.onnx');

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), cwd: process.cwd(), env: process.env });
  return { code, stdout, stderr };
}

test('netlens onnx --json prints the layer table with onnxruntime shapes', async () => {
  const { code, stdout } = await run(['onnx', golden, '--json']);
  assert.equal(code, 0);
  const table = JSON.parse(stdout) as OnnxLayerTable;
  assert.equal(table.totals.params, 1046);
  assert.deepEqual(table.layers.map((l) => l.outputs[0]?.shape), [
    [1, 8, 32, 32], [1, 8, 32, 32], [1, 8, 32, 32], [1, 8, 16, 16], [1, 8, 16, 16], [1, 4, 16, 16], [1, 4, 16, 16], [1, 12, 16, 16],
    [1, 8, 16, 16], [1, 8, 16, 16], [1, 8, 16, 16], [1, 8, 8, 8], [1, 8, 1, 1], [1, 8], [1, 10],
  ]);
});

test('netlens onnx prints a readable table, and a clear error for a corrupt file', async () => {
  const readable = await run(['onnx', golden]);
  assert.equal(readable.code, 0);
  assert.match(readable.stdout, /^0\s+\/conv1\/Conv\s+Conv\s+\[1, 8, 32, 32\]\*\s+216\s+8$/m);
  assert.match(readable.stdout, /Total params: 1,046/);
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-onnx-cli-'));
  const broken = path.join(folder, 'broken.onnx');
  fs.writeFileSync(broken, fs.readFileSync(golden).subarray(0, 1500));
  const failed = await run(['onnx', broken]);
  assert.equal(failed.code, 1);
  assert.equal(failed.stdout, '');
  assert.match(failed.stderr, new RegExp(`^netlens: ${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the protobuf data is malformed`));
  fs.rmSync(folder, { recursive: true, force: true });
});

test('netlens export-onnx without --out is a usage error', async () => {
  const { code, stderr } = await run(['export-onnx', path.join(__dirname, '..', '..', 'examples', 'lenet5.py')]);
  assert.equal(code, 2);
  assert.match(stderr, /needs --out MODEL\.onnx/);
});

test('netlens export-onnx writes a checked ONNX file through the engine process', { timeout: 120_000 }, async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-onnx-cli-'));
  const out = path.join(folder, 'lenet5.onnx');
  const { code, stdout, stderr } = await run(['export-onnx', path.join(__dirname, '..', '..', 'examples', 'lenet5.py'), '--out', out, '--json']);
  assert.equal(code, 0, stderr);
  const result = JSON.parse(stdout) as { model: string; weights: string; out: string; maxRelativeError: number; opset: number };
  assert.equal(result.model, 'LeNet5');
  assert.equal(result.weights, 'initial');
  assert.equal(result.out, out);
  assert.ok(result.maxRelativeError < 1e-4);
  const table = await run(['onnx', out, '--json']);
  assert.equal((JSON.parse(table.stdout) as OnnxLayerTable).totals.params, 61706);
  fs.rmSync(folder, { recursive: true, force: true });
});
