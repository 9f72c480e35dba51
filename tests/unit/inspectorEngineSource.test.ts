// The inspector's engine source against the real engine process (extension/engine/host.ts under
// tsx, with the built add-on): LeNet-5's session and page messages, weights loaded from a
// checkpoint shown as first-layer filters and felt by the feature maps, saliency and occlusion for
// the image on show only. Skips when the add-on is not built (tests/native checks the build itself).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { findAddon } from '../../extension/engine/addon';
import { EngineClient } from '../../extension/engine/client';
import { EngineInspectorSource, layersWithinBudget } from '../../extension/editor/inspectorEngineSource';
import { prepareModel, type PreparedModel } from '../../extension/training/modelSpec';
import { encodeSafetensors } from '../../extension/training/safetensors';
import type { InspectorImage, ToInspector } from '../../webviews/activations/protocol';

const repoRoot = path.resolve(__dirname, '..', '..');
const addon = findAddon(repoRoot).path;
const skip = addon ? undefined : 'the native add-on is not built (npm install)';

let client: EngineClient;
let lenet: PreparedModel;
let temp: string;

function image(message: ToInspector): InspectorImage {
  assert.equal(message.type, 'image');
  return (message as Extract<ToInspector, { type: 'image' }>).image;
}

before(async () => {
  if (!addon) return;
  temp = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-inspector-source-'));
  client = new EngineClient({ hostModule: path.join(repoRoot, 'extension', 'engine', 'host.ts'), addonPath: addon, execArgv: ['--import', 'tsx'] });
  await client.start();
  lenet = await prepareModel({ file: path.join(repoRoot, 'examples', 'lenet5.py'), analyze: {}, engineOps: await client.request('engineOps', {}), optimizer: { type: 'sgd', lr: 0.01 } });
});

after(async () => {
  await client?.dispose();
  if (temp) fs.rmSync(temp, { recursive: true, force: true });
});

test('layers too large for one message are left out by name, in model order, the rest still sent', () => {
  const layers = [
    { id: 'conv1', shape: [64, 224, 224] },
    { id: 'relu', shape: [64, 224, 224] },
    { id: 'pool', shape: [64, 112, 112] },
    { id: 'fc', shape: [1000] },
  ];
  assert.deepEqual(layersWithinBudget(layers, 4_100_000), { shown: ['conv1', 'pool', 'fc'], omitted: ['relu'] });
  assert.deepEqual(layersWithinBudget(layers, 1e9), { shown: ['conv1', 'relu', 'pool', 'fc'], omitted: [] });
});

test('a LeNet-5 session becomes page messages: every layer per sample, probabilities, labels', { skip, timeout: 120_000 }, async () => {
  const source = await EngineInspectorSource.open(client, { spec: lenet.spec, seed: 0, title: 'LeNet5 — lenet5.py', weightsLabel: 'initial' });
  try {
    const session = source.sessionMessage();
    assert.equal(session.type, 'session');
    if (session.type !== 'session') return;
    assert.deepEqual(session.session.inputShape, [1, 32, 32]);
    assert.equal(session.session.classNames.length, 10);
    assert.ok(session.session.dataSamples > 0);
    assert.deepEqual(session.session.layers.map((layer) => layer.id), lenet.spec.nodes.map((node) => node.id));

    const first = image(await source.sample(2));
    assert.equal(first.source, 'sample 2 of the built-in test images');
    assert.deepEqual([first.width, first.height, first.channels, first.pixels.length], [32, 32, 1, 1024]);
    assert.ok(first.label !== null && session.session.classNames.includes(first.label));
    const total = Array.from(first.probabilities).reduce((sum, p) => sum + p, 0);
    assert.ok(Math.abs(total - 1) < 1e-5, `probabilities sum to ${total}`);
    const conv1 = first.activations.find((layer) => layer.id === 'conv1')!;
    assert.deepEqual(conv1.shape, [6, 28, 28], 'per sample, no batch dimension');
    assert.equal(conv1.data.length, 6 * 28 * 28);
    const relu = first.activations.find((layer) => layer.id === 'relu_1')!;
    assert.ok(Array.from(relu.data).every((value, i) => value === Math.max(0, conv1.data[i]!)), 'relu_1 is relu(conv1)');

    // Saliency and occlusion answer for the image on show; a replaced image gets nothing.
    const saliency = await source.saliency(first.token, 3);
    assert.equal(saliency?.type, 'saliency');
    if (saliency?.type === 'saliency') assert.deepEqual(saliency.saliency.shape, [1, 32, 32]);
    const occlusion = await source.occlusion(first.token, 3, 8, 4);
    assert.equal(occlusion?.type, 'occlusion');
    if (occlusion?.type === 'occlusion') assert.deepEqual([occlusion.occlusion.rows, occlusion.occlusion.cols, occlusion.occlusion.map.length], [7, 7, 49]);
    const second = image(await source.sample(3));
    assert.equal(second.token, first.token + 1);
    assert.equal(await source.saliency(first.token, 3), undefined);
    assert.equal(await source.occlusion(first.token, 3, 8, 4), undefined);
  } finally {
    await source.close();
  }
});

test('an image file is fitted to the model input and shown with its file name', { skip, timeout: 60_000 }, async () => {
  const source = await EngineInspectorSource.open(client, { spec: lenet.spec, seed: 0, title: 'LeNet5', weightsLabel: 'initial' });
  try {
    const file = path.join(repoRoot, 'tests', 'native', 'fixtures', 'data', 'folder', 'cats', 'flat.jpg');
    const shown = image(await source.imageFile(file));
    assert.equal(shown.source, 'flat.jpg');
    assert.equal(shown.label, null);
    assert.deepEqual([shown.width, shown.height, shown.channels], [32, 32, 1]);
    assert.equal(shown.activations.length, lenet.spec.nodes.length);
    await assert.rejects(source.imageFile(path.join(temp, 'missing.png')), /missing\.png/);
  } finally {
    await source.close();
  }
});

test('weights from a checkpoint: the filters are its conv1.weight and the feature maps follow them', { skip, timeout: 120_000 }, async () => {
  const initial = await EngineInspectorSource.open(client, { spec: lenet.spec, seed: 0, title: 'LeNet5', weightsLabel: 'initial' });
  const names = lenet.spec.nodes.flatMap((node) => Object.values(node.params ?? {}));
  const state = await initial.readState(names);
  const initialFilters = await initial.filters();
  const initialImage = image(await initial.sample(0));
  await initial.close();
  assert.equal(initialFilters?.type, 'filters');

  // The same model with conv1's filters negated and its bias zeroed: conv1's maps must be negated too.
  const changed = state.map((tensor) => tensor.name === 'conv1.weight'
    ? { ...tensor, data: tensor.data.map((value) => -value) }
    : tensor.name === 'conv1.bias' ? { ...tensor, data: new Float32Array(tensor.data.length) } : tensor);
  const checkpoint = path.join(temp, 'negated.safetensors');
  fs.writeFileSync(checkpoint, encodeSafetensors(changed));
  const source = await EngineInspectorSource.open(client, { spec: lenet.spec, seed: 0, checkpoint, title: 'LeNet5', weightsLabel: 'negated' });
  try {
    const filters = await source.filters();
    assert.equal(filters?.type, 'filters');
    if (filters?.type !== 'filters') return;
    assert.equal(filters.filters.layer, 'conv1');
    assert.deepEqual(filters.filters.shape, [6, 1, 5, 5]);
    assert.deepEqual(Array.from(filters.filters.data), Array.from(changed.find((tensor) => tensor.name === 'conv1.weight')!.data));

    const shown = image(await source.sample(0));
    const before = initialImage.activations.find((layer) => layer.id === 'conv1')!;
    const after = shown.activations.find((layer) => layer.id === 'conv1')!;
    const bias = state.find((tensor) => tensor.name === 'conv1.bias')!.data;
    for (let i = 0; i < after.data.length; i += 97) {
      const channel = Math.floor(i / (28 * 28));
      assert.ok(Math.abs(after.data[i]! + (before.data[i]! - bias[channel]!)) < 1e-4, `conv1 value ${i}`);
    }
  } finally {
    await source.close();
  }
});

test('a checkpoint of another model is refused with a clear error', { skip, timeout: 60_000 }, async () => {
  const checkpoint = path.join(temp, 'other.safetensors');
  fs.writeFileSync(checkpoint, encodeSafetensors([{ name: 'fc.weight', shape: [2, 2], data: new Float32Array(4) }]));
  await assert.rejects(
    EngineInspectorSource.open(client, { spec: lenet.spec, seed: 0, checkpoint, title: 'LeNet5', weightsLabel: 'other' }),
    (error: Error) => error.message.includes('other.safetensors'),
  );
});
