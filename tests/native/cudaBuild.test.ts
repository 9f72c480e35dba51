// Issue 7: "CI (no GPU) still builds the CUDA code where nvcc exists". The CUDA executor and its
// kernels need cuDNN's headers, which a machine without cuDNN (CI's) lacks, so `npm install` builds
// an add-on without them. NVIDIA's cuDNN wheel carries the headers: this test takes it from
// NETLENS_CUDNN_WHEEL, .cache/wheels, or `pip download nvidia-cudnn-cu13` (the machine's Python
// index) into .cache/wheels, and builds every CUDA source with it (CMake unpacks only the headers):
//  1. the C++ CUDA harnesses (cuda_parity_test, cuda_bench, cuda_loader_test), warnings as failures,
//     then cuda_parity_test's no-GPU part (refusals, the reason the executor cannot run here);
//  2. the add-on with cmake-js, which must report the executor compiled in and refuse a CUDA
//     session for a spec the executor cannot run, by node and op, before looking for a GPU.
// A machine with neither nvcc nor a way to get the wheel skips, saying which is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { parseNativeEngineInfo } from '../../extension/engine/addon';
import { repoRoot } from './support';

const wheelDir = path.join(repoRoot, '.cache', 'wheels');
const buildDir = path.join(repoRoot, 'build', 'native-cuda-compile');
const addonDir = path.join(repoRoot, 'build', 'native-cuda-addon');

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, timeout = 600_000): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd: repoRoot, env, encoding: 'utf8', timeout, maxBuffer: 64 << 20 });
  return { status: result.status, output: `${result.stdout ?? ''}\n${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}` };
}

function nvccOnPath(): boolean {
  return (process.env['PATH'] ?? '').split(path.delimiter).some((dir) => dir !== '' && fs.existsSync(path.join(dir, 'nvcc')));
}

function findWheel(): string | undefined {
  const named = process.env['NETLENS_CUDNN_WHEEL'];
  if (named && fs.existsSync(named)) return named;
  if (!fs.existsSync(wheelDir)) return undefined;
  const wheels = fs.readdirSync(wheelDir).filter((name) => /^nvidia_cudnn_cu1[23]-9\..*\.whl$/.test(name)).sort();
  return wheels.length > 0 ? path.join(wheelDir, wheels[wheels.length - 1]!) : undefined;
}

/** The cuDNN wheel, downloaded when there is none yet; a string says why there is none. */
function cudnnWheel(): { wheel: string } | { missing: string } {
  const found = findWheel();
  if (found) return { wheel: found };
  fs.mkdirSync(wheelDir, { recursive: true });
  const download = run('python3', ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '-d', wheelDir, 'nvidia-cudnn-cu13'], process.env, 300_000);
  const wheel = findWheel();
  return wheel ? { wheel } : { missing: `no cuDNN wheel (set NETLENS_CUDNN_WHEEL): pip download failed:\n${download.output.trim().split('\n').slice(-3).join('\n')}` };
}

const skipReason = nvccOnPath() ? undefined : 'no nvcc on PATH: the CUDA sources cannot be compiled here';
let wheel: string | undefined;
let wheelMissing: string | undefined;
if (!skipReason) {
  const got = cudnnWheel();
  if ('wheel' in got) wheel = got.wheel;
  else wheelMissing = got.missing;
}

test('the CUDA executor, its kernels and GPU harnesses compile warning-free with cuDNN headers', { skip: skipReason ?? wheelMissing, timeout: 900_000 }, () => {
  const configure = run('cmake', ['-S', repoRoot, '-B', buildDir, '-DNETLENS_BUILD_TESTS=ON', '-DNETLENS_CUDA=ON', '-DCMAKE_BUILD_TYPE=Release', `-DNETLENS_CUDNN_WHEEL=${wheel!}`]);
  assert.equal(configure.status, 0, configure.output);
  assert.match(configure.output, /Netlens: cuDNN 9[\d.]* headers at .*: runtime probe ON/, 'the wheel\'s headers are found');
  const build = run('cmake', ['--build', buildDir, '--parallel', '2', '--target', 'cuda_parity_test', 'cuda_bench', 'cuda_loader_test']);
  assert.equal(build.status, 0, build.output);
  assert.doesNotMatch(build.output, /warning[:#]/i, 'the CUDA sources compile without warnings');
  const parity = run(path.join(buildDir, 'cuda_parity_test'), [], { ...process.env, NETLENS_EXPECT_GPU: '0' });
  assert.equal(parity.status, 0, parity.output);
  assert.match(parity.output, /cuda_parity_test: all checks passed/);
});

test('an add-on built with cuDNN headers has the CUDA executor and refuses what it cannot run, by node', { skip: skipReason ?? wheelMissing, timeout: 900_000 }, () => {
  const cmakeJs = path.join(repoRoot, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
  const env = { ...process.env, NETLENS_CUDNN_WHEEL: wheel! };
  const build = run(process.execPath, [cmakeJs, 'compile', '--out', addonDir], env);
  assert.equal(build.status, 0, build.output);
  assert.doesNotMatch(build.output, /warning[:#]/i, 'the add-on compiles without warnings');
  const addon = path.join(addonDir, 'Release', 'netlens.node');
  const load = (body: string): string => {
    const script = `const m={exports:{}};process.dlopen(m,${JSON.stringify(addon)});${body}`;
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout;
  };
  const info = parseNativeEngineInfo(JSON.parse(load('process.stdout.write(JSON.stringify(m.exports.engineInfo()))')));
  assert.equal(info.cudaCompiled, true);
  assert.equal(info.cudnnCompiled, true);
  // Every CPU op has a CUDA kernel (lstm and gru included); an attribute the executor cannot run (a
  // transposed convolution's output_padding not below its stride, which the CPU allows below the
  // dilation) is refused by node and op before any device work.
  const spec = JSON.stringify({
    inputs: [{ name: 'x', shape: [2, 3, 5, 5] }],
    nodes: [{ id: 'up', op: 'conv_transpose2d', inputs: ['x'], attrs: { in_channels: 3, out_channels: 2, kernel_size: 3, dilation: 2, output_padding: 1 } }],
    outputs: ['up'],
  });
  const message = load(`try{new m.exports.Engine(${JSON.stringify(spec)},0,{device:'cuda'});process.stdout.write('created')}catch(e){process.stdout.write(e.message)}`);
  assert.match(message, /^--device cuda: node "up" \(conv_transpose2d\): the CUDA executor needs output_padding smaller than the stride; use --device cpu$/);
});
