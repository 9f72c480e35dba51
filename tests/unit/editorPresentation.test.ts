// The words the editor shows (inlay hints, hovers, CodeLens, status bar, layers tree), built
// from hand-written reports so each rule reads as an example.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { FileReport, LayerReport, ModelReport } from '../../extension/analysis/reportTypes';
import {
  fileDiagnostics, groupDigits, hintColumn, hoverMarkdown, layerHints, modelAt, modelLenses, modelLensText, moduleDescription, moduleTree, statementHints, statusView,
} from '../../extension/editor/presentation';

const file = '/ws/net.py';

function layer(path: string, type: string, line: number, output: (number | string)[], params: number, macs: number | string, extra: Partial<LayerReport> = {}): LayerReport {
  return { path, type, file, line, output: [output], params, macs, ...extra };
}

function model(overrides: Partial<ModelReport> = {}): ModelReport {
  return {
    name: 'Net', entry: 'Net()', inputs: [[1, 3, 32, 32]], output: [[1, 10]],
    params: { total: 2_416, trainable: 2_416 }, macs: 1_234_567,
    layers: [
      layer('conv', 'Conv2d', 5, [1, 16, 32, 32], 448, 442_368),
      layer('pool', 'MaxPool2d', 6, [1, 16, 16, 16], 0, 0),
      layer('pool', 'MaxPool2d', 6, [1, 16, 8, 8], 0, 0),
      layer('head.fc', 'Linear', 7, [1, 10], 1_968, 1_960),
    ],
    memory: { params_bytes: 9_664, grads_bytes: 9_664, optimizer_bytes: 19_328, activations_bytes: 100_000, training_peak_bytes: 3 * 2 ** 20, inference_peak_bytes: 50_000 },
    diagnostics: [],
    line: 3,
    ...overrides,
  };
}

const report = (...models: ModelReport[]): FileReport => ({ file, models, diagnostics: [] });

describe('layer inlay hints', () => {
  test('one hint per constructing line: shape, then params when the layer has any', () => {
    assert.deepEqual(layerHints(report(model()), file, true), [
      { line: 5, text: '→ [1, 16, 32, 32] · 448 params' },
      { line: 6, text: '→ [1, 16, 16, 16] … [1, 16, 8, 8] (2 calls)' },
      { line: 7, text: '→ [1, 10] · 1.97 k params' },
    ]);
  });

  test('params can be turned off; a module called twice with one shape says ×2', () => {
    const twice = model({ layers: [layer('act', 'ReLU', 4, [1, 8], 0, 0), layer('act', 'ReLU', 4, [1, 8], 0, 0)] });
    assert.deepEqual(layerHints(report(twice), file, false), [{ line: 4, text: '→ [1, 8] ×2' }]);
  });

  test('symbolic dimensions are shown as the analyzer writes them', () => {
    const symbolic = model({ layers: [layer('conv', 'Conv2d', 5, ['N', 64, 'H/2', 'W/2'], 9_408, 'N·H·W·2352')] });
    assert.deepEqual(layerHints(report(symbolic), file, true), [{ line: 5, text: '→ [N, 64, H/2, W/2] · 9.41 k params' }]);
  });

  test('layers built in other files get no hints here', () => {
    const imported = model({ layers: [{ ...layer('conv', 'Conv2d', 5, [1, 2], 3, 4), file: '/ws/blocks.py' }] });
    assert.deepEqual(layerHints(report(imported), file, true), []);
  });

  test('a line reached by two models shows the first model\'s view only', () => {
    const small = model({ name: 'Small', layers: [layer('fc', 'Linear', 7, [1, 10], 110, 100)] });
    const big = model({ name: 'Big', layers: [layer('fc', 'Linear', 7, [64, 10], 110, 6_400)] });
    assert.deepEqual(layerHints(report(small, big), file, false), [{ line: 7, text: '→ [1, 10]' }]);
  });
});

describe('forward statement hints', () => {
  test('after each statement the report lists, except lines that already have a layer hint', () => {
    const withStatements = model({
      statements: [
        { file, line: 10, output: [[1, 16, 16, 16]] },
        { file, line: 11, output: [[1, 1024]] },
        { file, line: 7, output: [[1, 10]] },
      ],
    });
    assert.deepEqual(statementHints(report(withStatements), file, new Set([7])), [
      { line: 10, text: '→ [1, 16, 16, 16]' },
      { line: 11, text: '→ [1, 1024]' },
    ]);
  });

  test('no statements in the report, no hints', () => {
    assert.deepEqual(statementHints(report(model()), file), []);
  });
});

describe('hover', () => {
  test('type, shape, params and MACs, then the summary link', () => {
    assert.equal(hoverMarkdown(report(model()), file, 5, '[Open summary](command:x)'), [
      '**conv**: `Conv2d`  \nOutput: `[1, 16, 32, 32]`  \nParams: 448  \nMACs: 442,368',
      '[Open summary](command:x)',
    ].join('\n\n---\n\n'));
  });

  test('the arithmetic, the weight/bias split, the input and the memory kept for backward when reported', () => {
    const detailed = model({
      layers: [layer('conv', 'Conv2d', 5, [1, 64, 55, 55], 23_296, 70_276_800, {
        inputs: [[1, 3, 227, 227]],
        arithmetic: ['H: (227 − 11 + 2·0)/4 + 1 = 55', 'W: (227 − 11 + 2·0)/4 + 1 = 55'],
        parameters: [{ name: 'weight', shape: [64, 3, 11, 11] }, { name: 'bias', shape: [64] }],
        saved_bytes: 618_348,
      })],
    });
    assert.equal(hoverMarkdown(report(detailed), file, 5), [
      '**conv**: `Conv2d`',
      'Output: `[1, 3, 227, 227] → [1, 64, 55, 55]`',
      '```text\nH: (227 − 11 + 2·0)/4 + 1 = 55\nW: (227 − 11 + 2·0)/4 + 1 = 55\n```',
      'Params: 23,296 (weight [64, 3, 11, 11] = 23,232 + bias [64] = 64)',
      'MACs: 70,276,800',
      'Kept for backward: 603.86 KiB',
    ].join('  \n'));
  });

  test('memory kept for backward that is counted elsewhere is named, not shown as 0 B', () => {
    const memory = { ...model().memory, input_bytes: 12_288 };
    const saving = (saved: number[]) => model({
      memory,
      layers: [
        layer('conv', 'Conv2d', 5, [1, 16, 32, 32], 448, 442_368, { inputs: [[1, 3, 32, 32]], saved_bytes: saved[0] }),
        layer('bn', 'BatchNorm2d', 6, [1, 16, 32, 32], 32, 0, { inputs: [[1, 16, 32, 32]], saved_bytes: saved[1] }),
      ],
    });
    // The first layer reads the batch: the memory model counts it once, as the input.
    assert.match(hoverMarkdown(report(saving([0, 0])), file, 5) ?? '',
      /Kept for backward: its input, the batch itself \(counted once, as the input batch: 12\.00 KiB\)$/);
    // A later layer with nothing new: its tensors are counted where they are first kept.
    assert.match(hoverMarkdown(report(saving([0, 0])), file, 6) ?? '',
      /Kept for backward: nothing new \(what it needs is already counted: the input batch, or a tensor an earlier layer keeps\)$/);
    assert.match(hoverMarkdown(report(saving([0, 65_536])), file, 6) ?? '', /Kept for backward: 64\.00 KiB$/);
    // The model's hover lists the input batch in the breakdown the layer hover refers to.
    assert.match(hoverMarkdown(report(saving([0, 0])), file, 3) ?? '', /activations 97\.66 KiB, input batch 12\.00 KiB\)/);
  });

  test('a module called twice sums its MACs over the calls', () => {
    const twice = model({ layers: [layer('fc', 'Linear', 4, [1, 8], 72, 64), layer('fc', 'Linear', 4, [1, 8], 72, 64)] });
    assert.match(hoverMarkdown(report(twice), file, 4) ?? '', /MACs: 128 over 2 calls/);
  });

  test('the model\'s line: input and output, params, MACs and the training memory breakdown', () => {
    assert.equal(hoverMarkdown(report(model()), file, 3), [
      '**Net** `Net()`',
      'Input: `[1, 3, 32, 32]` → output `[1, 10]`',
      'Params: 2,416 (2,416 trainable)',
      'MACs: 1,234,567',
      'Training peak: 3.00 MiB (parameters 9.44 KiB, gradients 9.44 KiB, optimizer state 18.88 KiB, activations 97.66 KiB)',
      'Inference peak: 48.83 KiB',
    ].join('  \n'));
  });

  test('a forward statement shows its shape; other lines have no hover', () => {
    const withStatements = model({ statements: [{ file, line: 10, output: [[1, 16, 16, 16]] }] });
    assert.equal(hoverMarkdown(report(withStatements), file, 10), 'Shape: `[1, 16, 16, 16]`');
    assert.equal(hoverMarkdown(report(withStatements), file, 9), undefined);
  });
});

describe('CodeLens and status bar', () => {
  const context = { dtype: 'float32', optimizer: 'adam' };

  test('params, MACs, training memory at the batch, dtype and optimizer, and the GPU verdict', () => {
    assert.equal(modelLensText(model(), { ...context, gpuMemoryBytes: 8 * 2 ** 30 }),
      'Net: 2.42 k params · 1.23 M MACs · training 3.00 MiB at batch 1, float32, adam · fits the 8.00 GiB GPU');
    assert.equal(modelLensText(model(), { ...context, gpuMemoryBytes: 2 ** 20 }),
      'Net: ⚠ does not fit the 1.00 MiB GPU · 2.42 k params · 1.23 M MACs · training 3.00 MiB at batch 1, float32, adam');
  });

  test('a model that does not fit: a warning first, with the analyzer\'s largest batch that fits when known', () => {
    const gpu = { ...context, gpuMemoryBytes: 2 ** 20 };
    assert.equal(modelLensText(model(), gpu, 'Net', 12),
      'Net: ⚠ does not fit the 1.00 MiB GPU — largest batch that fits: 12 · 2.42 k params · 1.23 M MACs · training 3.00 MiB at batch 1, float32, adam');
    assert.match(modelLensText(model(), gpu, 'Net', 0), /^Net: ⚠ does not fit the 1\.00 MiB GPU — not even batch 1 fits · /);
    // A model that fits says so whatever the largest batch is.
    assert.match(modelLensText(model(), { ...context, gpuMemoryBytes: 2 ** 30 }, 'Net', 400), /· fits the 1\.00 GiB GPU$/);
    const [lens] = modelLenses(report(model()), file, 40, gpu);
    assert.deepEqual([lens?.index, lens?.label, lens?.overBudget], [0, 'Net', true]);
    assert.equal(modelLenses(report(model()), file, 40, { ...context, gpuMemoryBytes: 2 ** 30 })[0]?.overBudget, false);
  });

  test('no GPU known: no verdict; memory not computed: no memory; errors are counted', () => {
    const unmeasured = model({
      memory: { params_bytes: 0, grads_bytes: 0, optimizer_bytes: 0, activations_bytes: 0, training_peak_bytes: 0, inference_peak_bytes: 0 },
      diagnostics: [{ severity: 'error', message: 'x', file, line: 7, col: 0 }],
    });
    assert.equal(modelLensText(model(), context), 'Net: 2.42 k params · 1.23 M MACs · training 3.00 MiB at batch 1, float32, adam');
    assert.equal(modelLensText(unmeasured, context), 'Net: 2.42 k params · 1.23 M MACs · 1 shape error');
  });

  test('one lens per model of this file, on its line; models sharing a line are told apart by entry', () => {
    const lenses = (r: FileReport, lineCount = 40) => modelLenses(r, file, lineCount, context).map((lens) => [lens.line, lens.text.split(':')[0]]);
    assert.deepEqual(lenses(report(model({ line: 3 }))), [[3, 'Net']]);
    const small = model({ entry: 'small', line: 3 });
    const big = model({ entry: 'big', line: 3 });
    assert.deepEqual(lenses(report(small, big, model({ name: 'Head', entry: 'Head()', line: 20 }))), [[3, 'Net (small)'], [3, 'Net (big)'], [20, 'Head']]);
    assert.deepEqual(lenses(report(model({ line: 3, definedIn: '/ws/blocks.py' }), model({ line: undefined }), model({ line: 50 }))), [],
      'no lens for a class of another file, a model without a line, or a line past the end');
  });

  test('status bar: peak against the GPU, flagged when over', () => {
    const fits = statusView(model(), { ...context, gpuMemoryBytes: 2 ** 30 });
    assert.equal(fits.text, 'Net: 3.00 MiB / 1.00 GiB');
    assert.equal(fits.overBudget, false);
    assert.match(fits.tooltip, /training step at batch 1, float32, adam/);
    const over = statusView(model(), { ...context, gpuMemoryBytes: 2 ** 20 }, 3);
    assert.equal(over.overBudget, true);
    assert.equal(over.text, 'Net: 3.00 MiB / 1.00 MiB — does not fit');
    assert.match(over.tooltip, /Does not fit the 1\.00 MiB GPU: largest batch that fits: 3 \(netlens\.batch/);
    assert.doesNotMatch(fits.tooltip, /Does not fit/);
    assert.equal(statusView(model(), context).text, 'Net: 3.00 MiB');
  });

  test('the model under the cursor is the nearest one defined above it', () => {
    const first = model({ name: 'A', line: 3 });
    const second = model({ name: 'B', line: 20 });
    assert.equal(modelAt(report(first, second), file, 25)?.name, 'B');
    assert.equal(modelAt(report(first, second), file, 10)?.name, 'A');
    assert.equal(modelAt(report(first, second), file, 1)?.name, 'A');
  });
});

describe('layers tree', () => {
  test('containers from the paths, leaves with type and shape, params summed upwards once per module', () => {
    const nodes = moduleTree(model());
    assert.deepEqual(nodes.map((node) => [node.name, moduleDescription(node)]), [
      ['conv', 'Conv2d [1, 16, 32, 32] · 448 params'],
      ['pool', 'MaxPool2d [1, 16, 16, 16] ×2'],
      ['head', '1.97 k params'],
    ]);
    const head = nodes[2];
    assert.deepEqual(head?.children.map((node) => [node.path, moduleDescription(node), node.line]), [['head.fc', 'Linear [1, 10] · 1.97 k params', 7]]);
  });
});

describe('diagnostics', () => {
  test('file and model diagnostics of this file, each once', () => {
    const bug = { severity: 'error' as const, message: 'Linear expects 400 input features, gets 256 = 16×4×4.', file, line: 7, col: 8 };
    const first = model({ diagnostics: [bug] });
    const second = model({ name: 'Other', diagnostics: [bug, { ...bug, file: '/ws/other.py' }] });
    const withFileLevel: FileReport = { file, models: [first, second], diagnostics: [{ severity: 'info', message: 'import', file: '', line: 1, col: 0 }] };
    assert.deepEqual(fileDiagnostics(withFileLevel, file).map((diagnostic) => diagnostic.message), ['import', bug.message]);
  });
});

describe('number formatting', () => {
  test('digits are grouped by thousands like en-US', () => {
    for (const value of [0, 7, 999, 1_000, 61_706, 1_234_567, 11_689_512, -4_096, 1_814_083_944]) {
      assert.equal(groupDigits(value), value.toLocaleString('en-US'));
    }
  });
});

describe('hint placement', () => {
  test('after the code, before a trailing comment', () => {
    assert.deepEqual(hintColumn('        x = self.pool(x)   # 6 x 14 x 14'), { column: 24, beforeComment: true });
    assert.deepEqual(hintColumn('        self.fc1 = nn.Linear(400, 120)'), { column: 38, beforeComment: false });
  });

  test('a # inside a string is not a comment; a comment-only line keeps the end', () => {
    assert.deepEqual(hintColumn('        self.tag = "#1"  # the tag'), { column: 23, beforeComment: true });
    assert.deepEqual(hintColumn("        t = 'it\\'s #' + x"), { column: 25, beforeComment: false });
    assert.deepEqual(hintColumn('        s = """#""" + y'), { column: 23, beforeComment: false });
    assert.deepEqual(hintColumn('    # only a comment'), { column: 20, beforeComment: false });
  });
});
