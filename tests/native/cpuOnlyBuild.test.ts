// A machine without nvcc gets a CPU-only add-on that loads and says so. Builds one with cmake-js
// into a temp folder, with every PATH entry that holds nvcc removed (about 10 s on 2 cores).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { parseNativeEngineInfo } from '../../extension/engine/addon';
import { repoRoot } from './support';

test('a build with nvcc absent from PATH is CPU-only and loads', { timeout: 300_000 }, () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-cpu-only-'));
  try {
    const pathWithoutNvcc = (process.env['PATH'] ?? '')
      .split(path.delimiter)
      .filter((dir) => dir !== '' && !fs.existsSync(path.join(dir, 'nvcc')))
      .join(path.delimiter);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithoutNvcc };
    for (const name of ['CUDACXX', 'CUDA_PATH', 'NETLENS_CUDA']) delete env[name];

    const cmakeJs = path.join(repoRoot, 'node_modules', 'cmake-js', 'bin', 'cmake-js');
    const build = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', outDir], { cwd: repoRoot, env, encoding: 'utf8' });
    const log = `${build.stdout}\n${build.stderr}`;
    assert.equal(build.status, 0, log);
    assert.match(log, /Netlens: no CUDA compiler found/);
    assert.doesNotMatch(log, /warning:/i, 'our sources compile without warnings');

    const addon = path.join(outDir, 'Release', 'netlens.node');
    const script = `const m={exports:{}};process.dlopen(m,${JSON.stringify(addon)});process.stdout.write(JSON.stringify(m.exports.engineInfo()))`;
    const load = spawnSync(process.execPath, ['-e', script], { env, encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
    const info = parseNativeEngineInfo(JSON.parse(load.stdout));
    assert.equal(info.cudaCompiled, false);
    assert.equal(info.gpuPresent, false);
    assert.equal(info.runtimeVersion, 0);
    assert.match(info.gpuError, /CUDA backend not compiled in/);
    assert.equal(info.cudnnCompiled, false);
    assert.match(info.cudnnStatus, /not compiled in/);
    assert.equal(info.cudaExecutorAvailable, false);
    assert.equal(info.cudaExecutorStatus, 'the CUDA executor is not compiled in (CPU-only build)');
    // A training session on cuda is refused by the CPU-only add-on with that reason.
    const spec = JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2] }], nodes: [{ id: 'r', op: 'relu', inputs: ['x'], attrs: {} }], outputs: ['r'] });
    const session = `const m={exports:{}};process.dlopen(m,${JSON.stringify(addon)});try{new m.exports.Engine(${JSON.stringify(spec)},0,{device:'cuda'})}catch(e){process.stdout.write(e.message)}`;
    const refused = spawnSync(process.execPath, ['-e', session], { env, encoding: 'utf8' });
    assert.equal(refused.stdout, '--device cuda: the CUDA executor cannot run here (the CUDA executor is not compiled in (CPU-only build)); use --device cpu');
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
});
