// The add-on loads in plain Node and describes this machine consistently.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { loadAddon, parseNativeEngineInfo } from '../../extension/engine/addon';
import { addonPath, buildConfiguration, expectedGpu, nvidiaDriverLoaded } from './support';

test('netlens.node loads and engineInfo() returns a complete report', () => {
  const info = loadAddon(addonPath()).engineInfo();
  const packageVersion = (require('../../package.json') as { version: string }).version;
  assert.equal(info.version, packageVersion);
  assert.ok(info.cpuThreads > 0, 'cpuThreads');
  assert.notEqual(info.cudnnStatus, '', 'cudnnStatus explains the cuDNN state');
});

test('the CUDA and cuDNN flags match what the build configured', (t) => {
  const configured = buildConfiguration();
  if (!configured) {
    t.skip('add-on not from native/build (NETLENS_ADDON_PATH set or no CMakeCache.txt)');
    return;
  }
  const info = loadAddon(addonPath()).engineInfo();
  assert.equal(info.cudaCompiled, configured.cuda, 'cudaCompiled vs NETLENS_BUILT_WITH_CUDA');
  assert.equal(info.cudnnCompiled, configured.cudnn, 'cudnnCompiled vs NETLENS_BUILT_WITH_CUDNN');
  if (!info.cudaCompiled) {
    assert.equal(info.runtimeVersion, 0);
    assert.match(info.gpuError, /not compiled in/);
    assert.match(info.cudnnStatus, /not compiled in/);
  } else {
    assert.ok(info.runtimeVersion >= 12000, `runtimeVersion ${info.runtimeVersion}`);
  }
});

test('GPU presence matches the machine, with a reason when absent', () => {
  const info = loadAddon(addonPath()).engineInfo();
  const expected = expectedGpu() ?? (info.cudaCompiled && nvidiaDriverLoaded());
  assert.equal(info.gpuPresent, expected, `gpuPresent (${info.gpuError || 'no error'})`);
  if (info.gpuPresent) {
    assert.ok(info.deviceCount > 0);
    assert.notEqual(info.deviceName, '');
    assert.match(info.computeCapability, /^\d+\.\d+$/);
    assert.ok(info.totalMemoryBytes > 0 && info.freeMemoryBytes <= info.totalMemoryBytes);
    assert.ok(info.driverVersion > 0);
    assert.equal(info.gpuError, '');
  } else {
    assert.notEqual(info.gpuError, '', 'gpuError says why there is no GPU');
    assert.equal(info.deviceName, '');
    assert.equal(info.totalMemoryBytes, 0);
    if (info.cudaCompiled && !nvidiaDriverLoaded()) {
      assert.equal(info.driverVersion, 0, 'no driver: driverVersion 0');
      assert.match(info.gpuError, /driver/i);
    }
  }
});

test('a cuDNN that loaded has a version; one that did not says why', () => {
  const info = loadAddon(addonPath()).engineInfo();
  if (info.cudnnAvailable) {
    assert.ok(info.cudnnCompiled);
    assert.match(info.cudnnVersion, /^9\.\d+\.\d+$/);
    assert.match(info.cudnnStatus, /loaded from /);
  } else {
    assert.match(info.cudnnStatus, /not compiled in|unavailable|does not match/);
  }
});

test('NETLENS_CUDNN_PATH pointing nowhere is reported, not fatal', async () => {
  // The loader runs once per process, so check it in a fresh one.
  const { spawnSync } = await import('node:child_process');
  const script = `const m={exports:{}};process.dlopen(m,${JSON.stringify(addonPath())});` +
    'process.stdout.write(JSON.stringify(m.exports.engineInfo()))';
  const result = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NETLENS_CUDNN_PATH: '/nonexistent/cudnn', CUDNN_ROOT: '', CUDA_HOME: '', CUDA_PATH: '' },
  });
  assert.equal(result.status, 0, result.stderr);
  const info = parseNativeEngineInfo(JSON.parse(result.stdout));
  if (info.cudnnCompiled && !info.cudnnAvailable) {
    assert.match(info.cudnnStatus, /NETLENS_CUDNN_PATH=\/nonexistent\/cudnn: does not exist/);
  } else if (info.cudnnCompiled) {
    // Found by a later step of the search (the build-time directory or the loader's path).
    assert.match(info.cudnnStatus, /loaded from /);
  }
});

test('loadAddon rejects a file that is not an add-on with the loader message', () => {
  assert.throws(() => loadAddon(__filename), /invalid ELF header|not a Netlens|file too short|cannot open/i);
  assert.throws(() => loadAddon('/nonexistent/netlens.node'), /cannot open shared object file|No such file/);
});

test('parseNativeEngineInfo names every wrong field', () => {
  assert.throws(() => parseNativeEngineInfo({ version: 1 }), /version is not a string.*gpuPresent is not a boolean/s);
  assert.throws(() => parseNativeEngineInfo(null), /returned null/);
});
