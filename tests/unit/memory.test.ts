// The training-memory model on a small hand-checked graph, the saved-tensor table op by
// op, the batch search, and the report fields it fills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { estimateMemory, largestBatchThatFits, momentsWithOptimizer, type MemoryModelInput, type Optimizer, type TrainingDType } from '../../extension/analysis/memory/index';
import { memoryRule, type OpCallFacts } from '../../extension/analysis/memory/savedTensors';
import { analyzeFile } from '../../extension/analysis/index';
import { smallModel } from './memoryFixtures';

const small = smallModel;

// The tensor-level walk with the CUDA (foreach) optimizer path and without the CUDA runtime's
// terms (512-byte blocks, cuBLAS workspaces: memoryCuda.test.ts), so the hand walk stays exact.
const TENSORS = { device: 'cpu', foreach: true } as const;

test('a conv/relu/pool/linear step, walked by hand', () => {
  const e = estimateMemory(small, { dtype: 'float32', optimizer: 'sgd', ...TENSORS });
  // ReLU keeps the conv output (in place, one storage), the pool its int64 indices, the linear its input.
  assert.deepEqual(e.savedPerNode, [0, 2048, 1024, 0, 512]);
  // Peak: during ReLU's backward, params 3048 + batch 1536 + conv output 2048 + indices gone,
  // pool input grad 2048 + relu input grad 2048 + fc param grads 2600 + labels 16 + loss 4 + …
  assert.equal(e.training_peak_at, 'backward:1');
  assert.equal(e.training_peak_bytes, 13428);
  // Inference: params, batch, conv output and pool output (no indices kept in inference).
  assert.equal(e.inference_peak_bytes, 3048 + 1536 + 2048 + 512);
  assert.equal(e.grads_bytes, 3048);
  assert.equal(e.optimizer_bytes, 0);
});

test('optimizer state and the moment of the peak move with the optimizer and device', () => {
  const momentum = estimateMemory(small, { dtype: 'float32', optimizer: 'momentum', ...TENSORS });
  assert.equal(momentum.optimizer_bytes, 3048);
  assert.equal(momentum.training_peak_bytes, 13428 + 3048);
  const adamCpu = estimateMemory(small, { dtype: 'float32', optimizer: 'adam', device: 'cpu' });
  const adamCuda = estimateMemory(small, { dtype: 'float32', optimizer: 'adam', ...TENSORS });
  assert.equal(adamCpu.optimizer_bytes, 6096);
  // Per-tensor Adam: two temporaries of the largest parameter; foreach: one of every parameter.
  const lastCpu = adamCpu.moments[adamCpu.moments.length - 1];
  const lastCuda = adamCuda.moments[adamCuda.moments.length - 1];
  assert.equal(lastCuda.bytes - lastCpu.bytes, 3048 - 2 * 640 * 4);
});

test('autocast halves activations and keeps a cast copy of conv/linear weights and of the batch', () => {
  const f32 = estimateMemory(small, { dtype: 'float32', optimizer: 'sgd', ...TENSORS });
  const bf16 = estimateMemory(small, { dtype: 'bfloat16', optimizer: 'sgd', ...TENSORS });
  assert.equal(bf16.params_bytes, f32.params_bytes);
  // conv: weight cast 112·2 + batch cast 384·2; relu: conv output 512·2; pool: indices stay int64; fc: input 128·2 + weight 650·2.
  assert.deepEqual(bf16.savedPerNode, [112 * 2 + 384 * 2, 1024, 1024, 0, 128 * 2 + 650 * 2]);
});

test('the saved-tensor table, op by op', () => {
  const facts = (op: string, over: Partial<OpCallFacts> = {}): OpCallFacts => ({
    op, inputNumel: [100], outputNumel: [100], channels: 4, normalizedRows: 10, inplace: false, outputIsGlobalPool: false, rnnLayers: 1, device: 'cuda', activationBytes: 4, ...over,
  });
  assert.deepEqual(memoryRule(facts('Conv2d')).saved, [{ input: 0 }]);
  assert.deepEqual(memoryRule(facts('relu')).saved, [{ output: 0 }]);
  assert.deepEqual(memoryRule(facts('ReLU', { inplace: true })).aliasOf, [0]);
  assert.deepEqual(memoryRule(facts('BatchNorm2d')).saved, [{ input: 0 }, { elements: 8, bytesPerElement: 4 }]);
  assert.deepEqual(memoryRule(facts('LayerNorm')).saved, [{ input: 0 }, { elements: 20, bytesPerElement: 4 }]);
  assert.deepEqual(memoryRule(facts('MaxPool2d', { outputNumel: [25] })).saved, [{ input: 0 }, { elements: 25, bytesPerElement: 8 }]);
  assert.deepEqual(memoryRule(facts('Dropout', { dropoutP: 0.5 })).saved, [{ elements: 100, bytesPerElement: 1 }]);
  assert.deepEqual(memoryRule(facts('Dropout', { dropoutP: 0 })).saved, []);
  assert.deepEqual(memoryRule(facts('add', { inputNumel: [100, 100] })).saved, []);
  assert.deepEqual(memoryRule(facts('cat', { inputNumel: [100, 100] })).saved, []);
  assert.deepEqual(memoryRule(facts('mul', { inputNumel: [100, 100] })).saved, [{ input: 0 }, { input: 1 }]);
  assert.deepEqual(memoryRule(facts('view')).aliasOf, [0]);
  assert.deepEqual(memoryRule(facts('AdaptiveAvgPool2d', { outputIsGlobalPool: true })).saved, []);
  assert.deepEqual(memoryRule(facts('AdaptiveAvgPool2d')).saved, [{ input: 0 }]);
  assert.deepEqual(memoryRule(facts('ReLU6', { inplace: true })).saved, [{ elements: 100 }]);
  assert.equal(memoryRule(facts('some_new_op')).known, false);
  // `x * 0.5` and `x / scale`: the other factor is a Python number, nothing tensor-sized is kept.
  assert.deepEqual(memoryRule(facts('mul')).saved, []);
  // `gamma * x` with a parameter gamma (LayerScale): x is kept for gamma's gradient.
  assert.deepEqual(memoryRule(facts('mul', { otherTensorInputs: 1 })).saved, [{ input: 0 }]);
  assert.deepEqual(memoryRule(facts('div')).saved, []);
  // chunk/split: every piece is a view of the input.
  assert.deepEqual(memoryRule(facts('chunk', { outputNumel: [40, 40, 20] })).aliasOf, [0, 0, 0]);
  // In place, SiLU/Hardswish/... clone their input for backward; LeakyReLU/ELU use their result.
  assert.deepEqual(memoryRule(facts('SiLU', { inplace: true })).saved, [{ elements: 100 }]);
  assert.deepEqual(memoryRule(facts('SiLU', { inplace: true })).aliasOf, [0]);
  assert.deepEqual(memoryRule(facts('LeakyReLU', { inplace: true })).saved, [{ output: 0 }]);
  assert.deepEqual(memoryRule(facts('SiLU')).saved, [{ input: 0 }]);
  // Stochastic depth keeps only a per-sample scale; with p = 0 it is its input.
  assert.deepEqual(memoryRule(facts('StochasticDepth', { dropoutP: 0.1 })).saved, []);
  assert.equal(memoryRule(facts('StochasticDepth', { dropoutP: 0.1 })).aliasOf, undefined);
  assert.deepEqual(memoryRule(facts('StochasticDepth', { dropoutP: 0 })).aliasOf, [0]);
  // masked_fill keeps its mask; roll and comparisons keep nothing; Permute is a view.
  assert.deepEqual(memoryRule(facts('masked_fill', { inputNumel: [100, 100] })).saved, [{ input: 1 }]);
  assert.deepEqual(memoryRule(facts('roll')).saved, []);
  assert.deepEqual(memoryRule(facts('ne', { inputNumel: [100, 100] })).saved, []);
  assert.deepEqual(memoryRule(facts('Permute')).aliasOf, [0]);
});

test('nn.MultiheadAttention keeps its projections and, by backend, the attention weights or a logsumexp', () => {
  // Self-attention, batch_first, L = 10, batch 2, embed 8, 2 heads: rows 20, weights 2·2·10·10 = 400.
  const attention = { queryRows: 20, keyRows: 20, embed: 8, heads: 2, batch: 2, batchFirst: true, needWeights: false, dropout: 0.1, selfAttention: true };
  const facts = (device: 'cuda' | 'cpu', over: Partial<typeof attention> = {}): OpCallFacts => ({
    op: 'MultiheadAttention', inputNumel: [160, 160, 160], outputNumel: [160], channels: 10, normalizedRows: 20, inplace: false,
    outputIsGlobalPool: false, rnnLayers: 1, device, activationBytes: 4, attention: { ...attention, ...over },
  });
  const projections = [{ elements: 160 }, { elements: 480 }, { elements: 160 }];
  // CUDA: scaled_dot_product_attention's fused kernel: its output and a float32 logsumexp per row and head.
  assert.deepEqual(memoryRule(facts('cuda')).saved, [...projections, { elements: 160 }, { elements: 40, bytesPerElement: 4 }]);
  // CPU with dropout: the math path keeps scaled q and k, the softmax, the dropout mask and the dropped weights.
  assert.deepEqual(memoryRule(facts('cpu')).saved, [...projections, { elements: 320, bytesPerElement: 4 }, { elements: 400, bytesPerElement: 4 },
    { elements: 400, bytesPerElement: 4 }, { elements: 400, bytesPerElement: 4 }]);
  // CPU without dropout: the CPU's flash kernel, as on CUDA.
  assert.deepEqual(memoryRule(facts('cpu', { dropout: 0 })).saved, [...projections, { elements: 160 }, { elements: 40, bytesPerElement: 4 }]);
  // Sequence-first input: the in-projection keeps the query itself, not a transposed copy.
  assert.deepEqual(memoryRule(facts('cuda', { batchFirst: false })).saved[0], { input: 0 });
  // Its backward holds two weight-sized gradients and the packed q/k/v gradient at once.
  assert.equal(memoryRule(facts('cpu')).backwardScratchBytes, 2 * 400 * 4 + 480 * 4);
});

test('largest batch that fits: each moment is fixed bytes plus bytes per sample', () => {
  const moments = [
    { at: 'forward:0', bytes: 1000, fixedBytes: 200 },
    { at: 'optimizer', bytes: 700, fixedBytes: 600 },
  ];
  // batch 4: forward 200 + 200·b, optimizer 600 + 25·b.
  assert.equal(largestBatchThatFits(moments, 4, 1000), 4);
  assert.equal(largestBatchThatFits(moments, 4, 1199), 4);
  assert.equal(largestBatchThatFits(moments, 4, 1200), 5);
  assert.equal(largestBatchThatFits(moments, 4, 500), 0);
  // Against the model re-run at the found batch and the next one: the first fits, the second does not.
  const atBatch = (batch: number): MemoryModelInput => ({
    ...small,
    inputs: small.inputs.map((i) => ({ ...i, shape: [batch, ...i.shape.slice(1)] })),
    graph: { ...small.graph, nodes: small.graph.nodes.map((n) => ({ ...n, outputs: n.outputs.map((s) => [batch, ...s.slice(1)]) })) },
  });
  const options = { dtype: 'float32', optimizer: 'adam', ...TENSORS } as const;
  const capacity = 1e6;
  const b = largestBatchThatFits(estimateMemory(small, options).moments, 2, capacity);
  assert.ok(b > 2);
  assert.ok(estimateMemory(atBatch(b), options).training_peak_bytes <= capacity);
  assert.ok(estimateMemory(atBatch(b + 1), options).training_peak_bytes > capacity);
});

test('the report fills memory fields, per-layer saved bytes and the batch table', async () => {
  const file = path.resolve(__dirname, '..', '..', 'examples', 'lenet5.py');
  const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), { entry: 'LeNet5()', inputs: [{ shape: [16, 1, 32, 32] }], optimizer: 'adam', gpuMemoryGB: 1, maxBatchTable: true });
  const m = report.models[0];
  assert.ok(m);
  assert.equal(m.memory.params_bytes, 61706 * 4);
  assert.equal(m.memory.optimizer_bytes, 2 * 61706 * 4);
  assert.ok(m.memory.training_peak_bytes > m.memory.inference_peak_bytes);
  // conv1 keeps the batch (counted as input), the pools keep the relu outputs, fc1 its flattened input.
  const saved = new Map(m.layers.map((l) => [l.path, l.saved_bytes]));
  assert.equal(saved.get('fc1'), 16 * 400 * 4);
  assert.equal(m.memory.max_batch?.capacity_bytes, 1e9);
  assert.equal(m.memory.max_batch?.entries.length, 15);
  const f32 = m.memory.max_batch!.entries.find((x) => x.dtype === 'float32' && x.optimizer === 'adam')!;
  const bf16 = m.memory.max_batch!.entries.find((x) => x.dtype === 'bfloat16' && x.optimizer === 'adam')!;
  assert.ok(bf16.batch > f32.batch && f32.batch > 16);
});

test('the moments of another optimizer, derived from one walk, equal a walk with that optimizer', () => {
  const optimizers: Optimizer[] = ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop'];
  const dtypes: TrainingDType[] = ['float32', 'bfloat16'];
  for (const device of ['cuda', 'cpu'] as const) {
    for (const dtype of dtypes) {
      for (const from of optimizers) {
        const walked = estimateMemory(small, { dtype, optimizer: from, device });
        for (const to of optimizers) {
          const expected = estimateMemory(small, { dtype, optimizer: to, device }).moments;
          assert.deepEqual(momentsWithOptimizer(walked, small, { dtype, optimizer: from, device }, to), expected, `${device} ${dtype} ${from} → ${to}`);
        }
      }
    }
  }
});
