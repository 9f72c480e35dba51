// The data sets and loaders through their C++ harness (native/tests/data_test.cpp, ctest `data`):
// the default data set's recorded checksum and class balance, readers against written and committed
// fixtures, errors for bad files, the validation split and the loader's thread. Builds only the core
// and data_test, CPU-only, in build/native-data-cpu (its own tree, so it never races the engine
// harness's build; about half a minute from scratch on 2 cores, seconds when nothing changed).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';

import { repoRoot } from './support';

const buildDir = path.join(repoRoot, 'build', 'native-data-cpu');
const env: NodeJS.ProcessEnv = { ...process.env, NETLENS_CUDA: '0', NETLENS_BUILD_TESTS: '1' };

function run(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd: repoRoot, env, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout ?? ''}\n${result.stderr ?? ''}${result.error ? `\n${result.error.message}` : ''}` };
}

test('data_test: default data set, readers, bad files, split and loader thread', { timeout: 300_000 }, () => {
  const configure = run('cmake', ['-S', repoRoot, '-B', buildDir, '-DNETLENS_BUILD_TESTS=ON']);
  assert.equal(configure.status, 0, configure.output);
  const build = run('cmake', ['--build', buildDir, '--parallel', '2', '--target', 'data_test']);
  assert.equal(build.status, 0, build.output);
  assert.doesNotMatch(build.output, /warning:/i, 'the data code compiles without warnings');
  const result = run('ctest', ['--test-dir', buildDir, '--output-on-failure', '-V', '-R', '^data$']);
  assert.equal(result.status, 0, result.output);
  assert.match(result.output, /data_test: all checks passed/);
  assert.match(result.output, /shapes32 train checksum 0x6016e101eab38456/);
});

// PNG and JPEG are opened with dlopen at first use: with one codec's library missing (or the wrong
// library in its place) only that format fails, naming the file, the library and the fix.
test('data_test with libpng missing and with libjpeg replaced by a library lacking its symbols', { timeout: 300_000 }, () => {
  const configure = run('cmake', ['-S', repoRoot, '-B', buildDir, '-DNETLENS_BUILD_TESTS=ON']);
  assert.equal(configure.status, 0, configure.output);
  const build = run('cmake', ['--build', buildDir, '--parallel', '2', '--target', 'data_test']);
  assert.equal(build.status, 0, build.output);
  const result = run('ctest', ['--test-dir', buildDir, '--output-on-failure', '-V', '-R', '^data_without_(png|jpeg)$']);
  assert.equal(result.status, 0, result.output);
  assert.match(result.output, /image format png: compiled in yes, available no \(\/nonexistent\/libpng16\.so\.16\): NETLENS_LIBPNG is set: \/nonexistent\/libpng16\.so\.16: cannot open/);
  assert.match(result.output, /image format jpeg: compiled in yes, available no \(libz\.so\.1\): libz\.so\.1 has no jpeg_std_error/);
  assert.equal(result.output.match(/image codec unavailable at run time: checking its error and the other format/g)?.length, 2);
  assert.equal(result.output.match(/data_test: all checks passed/g)?.length, 2);
});
