// The device, precision and autotune options of `netlens train` / `netlens bench` and the refusals made
// before a run starts (no add-on needed): --precision parsing, which device/precision pairs the
// engine's report allows and the message for each, and how a GPU out-of-memory error becomes the
// run's error with the analyzer's estimate beside the engine's numbers (CLI message and run store).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { UsageError } from '../../extension/cli/args';
import { deviceRefusal } from '../../extension/cli/trainCommand';
import { parseBench, parseTrain } from '../../extension/cli/trainArgs';
import type { EngineClient } from '../../extension/engine/client';
import { isGpuOutOfMemory, trainingMessages } from '../../extension/training/messages';
import { RunStore } from '../../extension/training/runStore';
import { runTraining, type TrainingEvent } from '../../extension/training/train';

test('--precision parses for train and bench (default fp32), case-insensitively', () => {
  const train = parseTrain(['m.py', '--device', 'cuda', '--precision', 'TF32']);
  assert.ok(train !== 'help');
  assert.equal(train.device, 'cuda');
  assert.equal(train.precision, 'tf32');
  const bench = parseBench(['m.py', '--precision=bf16']);
  assert.ok(bench !== 'help');
  assert.equal(bench.precision, 'bf16');
  const plain = parseTrain(['m.py']);
  assert.ok(plain !== 'help');
  assert.equal(plain.precision, 'fp32');
  assert.equal(plain.device, 'cpu');
});

test('--precision with another value, no value, or on export-torchrun is a usage error', () => {
  assert.throws(() => parseTrain(['m.py', '--precision', 'fp16']), (error: Error) => error instanceof UsageError && /--precision 'fp16' is not one of fp32, tf32, bf16\./.test(error.message));
  assert.throws(() => parseBench(['m.py', '--precision']), /--precision needs a value\./);
  assert.throws(() => parseTrain(['m.py', '--precision', 'tf32'], 'export-torchrun'), /unknown option --precision for 'netlens export-torchrun'/);
  assert.throws(() => parseBench(['m.py', '--device', 'gpu']), /--device 'gpu' is not one of cpu, cuda\./);
});

test('--autotune is a switch of train and bench (default off), not of export-torchrun', () => {
  const train = parseTrain(['m.py', '--device', 'cuda', '--autotune']);
  assert.ok(train !== 'help');
  assert.equal(train.autotune, true);
  const bench = parseBench(['m.py', '--autotune', '--json', '--device', 'cuda']);
  assert.ok(bench !== 'help');
  assert.equal(bench.autotune, true);
  assert.equal(bench.json, true);
  const plain = parseBench(['m.py', '--json']);
  assert.ok(plain !== 'help');
  assert.equal(plain.autotune, false);
  assert.throws(() => parseTrain(['m.py', '--autotune=yes']), /--autotune takes no value; write just --autotune\./);
  assert.throws(() => parseTrain(['m.py', '--autotune'], 'export-torchrun'), /unknown option --autotune for 'netlens export-torchrun'/);
});

test('--channels-last is a switch of train and bench (default off), not of export-torchrun', () => {
  const train = parseTrain(['m.py', '--device', 'cuda', '--channels-last']);
  assert.ok(train !== 'help');
  assert.equal(train.channelsLast, true);
  const bench = parseBench(['m.py', '--channels-last', '--precision', 'bf16', '--device', 'cuda']);
  assert.ok(bench !== 'help');
  assert.equal(bench.channelsLast, true);
  assert.equal(bench.precision, 'bf16');
  const plain = parseTrain(['m.py']);
  assert.ok(plain !== 'help');
  assert.equal(plain.channelsLast, false);
  assert.throws(() => parseBench(['m.py', '--channels-last=1']), /--channels-last takes no value; write just --channels-last\./);
  assert.throws(() => parseTrain(['m.py', '--channels-last'], 'export-torchrun'), /unknown option --channels-last for 'netlens export-torchrun'/);
});

const noGpu = { gpuPresent: false, gpuError: 'no NVIDIA driver found (libcuda.so.1 could not be loaded)', cudaExecutorAvailable: false, cudaExecutorStatus: 'no GPU: no NVIDIA driver found', computeCapability: '' };
const gpuWithoutCudnn = { gpuPresent: true, gpuError: '', cudaExecutorAvailable: false, cudaExecutorStatus: 'cuDNN: libcudnn.so.9 not found (CUDNN_ROOT unset)', computeCapability: '9.0' };
const ready = { gpuPresent: true, gpuError: '', cudaExecutorAvailable: true, cudaExecutorStatus: 'CUDA executor ready on NVIDIA H100', computeCapability: '9.0' };
const turing = { ...ready, cudaExecutorStatus: 'CUDA executor ready on Tesla T4', computeCapability: '7.5' };

test('deviceRefusal: what each machine allows, with the reason and what to use instead', () => {
  assert.equal(deviceRefusal('cpu', 'fp32', ready, true), trainingMessages.autotuneNeedsGpu());
  assert.match(trainingMessages.autotuneNeedsGpu(), /^--autotune: .*Use --device cuda, or leave --autotune out\.$/);
  assert.equal(deviceRefusal('cpu', 'tf32', ready, true), trainingMessages.precisionNeedsGpu('tf32'), 'the precision is named first');
  assert.equal(deviceRefusal('cuda', 'bf16', ready, true), undefined);
  assert.equal(deviceRefusal('cuda', 'fp32', noGpu, true), deviceRefusal('cuda', 'fp32', noGpu));
  assert.equal(deviceRefusal('cpu', 'fp32', noGpu), undefined);
  assert.equal(deviceRefusal('cuda', 'fp32', ready), undefined);
  assert.equal(deviceRefusal('cuda', 'tf32', ready), undefined);
  assert.equal(deviceRefusal('cpu', 'tf32', ready), trainingMessages.precisionNeedsGpu('tf32'));
  assert.equal(deviceRefusal('cuda', 'bf16', ready), undefined);
  assert.equal(deviceRefusal('cpu', 'fp32', ready, false, true), trainingMessages.channelsLastNeedsGpu());
  assert.match(trainingMessages.channelsLastNeedsGpu(), /^--channels-last: .*Use --device cuda, or leave --channels-last out\.$/);
  assert.equal(deviceRefusal('cpu', 'fp32', ready, true, true), trainingMessages.autotuneNeedsGpu(), 'one refusal at a time');
  assert.equal(deviceRefusal('cuda', 'bf16', ready, false, true), undefined);
  assert.equal(deviceRefusal('cuda', 'fp32', noGpu, false, true), deviceRefusal('cuda', 'fp32', noGpu));
  assert.equal(deviceRefusal('cpu', 'bf16', ready), trainingMessages.precisionNeedsGpu('bf16'));
  assert.equal(deviceRefusal('cuda', 'bf16', noGpu), trainingMessages.cudaUnavailable(noGpu.gpuError));
  assert.equal(deviceRefusal('cuda', 'tf32', turing), undefined);
  assert.equal(deviceRefusal('cuda', 'bf16', turing), '--precision bf16: needs a GPU of compute capability 8.0 (Ampere) or newer, this one is 7.5; use --precision fp32 or tf32.');
  assert.equal(deviceRefusal('cuda', 'fp32', noGpu), '--device cuda: no usable CUDA GPU on this machine (no NVIDIA driver found (libcuda.so.1 could not be loaded)); use --device cpu.');
  assert.equal(deviceRefusal('cuda', 'tf32', gpuWithoutCudnn), '--device cuda: the CUDA executor cannot run on this machine (cuDNN: libcudnn.so.9 not found (CUDNN_ROOT unset)); use --device cpu.');
});

// The CUDA executor's own wording (native/cuda/cuda_executor.cpp, allocate()).
const engineOutOfMemory = 'out of GPU memory: the training step needs 812.0 MiB (memory plan 812.0 MiB: parameters 44.6 MiB, gradients 44.6 MiB, optimizer 44.6 MiB, activations 300.0 MiB, activation gradients 300.0 MiB, workspace 70.0 MiB, other 8.2 MiB) but only 500.0 MiB of 81559.0 MiB are free (cudaMalloc: out of memory)';

test('a GPU out-of-memory error is recognized and shown with the analyzer estimate beside the numbers', () => {
  assert.ok(isGpuOutOfMemory(engineOutOfMemory));
  assert.ok(isGpuOutOfMemory('cudaGraphInstantiate failed: cudaErrorMemoryAllocation: out of memory'));
  assert.ok(!isGpuOutOfMemory('node "n" (layer_norm): not supported by the CUDA executor yet'));
  const message = trainingMessages.gpuOutOfMemory(engineOutOfMemory, 790 * 1024 * 1024);
  assert.ok(message.startsWith(engineOutOfMemory), 'the engine numbers come first');
  assert.match(message, /The analyzer estimates 790\.0 MiB at the training peak for this model and batch/);
  assert.match(message, /Lower --batch, or use --device cpu\.$/);
  assert.doesNotMatch(trainingMessages.gpuOutOfMemory(engineOutOfMemory, undefined), /analyzer/);
});

test('runTraining turns an out-of-memory trainOpen into a failed run whose error carries both numbers', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-oom-'));
  const store = RunStore.create(root, { device: 'cuda' });
  const requested: string[] = [];
  // Only the request channel is replaced: the engine process answering trainOpen with the executor's error.
  const engine = {
    request: async (kind: string): Promise<never> => {
      requested.push(kind);
      throw new Error(engineOutOfMemory);
    },
  } as unknown as EngineClient;
  const events: TrainingEvent[] = [];
  const last = await runTraining(engine, {
    spec: { inputs: [], nodes: [], outputs: [] } as never, data: { kind: 'default' }, epochs: 1, batch: 512, validationFraction: 0, augment: false, seed: 0,
    session: { device: 'cuda', precision: 'fp32' }, estimatedPeakBytes: 790 * 1024 * 1024,
  }, store, (event) => events.push(event));
  assert.equal(last.type, 'error');
  assert.equal(requested[0], 'trainOpen');
  const message = last.type === 'error' ? last.message : '';
  assert.ok(message.includes('needs 812.0 MiB') && message.includes('only 500.0 MiB of 81559.0 MiB are free') && message.includes('analyzer estimates 790.0 MiB'), message);
  const stored = fs.readFileSync(path.join(store.dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as TrainingEvent);
  assert.deepEqual(stored.at(-1), { type: 'error', message });
  const status = JSON.parse(fs.readFileSync(path.join(store.dir, 'status.json'), 'utf8')) as { status: string; message?: string };
  assert.equal(status.status, 'failed');
  assert.equal(status.message, message);
});
