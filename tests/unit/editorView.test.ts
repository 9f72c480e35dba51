// The editor view the analysis worker sends the host after each analysis: the hint table (all
// hints of the file, read for the visible lines only), the models without their layer lists,
// and the file's diagnostics. Built from hand-written reports.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { FileReport, LayerReport, ModelReport } from '../../extension/analysis/reportTypes';
import { editorView, hintTable, inlayHintsIn, transferablesOf } from '../../extension/editor/editorView';
import { layerHints, statementHints } from '../../extension/editor/presentation';

const file = '/ws/net.py';

function layer(path: string, line: number, output: number[], params: number): LayerReport {
  return { path, type: 'Conv2d', file, line, output: [output], params, macs: 0 };
}

function model(overrides: Partial<ModelReport> = {}): ModelReport {
  return {
    name: 'Net', entry: 'Net()', inputs: [[1, 3, 32, 32]], output: [[1, 10]],
    params: { total: 2_416, trainable: 2_416 }, macs: 1_234,
    layers: [layer('conv', 5, [1, 16, 32, 32], 448), layer('pool', 6, [1, 16, 16, 16], 0), layer('fc', 9, [1, 10], 1_968)],
    statements: [{ file, line: 9, output: [[1, 10]] }, { file, line: 12, output: [[1, 16, 16, 16]] }, { file, line: 13, output: [[1, 10]] }],
    memory: { params_bytes: 1, grads_bytes: 1, optimizer_bytes: 2, activations_bytes: 3, training_peak_bytes: 7, inference_peak_bytes: 4 },
    diagnostics: [{ severity: 'error', message: 'shape mismatch', file, line: 13, col: 8 }],
    line: 3,
    graph: { nodes: [], outputs: [] },
    ...overrides,
  };
}

const report: FileReport = { file, models: [model()], diagnostics: [{ severity: 'warning', message: 'unresolved import', file, line: 1, col: 0 }] };
const all = { layerShapes: true, forwardShapes: true, params: true };

describe('editor view', () => {
  test('every hint of the file, in line order, the layer entry first on a shared line', () => {
    const table = hintTable(report, file);
    assert.deepEqual([...table.lines], [5, 6, 9, 9, 12, 13]);
    assert.deepEqual([...table.kinds], [0, 0, 0, 1, 1, 1]);
    assert.deepEqual(table.params, [' · 448 params', '', ' · 1.97 k params', '', '', '']);
  });

  test('the visible lines with the chosen kinds: the same hints the report gives', () => {
    const table = hintTable(report, file);
    const layers = layerHints(report, file, true);
    assert.deepEqual(inlayHintsIn(table, 1, 100, all), [...layers, ...statementHints(report, file, new Set(layers.map((hint) => hint.line)))].sort((a, b) => a.line - b.line));
    assert.deepEqual(inlayHintsIn(table, 6, 12, all), [
      { line: 6, text: '→ [1, 16, 16, 16]' }, { line: 9, text: '→ [1, 10] · 1.97 k params' }, { line: 12, text: '→ [1, 16, 16, 16]' },
    ]);
    // Layer hints off: the forward statement on line 9 shows instead; params off: shapes only.
    assert.deepEqual(inlayHintsIn(table, 9, 9, { ...all, layerShapes: false }), [{ line: 9, text: '→ [1, 10]' }]);
    assert.deepEqual(inlayHintsIn(table, 5, 5, { ...all, params: false }), [{ line: 5, text: '→ [1, 16, 32, 32]' }]);
    assert.deepEqual(inlayHintsIn(table, 1, 100, { ...all, forwardShapes: false }).map((hint) => hint.line), [5, 6, 9]);
    assert.deepEqual(inlayHintsIn(table, 14, 100, all), []);
  });

  test('models without their layers, statements and graph; the file\'s diagnostics each once', () => {
    const view = editorView({ ...report, models: [model(), model({ entry: 'Net(2)', line: 20 })] }, file, 7);
    assert.equal(view.reportId, 7);
    assert.equal(view.file, file);
    const [headline] = view.models;
    assert.ok(headline && !('layers' in headline) && !('statements' in headline) && !('graph' in headline));
    assert.deepEqual(headline?.memory, model().memory);
    assert.deepEqual(view.diagnostics.map((diagnostic) => diagnostic.message), ['unresolved import', 'shape mismatch']);
    assert.equal(transferablesOf(view).length, 2);
  });

  test('a small view even for a large report: what crosses to the host grows with the hinted lines, not the layer calls', () => {
    const calls = Array.from({ length: 2_000 }, (_, index) => ({ ...layer(`blocks.${index % 50}.conv`, 5 + (index % 50), [8, 32, 64, 64], 9_216), inputs: [[8, 32, 64, 64]], arithmetic: ['H: (64 + 2·1 − 3)/1 + 1 = 64'] }));
    const big: FileReport = { file, models: [model({ layers: calls })], diagnostics: [] };
    const view = editorView(big, file, 1);
    assert.equal(view.hints.lines.length, 50 + 3);
    assert.ok(JSON.stringify(view).length * 20 < JSON.stringify(big).length, 'the view is a small fraction of the report');
  });
});
