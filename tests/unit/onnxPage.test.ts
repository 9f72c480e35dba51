// The built ONNX model page in a plain browser, fed its recorded message logs (made from the
// golden small_cnn.onnx by onnxView): the layer table with shape sources, totals, the top
// predictions, and the error of a corrupt file. Needs dist/ (npm run build) and Debian's
// chromium; skips with the reason otherwise. The conversion itself is checked without a browser.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import { onnxMarkdown, onnxViewTable } from '../../extension/editor/onnxView';
import { buildLayerTable } from '../../extension/onnx/layers';
import { readOnnxFile } from '../../extension/onnx/model';
import { isToOnnxView, type OnnxViewTable, type ToOnnxView } from '../../webviews/onnx/protocol';
import { launchChromium, newWebviewPage, pageOrigin, pageSkipReason } from './webviewPage';

const repoRoot = path.resolve(__dirname, '..', '..');
const skipReason = pageSkipReason('onnx.dev.html');

test('the recorded log is what onnxView makes of the golden model, and it parses as page messages', () => {
  const log = JSON.parse(fs.readFileSync(path.join(repoRoot, 'webviews', 'onnx', 'fixtures', 'small_cnn.json'), 'utf8')) as ToOnnxView[];
  assert.ok(log.every(isToOnnxView));
  const recorded = log.find((m): m is { type: 'table'; table: OnnxViewTable } => m.type === 'table')!.table;
  // Rows from the model alone (no onnxruntime): same names, ops and parameters; shapes unknown here.
  const file = path.join(repoRoot, 'tests', 'unit', 'goldens', 'onnx', 'small_cnn.onnx');
  const fresh = onnxViewTable(buildLayerTable(readOnnxFile(file), 'small_cnn.onnx'));
  assert.deepEqual(fresh.rows.map((r) => [r.name, r.op, r.weights, r.bias]), recorded.rows.map((r) => [r.name, r.op, r.weights, r.bias]));
  assert.deepEqual(fresh.totals, recorded.totals);
  assert.match(onnxMarkdown(recorded), /\| 0 \| \/conv1\/Conv \| Conv \| \[1, 8, 32, 32\] \* \| 216 \| 8 \|/);
});

async function render(fixture: string): Promise<Record<string, unknown>> {
  const browser = await launchChromium();
  try {
    const { page, errors } = await newWebviewPage(browser);
    await page.goto(`${pageOrigin}/onnx.dev.html?fixture=fixtures/onnx/${fixture}`);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset['status'] ?? ''));
    if (fixture === 'small_cnn.json') await page.waitForFunction(() => document.body.dataset['predicted'] === 'yes');
    assert.deepEqual(errors, []);
    return await page.evaluate(() => ({
      status: document.body.dataset['status'] ?? '',
      title: document.getElementById('onnx-title')?.textContent ?? '',
      state: document.getElementById('onnx-state')?.textContent ?? '',
      stateHidden: document.getElementById('onnx-state')?.hidden ?? false,
      rows: Array.from(document.querySelectorAll('#onnx-layers tbody tr')).map((row) => Array.from(row.querySelectorAll('td')).map((c) => (c.textContent ?? '').trim())),
      runtimeShapes: document.querySelectorAll('#onnx-layers td.shape.runtime').length,
      totals: Array.from(document.querySelectorAll('#onnx-totals tr')).map((row) => (row.textContent ?? '').trim()),
      top: Array.from(document.querySelectorAll('#onnx-top tr')).map((row) => (row.textContent ?? '').trim()),
      tableHidden: (document.getElementById('onnx-layers') as HTMLTableElement | null)?.hidden ?? true,
    }));
  } finally {
    await browser.close();
  }
}

test('the ONNX page shows the layer table, totals and top predictions', { skip: skipReason, timeout: 60_000 }, async () => {
  const page = await render('small_cnn.json');
  assert.equal(page['status'], 'ready');
  assert.equal(page['title'], 'ONNX: small_cnn.onnx');
  assert.equal(page['stateHidden'], true);
  const rows = page['rows'] as string[][];
  assert.equal(rows.length, 15);
  assert.deepEqual(rows[0], ['0', '/conv1/Conv', 'Conv', '[1, 8, 32, 32]', '216', '8']);
  assert.deepEqual(rows[14], ['14', '/fc/Gemm', 'Gemm', '[1, 10]', '80', '10']);
  assert.equal(page['runtimeShapes'], 14);
  assert.ok((page['totals'] as string[]).includes('Total params1,046'), JSON.stringify(page['totals']));
  assert.deepEqual((page['top'] as string[])[0], 'class 341.0%');
});

test('the ONNX page shows why a corrupt file has no table', { skip: skipReason, timeout: 60_000 }, async () => {
  const page = await render('corrupt.json');
  assert.equal(page['status'], 'error');
  assert.match(String(page['state']), /broken\.onnx: the protobuf data is malformed/);
  assert.equal(page['tableHidden'], true);
});
