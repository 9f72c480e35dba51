// EngineClient against the real engine host and add-on: hello, crash, restart, timeouts.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import * as fs from 'node:fs';

import { EngineClient, EngineError, type EngineClientOptions } from '../../extension/engine/client';
import { loadAddon } from '../../extension/engine/addon';
import { addonPath, bundledHost, hostSource, tsxExecArgv } from './support';

function client(overrides: Partial<EngineClientOptions> = {}): EngineClient {
  return new EngineClient({
    hostModule: hostSource,
    addonPath: addonPath(),
    execArgv: tsxExecArgv,
    env: { NETLENS_ENGINE_TEST: '1' },
    startTimeoutMs: 20_000,
    requestTimeoutMs: 10_000,
    ...overrides,
  });
}

async function rejection(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the promise to reject');
}

test('start() forks the host and returns the add-on hello', async () => {
  const engine = client();
  try {
    const hello = await engine.start();
    const direct = loadAddon(addonPath()).engineInfo();
    assert.equal(engine.state, 'running');
    assert.notEqual(hello.pid, process.pid, 'the add-on runs in a child process');
    assert.equal(hello.addonPath, addonPath());
    assert.equal(hello.version, direct.version);
    assert.equal(hello.cudaCompiled, direct.cudaCompiled);
    assert.equal(hello.gpuPresent, direct.gpuPresent);
    assert.equal(hello.deviceName, direct.deviceName);
    assert.equal(hello.totalMemoryBytes, direct.totalMemoryBytes);
    assert.equal(hello.nodeVersion, process.version);
    const again = await engine.hello();
    assert.equal(again.pid, hello.pid, 'hello is answered by the same process');
  } finally {
    await engine.dispose();
  }
  assert.equal(engine.state, 'disposed');
  await rejection(engine.hello());
});

test('concurrent start() calls share one process', async () => {
  const engine = client();
  try {
    const [first, second] = await Promise.all([engine.start(), engine.start()]);
    assert.equal(first.pid, second.pid);
  } finally {
    await engine.dispose();
  }
});

test('a crash fails pending requests with a clear error, and restart() recovers', async () => {
  const lines: string[] = [];
  const engine = client({ log: (line) => lines.push(line) });
  try {
    const before = await engine.start();
    const crashes: string[] = [];
    engine.onDidCrash((crash) => crashes.push(crash.message));

    const crashed = await rejection(engine.request('crashForTest', {}));
    assert.equal(crashed.code, 'crashed');
    assert.match(crashed.message, /engine process exited unexpectedly \(signal SIGABRT\)/);
    assert.equal(engine.state, 'crashed');
    assert.equal(engine.lastCrash?.signal, 'SIGABRT');
    assert.deepEqual(crashes, [crashed.message]);

    const notRunning = await rejection(engine.hello());
    assert.equal(notRunning.code, 'notRunning');
    assert.match(notRunning.message, /crashed|exited unexpectedly/);
    assert.match(notRunning.message, /Restart it/);

    const after = await engine.restart();
    assert.equal(engine.state, 'running');
    assert.notEqual(after.pid, before.pid, 'a new process');
    assert.equal(engine.lastCrash, undefined);
    assert.ok(lines.some((line) => line.includes('exited (signal SIGABRT)')), lines.join('\n'));
  } finally {
    await engine.dispose();
  }
});

test('crashForTest is refused unless NETLENS_ENGINE_TEST=1', async () => {
  const engine = client({ env: { NETLENS_ENGINE_TEST: '0' } });
  try {
    await engine.start();
    const refused = await rejection(engine.request('crashForTest', {}));
    assert.equal(refused.code, 'remote');
    assert.match(refused.message, /needs NETLENS_ENGINE_TEST=1/);
    assert.equal(engine.state, 'running');
  } finally {
    await engine.dispose();
  }
});

test('an add-on that cannot load is a clear start error', async () => {
  const engine = client({ addonPath: path.join(__dirname, 'no-such-dir', 'netlens.node') });
  try {
    const failed = await rejection(engine.start());
    assert.equal(failed.code, 'startFailed');
    assert.match(failed.message, /native add-on could not be loaded from .*no-such-dir.*cannot open shared object file/);
    assert.equal(engine.state, 'crashed');
  } finally {
    await engine.dispose();
  }
});

test('a host that cannot run is a clear start error with its stderr', async () => {
  const engine = client({ hostModule: path.join(__dirname, 'fixtures', 'missing-host.js') });
  try {
    const failed = await rejection(engine.start());
    assert.equal(failed.code, 'startFailed');
    assert.match(failed.message, /exited during start-up: .*exit code 1/);
    assert.ok(engine.lastCrash?.stderrTail.some((line) => line.includes('Cannot find module')));
  } finally {
    await engine.dispose();
  }
});

test('a request the engine never answers times out', async () => {
  const engine = client({ hostModule: path.join(__dirname, 'fixtures', 'silentHost.ts'), startTimeoutMs: 60_000, requestTimeoutMs: 300 });
  try {
    const failed = await rejection(engine.start());
    assert.equal(failed.code, 'timeout');
    assert.match(failed.message, /did not answer 'hello' within 300 ms/);
    assert.equal(engine.state, 'crashed', 'a host that cannot answer is not left running');
  } finally {
    await engine.dispose();
  }
});

test('the bundled host (dist/engineHost.js) answers hello like the source', async (t) => {
  if (!fs.existsSync(bundledHost)) {
    t.skip('dist/engineHost.js not built (npm run build)');
    return;
  }
  const engine = client({ hostModule: bundledHost, execArgv: [] });
  try {
    const hello = await engine.start();
    assert.equal(hello.version, loadAddon(addonPath()).engineInfo().version);
  } finally {
    await engine.dispose();
  }
});
