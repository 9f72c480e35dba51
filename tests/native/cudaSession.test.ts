// Training sessions on device "cuda" through the real add-on and CLI: what the engine refuses and
// why (an op attribute the CUDA executor cannot run, tf32 or bf16 on the CPU, a machine where the executor cannot
// run), before any run starts; the engine info's CUDA executor report; and the loader-fed training
// path the CUDA pipeline uses, which must step exactly as batches passed through JS do.
// On a machine where the CUDA executor can run, the no-GPU cases are skipped (the GPU session's
// device-check runs the same CLI on the card).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { analyzeFile } from '../../extension/analysis/index';
import { loadAddon, type NativeTensor } from '../../extension/engine/addon';
import { lowerModel, TARGET_INPUT } from '../../extension/training/lower';
import { addonPath, buildConfiguration, repoRoot } from './support';
import { runCli } from './cliSupport';

const addon = loadAddon(addonPath());
const info = addon.engineInfo();
const noExecutor = info.cudaExecutorAvailable && 'the CUDA executor can run on this machine';


/**
 * A spec the CPU engine runs and the CUDA executor refuses from its attributes alone: a transposed
 * convolution whose output_padding (1) is below its dilation (2), as PyTorch allows, but not below
 * its stride (1), which cuDNN needs. (Every CPU op has a CUDA kernel; this is what is left to refuse.)
 */
function unsupportedOpSpec(): string {
  return JSON.stringify({
    inputs: [{ name: 'x', shape: [2, 3, 5, 5], dtype: 'float32' }, { name: TARGET_INPUT, shape: [2], dtype: 'int64' }],
    nodes: [
      { id: 'up', op: 'conv_transpose2d', attrs: { in_channels: 3, out_channels: 2, kernel_size: 3, dilation: 2, output_padding: 1 }, inputs: ['x'], params: {} },
      { id: 'flat', op: 'flatten', attrs: {}, inputs: ['up'], params: {} },
    ],
    outputs: ['flat'],
    loss: { op: 'cross_entropy', input: 'flat', target: TARGET_INPUT },
    optimizer: { type: 'sgd', lr: 0.1 },
  });
}

async function lenetSpec(batch: number): Promise<string> {
  const file = path.join(repoRoot, 'examples', 'lenet5.py');
  const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), { entry: 'LeNet5()', batch, recordGraph: true }, { astCacheDir: false });
  return JSON.stringify(lowerModel(report.models[0]!, { engineOps: addon.engineOps(), loss: 'cross_entropy', optimizer: { type: 'sgd', lr: 0.05, momentum: 0.9 } }));
}

test('engineInfo reports whether the CUDA executor can run, and why not', () => {
  assert.equal(typeof info.cudaExecutorAvailable, 'boolean');
  assert.ok(info.cudaExecutorStatus.length > 0, 'a status line');
  if (info.cudaExecutorAvailable) {
    assert.ok(info.gpuPresent && info.cudnnAvailable);
    assert.match(info.cudaExecutorStatus, /CUDA executor ready on /);
  } else if (!info.gpuPresent && buildConfiguration()?.cudnn) {
    assert.match(info.cudaExecutorStatus, /^no GPU: /);
  }
});

test('a CUDA session refuses what the executor cannot run by node, op and attribute, before looking for a GPU', { skip: buildConfiguration()?.cudnn === false && 'built without cuDNN headers' }, () => {
  assert.throws(() => addon.createEngine(unsupportedOpSpec(), 0, { device: 'cuda', precision: 'fp32' }),
    /--device cuda: node "up" \(conv_transpose2d\): the CUDA executor needs output_padding smaller than the stride; use --device cpu$/);
  // The CPU engine runs the same spec.
  assert.doesNotThrow(() => addon.createEngine(unsupportedOpSpec(), 0, { device: 'cpu', precision: 'fp32' }));
});

test('precision: bf16 and tf32 only on the GPU, unknown names are refused', () => {
  const spec = unsupportedOpSpec();
  // bf16 on cuda passes the options check and goes on to the model and machine checks (this spec's op).
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cuda', precision: 'bf16' }),
    (error: Error) => error.message.startsWith('--device cuda: ') && !/precision/.test(error.message));
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cpu', precision: 'bf16' }), /precision bf16: the CPU engine computes in strict fp32 only/);
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cpu', precision: 'tf32' }), /precision tf32: the CPU engine computes in strict fp32 only/);
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cpu', precision: 'fp16' as 'fp32' }), /precision 'fp16' is not one of fp32, tf32, bf16/);
  assert.throws(() => addon.createEngine(spec, 0, { device: 'gpu' as 'cuda', precision: 'fp32' }), /device 'gpu' is not one of cpu, cuda/);
});

test('autotune: only on the GPU, and a boolean', () => {
  const spec = unsupportedOpSpec();
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cpu', precision: 'fp32', autotune: true }), /autotune: cuDNN autotuning is for device cuda .*; use --device cuda$/);
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cpu', precision: 'fp32', autotune: 'yes' as unknown as boolean }), /options\.autotune must be a boolean/);
  assert.doesNotThrow(() => addon.createEngine(spec, 0, { device: 'cpu', precision: 'fp32', autotune: false }));
  // On cuda autotune passes the options check and goes on to the model and machine checks.
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cuda', precision: 'fp32', autotune: true, autotuneCache: 'none' }),
    (error: Error) => error.message.startsWith('--device cuda: ') && !/autotun/.test(error.message));
});

test('channelsLast: only on the GPU, and a boolean', () => {
  const spec = unsupportedOpSpec();
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cpu', precision: 'fp32', channelsLast: true }), /channelsLast: NHWC layouts are for cuDNN's convolutions on device cuda .*; use --device cuda$/);
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cpu', precision: 'fp32', channelsLast: 1 as unknown as boolean }), /options\.channelsLast must be a boolean/);
  assert.doesNotThrow(() => addon.createEngine(spec, 0, { device: 'cpu', precision: 'fp32', channelsLast: false }));
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cuda', precision: 'bf16', channelsLast: true }),
    (error: Error) => error.message.startsWith('--device cuda: ') && !/channelsLast/.test(error.message));
});

test('a CUDA session on a machine where the executor cannot run says why and to use the CPU', { skip: noExecutor }, async () => {
  const spec = await lenetSpec(8);
  assert.throws(() => addon.createEngine(spec, 0, { device: 'cuda', precision: 'tf32' }),
    (error: Error) => error.message.includes('--device cuda: the CUDA executor cannot run here (') && error.message.includes(info.cudaExecutorStatus) && error.message.endsWith('; use --device cpu'));
});

test('train --device cuda without a usable CUDA executor is refused before the run starts, with the reason', { skip: noExecutor }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-cuda-'));
  const result = await runCli(['train', 'examples/lenet5.py', '--device', 'cuda', '--epochs', '1', '--runs-root', root]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  const reason = info.gpuPresent ? info.cudaExecutorStatus : info.gpuError;
  assert.ok(result.stderr.includes(reason), `the reason (${reason}) is in: ${result.stderr}`);
  assert.match(result.stderr, /^netlens: --device cuda: .*; use --device cpu\.\n$/);
  assert.equal(fs.existsSync(path.join(root, '.netlens')), false, 'no run was started');
  const bf16 = await runCli(['train', 'examples/lenet5.py', '--device', 'cuda', '--precision', 'bf16', '--epochs', '1', '--runs-root', root]);
  assert.equal(bf16.code, 1);
  assert.ok(bf16.stderr.includes(reason), `bf16 is refused for the same reason (${reason}): ${bf16.stderr}`);
  assert.equal(fs.existsSync(path.join(root, '.netlens')), false, 'no bf16 run was started');
});

test('--precision and --autotune: CPU bf16, tf32 and autotune are refused before anything runs; fp32 on the CPU trains', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-precision-'));
  const bf16 = await runCli(['train', 'examples/lenet5.py', '--device', 'cpu', '--precision', 'bf16', '--runs-root', root]);
  assert.equal(bf16.code, 1);
  assert.match(bf16.stderr, /--precision bf16: the CPU engine computes in strict fp32 only/);
  const tf32 = await runCli(['bench', 'examples/lenet5.py', '--precision', 'tf32', '--steps', '1']);
  assert.equal(tf32.code, 1);
  assert.match(tf32.stderr, /--precision tf32: the CPU engine computes in strict fp32 only/);
  const autotune = await runCli(['train', 'examples/lenet5.py', '--device', 'cpu', '--autotune', '--runs-root', root]);
  assert.equal(autotune.code, 1);
  assert.match(autotune.stderr, /--autotune: cuDNN autotuning times GPU convolution algorithms; the CPU engine has none to time/);
  const channelsLast = await runCli(['bench', 'examples/lenet5.py', '--channels-last', '--steps', '1']);
  assert.equal(channelsLast.code, 1);
  assert.match(channelsLast.stderr, /--channels-last: NHWC layouts are for cuDNN's GPU convolutions; the CPU engine computes NCHW/);
  assert.equal(fs.existsSync(path.join(root, '.netlens')), false, 'no run was started');
  const fp32 = await runCli(['bench', 'examples/lenet5.py', '--batch', '4', '--precision', 'fp32', '--steps', '1', '--json']);
  assert.equal(fp32.code, 0, fp32.stderr);
  assert.equal((JSON.parse(fp32.stdout) as { device: string }).device, 'cpu');
});

test('trainFromLoader steps exactly as the same batches passed through JS, and reports the epoch end', async () => {
  const spec = await lenetSpec(16);
  const dataset = addon.openDataset({ kind: 'default', options: { variant: 'shapes28', split: 'train', size: [32, 32] } });
  const indices = Int32Array.from({ length: 40 }, (_, i) => i);
  const loaderOptions = { batchSize: 16, shuffle: true, dropLast: true, seed: 5, normalize: true, indices };
  const viaLoader = addon.createEngine(spec, 3, { device: 'cpu', precision: 'fp32' });
  const viaJs = addon.createEngine(spec, 3);

  const fed = dataset.loader(loaderOptions);
  fed.startEpoch(0);
  const first = viaLoader.trainFromLoader(fed, 1);
  const rest = viaLoader.trainFromLoader(fed, 5);
  assert.equal(first.losses.length, 1);
  assert.equal(first.epochDone, false);
  assert.equal(rest.losses.length, 1, '40 samples make 2 full batches of 16');
  assert.equal(rest.epochDone, true);
  assert.deepEqual([...first.batchSizes, ...rest.batchSizes], [16, 16]);
  assert.ok([...first.stepMs, ...rest.stepMs].every((ms) => ms > 0));
  fed.close();

  const inputName = (JSON.parse(spec) as { inputs: { name: string }[] }).inputs.find((i) => i.name !== TARGET_INPUT)!.name;
  const manual = dataset.loader(loaderOptions);
  manual.startEpoch(0);
  const losses: number[] = [];
  const corrects: number[] = [];
  for (let batch = manual.next(); batch; batch = manual.next()) {
    const inputs: Record<string, NativeTensor> = {
      [inputName]: { shape: batch.shape, data: batch.images },
      [TARGET_INPUT]: { shape: [batch.labels.length], data: Float32Array.from(batch.labels) },
    };
    const stepped = viaJs.trainSteps([inputs]);
    losses.push(...stepped.losses);
    corrects.push(...stepped.corrects);
  }
  manual.close();
  assert.deepEqual([...first.losses, ...rest.losses], losses);
  assert.deepEqual([...first.corrects, ...rest.corrects], corrects);
  assert.deepEqual([...first.learningRates, ...rest.learningRates], [0.05, 0.05]);
  assert.deepEqual(viaLoader.sessionInfo(), { device: 'cpu', precision: 'fp32', cudaGraph: false, autotune: false, channelsLast: false, memoryPlanBytes: 0, memoryPlan: '', algorithms: '' });
});

test('trainFromLoader takes only a BatchLoader', async () => {
  const engine = addon.createEngine(await lenetSpec(4), 0);
  assert.throws(() => engine.trainFromLoader({} as never, 1), /trainFromLoader: loader must be a BatchLoader from dataset\.loader\(\)/);
  assert.throws(() => engine.trainFromLoader(engine as never, 1), /must be a BatchLoader/);
});
