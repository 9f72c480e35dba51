// The built training dashboard in a plain browser, fed a recorded message log (two real
// `netlens train` runs of a small CNN, tailed from their run store by RunsTail and
// readDashboardRun, in the chunks the engine writes): the run list, point counts, curves drawn
// on the canvases, toggling a run, the view toggles, CSV and PNG export, and settings kept
// over a reload (the page's hide/restore path). Needs dist/ (npm run build) and Debian's
// chromium; skips with the reason otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { Browser, Page } from 'playwright-core';

import { launchChromium, newWebviewPage, pageOrigin, pageSkipReason } from './webviewPage';

const skipReason = pageSkipReason('training.dev.html');

interface Opened {
  browser: Browser;
  page: Page;
  errors: string[];
  posted: string[];
}

async function open(fixture: string): Promise<Opened> {
  const browser = await launchChromium();
  const { page, errors } = await newWebviewPage(browser, { viewport: { width: 1000, height: 900 } });
  const posted: string[] = [];
  // Outside VS Code the page logs what it would post; the second argument is the message.
  page.on('console', async (message) => {
    if (!message.text().startsWith('[netlens webview] would post')) return;
    const value = await message.args()[1]?.jsonValue().catch(() => undefined);
    posted.push(JSON.stringify(value));
  });
  await page.goto(`${pageOrigin}/training.dev.html?fixture=fixtures/training/${fixture}`);
  await page.waitForFunction(() => ['ready', 'empty'].includes(document.body.dataset['status'] ?? ''));
  return { browser, page, errors, posted };
}

/** Run rows and the number of painted pixels of each chart's canvas (uPlot's canvas is transparent where nothing is drawn). */
async function snapshot(page: Page): Promise<{ rows: { run: string; points: string; epochs: string; cells: string[] }[]; lossPoints: string; accPoints: string; lossInk: number; accInk: number }> {
  return page.evaluate(() => {
    // No named helpers inside evaluate: tsx would wrap them in a __name() the page does not have.
    const [lossInk, accInk] = ['dash-loss', 'dash-acc'].map((id) => {
      const canvas = document.querySelector<HTMLCanvasElement>(`#${id} canvas`);
      if (!canvas) return 0;
      const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      let painted = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
      return painted;
    });
    return {
      rows: Array.from(document.querySelectorAll<HTMLTableRowElement>('#dash-runs tbody tr')).map((row) => ({
        run: row.dataset['run'] ?? '', points: row.dataset['points'] ?? '', epochs: row.dataset['epochs'] ?? '',
        cells: Array.from(row.cells).map((c) => (c.textContent ?? '').trim()),
      })),
      lossPoints: document.getElementById('dash-loss')?.dataset['points'] ?? '',
      accPoints: document.getElementById('dash-acc')?.dataset['points'] ?? '',
      lossInk: lossInk ?? 0,
      accInk: accInk ?? 0,
    };
  });
}

/** Both charts and the run list (rebuilt a few times a second) show every point of the log. */
async function settled(page: Page, lossPoints: string): Promise<void> {
  await page.waitForFunction((points) => document.getElementById('dash-loss')?.dataset['points'] === points &&
    Array.from(document.querySelectorAll<HTMLTableRowElement>('#dash-runs tbody tr')).reduce((sum, row) => sum + (row.classList.contains('hidden-run') ? 0 : Number(row.dataset['points'])), 0) === Number(points), lossPoints);
}

async function nextFrames(page: Page): Promise<void> {
  await page.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => requestAnimationFrame(() => resolve()))));
}

test('two recorded runs: run list, point counts and both charts drawn', { skip: skipReason, timeout: 60_000 }, async () => {
  const { browser, page, errors } = await open('two-runs.json');
  try {
    await settled(page, '840');
    const shot = await snapshot(page);
    assert.deepEqual(errors, []);
    assert.deepEqual(shot.rows.map((r) => [r.run, r.points, r.epochs]), [['20261127-110436', '420', '3'], ['20261127-110454', '420', '3']]);
    assert.match(shot.rows[0]!.cells[0]!, /^TinyNet · 20261127-110436tiny\.py · batch 64 · adam lr 0\.003 · 3 epochs · shapes32 · cpu$/);
    assert.equal(shot.rows[0]!.cells[1], 'completed');
    assert.equal(shot.rows[0]!.cells[2], '420');
    assert.match(shot.rows[0]!.cells[4]!, /^\d+\.\d%$/, 'validation accuracy of the last epoch');
    assert.match(shot.rows[0]!.cells[5]!, /^\d+\.\d$/, 'images/s');
    assert.equal(shot.accPoints, '6');
    assert.ok(shot.lossInk > 5000, `loss canvas painted pixels: ${shot.lossInk}`);
    assert.ok(shot.accInk > 1000, `accuracy canvas painted pixels: ${shot.accInk}`);
  } finally {
    await browser.close();
  }
});

test('toggling a run off removes its curves; log axes and the lr overlay redraw without errors', { skip: skipReason, timeout: 60_000 }, async () => {
  const { browser, page, errors } = await open('two-runs.json');
  try {
    await settled(page, '840');
    const before = await snapshot(page);
    await page.locator('#dash-runs tbody tr').nth(1).locator('input[type=checkbox]').uncheck();
    await settled(page, '420');
    const after = await snapshot(page);
    assert.equal(after.rows.length, 2, 'a hidden run stays in the list');
    assert.ok(after.lossInk < before.lossInk, `fewer painted pixels with one run: ${after.lossInk} vs ${before.lossInk}`);
    for (const id of ['#dash-logx', '#dash-logy', '#dash-lr']) {
      await page.locator(id).click();
      await nextFrames(page);
      const shot = await snapshot(page);
      assert.ok(shot.lossInk > 3000, `${id}: loss canvas painted pixels ${shot.lossInk}`);
    }
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});

test('CSV and PNG export post the file for the extension to save', { skip: skipReason, timeout: 60_000 }, async () => {
  const { browser, page, posted } = await open('two-runs.json');
  try {
    await settled(page, '840');
    await page.locator('#dash-csv').click();
    await page.locator('#dash-png').click();
    await page.waitForFunction(() => true);
    const deadline = Date.now() + 5000;
    while (posted.filter((p) => p.includes('"save"')).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const csv = JSON.parse(posted.find((p) => p.includes('"csv"'))!) as { text: string; suggestedName: string };
    const lines = csv.text.trim().split('\n');
    assert.equal(lines[0], 'run,kind,epoch,step,loss,lr,images_per_s,train_loss,train_acc,val_loss,val_acc');
    assert.equal(lines.length, 1 + 2 * (420 + 3));
    assert.match(lines[1]!, /^20261127-110436,step,1,1,2\.40\d+,0\.003,\d/);
    assert.equal(csv.suggestedName, 'netlens-20261127-110436_20261127-110454.csv');
    const png = JSON.parse(posted.find((p) => p.includes('"png"'))!) as { dataUrl: string };
    const bytes = Buffer.from(png.dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64');
    assert.equal(bytes.subarray(1, 4).toString('latin1'), 'PNG');
    assert.ok(bytes.length > 10_000, `png of ${bytes.length} bytes`);
  } finally {
    await browser.close();
  }
});

test('view settings survive a reload (the hide/restore path)', { skip: skipReason, timeout: 60_000 }, async () => {
  const { browser, page } = await open('two-runs.json');
  try {
    await page.locator('#dash-smoothing').fill('0.9');
    await page.locator('#dash-logy').check();
    await page.locator('#dash-runs tbody tr').nth(0).locator('input[type=checkbox]').uncheck();
    await page.reload();
    await settled(page, '420');
    const restored = await page.evaluate(() => ({
      smoothing: (document.getElementById('dash-smoothing') as HTMLInputElement).value,
      logY: (document.getElementById('dash-logy') as HTMLInputElement).checked,
      firstShown: (document.querySelector('#dash-runs tbody tr input') as HTMLInputElement).checked,
    }));
    assert.deepEqual(restored, { smoothing: '0.9', logY: true, firstShown: false });
  } finally {
    await browser.close();
  }
});

test('no runs: the page says how to start one', { skip: skipReason, timeout: 60_000 }, async () => {
  const { browser, page, errors } = await open('no-runs.json');
  try {
    const state = await page.evaluate(() => ({ status: document.body.dataset['status'], text: document.getElementById('dash-state')?.textContent ?? '', charts: document.querySelectorAll('canvas').length }));
    assert.equal(state.status, 'empty');
    assert.match(state.text, /Netlens: Train Model/);
    assert.equal(state.charts, 0);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
});
