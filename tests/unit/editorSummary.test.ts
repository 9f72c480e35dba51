// The model summary (the torchinfo-like table of "Netlens: Show Model Summary" and its Markdown
// copy), and the fixture message logs the summary page is developed against.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import type { ModelReport } from '../../extension/analysis/reportTypes';
import { summaryMarkdown, summaryModel } from '../../extension/editor/summaryTable';
import { isFromSummaryView, isToSummaryView } from '../../webviews/summary/messages';

const file = '/ws/net.py';
const model: ModelReport = {
  name: 'Net', entry: 'Net()', inputs: [[2, 3, 8, 8]], output: [[2, 10]],
  params: { total: 1_000, trainable: 900 }, macs: 12_345,
  layers: [
    { path: 'features.0', type: 'Conv2d', file, line: 5, output: [[2, 4, 8, 8]], params: 112, macs: 13_824 },
    { path: 'features.1', type: 'ReLU', file, line: 6, output: [[2, 4, 8, 8]], params: 0, macs: 0 },
    { path: 'head', type: 'Linear', file: '/ws/blocks.py', line: 3, output: [[2, 10]], params: 888, macs: 'N·888' },
    { path: 'features.1', type: 'ReLU', file, line: 6, output: [[2, 4, 8, 8]], params: 0, macs: 0 },
  ],
  memory: { params_bytes: 4_000, grads_bytes: 3_600, optimizer_bytes: 7_200, activations_bytes: 2_048, training_peak_bytes: 16_848, inference_peak_bytes: 6_048 },
  diagnostics: [{ severity: 'error', message: 'Linear expects 256 input features, gets 128.', file, line: 7, col: 4 }],
};
const context = { dtype: 'float32', optimizer: 'adam', gpuMemoryBytes: 2 ** 30 };

describe('model summary', () => {
  test('rows follow the module hierarchy; leaves of this file link to their line', () => {
    const summary = summaryModel(model, file, context);
    assert.deepEqual(summary.rows, [
      { depth: 0, layer: 'features', output: '', params: '112', macs: '', line: undefined },
      { depth: 1, layer: '0 (Conv2d)', output: '[2, 4, 8, 8]', params: '112', macs: '13,824', line: 5 },
      { depth: 1, layer: '1 (ReLU)', output: '[2, 4, 8, 8] ×2', params: '—', macs: '0', line: 6 },
      { depth: 0, layer: 'head (Linear)', output: '[2, 10]', params: '888', macs: 'N·888', line: undefined },
    ]);
    assert.equal(summary.inputs, '[2, 3, 8, 8]');
    assert.deepEqual(summary.diagnostics, ['error: line 7: Linear expects 256 input features, gets 128.']);
  });

  test('totals: params, MACs, then the memory breakdown at the configured dtype and optimizer', () => {
    assert.deepEqual(summaryModel(model, file, context).totals.map((total) => `${total.label}: ${total.value}`), [
      'Total params: 1,000', 'Trainable params: 900', 'Non-trainable params: 100', 'Total MACs: 12,345',
      'Parameters: 3.91 KiB', 'Gradients: 3.52 KiB', 'Optimizer state (adam): 7.03 KiB', 'Activations kept for backward: 2.00 KiB',
      'Training peak (float32): 16.45 KiB', 'Inference peak: 5.91 KiB', 'GPU memory: 1.00 GiB',
    ]);
  });

  test('Markdown: a heading per model, the layer table with indentation, totals, diagnostics', () => {
    const markdown = summaryMarkdown(file, [summaryModel(model, file, context)]);
    const lines = markdown.split('\n');
    assert.equal(lines[0], '### Net (`Net()`, net.py)');
    assert.ok(lines.includes('| Layer | Output shape | Params | MACs |'));
    assert.ok(lines.includes('| \u00a0\u00a00 (Conv2d) | [2, 4, 8, 8] | 112 | 13,824 |'), markdown);
    assert.ok(lines.includes('| Training peak (float32) | 16.45 KiB |'), markdown);
    assert.ok(lines.includes('- error: line 7: Linear expects 256 input features, gets 128.'), markdown);
  });
});

describe('summary page messages', () => {
  test('the fixture logs are valid messages to the page', () => {
    const fixtures = path.resolve(__dirname, '..', '..', 'webviews', 'summary', 'fixtures');
    const logs = fs.readdirSync(fixtures).filter((name) => name.endsWith('.json'));
    assert.ok(logs.length >= 2);
    for (const log of logs) {
      const messages: unknown = JSON.parse(fs.readFileSync(path.join(fixtures, log), 'utf8'));
      assert.ok(Array.isArray(messages) && messages.length > 0, log);
      for (const message of messages) assert.ok(isToSummaryView(message), `${log}: ${JSON.stringify(message).slice(0, 80)}`);
    }
  });

  test('the page may only ask for what the extension handles', () => {
    assert.ok(isFromSummaryView({ type: 'ready' }));
    assert.ok(isFromSummaryView({ type: 'copyMarkdown' }));
    assert.ok(isFromSummaryView({ type: 'reveal', line: 3 }));
    assert.ok(!isFromSummaryView({ type: 'reveal', line: 0 }));
    assert.ok(!isFromSummaryView({ type: 'reveal', line: '3' }));
    assert.ok(!isFromSummaryView({ type: 'runShell' }));
  });
});
