// The built "Netlens Summary" page in a plain browser, fed its fixture message logs: the table,
// the totals, the layer links and the copy button, checked without VS Code. Needs dist/ (npm run
// build) and Debian's chromium; skips with the reason otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { launchChromium, newWebviewPage, pageOrigin, pageSkipReason } from './webviewPage';

const skipReason = pageSkipReason('summary.dev.html');

interface RenderedSummary {
  status: string;
  title: string;
  state: string;
  stateHidden: boolean;
  rows: string[][];
  links: string[];
  totals: string[];
  copyDisabled: boolean;
}

async function renderFixture(fixture: string): Promise<RenderedSummary> {
  const browser = await launchChromium();
  try {
    const { page, errors } = await newWebviewPage(browser);
    await page.goto(`${pageOrigin}/summary.dev.html?fixture=fixtures/summary/${fixture}`);
    await page.waitForFunction(() => ['ready', 'empty'].includes(document.body.dataset['status'] ?? ''));
    assert.deepEqual(errors, []);
    return await page.evaluate(() => ({
      status: document.body.dataset['status'] ?? '',
      title: document.getElementById('summary-title')?.textContent ?? '',
      state: document.getElementById('summary-state')?.textContent ?? '',
      stateHidden: document.getElementById('summary-state')?.hidden ?? false,
      rows: Array.from(document.querySelectorAll('#summary-layers-0 tbody tr')).map((row) =>
        Array.from(row.querySelectorAll('td')).map((cell) => (cell.textContent ?? '').trim())),
      links: Array.from(document.querySelectorAll('#summary-layers-0 a')).map((link) => (link as HTMLAnchorElement).title),
      totals: Array.from(document.querySelectorAll('.totals tr')).map((row) => (row.textContent ?? '').trim()),
      copyDisabled: (document.getElementById('summary-copy') as HTMLButtonElement | null)?.disabled ?? false,
    }));
  } finally {
    await browser.close();
  }
}

test('the summary page renders LeNet-5 as a table with totals and line links', { skip: skipReason, timeout: 60_000 }, async () => {
  const page = await renderFixture('lenet5.json');
  assert.equal(page.status, 'ready');
  assert.equal(page.title, 'Netlens Summary: lenet5.py');
  assert.equal(page.stateHidden, true);
  assert.deepEqual(page.rows[0], ['conv1 (Conv2d)', '[1, 6, 28, 28]', '156', '117,600']);
  assert.deepEqual(page.rows[1], ['pool (AvgPool2d)', '[1, 6, 14, 14] ×2', '—', '0']);
  assert.equal(page.rows.length, 6);
  assert.deepEqual(page.links, ['Go to line 14', 'Go to line 15', 'Go to line 16', 'Go to line 17', 'Go to line 18', 'Go to line 19']);
  assert.ok(page.totals.includes('Total params61,706'), JSON.stringify(page.totals));
  // Outside VS Code there is no clipboard bridge: the button stays off rather than failing.
  assert.equal(page.copyDisabled, true);
});

test('the summary page says why there is no table', { skip: skipReason, timeout: 60_000 }, async () => {
  const page = await renderFixture('no-models.json');
  assert.equal(page.status, 'empty');
  assert.match(page.state, /No nn\.Module model found/);
  assert.deepEqual(page.rows, []);
});
