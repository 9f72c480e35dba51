// The analyzer against real PyTorch: every golden in tests/unit/goldens/models/ was written
// by scripts/goldens/make_model_goldens.py from forward hooks on leaf modules. For each one
// the analyzer must report the same parameter counts, output shapes and the whole leaf-layer
// call sequence (path, type, output shapes, own params) — without Python.
//
// Goldens of torchvision (or timm) files, and examples that import them, read that
// package's own source from .cache/pysrc/ (provisioned by scripts/fetch-python-sources.mjs);
// without it they are skipped and say so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { analyzeFile } from '../../extension/analysis/index';
import type { FileReport, InputSpec, ModelReport, ReportDim } from '../../extension/analysis/reportTypes';

const repoRoot = path.resolve(__dirname, '..', '..');
const goldensDir = path.join(__dirname, 'goldens', 'models');
const pysrcDir = path.join(repoRoot, '.cache', 'pysrc');

interface GoldenLayer {
  path: string;
  type: string;
  output: number[][];
  params: number;
}

interface Golden {
  file: string;
  entry: string;
  inputs: { shape: number[]; dtype: NonNullable<InputSpec['dtype']> }[];
  inputs_in_file: boolean;
  output: number[][];
  params: { total: number; trainable: number };
  layers: GoldenLayer[];
}

function loadGoldens(): { name: string; golden: Golden }[] {
  return fs.readdirSync(goldensDir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => ({
      name: name.slice(0, -'.json'.length),
      golden: JSON.parse(fs.readFileSync(path.join(goldensDir, name), 'utf8')) as Golden,
    }));
}

/**
 * Absolute path of the golden's model file, and whether it needs torchvision's source
 * (a torchvision file, or an example that imports torchvision). .cache/pysrc plays the
 * part of the user's site-packages.
 */
function locate(golden: Golden): { filePath: string; needsPackage?: string } {
  // "torchvision:models/resnet.py" (or "timm:models/resnet.py") names a file of that package.
  const packageFile = /^([A-Za-z_][A-Za-z0-9_]*):(.+)$/.exec(golden.file);
  if (packageFile) {
    const [, packageName, rel] = packageFile;
    return { filePath: path.join(pysrcDir, packageName, rel), needsPackage: packageName };
  }
  const filePath = path.join(repoRoot, golden.file);
  const imported = /^\s*(?:from|import)\s+(torchvision|timm)\b/m.exec(fs.readFileSync(filePath, 'utf8'));
  return { filePath, needsPackage: imported?.[1] };
}

function missingSources(packageName: string | undefined): string | undefined {
  if (!packageName || fs.existsSync(path.join(pysrcDir, packageName, '__init__.py'))) return undefined;
  return `${packageName} sources absent from .cache/pysrc: run node scripts/fetch-python-sources.mjs`;
}

function shapes(dims: ReportDim[][]): string {
  return JSON.stringify(dims);
}

function describeLayer(layer: { path: string; type: string; output: ReportDim[][]; params: number } | undefined): string {
  if (!layer) return '(none)';
  return `${layer.path || '(root)'} ${layer.type} output=${shapes(layer.output)} params=${layer.params}`;
}

function diagnosticsText(report: FileReport, model: ModelReport | undefined): string {
  const all = [...report.diagnostics, ...(model?.diagnostics ?? [])];
  if (all.length === 0) return '  (no diagnostics)';
  return all.slice(0, 8)
    .map((d) => `  ${d.severity} ${path.basename(d.file)}:${d.line}:${d.col} ${d.message}`)
    .join('\n');
}

/** Null when equal; otherwise a message naming the first differing layer with context. */
function firstLayerMismatch(expected: GoldenLayer[], actual: ModelReport['layers']): string | null {
  const count = Math.max(expected.length, actual.length);
  for (let i = 0; i < count; i++) {
    const want = expected[i];
    const got = actual[i];
    const same = want !== undefined && got !== undefined &&
      want.path === got.path && want.type === got.type &&
      shapes(want.output) === shapes(got.output) && want.params === got.params;
    if (!same) {
      const previous = i > 0 ? `\n  last matching layer #${i - 1}: ${describeLayer(expected[i - 1])}` : '';
      return `first mismatching layer #${i} (of ${expected.length} expected, ${actual.length} reported)` +
        `\n  expected: ${describeLayer(want)}\n  actual:   ${describeLayer(got)}${previous}`;
    }
  }
  return null;
}

const goldens = loadGoldens();

test('model goldens are present', () => {
  assert.ok(goldens.length > 0, `no goldens in ${goldensDir}: run python3 scripts/goldens/make_model_goldens.py`);
});

for (const { name, golden } of goldens) {
  test(`${name}: ${golden.file} ${golden.entry}`, { timeout: 120_000 }, async (t) => {
    const { filePath, needsPackage } = locate(golden);
    const missing = missingSources(needsPackage);
    if (missing) {
      t.skip(missing);
      return;
    }
    const source = fs.readFileSync(filePath, 'utf8');
    const report = await analyzeFile(filePath, source, {
      entry: golden.entry,
      inputs: golden.inputs.map((input) => ({ shape: input.shape, dtype: input.dtype })),
      sitePackages: needsPackage ? [pysrcDir] : [],
    });
    const model = report.models[0];
    const where = `${name} (${golden.file}, entry ${golden.entry})`;
    assert.ok(model, `${where}: no model reported\n${diagnosticsText(report, model)}`);

    const layerMismatch = firstLayerMismatch(golden.layers, model.layers);
    assert.equal(layerMismatch, null, `${where}: ${layerMismatch}\n${diagnosticsText(report, model)}`);
    assert.deepEqual(model.params, golden.params, `${where}: parameter counts differ`);
    assert.equal(shapes(model.output), shapes(golden.output), `${where}: model output shapes differ`);
  });
}

// Example files declare their own input (a `# netlens: input=` comment or a tensor passed
// to the model under __main__); the analyzer must find it without being told.
for (const { name, golden } of goldens.filter((g) => g.golden.inputs_in_file)) {
  test(`${name}: finds the input declared in ${golden.file}`, { timeout: 120_000 }, async (t) => {
    const { filePath, needsPackage } = locate(golden);
    const missing = missingSources(needsPackage);
    if (missing) {
      t.skip(missing);
      return;
    }
    const report = await analyzeFile(filePath, fs.readFileSync(filePath, 'utf8'), {
      entry: golden.entry,
      sitePackages: needsPackage ? [pysrcDir] : [],
    });
    const model = report.models[0];
    assert.ok(model, `${name}: no model reported\n${diagnosticsText(report, model)}`);
    assert.equal(shapes(model.inputs), shapes(golden.inputs.map((input) => input.shape)),
      `${name}: inputs found in the file differ`);
    assert.equal(shapes(model.output), shapes(golden.output), `${name}: output shapes differ`);
  });
}
