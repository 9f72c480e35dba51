// The CPU engine core through its C++ harness (native/tests, ctest): the JSON reader, every op and
// optimizer against PyTorch goldens (tests/native/goldens/kernels.json), numerical gradient checks
// and the executor's spec errors. Builds a CPU-only tree in build/native-engine-cpu (about a
// minute from scratch on 2 cores, seconds when nothing changed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { before, test } from 'node:test';

import { repoRoot } from './support';

const buildDir = path.join(repoRoot, 'build', 'native-engine-cpu');
// The CUDA backend is not under test here; leaving it out keeps the build short.
const env: NodeJS.ProcessEnv = { ...process.env, NETLENS_CUDA: '0', NETLENS_BUILD_TESTS: '1' };

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd: repoRoot, env, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout ?? ''}\n${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}` };
}

function ctest(name: string): string {
  const result = run('ctest', ['--test-dir', buildDir, '--output-on-failure', '-V', '-R', `^${name}$`]);
  assert.equal(result.status, 0, result.output);
  assert.match(result.output, /100% tests passed, 0 tests failed out of 1/);
  return result.output;
}

before(() => {
  const configure = run('cmake', ['-S', repoRoot, '-B', buildDir, '-DNETLENS_BUILD_TESTS=ON']);
  assert.equal(configure.status, 0, configure.output);
  const build = run('cmake', ['--build', buildDir, '--parallel', '2']);
  assert.equal(build.status, 0, build.output);
  assert.doesNotMatch(build.output, /warning:/i, 'the engine compiles without warnings');
});

test('the JSON reader accepts RFC 8259 and rejects the rest', { timeout: 60_000 }, () => {
  ctest('json');
});

test('every op, loss, optimizer and schedule matches PyTorch within 1e-4', { timeout: 120_000 }, () => {
  const output = ctest('engine_golden');
  const summary = /(\d+) case group\(s\) against PyTorch ([\w.+]+); worst relative error ([\d.e+-]+)/.exec(output);
  assert.ok(summary, output);
  assert.ok(Number(summary[1]) >= 100, `only ${summary[1]} golden case groups ran`);
  assert.ok(Number(summary[3]) < 1e-4, `worst relative error ${summary[3]}`);
  // The issue's proof: 50 training steps of a small CNN follow PyTorch's loss within 1e-3, under
  // SGD with momentum and under Adam.
  for (const label of ['long run', 'long run adam']) {
    const longRun = new RegExp(`${label}: (\\d+) steps, loss ([\\d.]+) -> ([\\d.]+), worst relative loss difference ([\\d.e+-]+)`).exec(output);
    assert.ok(longRun, `${label}:\n${output}`);
    assert.equal(Number(longRun[1]), 50);
    assert.ok(Number(longRun[3]) < Number(longRun[2]), `${label}: the loss goes down`);
    assert.ok(Number(longRun[4]) < 1e-3, `${label}: worst relative loss difference ${longRun[4]}`);
  }
});

test('analytic gradients of every op match finite differences', { timeout: 120_000 }, () => {
  const output = ctest('engine_gradcheck');
  const checked = /(\d+) op cases checked/.exec(output);
  assert.ok(checked && Number(checked[1]) >= 30, output);
});

test('spec errors, PyTorch initialization, frozen layers and NaN losses', { timeout: 120_000 }, () => {
  ctest('engine_spec');
});

// Plain C++ (no CUDA), so it runs in this CPU-only tree: the CUDA executor's autotuning cache.
test('the cuDNN autotuning cache: keys, file round trip, merging, bad files', { timeout: 60_000 }, () => {
  assert.match(ctest('autotune_cache'), /autotune_cache_test: all checks passed/);
});

// The CUDA kernels' per-element math and index mappings (the `NETLENS_HD` functions in
// native/cuda/*_math.h), compiled for the host and checked against the CPU engine: the part of the GPU
// code a machine without a GPU can verify. Every `*_math` ctest runs; each prints "<topic>_math: N checks passed".
test('the CUDA kernels\' host-compiled math matches the CPU engine', { timeout: 120_000 }, () => {
  const result = run('ctest', ['--test-dir', buildDir, '--output-on-failure', '-V', '-R', '_math$']);
  assert.equal(result.status, 0, result.output);
  const topics = [...result.output.matchAll(/(\w+_math): (\d+) checks passed/g)].map((match) => ({ topic: match[1], checks: Number(match[2]) }));
  assert.ok(topics.some(({ topic }) => topic === 'optimizer_math'), result.output);
  for (const { topic, checks } of topics) assert.ok(checks > 0, `${topic} checked nothing`);
  assert.match(result.output, new RegExp(`100% tests passed, 0 tests failed out of ${topics.length}\\b`), result.output);
});

// Where oneDNN is installed the tests above run its convolutions; these run the built-in kernels
// (the fallback every machine without libdnnl uses) against the same goldens and gradient checks.
test('the goldens and gradient checks also pass on the built-in kernels (NETLENS_BLAS=builtin)', { timeout: 240_000 }, () => {
  const output = ctest('engine_golden_builtin');
  const summary = /(\d+) case group\(s\) against PyTorch ([\w.+]+); worst relative error ([\d.e+-]+)/.exec(output);
  assert.ok(summary, output);
  assert.ok(Number(summary[3]) < 1e-4, `worst relative error ${summary[3]}`);
  const longRun = /long run: (\d+) steps, loss ([\d.]+) -> ([\d.]+), worst relative loss difference ([\d.e+-]+)/.exec(output);
  assert.ok(longRun, output);
  assert.ok(Number(longRun[4]) < 1e-3, `worst relative loss difference ${longRun[4]}`);
  ctest('engine_gradcheck_builtin');
});
