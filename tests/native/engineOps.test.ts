// The newer engine ops through the add-on, for what the PyTorch goldens do not cover: PyTorch's
// default initialization (Embedding N(0, 1) with a zero padding row, LSTM/GRU U(±1/√hidden), PReLU
// 0.25), token ids outside the table as an error naming the node, and dropout's `always` flag
// (F.dropout's training=True) dropping in eval mode too.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';

import { addonPath } from './support';

interface TensorValue {
  shape: number[];
  data: Float32Array;
}
interface OpsEngine {
  stateNames(): string[];
  getState(name: string): TensorValue;
  setTraining(training: boolean): void;
  forward(inputs: Record<string, TensorValue>): Record<string, TensorValue>;
}
interface OpsAddon {
  Engine: new (specJson: string, seed?: number) => OpsEngine;
}

function addon(): OpsAddon {
  const module: { exports: Record<string, unknown> } = { exports: {} };
  process.dlopen(module, path.resolve(addonPath()));
  return module.exports as unknown as OpsAddon;
}

function spec(input: { shape: number[]; dtype?: string }, nodes: object[]): string {
  return JSON.stringify({ inputs: [{ name: 'x', dtype: 'float32', ...input }], nodes, outputs: [(nodes.at(-1) as { id: string }).id] });
}

function moments(values: Float32Array): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let squares = 0;
  for (const v of values) {
    sum += v;
    squares += v * v;
  }
  const mean = sum / values.length;
  return { mean, std: Math.sqrt(squares / values.length - mean * mean), min: Math.min(...values), max: Math.max(...values) };
}

test('embedding, LSTM and PReLU start as PyTorch initializes them', () => {
  const engine = new (addon().Engine)(spec({ shape: [2, 3], dtype: 'int64' }, [
    { id: 'emb', op: 'embedding', attrs: { num_embeddings: 200, embedding_dim: 50, padding_idx: 3 }, inputs: ['x'] },
    { id: 'rnn', op: 'lstm', attrs: { input_size: 50, hidden_size: 64, bidirectional: true, batch_first: true }, inputs: ['emb'] },
    { id: 'act', op: 'prelu', attrs: { num_parameters: 3 }, inputs: ['rnn'] },
  ]), 11);
  const table = engine.getState('emb.weight');
  const padding = table.data.subarray(3 * 50, 4 * 50);
  assert.ok(padding.every((v) => v === 0), 'the padding_idx row is zero');
  const normal = moments(table.data);
  assert.ok(Math.abs(normal.mean) < 0.02 && Math.abs(normal.std - 1) < 0.02, `N(0, 1): mean ${normal.mean}, std ${normal.std}`);

  assert.deepEqual(engine.stateNames().filter((name) => name.startsWith('rnn.')), [
    'rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0',
    'rnn.weight_ih_l0_reverse', 'rnn.weight_hh_l0_reverse', 'rnn.bias_ih_l0_reverse', 'rnn.bias_hh_l0_reverse',
  ]);
  const bound = 1 / Math.sqrt(64);
  for (const name of ['rnn.weight_ih_l0', 'rnn.weight_hh_l0_reverse', 'rnn.bias_hh_l0']) {
    const m = moments(engine.getState(name).data);
    assert.ok(m.min >= -bound && m.max <= bound, `${name} within ±1/√hidden`);
    assert.ok(m.max > 0.9 * bound && m.min < -0.9 * bound, `${name} spreads over the range`);
  }
  assert.deepEqual(engine.getState('rnn.weight_ih_l0').shape, [256, 50]);
  assert.ok(engine.getState('act.weight').data.every((v) => v === 0.25));
});

test('a token id outside the embedding table is an error naming the node', () => {
  const engine = new (addon().Engine)(spec({ shape: [1, 2], dtype: 'int64' }, [
    { id: 'emb', op: 'embedding', attrs: { num_embeddings: 10, embedding_dim: 4 }, inputs: ['x'] },
  ]));
  assert.throws(() => engine.forward({ x: { shape: [1, 2], data: Float32Array.of(3, 10) } }), /node "emb" \(embedding\): token id 10\.0+ is not an integer in \[0, 10\)/);
});

test("dropout with always (F.dropout's default) drops in eval mode; plain dropout does not", () => {
  const x = { shape: [4, 256], data: new Float32Array(1024).fill(1) };
  for (const always of [true, false]) {
    const engine = new (addon().Engine)(spec({ shape: [4, 256] }, [{ id: 'd', op: 'dropout', attrs: { p: 0.5, always }, inputs: ['x'] }]), 5);
    engine.setTraining(false);
    const out = engine.forward({ x }).d!.data;
    const dropped = out.filter((v) => v === 0).length;
    if (always) {
      assert.ok(dropped > 400 && dropped < 624, `about half dropped, got ${dropped}`);
      assert.ok(out.every((v) => v === 0 || v === 2), 'kept values are scaled by 1/(1 − p)');
    } else {
      assert.equal(dropped, 0);
    }
  }
});
