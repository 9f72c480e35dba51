// The extension shell in a real VS Code: it activates when a Python file opens, its engine
// process answers, and "Netlens: Show Engine Info" shows that answer in a notification and in the
// "Netlens Engine" webview, whose Restart button round-trips through the extension.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { loadAddon } from '../../extension/engine/addon';
import type { NativeEngineInfo } from '../../extension/engine/protocol';
import { repoRoot, VsCodeSession, WORKBENCH_TIMEOUT_MS } from './harness';

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
const extensionId = `${manifest.publisher}.${manifest.name}`;

let session: VsCodeSession;
/** What the add-on shipped in the installed VSIX reports when loaded directly in this process. */
let shippedAddonPath: string;
let addonReport: NativeEngineInfo;

before(async () => {
  session = await VsCodeSession.start({ name: 'shell' });
  shippedAddonPath = path.join(session.installedExtensionDir(extensionId), 'dist', 'native', 'netlens.node');
  addonReport = loadAddon(shippedAddonPath).engineInfo();
}, { timeout: WORKBENCH_TIMEOUT_MS + 60_000 });

after(async () => {
  await session?.close();
});

test('Netlens is not active before a Python file is opened', { timeout: 60_000 }, async () => {
  await session.step('no-channel-before-python', async () => {
    await session.runCommand('Output: Show Output Channels...');
    const channels = await session.quickPickLabels();
    await session.page.keyboard.press('Escape');
    assert.ok(channels.length > 0, 'the output channel list is empty');
    assert.ok(!channels.includes('Netlens'), `Netlens is already active: ${JSON.stringify(channels)}`);
  });
});

test('opening a .py file activates the extension and starts the engine', { timeout: 120_000 }, async () => {
  await session.step('open-python-file', () => session.openFile('lenet5.py'));
  await session.screenshot('lenet5-open');
  const log = await session.step('engine-ready-logged', () => session.readOutputChannel('Netlens', /engine ready: \{/, 90_000));
  assert.match(log, new RegExp(`"version":"${manifest.version.replace(/\./g, '\\.')}"`));
});

test('"Netlens: Show Engine Info" shows the engine\'s answer in a notification and the panel', { timeout: 120_000 }, async () => {
  await session.step('run-show-engine-info', () => session.runCommand('Netlens: Show Engine Info'));
  const notification = await session.step('notification', () => session.waitForNotification(`Netlens engine ${manifest.version}`, 60_000));
  if (addonReport.cudaCompiled) assert.match(notification, /CUDA \d+\.\d+/);
  else assert.match(notification, /CPU only \(CUDA not compiled in\)/);
  if (addonReport.cudaCompiled && !addonReport.gpuPresent) assert.match(notification, /no GPU/);
  if (addonReport.gpuPresent) assert.ok(notification.includes(addonReport.deviceName), notification);

  const frame = await session.step('panel', () => session.findWebviewFrame('#engine-version', 60_000));
  const cell = async (id: string) => ((await frame.textContent(`#${id}`)) ?? '').trim();
  await session.step('panel-values', async () => {
    assert.equal(await cell('engine-version'), manifest.version);
    assert.equal((await cell('engine-cuda')).startsWith('yes'), addonReport.cudaCompiled);
    assert.equal((await cell('engine-gpu')).startsWith('yes'), addonReport.gpuPresent);
    if (!addonReport.gpuPresent) assert.ok((await cell('engine-gpu')).includes(addonReport.gpuError), await cell('engine-gpu'));
    assert.ok((await cell('engine-cpu')).includes(`${addonReport.cpuThreads} threads`), await cell('engine-cpu'));
    // The engine ran the add-on from the installed VSIX, in a child process on code-server's Node.
    assert.equal(await cell('engine-addon'), shippedAddonPath);
    assert.match(await cell('engine-process'), new RegExp(`^pid \\d+, Node ${process.version.replace(/\./g, '\\.')}, N-API \\d+$`));
  });
  await session.screenshot('engine-info', 'engine-info');
});

test('the engine panel is a live webview: Restart starts a new engine process', { timeout: 120_000 }, async () => {
  const frame = await session.step('panel', () => session.findWebviewFrame('#engine-restart'));
  const pidOf = async () => /^pid (\d+)/.exec(((await frame.textContent('#engine-process')) ?? '').trim())?.[1];
  const before = await pidOf();
  assert.ok(before, 'the panel shows no engine pid');
  await session.step('restart', async () => {
    await frame.click('#engine-restart');
    await frame.waitForFunction(
      (oldPid) => {
        const text = document.querySelector('#engine-process')?.textContent ?? '';
        const pid = /^pid (\d+)/.exec(text.trim())?.[1];
        return pid !== undefined && pid !== oldPid;
      },
      before,
      { timeout: 60_000, polling: 200 },
    );
  });
  const afterPid = await pidOf();
  assert.notEqual(afterPid, before);
  assert.match((await frame.textContent('#engine-state')) ?? '', /\S/);
});
