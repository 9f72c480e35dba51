// How the editor runs the analyzer: debounced per document, never answering with a stale
// version, per-model input shapes from the settings, unsaved buffers for imports, and the real
// analyzer in a worker thread on an example file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';

import { analyzeFile } from '../../extension/analysis/index';
import type { AnalyzeOptions, FileReport, ModelReport } from '../../extension/analysis/reportTypes';
import { analyzeOptionsFor, configuredInputs, runAnalysisJob, type AnalysisJob, type AnalysisSettings } from '../../extension/editor/analysisJob';
import { AnalysisScheduler } from '../../extension/editor/analysisScheduler';
import { AnalysisWorkerClient } from '../../extension/editor/analysisWorkerClient';
import { DocumentEditTracker } from '../../extension/editor/documentEdits';
import { inlayHintsIn, type EditorView } from '../../extension/editor/editorView';

const repoRoot = path.resolve(__dirname, '..', '..');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** The layer hint (shapes only) a view shows on a 1-based line. */
const layerHintOn = (view: EditorView, line: number) => inlayHintsIn(view.hints, line, line, { layerShapes: true, forwardShapes: false, params: false })[0];

describe('analysis scheduler', () => {
  test('edits inside the debounce window coalesce into one run of the newest version', async () => {
    const runs: string[] = [];
    const scheduler = new AnalysisScheduler<string, string>({ debounceMs: 30, run: async (job) => (runs.push(job), `report of ${job}`) });
    const copied: string[] = [];
    const first = scheduler.request('a.py', '1', () => (copied.push('v1'), 'v1'));
    const second = scheduler.request('a.py', '2', () => (copied.push('v2'), 'v2'));
    assert.equal(await first, undefined, 'a superseded version must not get a report');
    assert.equal(await second, 'report of v2');
    assert.deepEqual(runs, ['v2']);
    assert.deepEqual(copied, ['v2'], 'the document text is taken once, when the run starts');
    assert.equal(scheduler.latest('a.py', '2'), 'report of v2');
    assert.equal(scheduler.latest('a.py', '1'), undefined);
  });

  test('a result that arrives after a newer edit is dropped, not shown', async () => {
    const results: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((resolve) => { release = resolve; });
    const scheduler = new AnalysisScheduler<string, string>({
      debounceMs: 0,
      run: async (job) => {
        if (job === 'v1') await slow;
        return `report of ${job}`;
      },
      onResult: (_key, version, result) => results.push(`${version}: ${result}`),
    });
    const first = scheduler.request('a.py', '1', () => 'v1');
    await sleep(5);
    const second = scheduler.request('a.py', '2', () => 'v2');
    assert.equal(await second, 'report of v2');
    release();
    assert.equal(await first, undefined);
    await sleep(5);
    assert.deepEqual(results, ['2: report of v2']);
    assert.equal(scheduler.latest('a.py', '2'), 'report of v2');
  });

  test('the same version asked twice shares one run; documents are independent', async () => {
    let count = 0;
    const scheduler = new AnalysisScheduler<string, number>({ debounceMs: 5, run: async () => ++count });
    const [a, b, c] = await Promise.all([scheduler.request('a.py', '1', () => 'a'), scheduler.request('a.py', '1', () => 'a'), scheduler.request('b.py', '1', () => 'b')]);
    assert.equal(a, b);
    assert.notEqual(a, c);
    assert.equal(count, 2);
  });

  test('a failed run reports the error and resolves its waiters with nothing', async () => {
    const errors: string[] = [];
    const scheduler = new AnalysisScheduler<string, string>({
      debounceMs: 0,
      run: async () => { throw new Error('boom'); },
      onError: (key, _version, error) => errors.push(`${key}: ${(error as Error).message}`),
    });
    assert.equal(await scheduler.request('a.py', '1', () => 'x'), undefined);
    assert.deepEqual(errors, ['a.py: boom']);
  });
});

const settings: AnalysisSettings = { batch: 0, dtype: 'float32', optimizer: 'adam', pythonPath: [], inputShapes: {} };

describe('analysis job', () => {
  test('settings become analyzer options; unsaved buffers win over the disk', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-editor-'));
    const onDisk = path.join(dir, 'blocks.py');
    fs.writeFileSync(onDisk, 'saved = 1\n');
    const job: AnalysisJob = { file: path.join(dir, 'net.py'), source: '', settings: { ...settings, batch: 16, pythonPath: [dir] }, unsavedBuffers: {} };
    const options = analyzeOptionsFor(job, ['/site']);
    assert.equal(options.batch, 16);
    assert.equal(options.optimizer, 'adam');
    assert.deepEqual(options.pythonPath, [dir]);
    assert.deepEqual(options.sitePackages, ['/site']);
    assert.equal(options.readFile?.(onDisk), 'saved = 1\n');
    assert.equal(options.readFile?.(path.join(dir, 'missing.py')), undefined);
    const edited = analyzeOptionsFor({ ...job, unsavedBuffers: { [onDisk]: 'unsaved = 2\n' } }, []);
    assert.equal(edited.readFile?.(onDisk), 'unsaved = 2\n');
    assert.equal(analyzeOptionsFor({ ...job, settings }, []).batch, undefined, 'batch 0 keeps the file\'s own batch');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the engine's GPU reaches the memory estimate: its cuBLAS workspaces, not an assumed H100's", async () => {
    const file = path.join(repoRoot, 'examples', 'lenet5.py');
    const source = fs.readFileSync(file, 'utf8');
    const job: AnalysisJob = { file, source, settings, unsavedBuffers: {} };
    assert.equal(analyzeOptionsFor(job, []).gpu, undefined);
    const a100 = { name: 'NVIDIA A100-SXM4-80GB', computeCapability: '8.0' };
    assert.deepEqual(analyzeOptionsFor({ ...job, settings: { ...settings, gpu: a100 } }, []).gpu, a100);
    const memoryOn = async (gpu?: AnalysisSettings['gpu']) => {
      const options = analyzeOptionsFor({ ...job, settings: gpu ? { ...settings, gpu } : settings }, []);
      return (await analyzeFile(file, source, options)).models[0]?.memory;
    };
    const assumed = await memoryOn();
    const reported = await memoryOn(a100);
    assert.match(assumed?.cuda_device ?? '', /assumed/);
    assert.equal(reported?.cuda_device, 'NVIDIA A100-SXM4-80GB (sm 8.0)');
    // LeNet-5 runs GEMMs: sm 8.0 gets PyTorch's smaller default cuBLAS workspace than sm 9.0.
    assert.ok((reported?.cublas_workspace_bytes ?? 0) > 0 && (reported?.cublas_workspace_bytes ?? 0) < (assumed?.cublas_workspace_bytes ?? 0));
    assert.ok((reported?.training_peak_bytes ?? 0) < (assumed?.training_peak_bytes ?? 0));
  });

  test('configured input shapes are found by entry first, then by class name', () => {
    const shapes = { 'resnet18()': [{ shape: [2, 3, 64, 64] }], ResNet: [{ shape: [1, 3, 224, 224] }] };
    assert.deepEqual(configuredInputs({ name: 'ResNet', entry: 'resnet18()' }, shapes), [{ shape: [2, 3, 64, 64] }]);
    assert.deepEqual(configuredInputs({ name: 'ResNet', entry: 'resnet50()' }, shapes), [{ shape: [1, 3, 224, 224] }]);
    assert.equal(configuredInputs({ name: 'VGG', entry: 'VGG()' }, shapes), undefined);
  });

  test('a model with configured inputs is re-analyzed through its entry with them; others are kept', async () => {
    const calls: AnalyzeOptions[] = [];
    const modelNamed = (name: string, inputs: number[][], line?: number): ModelReport => ({
      name, entry: `${name}()`, inputs, output: [], params: { total: 0, trainable: 0 }, macs: 0, layers: [], diagnostics: [], line,
      memory: { params_bytes: 0, grads_bytes: 0, optimizer_bytes: 0, activations_bytes: 0, training_peak_bytes: 0, inference_peak_bytes: 0 },
    });
    const analyze = async (file: string, _source: string, options: AnalyzeOptions): Promise<FileReport> => {
      calls.push(options);
      if (options.entry) return { file, models: [modelNamed('A', options.inputs?.map((input) => input.shape as number[]) ?? [])], diagnostics: [] };
      return { file, models: [modelNamed('A', [[1, 1]], 3), modelNamed('B', [[1, 2]], 9)], diagnostics: [] };
    };
    const job: AnalysisJob = { file: '/ws/net.py', source: '', settings: { ...settings, inputShapes: { A: [{ shape: [4, 1] }] } }, unsavedBuffers: {} };
    const report = await runAnalysisJob(job, analyze);
    assert.deepEqual(report.models.map((model) => [model.name, model.inputs, model.line]), [['A', [[4, 1]], 3], ['B', [[1, 2]], 9]]);
    assert.deepEqual(calls.map((call) => [call.entry, call.inputs]), [[undefined, undefined], ['A()', [{ shape: [4, 1] }]]]);
  });
});

describe('analysis worker thread', () => {
  test('a missing worker bundle is a clear error, not a crash', async () => {
    const worker = new AnalysisWorkerClient({ script: path.join(os.tmpdir(), 'no-such-netlens-worker.js') });
    // Started ahead of any job (at activation): nothing to report yet; the first job says why.
    assert.doesNotThrow(() => worker.start());
    await assert.rejects(worker.analyze({ file: '/ws/net.py', source: '', settings, unsavedBuffers: {} }), /analysis worker .* is missing; build the extension/);
    await worker.dispose();
  });

  test('analyzes an example with the real analyzer, re-analyzes edits and applies input shapes', { timeout: 120_000 }, async () => {
    // The built bundle when there is one; else the TypeScript source, loaded through tsx's
    // require hook by a bootstrap file (a worker does not inherit the test's loader).
    let script = path.join(repoRoot, 'dist', 'analysisWorker.js');
    const bootstrapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-worker-'));
    if (!fs.existsSync(script)) {
      script = path.join(bootstrapDir, 'bootstrap.cjs');
      fs.writeFileSync(script, [
        `require(require.resolve('tsx/cjs/api', { paths: [${JSON.stringify(repoRoot)}] })).register();`,
        `require(${JSON.stringify(path.join(repoRoot, 'extension', 'editor', 'analysisWorker.ts'))});`,
      ].join('\n'));
    }
    const worker = new AnalysisWorkerClient({ script });
    // Started at activation: the warm-up runs until the first job, which ends it.
    worker.start();
    try {
      const file = path.join(repoRoot, 'examples', 'lenet5.py');
      const source = fs.readFileSync(file, 'utf8');
      const report = await worker.analyze({ file, source, settings, unsavedBuffers: {} });
      assert.deepEqual(layerHintOn(report, 14), { line: 14, text: '→ [1, 6, 28, 28]' });
      // The class is defined here: the model (and its CodeLens) sits on `class LeNet5`, not on `model = LeNet5()`.
      assert.equal(report.models[0]?.line, source.split('\n').indexOf('class LeNet5(nn.Module):') + 1);
      // Details are asked of the worker by the view's report id: hover, module tree, summary.
      const details = { file, reportId: report.reportId };
      const hover = await worker.query({ kind: 'hover', ...details, line: 14 });
      assert.ok(!hover.stale && hover.value?.includes('**conv1**: `Conv2d`') && hover.value.includes('Params: 156'), JSON.stringify(hover));
      const tree = await worker.query({ kind: 'moduleTree', ...details, model: 0 });
      assert.ok(!tree.stale && tree.value.some((node) => node.path === 'conv1' && node.type === 'Conv2d'), JSON.stringify(tree));
      const summary = await worker.query({ kind: 'summary', ...details, context: { dtype: 'float32', optimizer: 'adam' } });
      assert.ok(!summary.stale && summary.value.models[0]?.name === 'LeNet5' && summary.value.markdown.includes('| conv1 (Conv2d) |'), JSON.stringify(summary));

      // The largest batch that fits a GPU: the analyzer's training peak at that batch fits, one more does not.
      const peak = report.models[0]?.memory.training_peak_bytes ?? 0;
      const capacityBytes = 40 * peak;
      const largest = await worker.query({ kind: 'maxBatch', ...details, model: 0, capacityBytes });
      assert.ok(!largest.stale && largest.value !== undefined && largest.value > 1, JSON.stringify(largest));
      const peakAt = async (batch: number) => (await worker.analyze({ file, source, settings: { ...settings, batch }, unsavedBuffers: {} })).models[0]?.memory.training_peak_bytes ?? 0;
      assert.ok(await peakAt(largest.value) <= capacityBytes, 'the largest batch fits');
      assert.ok(await peakAt(largest.value + 1) > capacityBytes, 'one more sample does not');
      // Those analyses replaced the report the details were asked about: a query about it is stale.
      assert.deepEqual(await worker.query({ kind: 'hover', ...details, line: 14 }), { stale: true });

      // An unsaved edit: conv1 gets 8 output channels. The keystroke's notice comes first (it
      // bounds the worker's idle-time follow-ups by the debounce and is not answered).
      worker.noteEditing(file, 150);
      const edited = source.replace('nn.Conv2d(1, 6, kernel_size=5)', 'nn.Conv2d(1, 8, kernel_size=5)');
      const again = await worker.analyze({ file, source: edited, settings, unsavedBuffers: {} });
      assert.deepEqual(layerHintOn(again, 14), { line: 14, text: '→ [1, 8, 28, 28]' });
      // Jobs that carry their edit: the worker reparses incrementally from the text it holds, and
      // ignores an edit made from another text (the parser then diffs the whole texts).
      const narrow = source.indexOf('nn.Conv2d(1, 6') + 'nn.Conv2d(1, '.length;
      const tracker = new DocumentEditTracker();
      await worker.analyze({ file, source, settings, unsavedBuffers: {}, text: tracker.take(file) });
      const lines = source.slice(0, narrow).split('\n');
      tracker.record(file, [{ range: { start: { line: lines.length - 1, character: lines.at(-1)!.length }, end: { line: lines.length - 1, character: lines.at(-1)!.length + 1 } }, rangeOffset: narrow, rangeLength: 1, text: '4' }]);
      const narrowed = source.slice(0, narrow) + '4' + source.slice(narrow + 1);
      const incremental = await worker.analyze({ file, source: narrowed, settings, unsavedBuffers: {}, text: tracker.take(file) });
      assert.deepEqual(layerHintOn(incremental, 14), { line: 14, text: '→ [1, 4, 28, 28]' });
      const stale = { id: 1_000, edit: { baseId: 999, edit: { startIndex: 0, oldEndIndex: 0, newEndIndex: 0, startPosition: { row: 0, column: 0 }, oldEndPosition: { row: 0, column: 0 }, newEndPosition: { row: 0, column: 0 } } } };
      const restored = await worker.analyze({ file, source, settings, unsavedBuffers: {}, text: stale });
      assert.deepEqual(layerHintOn(restored, 14), { line: 14, text: '→ [1, 6, 28, 28]' });
      const batched = await worker.analyze({ file, source, settings: { ...settings, inputShapes: { LeNet5: [{ shape: [8, 1, 32, 32] }] } }, unsavedBuffers: {} });
      assert.deepEqual(batched.models[0]?.inputs, [[8, 1, 32, 32]]);
      assert.deepEqual(layerHintOn(batched, 17), { line: 17, text: '→ [8, 120]' });

      // An import edited but not saved: the unsaved buffer is what the model is built from.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-imports-'));
      try {
        fs.writeFileSync(path.join(dir, 'blocks.py'), 'import torch.nn as nn\nWIDTH = 8\ndef stem():\n    return nn.Conv2d(3, WIDTH, 3)\n');
        const net = path.join(dir, 'net.py');
        const netSource = 'import torch\nimport torch.nn as nn\nfrom blocks import stem\n\n# netlens: input=(1, 3, 16, 16)\nclass Net(nn.Module):\n' +
          '    def __init__(self):\n        super().__init__()\n        self.stem = stem()\n\n    def forward(self, x):\n        return self.stem(x)\n';
        fs.writeFileSync(net, netSource);
        const saved = await worker.analyze({ file: net, source: netSource, settings: { ...settings, pythonPath: [dir] }, unsavedBuffers: {} });
        assert.deepEqual(saved.models[0]?.output, [[1, 8, 14, 14]]);
        const unsaved = await worker.analyze({
          file: net, source: netSource, settings: { ...settings, pythonPath: [dir] },
          unsavedBuffers: { [path.join(dir, 'blocks.py')]: 'import torch.nn as nn\nWIDTH = 12\ndef stem():\n    return nn.Conv2d(3, WIDTH, 3)\n' },
        });
        assert.deepEqual(unsaved.models[0]?.output, [[1, 12, 14, 14]]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    } finally {
      await worker.dispose();
      fs.rmSync(bootstrapDir, { recursive: true, force: true });
    }
  });
});
