// The scripts a GPU session runs once (scripts/gpu/device-check.sh and what it calls), rehearsed
// without a GPU so that a harness bug cannot waste that run: bench_ratio.py's pairing and goal
// verdicts on rows in cuda_bench's and bench_torch.py's formats, compare-runs.mjs's verdicts, and
// bench_torch.py and measure_gpu.py end to end on the CPU (NETLENS_DRY_RUN=1), measure_gpu.py also
// cut short by SIGTERM. The dry runs need PyTorch and skip, with the reason, where it is missing.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';

import { repoRoot } from './support';

const gpuScripts = path.join(repoRoot, 'scripts', 'gpu');
const measureGpu = path.join(repoRoot, 'scripts', 'memory', 'measure_gpu.py');
const quietEnv = { ...process.env, OMP_NUM_THREADS: '1', PYTHONUNBUFFERED: '1' };
const dryRunEnv = { ...quietEnv, NETLENS_DRY_RUN: '1' };

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-gpu-scripts-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));

function run(command: string, args: string[], env: NodeJS.ProcessEnv = quietEnv, timeout = 120_000): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', env, timeout, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? (result.error ? String(result.error) : '') };
}

/** Why python3 (with `modules`) cannot run a test here, or undefined when it can. */
function missingPython(modules?: string): string | undefined {
  const probe = run('python3', ['-c', modules ? `import ${modules}` : 'pass'], quietEnv, 60_000);
  if (probe.status === 0) return undefined;
  return probe.status === null ? `python3 is not available (${probe.stderr.trim() || 'not found'})` : `python3 cannot import ${modules}: ${probe.stderr.trim().split('\n').pop()}`;
}
const noPython = missingPython();
const noTorch = noPython ?? missingPython('torch');

function writeLines(name: string, rows: object[]): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
  return file;
}

/** A row as native/tests/cuda_bench.cpp prints it (its printf's keys, in its order). */
function netlensRow(model: string, batch: number, precision: string, mode: string, ms: number): object {
  return {
    engine: 'netlens', model, batch, precision, mode, step_ms_median: ms, step_ms_min: ms * 0.95, images_per_s: (1000 * batch) / ms, tflops: 1,
    plan_bytes: 1 << 20, last_loss: 2.3, setup_ms: 10, fused_linears: 2, autotune: mode === 'graph+autotune', timed_directions: 0,
    cached_directions: 0, channels_last: mode === 'graph+channels-last', layout_changes: 0,
  };
}

/** A row as scripts/gpu/bench_torch.py prints it. */
function torchRow(model: string, batch: number, precision: string, ms: number): object {
  return { engine: 'torch', model, batch, precision, mode: 'eager', step_ms_median: ms, step_ms_min: ms, images_per_s: (1000 * batch) / ms, last_loss: 2.3 };
}

test('cuda_bench and bench_torch.py print every key bench_ratio.py reads', { skip: noPython }, () => {
  const bench = fs.readFileSync(path.join(repoRoot, 'native', 'tests', 'cuda_bench.cpp'), 'utf8');
  for (const key of ['\\"model\\":\\"%s\\"', '\\"batch\\":%lld', '\\"precision\\":\\"%s\\"', '\\"mode\\":\\"%s\\"', '\\"step_ms_median\\":%.3f', '\\"error\\":\\"%s\\"']) {
    assert.ok(bench.includes(key), `cuda_bench.cpp prints ${key}`);
  }
  const torchScript = fs.readFileSync(path.join(gpuScripts, 'bench_torch.py'), 'utf8');
  for (const key of ['"model": name', '"batch": batch', '"precision": precision', '"step_ms_median"', '"error": str(error)']) {
    assert.ok(torchScript.includes(key), `bench_torch.py prints ${key}`);
  }
});

test('bench_ratio.py pairs the rows and judges issue 7 goals', { skip: noPython }, () => {
  // PyTorch at 10 ms everywhere; Netlens's graph mode 2.5x faster on the seed net, 1.5x on LeNet-5,
  // 1.2x on ResNet-18 bf16, which has no fp32 torch row (the torch side failed there).
  const torch: object[] = [];
  const netlens: object[] = [];
  const factor: Record<string, number> = { seed: 2.5, lenet5: 1.5, resnet18: 1.2 };
  for (const [model, batch] of [['seed', 256], ['lenet5', 256], ['resnet18', 128]] as const) {
    for (const precision of ['fp32', 'tf32', 'bf16']) {
      if (model === 'resnet18' && precision === 'fp32') torch.push({ engine: 'torch', model, batch, precision, error: 'CUDA out of memory' });
      else torch.push(torchRow(model, batch, precision, 10));
      const graph = 10 / (factor[model] ?? 1);
      netlens.push(netlensRow(model, batch, precision, 'graph', graph), netlensRow(model, batch, precision, 'eager', 10));
      if (model !== 'resnet18') netlens.push(netlensRow(model, batch, precision, 'graph-unfused', graph * 1.1));
      if (model !== 'resnet18' || precision === 'bf16') netlens.push(netlensRow(model, batch, precision, 'graph+autotune', graph / 1.2));
    }
  }
  netlens.push({ engine: 'netlens', model: 'seed', batch: 64, precision: 'bf16', mode: 'eager', error: 'cuDNN: "x" not supported' });
  const result = run('python3', [path.join(gpuScripts, 'bench_ratio.py'), writeLines('netlens.jsonl', netlens), writeLines('torch.jsonl', torch)]);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const lines = result.stdout.split('\n');
  const line = (prefix: string): string => lines.find((l) => l.startsWith(prefix)) ?? `(no line starting "${prefix}")`;
  assert.equal(line('goal seed batch 256 fp32'), 'goal seed batch 256 fp32 >= 2.0x: 2.50x (met); autotuned 3.00x (met)');
  assert.equal(line('goal lenet5 batch 256 bf16'), 'goal lenet5 batch 256 bf16 >= 2.0x: 1.50x (missed); autotuned 1.80x (missed)');
  assert.equal(line('goal resnet18 batch 128 bf16'), 'goal resnet18 batch 128 bf16 >= 1.1x: 1.20x (met); autotuned 1.44x (met)');
  assert.equal(lines.filter((l) => l.startsWith('goal ')).length, 7, 'seven goals: seed and LeNet-5 in three precisions, ResNet-18 bf16');
  assert.match(line('bench resnet18 batch 128 graph '), /fp32 — \| tf32 8\.333\/10\.000 ms 1\.20x \| bf16 8\.333\/10\.000 ms 1\.20x/);
  assert.equal(line('fused epilogues seed batch 256 fp32'), 'fused epilogues seed batch 256 fp32: 1.100x (unfused 4.400 ms, graph 4.000 ms)');
  assert.equal(line('autotuning lenet5 batch 256 tf32'), 'autotuning lenet5 batch 256 tf32: 1.200x (autotune 5.556 ms, graph 6.667 ms)');
  assert.ok(lines.includes('bench ratio: torch resnet18 batch 128 fp32 : CUDA out of memory'), 'a torch error row is reported');
  assert.ok(lines.includes('bench ratio: netlens seed batch 64 bf16 eager: cuDNN: "x" not supported'), 'a netlens error row is reported');

  // Without a GPU cuda_bench prints only {"skipped": why}: no pairs, and the exit status says so.
  const skipped = run('python3', [path.join(gpuScripts, 'bench_ratio.py'), writeLines('skipped.jsonl', [{ skipped: 'no GPU' }]), writeLines('torch2.jsonl', torch)]);
  assert.equal(skipped.status, 1);
  assert.match(skipped.stdout, /bench ratio: no pairs \(0 netlens rows, 8 torch rows\)/);
});

test('compare-runs.mjs: the first-step losses against the tolerance, and runs that did not complete', () => {
  const runDir = path.join(scratch, 'run');
  fs.mkdirSync(runDir, { recursive: true });
  fs.writeFileSync(path.join(runDir, 'config.json'), JSON.stringify({ batch: 32 }));
  const events = (firstLoss: number, gpu: boolean, done = true): object[] => [
    { type: 'start', run_dir: runDir, ...(gpu ? { gpu: { precision: 'fp32', memory_plan_bytes: 3 << 20 } } : {}) },
    ...[firstLoss, 2.2, 2.1, 2.0, 1.9].map((loss, i) => ({ type: 'step', epoch: 1, step: i + 1, loss, lr: 0.01, images_per_s: 32000 / (i + 1) })),
    { type: 'epoch', epoch: 1, val_acc: 0.25 },
    ...(done ? [{ type: 'done', status: 'completed' }] : [{ type: 'error', message: 'the engine exited' }]),
  ];
  const cpu = writeLines('cpu.jsonl', events(2.302585, false));
  const compare = (gpuEvents: object[], ...extra: string[]) =>
    run(process.execPath, [path.join(gpuScripts, 'compare-runs.mjs'), writeLines('gpu.jsonl', gpuEvents), cpu, ...extra]);

  const close = compare(events(2.302585 * (1 + 5e-5), true));
  assert.equal(close.status, 0, close.stdout);
  assert.match(close.stdout, /^PASS cli train cuda vs cpu: first-step loss 2\.3027001 vs 2\.3025850 \(relative 5\.00e-5, tolerance 0\.0001\); median step 4\.000 ms \(cuda, fp32, plan 3\.0 MiB\) vs 4\.000 ms \(cpu\); 5 steps each; validation accuracy 25\.0% vs 25\.0%/);
  const far = compare(events(2.31, true), '1e-4', 'cuda bf16 vs cpu fp32');
  assert.equal(far.status, 1);
  assert.match(far.stdout, /^FAIL cli train cuda bf16 vs cpu fp32: first-step loss/);
  const loose = compare(events(2.31, true), '5e-2', 'cuda bf16 vs cpu fp32');
  assert.equal(loose.status, 0, loose.stdout);
  const broken = compare(events(2.302585, true, false), '1e-4', 'cuda bf16 vs cpu fp32');
  assert.equal(broken.status, 1);
  assert.match(broken.stdout, /^FAIL cli train cuda bf16 vs cpu fp32: a run did not complete \(cuda: the engine exited; cpu: 5 steps\)/);
});

test('bench_torch.py dry run on the CPU: every model, batch and precision, in bench_ratio.py form', { skip: noTorch, timeout: 180_000 }, () => {
  const result = run('python3', [path.join(gpuScripts, 'bench_torch.py'), '64'], dryRunEnv, 170_000);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const rows = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const keys = rows.map((row) => `${String(row['model'])} ${String(row['batch'])} ${String(row['precision'])}`);
  const expected: string[] = [];
  for (const [model, batch] of [['cifar', 64], ['seed', 64], ['resnet8', 64], ['lenet5', 256], ['resnet18', 128]] as const) {
    for (const precision of ['fp32', 'tf32', 'bf16']) expected.push(`${model} ${batch} ${precision}`);
  }
  assert.deepEqual(keys, expected);
  for (const row of rows) {
    assert.equal(row['error'], undefined, JSON.stringify(row));
    assert.equal(row['dry_run'], true);
    assert.equal(row['dry_run_batch'], 2);
    assert.ok(typeof row['step_ms_median'] === 'number' && row['step_ms_median'] > 0, JSON.stringify(row));
    assert.ok(Number.isFinite(row['last_loss']), JSON.stringify(row));
  }
  // The same rows through bench_ratio.py against Netlens rows twice as fast: every pair found.
  const netlens = rows.map((row) => netlensRow(String(row['model']), Number(row['batch']), String(row['precision']), 'graph', Number(row['step_ms_median']) / 2));
  const ratio = run('python3', [path.join(gpuScripts, 'bench_ratio.py'), writeLines('dry-netlens.jsonl', netlens), writeLines('dry-torch.jsonl', rows)]);
  assert.equal(ratio.status, 0, ratio.stdout + ratio.stderr);
  const benchLines = ratio.stdout.split('\n').filter((l) => l.startsWith('bench '));
  assert.equal(benchLines.length, 5);
  for (const line of benchLines) assert.equal((line.match(/ 2\.00x/g) ?? []).length, 3, line);
  assert.match(ratio.stdout, /goal lenet5 batch 256 fp32 >= 2\.0x: 2\.00x \(met\)/);
  assert.match(ratio.stdout, /goal seed batch 256 fp32 >= 2\.0x: — \(no number\)/);
});

interface MeasuredGpuJson {
  gpu: string;
  dry_run?: boolean;
  interrupted?: boolean;
  torchvision: string;
  results: { source: string; entry: string; input: number[]; input_dtype: string; dtype: string; optimizer: string; peak_bytes: number; tensor_peak_bytes: number; stats: object }[];
  probes: object[];
  failures: { entry: string; error: string }[];
  skipped: object[];
}

test('measure_gpu.py dry run writes the JSON memoryOracle.test.ts reads', { skip: noTorch, timeout: 180_000 }, () => {
  const result = run('python3', [measureGpu, 'CharRNN'], dryRunEnv, 170_000);
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as MeasuredGpuJson;
  assert.equal(report.dry_run, true);
  assert.match(report.gpu, /dry run/);
  assert.deepEqual(report.failures, []);
  assert.deepEqual(report.results.map((r) => `${r.entry} ${r.dtype} ${r.optimizer}`), ['CharRNN() float32 adam', 'CharRNN() bfloat16 adam']);
  for (const r of report.results) {
    assert.equal(r.source, 'char_rnn.py');
    assert.deepEqual(r.input, [32, 128]);
    assert.equal(r.input_dtype, 'int64');
    assert.equal(typeof r.peak_bytes, 'number');
    assert.ok(r.tensor_peak_bytes > 0, 'the storage tracker sees the CPU tensors of a dry run');
  }
});

test('measure_gpu.py still writes its JSON when SIGTERM (the stage limit) ends it', { skip: noTorch, timeout: 180_000 }, async () => {
  const child = spawn('python3', [measureGpu], { env: { ...dryRunEnv, MEASURE_GPU_BUDGET_S: '1000' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Signalled once the first probe (a training step) has been reported, so a case is in progress.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no probe line within 150 s: ${stderr}`)), 150_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (/^mlp /m.test(stderr)) {
        clearTimeout(timer);
        child.kill('SIGTERM');
        resolve();
      }
    });
  });
  assert.equal(await exited, 0, stderr);
  const report = JSON.parse(stdout) as MeasuredGpuJson;
  assert.equal(report.interrupted, true);
  assert.equal(report.probes.length >= 1, true);
  assert.match(report.failures.at(-1)?.error ?? '', /interrupted by SIGTERM/);
});
