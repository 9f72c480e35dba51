// Checkpoints are PyTorch state_dicts: the committed checkpoint was written by `netlens train` and
// accepted by PyTorch's load_state_dict(strict=True) in scripts/goldens/make_checkpoint_goldens.py,
// which also recorded PyTorch's eval output with those weights. Here the engine, loaded from the
// same file, must give that output; the writer must reproduce the file byte for byte; and a
// damaged file must be refused with what is wrong.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { analyzeFile } from '../../extension/analysis/index';
import { loadAddon } from '../../extension/engine/addon';
import { lowerModel } from '../../extension/training/lower';
import { decodeSafetensors, encodeSafetensors } from '../../extension/training/safetensors';
import { addonPath, repoRoot } from './support';

const goldenDir = path.join(repoRoot, 'tests', 'native', 'goldens');
const checkpointBytes = fs.readFileSync(path.join(goldenDir, 'checkpoint_tiny.safetensors'));
const golden = JSON.parse(fs.readFileSync(path.join(goldenDir, 'checkpoint_tiny.json'), 'utf8')) as {
  model_source: string;
  entry: string;
  steps: number;
  state_dict: Record<string, number[]>;
  input: { shape: number[]; linspace: [number, number] };
  output: { shape: number[]; data: number[] };
};

test('the engine loaded from a checkpoint PyTorch accepted gives PyTorch\'s output', async () => {
  const tensors = decodeSafetensors(checkpointBytes, 'checkpoint_tiny.safetensors');
  assert.deepEqual(Object.fromEntries(tensors.map((t) => [t.name, t.shape])), golden.state_dict);
  assert.deepEqual([...tensors.find((t) => t.name === 'bn.num_batches_tracked')!.data], [golden.steps]);

  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-ckpt-')), 'tiny_bn.py');
  fs.writeFileSync(file, golden.model_source);
  const report = await analyzeFile(file, golden.model_source, { entry: golden.entry, recordGraph: true }, { astCacheDir: false });
  const addon = loadAddon(addonPath());
  const spec = lowerModel(report.models[0]!, { engineOps: addon.engineOps() });
  const engine = addon.createEngine(JSON.stringify(spec), 0);
  for (const tensor of tensors) engine.setState(tensor.name, { shape: tensor.shape, data: tensor.data });
  engine.setTraining(false);

  const count = golden.input.shape.reduce((a, b) => a * b, 1);
  const [low, high] = golden.input.linspace;
  const x = Float32Array.from({ length: count }, (_, i) => low + ((high - low) * i) / (count - 1));
  const output = Object.values(engine.forward({ x: { shape: golden.input.shape, data: x } }))[0]!;
  assert.deepEqual(output.shape, golden.output.shape);
  const scale = Math.max(...golden.output.data.map(Math.abs));
  golden.output.data.forEach((expected, i) => {
    assert.ok(Math.abs(output.data[i]! - expected) <= 1e-4 * scale, `output[${i}]: ${output.data[i]} vs ${expected}`);
  });
});

test('the writer reproduces the checkpoint byte for byte (header, I64 counter, F32 tensors)', () => {
  const tensors = decodeSafetensors(checkpointBytes);
  const header = JSON.parse(checkpointBytes.subarray(8, 8 + Number(checkpointBytes.readBigUInt64LE(0))).toString('utf8')) as { __metadata__: Record<string, string> };
  assert.ok(encodeSafetensors(tensors, header.__metadata__).equals(checkpointBytes));
});

test('a damaged checkpoint is refused with what is wrong', () => {
  assert.throws(() => decodeSafetensors(checkpointBytes.subarray(0, 5), 'a.safetensors'), /a\.safetensors: too short/);
  assert.throws(() => decodeSafetensors(checkpointBytes.subarray(0, checkpointBytes.length - 16), 'b.safetensors'), /b\.safetensors: tensor '.*' needs \d+ bytes .* truncated or corrupt/);
  const badHeader = Buffer.from(checkpointBytes);
  badHeader.write('#', 8);
  assert.throws(() => decodeSafetensors(badHeader, 'c.safetensors'), /c\.safetensors: the header is not valid JSON/);
});
