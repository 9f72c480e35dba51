// Inference requests through the real engine process, against PyTorch: the committed checkpoint and
// goldens were written by scripts/goldens/make_inference_goldens.py (torch 2.13 CPU) for a small
// CNN with eval-mode batch norm. The engine, loaded from that checkpoint, must give PyTorch's
// probabilities, the `pool` activation and the saliency gradient d(logit)/d(input); occlusion maps
// have the documented size and agree with forward passes on occluded images; samples and image
// files arrive normalized and displayable; bad checkpoints are refused with what is wrong.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, test } from 'node:test';

import { analyzeFile } from '../../extension/analysis/index';
import { EngineClient } from '../../extension/engine/client';
import type { InferOpened } from '../../extension/engine/protocol';
import { lowerModel } from '../../extension/training/lower';
import { addonPath, hostSource, repoRoot, tsxExecArgv } from './support';
import { runCli } from './cliSupport';

const goldenDir = path.join(repoRoot, 'tests', 'native', 'goldens');
const checkpoint = path.join(goldenDir, 'inference_cnn.safetensors');
const golden = JSON.parse(fs.readFileSync(path.join(goldenDir, 'inference_cnn.json'), 'utf8')) as {
  model_source: string;
  entry: string;
  input: { shape: number[] };
  class_index: number;
  probabilities: number[];
  activation: { id: string; shape: number[]; data: number[] };
  saliency: { shape: number[]; data: number[] };
};

let dir: string;
let client: EngineClient;
let spec: string;
let opened: InferOpened;
const input = Float32Array.from({ length: 3 * 32 * 32 }, (_, i) => 1.5 * Math.sin(0.1 * i));

function assertClose(actual: ArrayLike<number>, expected: readonly number[], relative: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= relative * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-infer-'));
  const file = path.join(dir, 'small_cnn.py');
  fs.writeFileSync(file, golden.model_source);
  client = new EngineClient({ hostModule: hostSource, addonPath: addonPath(), execArgv: tsxExecArgv, startTimeoutMs: 20_000 });
  await client.start();
  const report = await analyzeFile(file, golden.model_source, { entry: golden.entry, recordGraph: true }, { astCacheDir: false });
  spec = JSON.stringify(lowerModel(report.models[0]!, { engineOps: await client.request('engineOps', {}) }));
  opened = await client.request('inferOpen', { spec, seed: 0, checkpoint });
});

after(async () => {
  await client.request('inferClose', { session: opened.session }).catch(() => undefined);
  await client.dispose();
});

test('inferOpen describes the model: input, classes, layers with shapes, built-in data and class names', () => {
  assert.deepEqual(opened.inputShape, [3, 32, 32]);
  assert.equal(opened.classes, 10);
  assert.equal(opened.weights, 'checkpoint');
  assert.equal(opened.classNames.length, 10);
  assert.equal(opened.classNames[0], 'circle');
  assert.ok(opened.dataSamples > 0, 'a 3×32×32 model gets the built-in test split');
  const byId = Object.fromEntries(opened.layers.map((layer) => [layer.id, layer]));
  assert.deepEqual(byId['conv1'], { id: 'conv1', op: 'conv2d', shape: [6, 32, 32] });
  assert.deepEqual(byId['pool']?.shape, [6, 16, 16]);
  assert.deepEqual(byId['head.2']?.shape, [10]);
});

test('inferRun gives PyTorch\'s probabilities and activation for the checkpoint\'s weights', async () => {
  const result = await client.request('inferRun', { session: opened.session, image: input, layers: [golden.activation.id] });
  assertClose(result.probabilities, golden.probabilities, 1e-5, 'probabilities');
  assert.ok(Math.abs(result.probabilities.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  assert.equal(result.activations.length, 1);
  const [activation] = result.activations;
  assert.equal(activation!.id, 'pool');
  assert.equal(activation!.op, 'max_pool2d');
  assert.deepEqual(activation!.shape, golden.activation.shape);
  assert.ok(activation!.data instanceof Float32Array);
  assertClose(activation!.data, golden.activation.data, 1e-5, 'pool');

  const all = await client.request('inferRun', { session: opened.session, image: input });
  assert.deepEqual(all.activations.map((a) => a.id), opened.layers.map((layer) => layer.id));
  await assert.rejects(client.request('inferRun', { session: opened.session, image: input, layers: ['nope'] }), /no layer 'nope'/);
  await assert.rejects(client.request('inferRun', { session: opened.session, image: input.subarray(1) }), /3071 values but the model takes 3×32×32/);
});

test('inferSaliency is PyTorch\'s gradient of the class logit with respect to the input', async () => {
  const result = await client.request('inferSaliency', { session: opened.session, image: input, classIndex: golden.class_index });
  assert.deepEqual(result.shape, golden.saliency.shape);
  assert.ok(result.gradient instanceof Float32Array);
  assertClose(result.gradient, golden.saliency.data, 1e-4, 'saliency');
  await assert.rejects(client.request('inferSaliency', { session: opened.session, image: input, classIndex: 10 }), /class 10 does not exist; the model scores 10 classes/);
});

test('inferOcclusion: the map has the formula\'s size, each cell is the probability drop, and occluding everything changes the score', async () => {
  const classIndex = golden.class_index;
  const map = await client.request('inferOcclusion', { session: opened.session, image: input, classIndex, patch: 8, stride: 4 });
  assert.equal(map.rows, Math.floor((32 - 8) / 4) + 1);
  assert.equal(map.cols, 7);
  assert.equal(map.map.length, 49);
  assert.ok(Math.abs(map.baseline - golden.probabilities[classIndex]!) < 1e-5);
  // Cell (row 2, col 5) against a forward pass of the same occluded image made here.
  const occluded = Float32Array.from(input);
  for (let c = 0; c < 3; c++) for (let y = 8; y < 16; y++) for (let x = 20; x < 28; x++) occluded[c * 1024 + y * 32 + x] = 0;
  const direct = await client.request('inferRun', { session: opened.session, image: occluded, layers: [] });
  assert.ok(Math.abs(map.map[2 * 7 + 5]! - (map.baseline - direct.probabilities[classIndex]!)) < 1e-6);
  assert.ok(map.map.some((drop) => Math.abs(drop) > 1e-4), 'occluding parts changes the score somewhere');

  const whole = await client.request('inferOcclusion', { session: opened.session, image: input, classIndex, patch: 32, stride: 1 });
  assert.equal(whole.rows, 1);
  assert.equal(whole.cols, 1);
  const blank = await client.request('inferRun', { session: opened.session, image: new Float32Array(3 * 32 * 32), layers: [] });
  assert.ok(Math.abs(whole.map[0]! - (whole.baseline - blank.probabilities[classIndex]!)) < 1e-6);
  assert.ok(Math.abs(whole.map[0]!) > 1e-3, `occluding everything changes the score (drop ${whole.map[0]})`);
  await assert.rejects(client.request('inferOcclusion', { session: opened.session, image: input, classIndex, patch: 33, stride: 1 }), /patch 33 .* does not fit a 32×32 image/);
});

test('inferSample gives a normalized sample of the built-in data, its label and display bytes', async () => {
  const sample = await client.request('inferSample', { session: opened.session, index: 5 });
  assert.deepEqual(sample.shape, [3, 32, 32]);
  assert.deepEqual(sample.displayShape, [32, 32, 3]);
  assert.ok(sample.image instanceof Float32Array && sample.display instanceof Uint8Array);
  assert.equal(sample.display.length, 32 * 32 * 3);
  assert.equal(sample.label, 5, 'the built-in labels cycle through the classes');
  assert.equal(sample.className, opened.classNames[5]);
  // Normalization is per channel and affine: within a channel, image differences follow display differences.
  const [a, b] = [0, 100];
  const displayDelta = (sample.display[b * 3]! - sample.display[a * 3]!) / 255;
  if (displayDelta !== 0) assert.ok((sample.image[b]! - sample.image[a]!) / displayDelta > 0);
  const run = await client.request('inferRun', { session: opened.session, image: sample.image, layers: [] });
  assert.equal(run.probabilities.length, 10);
  await assert.rejects(client.request('inferSample', { session: opened.session, index: opened.dataSamples }), /does not exist; the data set has/);
});

/** A minimal RGB PNG (8-bit, no filter) of `width`×`height` from a pixel function. */
function png(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const rows: number[] = [];
  for (let y = 0; y < height; y++) {
    rows.push(0);
    for (let x = 0; x < width; x++) rows.push(...pixel(x, y));
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(Buffer.from(rows))), chunk('IEND', Buffer.alloc(0)),
  ]);
}

test('inferImageFile scales an image to cover the input, centre-crops it and normalizes it like the data', async () => {
  // 128×64: red, green (the middle half), blue. Scaled by ½ to 64×32 and centre-cropped to 32×32, only green is left.
  const file = path.join(dir, 'bands.png');
  fs.writeFileSync(file, png(128, 64, (x) => (x < 32 ? [255, 0, 0] : x < 96 ? [0, 255, 0] : [0, 0, 255])));
  const image = await client.request('inferImageFile', { session: opened.session, path: file });
  assert.deepEqual(image.shape, [3, 32, 32]);
  assert.deepEqual(image.displayShape, [32, 32, 3]);
  assert.equal(image.label, null);
  for (let i = 0; i < 32 * 32; i++) assert.deepEqual([...image.display.subarray(i * 3, i * 3 + 3)], [0, 255, 0], `pixel ${i}`);
  // Normalized: each channel is constant, and the green channel sits above the red one.
  assert.ok(image.image.subarray(0, 1024).every((v) => v === image.image[0]));
  assert.ok(image.image[1024]! > image.image[0]!);
  await assert.rejects(client.request('inferImageFile', { session: opened.session, path: path.join(dir, 'missing.png') }), /missing\.png: no such image file/);
});

test('a bad checkpoint is refused with the file and what is wrong; no checkpoint gives the initial weights', async () => {
  const bytes = fs.readFileSync(checkpoint);
  const truncated = path.join(dir, 'truncated.safetensors');
  fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 40));
  await assert.rejects(client.request('inferOpen', { spec, seed: 0, checkpoint: truncated }), /truncated\.safetensors: tensor '.*' needs \d+ bytes .* truncated or corrupt/);
  await assert.rejects(client.request('inferOpen', { spec, seed: 0, checkpoint: path.join(dir, 'none.safetensors') }), /none\.safetensors: no such file/);
  // A checkpoint of another model (the training golden's TinyBN) names tensors this one lacks.
  await assert.rejects(client.request('inferOpen', { spec, seed: 0, checkpoint: path.join(goldenDir, 'checkpoint_tiny.safetensors') }), /checkpoint_tiny\.safetensors: it has no 'conv1\.weight'.*another model/);

  const initial = await client.request('inferOpen', { spec, seed: 0, data: { kind: 'default' } });
  assert.equal(initial.dataSamples, 2000, "data {kind: 'default'} is the built-in test split that fits the input");
  try {
    assert.equal(initial.weights, 'initial');
    const result = await client.request('inferRun', { session: initial.session, image: input, layers: [] });
    const gap = Math.max(...result.probabilities.map((p, i) => Math.abs(p - golden.probabilities[i]!)));
    assert.ok(gap > 1e-3, 'the seed\'s weights are not the checkpoint\'s');
  } finally {
    await client.request('inferClose', { session: initial.session });
  }
  await assert.rejects(client.request('inferRun', { session: initial.session, image: input }), /no inference session/);
});

test('`netlens infer --json` classifies an image file on the same path as the requests', async () => {
  const file = path.join(dir, 'checker.png');
  fs.writeFileSync(file, png(48, 40, (x, y) => (((x >> 3) + (y >> 3)) % 2 ? [230, 40, 40] : [30, 30, 200])));
  const direct = await client.request('inferImageFile', { session: opened.session, path: file });
  const expected = (await client.request('inferRun', { session: opened.session, image: direct.image, layers: [] })).probabilities;

  const { code, stdout, stderr } = await runCli(['infer', 'small_cnn.py', '--image', 'checker.png', '--checkpoint', checkpoint, '--top', '3', '--json'], dir);
  assert.equal(code, 0, stderr);
  const report = JSON.parse(stdout) as { weights: string; input_shape: number[]; top: { index: number; name: string; probability: number }[]; probabilities: number[] };
  assert.equal(report.weights, 'checkpoint');
  assert.deepEqual(report.input_shape, [3, 32, 32]);
  assertClose(report.probabilities, expected, 1e-9, 'probabilities');
  const best = expected.indexOf(Math.max(...expected));
  assert.equal(report.top.length, 3);
  assert.deepEqual([report.top[0]!.index, report.top[0]!.name], [best, opened.classNames[best]]);

  const wrongCheckpoint = await runCli(['infer', 'small_cnn.py', '--image', 'checker.png', '--checkpoint', path.join(goldenDir, 'checkpoint_tiny.safetensors')], dir);
  assert.equal(wrongCheckpoint.code, 1);
  assert.match(wrongCheckpoint.stderr, /checkpoint_tiny\.safetensors: it has no 'conv1\.weight'/);
  const noImage = await runCli(['infer', 'small_cnn.py'], dir);
  assert.equal(noImage.code, 2);
  assert.match(noImage.stderr, /missing --image/);
});
