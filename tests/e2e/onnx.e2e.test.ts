// A .onnx file in a real VS Code: it opens in the Netlens ONNX editor, which shows the layer table
// of the model exported by torch.onnx.export (the golden small_cnn.onnx) with its parameters and
// the shapes onnxruntime measured in the engine process; a truncated file shows a clear error.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import type { Frame } from 'playwright-core';

import { repoRoot, UI_TIMEOUT_MS, VsCodeSession, WORKBENCH_TIMEOUT_MS } from './harness';

let session: VsCodeSession;
let workspaceSource: string;

async function waitInFrame(frame: Frame, what: string, predicate: () => boolean, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
  await frame.waitForFunction(predicate, undefined, { timeout: timeoutMs }).catch((error: unknown) => {
    throw new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  });
}

/** Quick Open by name; the ONNX editor is a webview, so there is no text editor to wait for. */
async function openByName(name: string): Promise<void> {
  const widget = session.page.locator('.quick-input-widget');
  if (await widget.isVisible()) await session.page.keyboard.press('Escape');
  await session.page.keyboard.press('F1');
  const input = session.page.locator('.quick-input-widget input.input');
  await input.waitFor({ timeout: UI_TIMEOUT_MS });
  await input.fill(name);
  await session.page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: UI_TIMEOUT_MS });
  await session.page.keyboard.press('Enter');
  await session.page.locator(`.tabs-container .tab.active[aria-label^="${name}"]`).waitFor({ timeout: UI_TIMEOUT_MS });
}

before(async () => {
  workspaceSource = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-onnx-e2e-'));
  const golden = fs.readFileSync(path.join(repoRoot, 'tests', 'unit', 'goldens', 'onnx', 'small_cnn.onnx'));
  fs.writeFileSync(path.join(workspaceSource, 'small_cnn.onnx'), golden);
  fs.writeFileSync(path.join(workspaceSource, 'truncated.onnx'), golden.subarray(0, 2000));
  fs.copyFileSync(path.join(repoRoot, 'tests', 'native', 'fixtures', 'data', 'folder', 'cats', '0.png'), path.join(workspaceSource, 'cat.png'));
  session = await VsCodeSession.start({ name: 'onnx', workspaceSource });
}, { timeout: WORKBENCH_TIMEOUT_MS + 60_000 });

after(async () => {
  await session?.close();
  fs.rmSync(workspaceSource, { recursive: true, force: true });
});

test('a .onnx file opens in the ONNX editor with its layer table', { timeout: 240_000 }, async () => {
  await session.step('open-onnx', () => openByName('small_cnn.onnx'));
  const frame = await session.step('table', () => session.findWebviewFrame('#onnx-layers tbody tr', 60_000));
  // The table appears from the file at once; onnxruntime's shapes follow from the engine process.
  await session.step('runtime-shapes', () => waitInFrame(frame, 'shapes measured', () => document.querySelectorAll('#onnx-layers td.shape.runtime').length === 14, 90_000));
  const rows = await frame.$$eval('#onnx-layers tbody tr', (items) => items.map((row) => Array.from(row.querySelectorAll('td')).map((cell) => (cell.textContent ?? '').trim())));
  assert.equal(rows.length, 15);
  assert.deepEqual(rows[0], ['0', '/conv1/Conv', 'Conv', '[1, 8, 32, 32]', '216', '8']);
  assert.deepEqual(rows[7], ['7', '/Concat', 'Concat', '[1, 12, 16, 16]', '', '']);
  assert.deepEqual(rows[14], ['14', '/fc/Gemm', 'Gemm', '[1, 10]', '80', '10']);
  const totals = await frame.$$eval('#onnx-totals tr', (items) => items.map((row) => (row.textContent ?? '').trim()));
  assert.ok(totals.includes('Total params1,046'), JSON.stringify(totals));
  assert.match((await frame.textContent('#onnx-shape-note')) ?? '', /14 measured by onnxruntime/);
  await session.screenshot('onnx-table', 'onnx-editor');
});

test('"Run on an image…" shows top predictions and the activations panel with an occlusion map', { timeout: 240_000 }, async () => {
  const frame = await session.findWebviewFrame('#onnx-layers tbody tr', 30_000);
  await session.step('click-run', () => frame.click('#onnx-run'));
  // The web workbench's open dialog is a quick input taking a path.
  await session.step('pick-image', async () => {
    const input = session.page.locator('.quick-input-widget input.input');
    await input.waitFor({ timeout: UI_TIMEOUT_MS });
    // The dialog fills the input with its start folder (the workspace) asynchronously, so typing a
    // path races with it (seen: the start folder prefixed to the typed path). Pick the file from the
    // dialog's own list instead, as a user would.
    const row = session.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'cat.png' });
    await row.first().waitFor({ timeout: UI_TIMEOUT_MS });
    await row.first().click();
    // A click on a file accepts it in some builds and only selects it in others.
    if (await input.isVisible()) {
      await session.page.waitForFunction(() => ((document.querySelector('.quick-input-widget input.input') as HTMLInputElement | null)?.value ?? '').endsWith('cat.png'), undefined, { timeout: UI_TIMEOUT_MS }).catch(() => undefined);
      if (await input.isVisible()) await session.page.keyboard.press('Enter');
    }
  });
  await session.step('predictions', () => waitInFrame(frame, 'predictions shown', () => document.body.dataset['predicted'] === 'yes', 90_000));
  const top = await frame.$$eval('#onnx-top tr', (items) => items.map((row) => (row.textContent ?? '').trim()));
  assert.equal(top.length, 5);
  assert.match((await frame.textContent('#onnx-prediction-source')) ?? '', /cat\.png · onnxruntime CPU/);
  const inspector = await session.step('activations', () => session.findWebviewFrame('#inspector-layers canvas.maps', 90_000));
  const layers = await inspector.$$eval('canvas.maps', (items) => items.map((item) => (item as HTMLCanvasElement).dataset['layer'] ?? ''));
  assert.equal(layers.length, 15);
  assert.equal(layers[0], '/conv1/Conv');
  await session.step('occlusion', async () => {
    await waitInFrame(inspector, 'occlude enabled', () => !(document.getElementById('inspector-occlude') as HTMLButtonElement | null)?.disabled, 30_000);
    await inspector.click('#inspector-occlude');
    await waitInFrame(inspector, 'occlusion drawn', () => document.getElementById('inspector-occlusion')?.dataset['class'] !== undefined, 90_000);
  });
  await session.screenshot('onnx-activations', 'onnx-activations');
});

test('a truncated .onnx file gets a clear error, not a crash', { timeout: 120_000 }, async () => {
  await session.step('open-truncated', () => openByName('truncated.onnx'));
  const frame = await session.step('error', () => session.findWebviewFrame('body[data-status="error"] #onnx-state', 60_000));
  assert.match((await frame.textContent('#onnx-state')) ?? '', /truncated\.onnx: the protobuf data is malformed .*truncated or corrupt/);
  await session.screenshot('onnx-truncated');
});
