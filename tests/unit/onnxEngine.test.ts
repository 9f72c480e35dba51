// The ONNX requests through the real engine process (EngineClient → host.ts, which answers them
// asynchronously): the table with onnxruntime shapes, a session on a PNG file with activations and
// an occlusion map, a corrupt file's error, and the engine still answering afterwards.
// Needs the native add-on (npm install).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { findAddon } from '../../extension/engine/addon';
import { EngineClient } from '../../extension/engine/client';

const repoRoot = path.resolve(__dirname, '..', '..');
const model = path.join(__dirname, 'goldens', 'onnx', 'small_cnn.onnx');
const image = path.join(repoRoot, 'tests', 'native', 'fixtures', 'data', 'folder', 'cats', '0.png');
let client: EngineClient;

before(async () => {
  const addon = findAddon(repoRoot);
  if (!addon.path) throw new Error(`netlens.node not found (tried ${addon.tried.join(', ')}); build it with \`npm install\``);
  client = new EngineClient({ hostModule: path.join(repoRoot, 'extension', 'engine', 'host.ts'), addonPath: addon.path, execArgv: ['--import', 'tsx'], startTimeoutMs: 30_000 });
  await client.start();
});

after(async () => {
  await client?.dispose();
});

test('onnxTable, onnxOpen, onnxImageFile, onnxRun, onnxOcclusion and onnxClose in the engine process', { timeout: 120_000 }, async () => {
  const table = await client.request('onnxTable', { path: model });
  assert.equal(table.totals.params, 1046);
  assert.ok(table.layers.slice(0, 14).every((layer) => layer.outputs[0]?.source === 'runtime'));

  const opened = await client.request('onnxOpen', { path: model });
  assert.deepEqual(opened.inputShape, [3, 32, 32]);
  assert.equal(opened.classes, 10);
  assert.equal(opened.layers.length, 15);
  const prepared = await client.request('onnxImageFile', { session: opened.session, path: image });
  assert.deepEqual(prepared.shape, [3, 32, 32]);
  assert.deepEqual(prepared.displayShape, [32, 32, 3]);
  const result = await client.request('onnxRun', { session: opened.session, image: prepared.image, layers: ['/relu1/Relu', '/fc/Gemm'] });
  assert.equal(result.probabilities.length, 10);
  assert.ok(Math.abs(result.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assert.deepEqual(result.activations.map((a) => [a.id, a.shape, a.data.length]), [['/relu1/Relu', [8, 32, 32], 8192], ['/fc/Gemm', [10], 10]]);
  assert.ok(result.activations[0]!.data.every((v) => v >= 0), 'ReLU outputs are non-negative');
  const occlusion = await client.request('onnxOcclusion', { session: opened.session, image: prepared.image, classIndex: 0, patch: 16, stride: 16 });
  assert.equal(occlusion.map.length, 4);
  assert.ok(Math.abs(occlusion.baseline - result.probabilities[0]!) < 1e-6);
  await client.request('onnxClose', { session: opened.session });
  await assert.rejects(client.request('onnxRun', { session: opened.session, image: prepared.image }), /is not open/);
});

test('a corrupt file is an error answer and the engine keeps running', { timeout: 60_000 }, async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-onnx-engine-'));
  const broken = path.join(folder, 'broken.onnx');
  fs.writeFileSync(broken, fs.readFileSync(model).subarray(0, 999));
  await assert.rejects(client.request('onnxOpen', { path: broken }), /broken\.onnx: the protobuf data is malformed/);
  assert.ok((await client.request('engineOps', {})).includes('conv2d'));
  fs.rmSync(folder, { recursive: true, force: true });
});
