// Training from the palette in a real VS Code: "Netlens: Train Model…" on examples/lenet5.py with
// the built-in data for one epoch (batch 4: 2,250 steps, long enough to watch), the
// dashboard's loss curve growing point by point while it runs, the run store on disk, a second
// run cancelled from its progress notification, "Netlens: Compare Runs" overlaying both (and
// exported as CSV through the save dialog), the dashboard hidden and shown again, and (from the
// CodeLens) a batch that does not fit refused with the largest one that does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import type { Frame } from 'playwright-core';

import { UI_TIMEOUT_MS, VsCodeSession, WORKBENCH_TIMEOUT_MS } from './harness';

let session: VsCodeSession;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

before(async () => {
  session = await VsCodeSession.start({ name: 'training' });
}, { timeout: WORKBENCH_TIMEOUT_MS + 60_000 });

after(async () => {
  await session?.close();
});

/** Clicks the row of the open quick pick whose label reads `label` (icons aside). */
async function pick(label: string): Promise<void> {
  // Match the label exactly: the first row's description mentions "batch" too.
  const exact = new RegExp(`^\\s*${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
  const row = session.page.locator('.quick-input-list .monaco-list-row')
    .filter({ has: session.page.locator('.label-name', { hasText: exact }) }).first();
  await row.waitFor({ timeout: UI_TIMEOUT_MS });
  await row.click();
}

/** Changes one setting of the Train menu through its input box. */
async function setPlanNumber(label: string, value: string): Promise<void> {
  await pick(label);
  const input = session.page.locator('.quick-input-widget input.input');
  await input.waitFor({ timeout: UI_TIMEOUT_MS });
  await input.fill(value);
  await session.page.keyboard.press('Enter');
  await session.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Start training' }).waitFor({ timeout: UI_TIMEOUT_MS });
}

interface RunRow {
  run: string;
  points: number;
  epochs: number;
  status: string;
}

async function runRows(frame: Frame): Promise<RunRow[]> {
  return frame.$$eval('#dash-runs tbody tr', (rows) => rows.map((row) => {
    const data = (row as HTMLElement).dataset;
    return { run: data['run'] ?? '', points: Number(data['points'] ?? 0), epochs: Number(data['epochs'] ?? 0), status: data['status'] ?? '' };
  }));
}

async function lossInk(frame: Frame): Promise<number> {
  return frame.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('#dash-loss canvas');
    if (!canvas) return 0;
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
    return painted;
  });
}

function runsDir(): string {
  return path.join(session.workspaceDir, '.netlens', 'runs');
}

function statusOf(run: string): string {
  const file = path.join(runsDir(), run, 'status.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { status: string }).status : 'none';
}

let firstRun = '';
let dashboard: Frame;

test('Train Model… from the palette: LeNet-5 on the built-in data, the curve grows point by point', { timeout: 300_000 }, async () => {
  await session.step('open-lenet5', () => session.openFile('lenet5.py'));
  await session.step('train-menu', async () => {
    await session.runCommand('Netlens: Train Model…', 60_000);
    await session.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Start training' }).waitFor({ timeout: 90_000 });
    await setPlanNumber('Batch', '4');
    await setPlanNumber('Epochs', '1');
    await pick('Start training');
  });
  dashboard = await session.step('dashboard-opens', () => session.findWebviewFrame('#dash-loss', 90_000));
  // Point counts seen while the run goes: each new chunk of steps the engine writes shows up.
  const seen = await session.step('curve-grows', async () => {
    const counts: number[] = [];
    const deadline = Date.now() + 180_000;
    for (;;) {
      const row = (await runRows(dashboard))[0];
      if (row && row.points > 0 && counts.at(-1) !== row.points) counts.push(row.points);
      if (row?.status === 'completed' || Date.now() > deadline) break;
      await sleep(100);
    }
    return counts;
  });
  const rows = await runRows(dashboard);
  assert.equal(rows.length, 1, JSON.stringify(rows));
  firstRun = rows[0]!.run;
  const final = rows[0]!.points;
  // 10,000 samples less a tenth held out for validation, four per step.
  assert.equal(final, 2250, JSON.stringify(rows));
  const during = seen.filter((count) => count > 0 && count < final);
  assert.ok(during.length >= 2, `the curve should grow while the run goes; point counts seen: ${JSON.stringify(seen)}`);
  assert.equal(rows[0]!.epochs, 1);
  assert.ok((await lossInk(dashboard)) > 2000, 'the loss canvas is blank');
  await session.step('finished-notification', () => session.waitForNotification(/LeNet5 trained for 1 epoch \(2250 steps/, 60_000));
  assert.equal(statusOf(firstRun), 'completed');
  const metrics = fs.readFileSync(path.join(runsDir(), firstRun, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { type: string });
  assert.equal(metrics.filter((event) => event.type === 'step').length, 2250);
  assert.deepEqual(metrics.map((event) => event.type).filter((type) => type !== 'step'), ['start', 'epoch', 'checkpoint', 'done']);
  const config = JSON.parse(fs.readFileSync(path.join(runsDir(), firstRun, 'config.json'), 'utf8')) as { batch: number; memory_check: { training_peak_bytes: number } };
  assert.equal(config.batch, 4);
  assert.ok(config.memory_check.training_peak_bytes > 0);
  const memory = ((await dashboard.textContent('#dash-runs tbody tr td.memory')) ?? '').trim();
  assert.match(memory, /^\d+\.\d\d [KMG]iB \/ \d+\.\d\d GiB$/);
  await session.screenshot('training-dashboard', 'training-dashboard');
});

test('a second run is cancelled from its progress notification', { timeout: 300_000 }, async () => {
  await session.step('open-lenet5-again', () => session.openFile('lenet5.py'));
  await session.step('train-again', async () => {
    await session.runCommand('Netlens: Train Model…', 60_000);
    // The plan is remembered per model: batch 4 from the first run.
    await session.page.locator('.quick-input-list .monaco-list-row', { hasText: 'batch 4 ·' }).waitFor({ timeout: 90_000 });
    await setPlanNumber('Epochs', '3');
    await pick('Start training');
  });
  const second = await session.step('second-run-shows', async () => {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const rows = await runRows(dashboard);
      const row = rows.find((r) => r.run !== firstRun);
      if (row && row.points > 50) return row.run;
      if (Date.now() > deadline) throw new Error(`the second run did not show up: ${JSON.stringify(rows)}`);
      await sleep(200);
    }
  });
  await session.step('cancel', async () => {
    const toast = session.page.locator('.notifications-toasts .notification-toast', { hasText: 'training LeNet5' });
    await toast.hover();
    await toast.locator('.monaco-button', { hasText: 'Cancel' }).click();
  });
  await session.step('cancelled-notification', () => session.waitForNotification(/training of LeNet5 cancelled after \d+ steps/, 60_000));
  await session.step('cancelled-in-dashboard', async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const row = (await runRows(dashboard)).find((r) => r.run === second);
      if (row?.status === 'cancelled') return;
      if (Date.now() > deadline) throw new Error(`status is ${row?.status}`);
      await sleep(200);
    }
  });
  assert.equal(statusOf(second), 'cancelled');
  const row = (await runRows(dashboard)).find((r) => r.run === second)!;
  assert.ok(row.points < 3 * 2250, `cancelled run has ${row.points} steps`);
  assert.ok(fs.readdirSync(path.join(runsDir(), second, 'checkpoints')).some((name) => /^step-\d+\.safetensors$/.test(name)), 'a checkpoint on cancel');
});

test('Compare Runs overlays the chosen runs', { timeout: 120_000 }, async () => {
  await session.step('compare', async () => {
    await session.runCommand('Netlens: Compare Runs');
    const rows = session.page.locator('.quick-input-list .monaco-list-row');
    await rows.first().waitFor({ timeout: UI_TIMEOUT_MS });
    // In a multi-select pick a click on a row toggles it; Enter accepts the checked ones.
    assert.equal(await rows.count(), 2);
    await rows.nth(0).click();
    await rows.nth(1).click();
    await session.page.locator('.quick-input-widget input.input').press('Enter');
  });
  await session.step('both-runs', async () => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rows = await runRows(dashboard);
      if (rows.length === 2 && rows.every((r) => r.points > 0)) return;
      if (Date.now() > deadline) throw new Error(`rows: ${JSON.stringify(rows)}`);
      await sleep(200);
    }
  });
  const points = Number(await dashboard.getAttribute('#dash-loss', 'data-points'));
  const rows = await runRows(dashboard);
  assert.equal(points, rows[0]!.points + rows[1]!.points);
  await session.screenshot('training-compare', 'training-compare');

  // Export CSV goes through the extension's save dialog (code-server's path input) to the workspace.
  await session.step('export-csv', async () => {
    await dashboard.click('#dash-csv');
    const input = session.page.locator('.quick-input-widget input.input');
    await input.waitFor({ timeout: UI_TIMEOUT_MS });
    await session.page.waitForFunction(() => /netlens-.*\.csv$/.test((document.querySelector('.quick-input-widget input.input') as HTMLInputElement | null)?.value ?? ''), undefined, { timeout: UI_TIMEOUT_MS });
    await input.press('Enter');
  });
  await session.step('csv-saved', () => session.waitForNotification(/Netlens: saved netlens-.*\.csv\./, 30_000));
  const csvName = fs.readdirSync(session.workspaceDir).find((name) => /^netlens-.*\.csv$/.test(name));
  assert.ok(csvName, 'no CSV in the workspace');
  const lines = fs.readFileSync(path.join(session.workspaceDir, csvName), 'utf8').trim().split('\n');
  const epochRows = rows.reduce((sum, row) => sum + row.epochs, 0);
  assert.equal(lines.length, 1 + points + epochRows);
  assert.equal(lines[0], 'run,kind,epoch,step,loss,lr,images_per_s,train_loss,train_acc,val_loss,val_acc');
});

test('the dashboard survives being hidden and shown again: same curves, same view settings', { timeout: 120_000 }, async () => {
  await dashboard.click('#dash-logy');
  const before = await runRows(dashboard);
  await session.step('hide', async () => {
    // Another editor opened in the dashboard's group hides it; its page is unloaded. A click on
    // the dashboard's tab makes that group the active one.
    await session.page.locator('.tabs-container .tab', { hasText: 'Netlens Training' }).click();
    await session.openFile('alexnet.py');
    await session.page.locator('.tabs-container .tab[aria-label="alexnet.py, Editor Group 2"]').waitFor({ timeout: UI_TIMEOUT_MS });
  });
  await session.step('show-again', async () => {
    await session.page.locator('.tabs-container .tab', { hasText: 'Netlens Training' }).click();
    dashboard = await session.findWebviewFrame('#dash-loss', 60_000);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rows = await runRows(dashboard).catch(() => []);
      if (JSON.stringify(rows) === JSON.stringify(before)) break;
      if (Date.now() > deadline) throw new Error(`restored rows ${JSON.stringify(rows)} differ from ${JSON.stringify(before)}`);
      await sleep(200);
    }
  });
  assert.equal(await dashboard.isChecked('#dash-logy'), true, 'log y kept over hide/restore');
  assert.ok((await lossInk(dashboard)) > 2000, 'the restored loss canvas is blank');
});

test('a batch that does not fit is refused with the numbers and the largest batch that fits', { timeout: 120_000 }, async () => {
  // lenet5.py is still the active editor of the first group.
  await session.step('back-to-lenet5', () => session.page.locator('.tabs-container .tab[aria-label="lenet5.py, Editor Group 1"]').click());
  await session.step('train-huge-batch', async () => {
    // This time from the CodeLens above the class: it passes the file and the model's entry.
    await session.page.locator('.editor-instance .monaco-editor .codelens-decoration a', { hasText: /^Train$/ }).first().click({ timeout: 60_000 });
    await session.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Start training' }).waitFor({ timeout: 90_000 });
    await setPlanNumber('Batch', '100000000');
    await pick('Start training');
  });
  const text = await session.step('refusal', () => session.waitForNotification(/needs about .* to train with batch 100000000 \(float32, momentum\), but this machine's memory \(cpu\) has .* The largest batch that fits is \d+\./, 90_000));
  assert.match(text, /^Netlens: LeNet5 needs about \d+\.\d\d [GT]iB/);
  const offer = session.page.locator('.notifications-toasts .monaco-button', { hasText: /^Train with batch \d+$/ });
  await offer.first().waitFor({ timeout: UI_TIMEOUT_MS });
  const offered = Number(/\d+/.exec((await offer.first().textContent()) ?? '')?.[0]);
  assert.ok(offered > 0 && offered < 100_000_000, `offered batch ${offered}`);
  assert.ok(text.includes(`The largest batch that fits is ${offered}.`), text);
});
