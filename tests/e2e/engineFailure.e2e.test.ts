// When the native engine cannot start, the extension still activates, says why once in a clear
// message, and "Show Engine Info" shows the reason instead of a table. The add-on here is a file
// that is not a shared library, handed to the extension through NETLENS_ADDON_PATH, so the engine
// process really tries to load it and fails the way a broken or foreign build would.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { VsCodeSession, WORKBENCH_TIMEOUT_MS } from './harness';

let session: VsCodeSession;
let brokenAddonDir: string;
let brokenAddon: string;

before(async () => {
  brokenAddonDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-broken-addon-'));
  brokenAddon = path.join(brokenAddonDir, 'netlens.node');
  fs.writeFileSync(brokenAddon, 'this is not a shared library\n');
  session = await VsCodeSession.start({ name: 'engine-failure', env: { NETLENS_ADDON_PATH: brokenAddon } });
}, { timeout: WORKBENCH_TIMEOUT_MS + 60_000 });

after(async () => {
  await session?.close();
  if (brokenAddonDir) fs.rmSync(brokenAddonDir, { recursive: true, force: true });
});

test('the extension activates and says once, clearly, why the engine could not start', { timeout: 120_000 }, async () => {
  await session.step('open-python-file', () => session.openFile('lenet5.py'));
  const warning = await session.step('startup-warning', () => session.waitForNotification('Netlens engine could not start', 90_000));
  assert.ok(warning.includes(brokenAddon), `the message does not name the add-on: ${warning}`);
  assert.match(warning, /Analysis still works\.$/);
  await session.screenshot('engine-failed');
  const log = await session.step('logged', () => session.readOutputChannel('Netlens', /engine could not start/, 30_000));
  assert.match(log, /invalid ELF header|file too short|not a dynamic/i);
});

test('"Show Engine Info" shows the failure in the notification and the panel', { timeout: 120_000 }, async () => {
  await session.step('run-show-engine-info', () => session.runCommand('Netlens: Show Engine Info'));
  const notification = await session.step('notification', () => session.waitForNotification('Netlens engine unavailable:', 60_000));
  assert.ok(notification.includes(brokenAddon), notification);

  const frame = await session.step('panel', () => session.findWebviewFrame('#engine-error'));
  await session.step('panel-shows-failure', async () => {
    await frame.waitForSelector('#engine-error:not([hidden])', { timeout: 30_000 });
    assert.equal((await frame.textContent('#engine-state'))?.trim(), 'The engine could not start');
    assert.ok(((await frame.textContent('#engine-error')) ?? '').includes(brokenAddon));
    assert.equal(await frame.$$eval('#engine-table tr', (rows) => rows.length), 0, 'a failed engine must not show a table');
  });
  await session.screenshot('engine-failed-panel');
});
