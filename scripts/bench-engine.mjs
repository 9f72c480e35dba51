#!/usr/bin/env node
// The engine's CPU training step against PyTorch's, same machine, same thread count, same run
// (issue 6). A benchmark, not a test: it prints numbers and exits 0 whatever they are.
//
// Models: the CIFAR CNN (examples/cifar_cnn.py) and LeNet-5 (examples/lenet5.py), batch 64,
// SGD with momentum 0.9 and cross-entropy on random data. For each model and round it runs, one
// after the other so all three see the same machine load, each in a fresh process:
//   engine   the engine with its default CPU kernels (oneDNN's convolutions where installed)
//   builtin  the same with NETLENS_BLAS=builtin (the built-in GEMM + im2col fallback)
//   pytorch  scripts/bench-engine.py (torch.set_num_threads = the same count)
// Each times --steps steps after warm-up and reports the median wall time and the median process
// CPU time per step. The ratio ours/PyTorch (below 1: we are faster) uses the median over rounds.
//
// The engine side runs through native/tests/engine_bench.cpp, the C++ harness over the same
// Executor and kernels as the add-on (built by `node scripts/test.mjs native` in
// build/native-engine-cpu), so the numbers hold the engine alone. --cli times `netlens bench` on
// the example files instead (the bundled CLI, engine process and IPC included; wall time only).
//
// Why CPU time too: on a shared machine the wall time mostly measures the neighbours, and under
// load PyTorch's OpenMP threads spin at every barrier, so its wall time collapses far more than its
// work grows; CPU time per step stays close to the work done (for both, at 1 thread especially).
//
// Usage: node scripts/bench-engine.mjs [--threads T] [--rounds R] [--steps S] [--warmup W] [--batch B] [--cli] [--json]
// Needs: python3 with torch (CPU) for the PyTorch side.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const usage = 'usage: node scripts/bench-engine.mjs [--threads T] [--rounds R] [--steps S] [--warmup W] [--batch B] [--cli] [--json]';

function parseArgs(argv) {
  const options = { threads: os.availableParallelism(), rounds: 3, steps: 20, warmup: 3, batch: 64, cli: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (key === 'json' || key === 'cli') {
      options[key] = true;
      continue;
    }
    const value = Number(argv[i + 1]);
    if (!(key in options) || !Number.isInteger(value) || value <= 0) {
      console.error(usage);
      process.exit(2);
    }
    options[key] = value;
    i++;
  }
  return options;
}

const models = [
  { name: 'CIFAR CNN', harnessName: 'cifar', file: 'examples/cifar_cnn.py', className: 'CifarCNN', sample: '3,32,32' },
  { name: 'LeNet-5', harnessName: 'lenet5', file: 'examples/lenet5.py', className: 'LeNet5', sample: '1,32,32' },
];

function runJson(command, args, env) {
  const result = spawnSync(command, args, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  const line = (result.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (result.status !== 0 || !line) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${result.stderr}\n${result.stdout}`);
  }
  return JSON.parse(line);
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

/** The C++ harness, copied so a rebuild in this checkout during the run cannot swap it mid-round. */
function harnessCopy(scratch) {
  const built = ['build/native-engine-cpu/engine_bench', 'native/build-tests/engine_bench']
    .map((p) => path.join(repoRoot, p))
    .find((p) => fs.existsSync(p));
  if (!built) fail('no engine_bench harness: run `node scripts/test.mjs native` first (it builds build/native-engine-cpu)');
  const copy = path.join(scratch, 'engine_bench');
  fs.copyFileSync(built, copy);
  fs.chmodSync(copy, 0o755);
  return { path: copy, source: path.relative(repoRoot, built) };
}

/** The bundled CLI and the add-on, copied for the same reason (`npm run build` empties dist/). */
function cliCopy(scratch) {
  const dist = path.join(repoRoot, 'dist');
  const addon = path.join(repoRoot, 'native', 'build', 'Release', 'netlens.node');
  for (const required of [path.join(dist, 'cli.js'), addon]) {
    if (!fs.existsSync(required)) fail(`${path.relative(repoRoot, required)} is missing: run \`npm install\` first`);
  }
  fs.cpSync(dist, path.join(scratch, 'dist'), { recursive: true });
  fs.copyFileSync(addon, path.join(scratch, 'netlens.node'));
  return { cli: path.join(scratch, 'dist', 'cli.js'), addon: path.join(scratch, 'netlens.node') };
}

function engineStep(model, options, tools, extraEnv) {
  const env = { NETLENS_THREADS: String(options.threads), ...extraEnv };
  if (!options.cli) {
    const args = [String(options.batch), String(options.steps), String(options.threads), model.harnessName];
    const result = runJson(tools.harness.path, args, env);
    return { wall: result.step_ms_median, cpu: result.cpu_ms_median, kernels: result.cpu_kernels };
  }
  const args = ['-e', 'require(process.argv[1]).runFromCommandLine(process.argv.slice(2))', tools.cli.cli, 'bench', model.file,
    '--entry', `${model.className}()`, '--input', `${options.batch},${model.sample}`, '--steps', String(options.steps),
    '--warmup', String(options.warmup), '--device', 'cpu', '--json'];
  const result = runJson(process.execPath, args, { ...env, NETLENS_ADDON_PATH: tools.cli.addon });
  return { wall: result.step_ms_median, cpu: Number.NaN, kernels: '' };
}

function torchStep(model, options) {
  const args = ['scripts/bench-engine.py', model.file, model.className, '--input', model.sample, '--batch', String(options.batch),
    '--steps', String(options.steps), '--warmup', String(options.warmup), '--threads', String(options.threads)];
  const result = runJson('python3', args, { OMP_NUM_THREADS: String(options.threads) });
  return { wall: result.step_ms_median, cpu: result.cpu_ms_median, version: result.torch };
}

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const load = () => os.loadavg().map((v) => v.toFixed(2)).join(' ');
const ms = (value) => (Number.isFinite(value) ? `${value.toFixed(1)} ms` : 'n/a');

const options = parseArgs(process.argv.slice(2));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-bench-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
const tools = options.cli ? { cli: cliCopy(scratch) } : { harness: harnessCopy(scratch) };

const report = {
  date: new Date().toISOString(),
  machine: `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical CPUs`,
  threads: options.threads,
  batch: options.batch,
  steps: options.steps,
  engine: options.cli ? 'netlens bench (bundled CLI)' : `C++ harness ${tools.harness?.source}`,
  loadBefore: load(),
  models: [],
};
if (!options.json) {
  console.log(`${report.date}  ${report.machine}; ${options.threads} threads, batch ${options.batch}, ${options.steps} timed steps, ` +
    `${options.rounds} rounds; engine through ${report.engine}`);
  console.log(`load average before: ${report.loadBefore}`);
}
for (const model of models) {
  const rounds = [];
  for (let round = 0; round < options.rounds; round++) {
    const loadAtStart = load();
    const engine = engineStep(model, options, tools, {});
    const builtin = engineStep(model, options, tools, { NETLENS_BLAS: 'builtin' });
    const pytorch = torchStep(model, options);
    report.kernels ??= { engine: engine.kernels, builtin: builtin.kernels, pytorch: `PyTorch ${pytorch.version}` };
    rounds.push({ load: loadAtStart, engine, builtin, pytorch });
    if (!options.json) {
      if (round === 0 && engine.kernels) console.log(`engine: ${engine.kernels}\nbuiltin: ${builtin.kernels}\npytorch: ${pytorch.version}`);
      console.log(`${model.name.padEnd(9)} round ${round + 1} (load ${loadAtStart}): wall / CPU per step: engine ${ms(engine.wall)} / ${ms(engine.cpu)}, ` +
        `builtin ${ms(builtin.wall)} / ${ms(builtin.cpu)}, PyTorch ${ms(pytorch.wall)} / ${ms(pytorch.cpu)}`);
    }
  }
  const summary = { model: model.name, file: model.file };
  for (const side of ['engine', 'builtin', 'pytorch']) {
    summary[side] = { wall_ms: median(rounds.map((r) => r[side].wall)), cpu_ms: median(rounds.map((r) => r[side].cpu)) };
  }
  summary.ratio_wall = summary.engine.wall_ms / summary.pytorch.wall_ms;
  summary.ratio_cpu = summary.engine.cpu_ms / summary.pytorch.cpu_ms;
  summary.builtin_ratio_wall = summary.builtin.wall_ms / summary.pytorch.wall_ms;
  summary.builtin_ratio_cpu = summary.builtin.cpu_ms / summary.pytorch.cpu_ms;
  summary.rounds = rounds;
  report.models.push(summary);
  if (!options.json) {
    const ratio = (value) => (Number.isFinite(value) ? value.toFixed(2) : 'n/a');
    console.log(`${model.name.padEnd(9)} median over rounds, wall: engine ${ms(summary.engine.wall_ms)}, builtin ${ms(summary.builtin.wall_ms)}, ` +
      `PyTorch ${ms(summary.pytorch.wall_ms)}; ours/PyTorch ${ratio(summary.ratio_wall)} (builtin ${ratio(summary.builtin_ratio_wall)})`);
    console.log(`${model.name.padEnd(9)} median over rounds, CPU:  engine ${ms(summary.engine.cpu_ms)}, builtin ${ms(summary.builtin.cpu_ms)}, ` +
      `PyTorch ${ms(summary.pytorch.cpu_ms)}; ours/PyTorch ${ratio(summary.ratio_cpu)} (builtin ${ratio(summary.builtin_ratio_cpu)})`);
  }
}
report.loadAfter = load();
if (options.json) console.log(JSON.stringify(report, null, 2));
else console.log(`load average after: ${report.loadAfter}`);
