// The CUDA-only terms of the training-memory estimate (extension/analysis/memory/cudaRuntime.ts):
// the caching allocator's 512-byte blocks, the cuBLAS/cuBLASLt workspaces PyTorch 2.11 keeps
// per handle, the GPU they are sized for, and the autocast terms that differ on CUDA. The
// sizes are PyTorch's own constants (docs/MEMORY.md names each source); the GPU measurements
// that check the whole estimate are in memoryOracle.test.ts once gpu.json exists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  cublasLtWorkspaceBytes, cublasWorkspaceBytes, cublasWorkspaceConfigBytes, cublasWorkspaces, cudaBlockBytes, parseComputeCapability,
} from '../../extension/analysis/memory/cudaRuntime';
import { estimateMemory, type MemoryModelInput } from '../../extension/analysis/memory/index';
import { analyzeFile } from '../../extension/analysis/index';
import type { AnalyzeOptions } from '../../extension/analysis/reportTypes';
import { node, smallModel } from './memoryFixtures';

const MIB = 1024 * 1024;
const HOPPER_WORKSPACE = 32 * MIB;
/** ":4096:2:16:8": two 4 MiB and eight 16 KiB pools. */
const DEFAULT_WORKSPACE = 2 * 4096 * 1024 + 8 * 16 * 1024;

test('allocator blocks: below 512 bytes one block, else the next multiple of 512, nothing for empty tensors', () => {
  assert.equal(cudaBlockBytes(0), 0);
  assert.equal(cudaBlockBytes(1), 512);
  assert.equal(cudaBlockBytes(24), 512);
  assert.equal(cudaBlockBytes(512), 512);
  assert.equal(cudaBlockBytes(513), 1024);
  assert.equal(cudaBlockBytes(411_041_792), 411_041_792);
});

test('compute capability as the engine reports it, and as sm names', () => {
  assert.deepEqual(parseComputeCapability('9.0'), { major: 9, minor: 0 });
  assert.deepEqual(parseComputeCapability('sm90'), { major: 9, minor: 0 });
  assert.deepEqual(parseComputeCapability('sm_86'), { major: 8, minor: 6 });
  assert.deepEqual(parseComputeCapability('10.0'), { major: 10, minor: 0 });
  assert.deepEqual(parseComputeCapability('sm100'), { major: 10, minor: 0 });
  assert.equal(parseComputeCapability(''), undefined);
  assert.equal(parseComputeCapability('Hopper'), undefined);
});

test('cuBLAS workspace per handle: 32 MiB on sm 9.0, :4096:2:16:8 elsewhere, CUBLAS_WORKSPACE_CONFIG pairs summed', () => {
  assert.equal(cublasWorkspaceBytes({ major: 9, minor: 0 }), HOPPER_WORKSPACE);
  assert.equal(cublasWorkspaceBytes({ major: 8, minor: 0 }), DEFAULT_WORKSPACE);
  assert.equal(cublasWorkspaceBytes({ major: 8, minor: 9 }), DEFAULT_WORKSPACE);
  // PyTorch 2.11 gives 32 MiB to sm 9.0 only (Blackwell joined later).
  assert.equal(cublasWorkspaceBytes({ major: 10, minor: 0 }), DEFAULT_WORKSPACE);
  assert.equal(cublasWorkspaceConfigBytes(':4096:8'), HOPPER_WORKSPACE);
  assert.equal(cublasWorkspaceConfigBytes(':4096:2:16:8'), DEFAULT_WORKSPACE);
  assert.equal(cublasWorkspaceConfigBytes(':16:8'), 128 * 1024);
  assert.equal(cublasWorkspaceConfigBytes(':0:0'), 0);
  assert.equal(cublasWorkspaceConfigBytes('4096x8'), undefined);
  assert.equal(cublasWorkspaceBytes({ major: 9, minor: 0 }, ':16:8'), 128 * 1024);
  // An unreadable setting leaves the default, as PyTorch does (with a warning).
  assert.equal(cublasWorkspaceBytes({ major: 9, minor: 0 }, 'big'), HOPPER_WORKSPACE);
  // cuBLASLt: 1 MiB, never more than the cuBLAS workspace.
  assert.equal(cublasLtWorkspaceBytes(HOPPER_WORKSPACE), MIB);
  assert.equal(cublasLtWorkspaceBytes(128 * 1024), 128 * 1024);
});

test('workspaces of a step: forward thread, backward thread, cuBLASLt; the GPU named or assumed', () => {
  const all = { forward: true, backward: true, lt: true };
  const assumed = cublasWorkspaces(all, undefined);
  assert.equal(assumed.trainingBytes, 2 * HOPPER_WORKSPACE + MIB);
  assert.equal(assumed.inferenceBytes, HOPPER_WORKSPACE + MIB);
  assert.match(assumed.device, /H100 \(sm 9\.0\) assumed/);
  const a100 = cublasWorkspaces(all, { name: 'NVIDIA A100-SXM4-80GB', computeCapability: '8.0' });
  assert.equal(a100.trainingBytes, 2 * DEFAULT_WORKSPACE + MIB);
  assert.equal(a100.device, 'NVIDIA A100-SXM4-80GB (sm 8.0)');
  assert.equal(cublasWorkspaces({ forward: true, backward: false, lt: false }, undefined).trainingBytes, HOPPER_WORKSPACE);
  assert.equal(cublasWorkspaces({ forward: false, backward: false, lt: false }, undefined).trainingBytes, 0);
  assert.equal(cublasWorkspaces(all, { computeCapability: '9.0', cublasWorkspaceConfig: ':16:8' }).trainingBytes, 3 * 128 * 1024);
});

// The small graph of memory.test.ts, with its parameters as tensors (the per-tensor blocks need them).
const small: MemoryModelInput = {
  ...smallModel,
  parameterTensors: [
    { path: 'conv', name: 'weight', numel: 108, trainable: true },
    { path: 'conv', name: 'bias', numel: 4, trainable: true },
    { path: 'fc', name: 'weight', numel: 640, trainable: true },
    { path: 'fc', name: 'bias', numel: 10, trainable: true },
  ],
  bufferTensorBytes: [],
};

test('on CUDA each tensor of the walk is whole blocks: parameters, gradients, state, batch, labels', () => {
  const cuda = estimateMemory(small, { dtype: 'float32', optimizer: 'momentum', device: 'cuda' });
  const tensors = estimateMemory(small, { dtype: 'float32', optimizer: 'momentum', device: 'cpu', foreach: true });
  const last = (e: typeof cuda) => e.moments[e.moments.length - 1];
  // Parameter tensors of 432, 16, 2560 and 40 bytes take 512, 512, 2560 and 512; the same for
  // their gradients and momentum buffers. The batch (1536 bytes) is whole blocks; the labels (16) take 512.
  const blocks = 512 + 512 + 2560 + 512;
  assert.equal(cuda.cublas_workspace_bytes, 2 * HOPPER_WORKSPACE + MIB);
  assert.equal(last(cuda).at, 'optimizer');
  assert.equal(last(cuda).bytes, 3 * blocks + 1536 + 512 + cuda.cublas_workspace_bytes);
  assert.equal(last(tensors).bytes, 3 * 3048 + 1536 + 16);
  // The breakdown keeps the tensors' own sizes.
  assert.equal(cuda.params_bytes, 3048);
  // The rounding of tensors that grow with the batch counts as fixed bytes for the batch search.
  assert.equal(last(cuda).bytes - last(cuda).fixedBytes, 1536 + 16);
  for (let i = 0; i < cuda.moments.length; i++) {
    assert.equal(cuda.moments[i].bytes - cuda.moments[i].fixedBytes, tensors.moments[i].bytes - tensors.moments[i].fixedBytes, cuda.moments[i].at);
  }
});

async function lenet(options: Partial<AnalyzeOptions>) {
  const file = path.resolve(__dirname, '..', '..', 'examples', 'lenet5.py');
  const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), { entry: 'LeNet5()', inputs: [{ shape: [16, 1, 32, 32] }], optimizer: 'adam', recordGraph: true, ...options });
  const model = report.models[0];
  assert.ok(model);
  return model;
}

test('a model with nn.Linear holds both handles\' workspaces and the cuBLASLt one on CUDA, none on the CPU', async () => {
  const cuda = await lenet({ memoryDevice: 'cuda' });
  assert.equal(cuda.memory.cublas_workspace_bytes, 2 * HOPPER_WORKSPACE + MIB);
  assert.match(cuda.memory.cuda_device ?? '', /assumed: no GPU reported/);
  const cpu = await lenet({ memoryDevice: 'cpu' });
  assert.equal(cpu.memory.cublas_workspace_bytes, undefined);
  assert.equal(cpu.memory.cuda_device, undefined);
  // The same tensors on the CPU with the CUDA optimizer path: CUDA adds the workspaces plus at most
  // one block of rounding per live tensor (LeNet-5's whole step has fewer than 200 tensors).
  const tensors = await lenet({ memoryDevice: 'cpu', optimizerForeach: true });
  const extra = cuda.memory.training_peak_bytes - tensors.memory.training_peak_bytes;
  assert.ok(extra >= 2 * HOPPER_WORKSPACE + MIB && extra < 2 * HOPPER_WORKSPACE + MIB + 200 * 512, `extra ${extra}`);
});

test('the GPU the engine reports sizes the workspaces; nothing else in the estimate depends on it', async () => {
  const h100 = await lenet({ memoryDevice: 'cuda' });
  const a100 = await lenet({ memoryDevice: 'cuda', gpu: { name: 'NVIDIA A100-SXM4-80GB', computeCapability: '8.0' } });
  assert.equal(a100.memory.cublas_workspace_bytes, 2 * DEFAULT_WORKSPACE + MIB);
  assert.equal(a100.memory.cuda_device, 'NVIDIA A100-SXM4-80GB (sm 8.0)');
  assert.equal(h100.memory.training_peak_bytes - a100.memory.training_peak_bytes, 2 * (HOPPER_WORKSPACE - DEFAULT_WORKSPACE));
  assert.equal(h100.memory.inference_peak_bytes - a100.memory.inference_peak_bytes, HOPPER_WORKSPACE - DEFAULT_WORKSPACE);
});

test('a model without a GEMM (convolutions run in cuDNN) holds no cuBLAS workspace', async () => {
  const file = path.resolve(__dirname, '..', '..', 'examples', 'fcn.py');
  const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), { entry: 'SmallFCN()', inputs: [{ shape: [2, 3, 64, 96] }], recordGraph: true });
  assert.equal(report.models[0]?.memory.cublas_workspace_bytes, 0);
});

// tokens [4,64] → Embedding(96,128) → LSTM(128,128, batch_first) → [0] → Linear(128,96); every size a multiple of 512.
const LSTM_PARAMS = 4 * 128 * (128 + 128) + 2 * 4 * 128;
const charRnn: MemoryModelInput = {
  graph: {
    nodes: [
      node('Embedding', 'input', [[4, 64, 128]], { path: 'embed' }),
      node('LSTM', 0, [[4, 64, 128], [1, 4, 128], [1, 4, 128]], { path: 'lstm' }),
      node('Linear', 1, [[4, 64, 96]], { path: 'decoder' }),
    ],
    outputs: [{ node: 2, output: 0 }],
  },
  inputs: [{ shape: [4, 64], bytesPerElement: 8 }],
  paramsByPath: new Map([['embed', 96 * 128], ['lstm', LSTM_PARAMS], ['decoder', 128 * 96 + 96]]),
  totalParams: 96 * 128 + LSTM_PARAMS + 128 * 96 + 96,
  trainableParams: 96 * 128 + LSTM_PARAMS + 128 * 96 + 96,
  largestParam: 4 * 128 * 128,
  buffersBytes: 0,
};

test('CUDA autocast: cuDNN\'s LSTM keeps a float16 copy of its flat weights until its backward', () => {
  const bf16 = estimateMemory(charRnn, { dtype: 'bfloat16', optimizer: 'adam', device: 'cuda' });
  const f32 = estimateMemory(charRnn, { dtype: 'float32', optimizer: 'adam', device: 'cuda' });
  // Its input (4·64·128) and the cuDNN reserve estimate (6 per output element) plus the output itself, in 2 or 4 bytes.
  const activations = 4 * 64 * 128 + 7 * 4 * 64 * 128;
  assert.equal(f32.savedPerNode[1], activations * 4);
  assert.equal(bf16.savedPerNode[1], activations * 2 + LSTM_PARAMS * 2);
  assert.equal(LSTM_PARAMS * 2 % 512, 0, 'a whole number of blocks, so no rounding hides in the difference');
});

test('autocast: a layer\'s weight gradient exists in the low dtype beside its float32 .grad for a moment', () => {
  const bf16 = estimateMemory(charRnn, { dtype: 'bfloat16', optimizer: 'sgd', device: 'cpu' });
  const at = (name: string) => bf16.moments.find((mo) => mo.at === name)!;
  // The decoder's backward has two moments: its bfloat16 weight gradient (12,384 · 2) beside
  // what it saved (its input, 4·64·128 · 2 = 65,536 bytes, and its weight cast, 12,384 · 2), then,
  // once the engine released those, the float32 copy (12,384 · 4) beside the bfloat16 one. The
  // first is larger here, so the moment is the one before the copy: the fixed bytes grow by the
  // bfloat16 gradient only.
  const params = 128 * 96 + 96;
  assert.ok(4 * 64 * 128 * 2 + params * 2 > params * 4);
  assert.equal(at('backward:2').fixedBytes - at('backward:loss').fixedBytes, params * 2);
  const f32 = estimateMemory(charRnn, { dtype: 'float32', optimizer: 'sgd', device: 'cpu' });
  const at32 = (name: string) => f32.moments.find((mo) => mo.at === name)!;
  assert.equal(at32('backward:2').fixedBytes - at32('backward:loss').fixedBytes, (128 * 96 + 96) * 4);
});
