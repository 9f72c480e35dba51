// Which kernels the CPU backend runs, as engineInfo().cpuBlas reports them: oneDNN's convolutions
// where libdnnl.so.2 loads, otherwise the built-in GEMM with the reason. Each case loads the add-on
// in a fresh Node process, because the choice is made once per process from the environment.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import { addonPath, repoRoot } from './support';

function cpuBlasWith(env: Record<string, string>): string {
  const script = 'const m = { exports: {} }; process.dlopen(m, process.argv[1]); process.stdout.write(m.exports.engineInfo().cpuBlas);';
  const result = spawnSync(process.execPath, ['-e', script, path.resolve(addonPath())], {
    encoding: 'utf8',
    env: { ...process.env, NETLENS_BLAS: '', NETLENS_DNNL: '', ...env },
  });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

/** NETLENS_BUILT_WITH_DNNL from native/build's cache; undefined when the add-on comes from elsewhere. */
function builtWithDnnl(): boolean | undefined {
  const cachePath = path.join(repoRoot, 'native', 'build', 'CMakeCache.txt');
  if (process.env['NETLENS_ADDON_PATH'] || !fs.existsSync(cachePath)) return undefined;
  return /^NETLENS_BUILT_WITH_DNNL:INTERNAL=(ON|TRUE|1)$/m.test(fs.readFileSync(cachePath, 'utf8'));
}

/** Whether the dynamic loader would find libdnnl.so.2 (Debian's libdnnl2). */
function dnnlInstalled(): boolean {
  const result = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' });
  return result.status === 0 && /\blibdnnl\.so\.2\b/.test(result.stdout);
}

const builtin = /^built-in (AVX2|portable) GEMM \+ im2col convolutions, \d+ threads? \(oneDNN: (.+)\)$/;

test('oneDNN runs the convolutions when the build has its headers and the machine has libdnnl.so.2', (t) => {
  const compiled = builtWithDnnl();
  if (compiled === undefined) {
    t.skip('add-on not from native/build (NETLENS_ADDON_PATH set or no CMakeCache.txt)');
    return;
  }
  const report = cpuBlasWith({});
  if (compiled && dnnlInstalled()) {
    assert.match(report, /^oneDNN 2\.\d+\.\d+ \((OpenMP|TBB|sequential) build\) convolutions, built-in (AVX2|portable) GEMM, \d+ threads?$/);
  } else {
    const reason = builtin.exec(report);
    assert.ok(reason, report);
    assert.match(reason[2], compiled ? /libdnnl\.so\.2/ : /not compiled in/);
  }
});

test('NETLENS_BLAS=builtin forces the built-in kernels and says so', () => {
  assert.match(cpuBlasWith({ NETLENS_BLAS: 'builtin' }), /^built-in (AVX2|portable) GEMM \+ im2col convolutions, \d+ threads? \(oneDNN: NETLENS_BLAS=builtin\)$/);
  assert.match(cpuBlasWith({ NETLENS_BLAS: 'mkl' }), /\(oneDNN: NETLENS_BLAS=mkl is not one of auto, onednn, builtin\)$/);
});

test('a missing or wrong libdnnl falls back with the reason', (t) => {
  if (builtWithDnnl() === false) {
    t.skip('oneDNN not compiled into this add-on');
    return;
  }
  const missing = cpuBlasWith({ NETLENS_DNNL: '/nonexistent/libdnnl.so.2' });
  assert.match(missing, builtin);
  assert.match(missing, /NETLENS_DNNL is set: .*\/nonexistent\/libdnnl\.so\.2/);
  // A real library without oneDNN's symbols.
  assert.match(cpuBlasWith({ NETLENS_DNNL: 'libz.so.1' }), /\(oneDNN: libz\.so\.1 has no dnnl_version/);
});
