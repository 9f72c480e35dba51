// What the report carries for the editor beyond the contract's fields, through the real
// catalog: certain quick fixes for size mismatches, the output-size arithmetic of each
// layer for hovers, and the input size solved from a layer's requirement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { analyzeFile } from '../../extension/analysis/index';
import type { DiagnosticReport, ModelReport } from '../../extension/analysis/reportTypes';

const repoRoot = path.resolve(__dirname, '..', '..');
const lenetFile = path.join(repoRoot, 'examples', 'lenet5.py');
const lenet = fs.readFileSync(lenetFile, 'utf8');

async function analyzeLenet(source: string): Promise<{ model: ModelReport; diagnostics: DiagnosticReport[] }> {
  const report = await analyzeFile(lenetFile, source, {});
  assert.equal(report.models.length, 1, JSON.stringify(report.diagnostics));
  const model = report.models[0];
  return { model, diagnostics: [...report.diagnostics, ...model.diagnostics] };
}

/** The text a fix replaces, read back from the source it was computed on. */
function replacedText(source: string, fix: NonNullable<DiagnosticReport['fix']>): string {
  const lines = source.split('\n');
  assert.equal(fix.line, fix.endLine);
  return lines[fix.line - 1].slice(fix.col, fix.endCol);
}

function applyFix(source: string, fix: NonNullable<DiagnosticReport['fix']>): string {
  const lines = source.split('\n');
  const line = lines[fix.line - 1];
  lines[fix.line - 1] = line.slice(0, fix.col) + fix.newText + line.slice(fix.endCol);
  return lines.join('\n');
}

test('a Linear in_features mismatch carries a fix that writes the computed feature count', async () => {
  const planted = lenet.replace('nn.Linear(16 * 5 * 5, 120)', 'nn.Linear(16 * 4 * 4, 120)');
  const { diagnostics } = await analyzeLenet(planted);
  const mismatch = diagnostics.find((d) => d.code === 'linear-in-features');
  assert.ok(mismatch, JSON.stringify(diagnostics));
  assert.match(mismatch.message, /Linear expects 256 input features, gets 400 = 16×5×5/);
  assert.ok(mismatch.fix);
  assert.equal(mismatch.fix.newText, '400');
  assert.equal(mismatch.fix.file, lenetFile);
  assert.equal(replacedText(planted, mismatch.fix), '16 * 4 * 4');
  assert.match(mismatch.fix.title, /in_features/);

  const fixed = await analyzeLenet(applyFix(planted, mismatch.fix));
  assert.deepEqual(fixed.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.deepEqual(fixed.model.output, [[1, 10]]);
});

test('a conv in_channels mismatch carries a fix that writes the channels the input has', async () => {
  const planted = lenet.replace('nn.Conv2d(6, 16, kernel_size=5)', 'nn.Conv2d(in_channels=8, out_channels=16, kernel_size=5)');
  const { diagnostics } = await analyzeLenet(planted);
  const mismatch = diagnostics.find((d) => d.code === 'conv-in-channels');
  assert.ok(mismatch?.fix, JSON.stringify(diagnostics));
  assert.equal(replacedText(planted, mismatch.fix), '8');
  assert.equal(mismatch.fix.newText, '6');
  const fixed = await analyzeLenet(applyFix(planted, mismatch.fix));
  assert.deepEqual(fixed.diagnostics.filter((d) => d.severity === 'error'), []);
});

test('no fix when the argument is not a literal or groups make the size uncertain', async () => {
  const fromVariable = lenet
    .replace('def __init__(self, num_classes=10):', 'def __init__(self, num_classes=10, features=256):')
    .replace('nn.Linear(16 * 5 * 5, 120)', 'nn.Linear(features, 120)');
  const variable = (await analyzeLenet(fromVariable)).diagnostics.find((d) => d.code === 'linear-in-features');
  assert.ok(variable, 'the mismatch is still reported');
  assert.equal(variable.fix, undefined);

  const grouped = lenet.replace('nn.Conv2d(6, 16, kernel_size=5)', 'nn.Conv2d(4, 16, kernel_size=5, groups=2)');
  const groupedMismatch = (await analyzeLenet(grouped)).diagnostics.find((d) => d.code === 'conv-in-channels');
  assert.ok(groupedMismatch, 'the mismatch is still reported');
  assert.equal(groupedMismatch.fix, undefined);
});

test('layers carry the output-size arithmetic of their catalog rule', async () => {
  const { model } = await analyzeLenet(lenet);
  const byPath = new Map(model.layers.map((l) => [l.path, l.arithmetic]));
  assert.deepEqual(byPath.get('conv1'), ['H: (32 − 5 + 2·0)/1 + 1 = 28', 'W: (32 − 5 + 2·0)/1 + 1 = 28']);
  assert.deepEqual(model.layers[1].arithmetic, ['H: (28 − 2 + 2·0)/2 + 1 = 14', 'W: (28 − 2 + 2·0)/2 + 1 = 14']);
  assert.deepEqual(model.layers[3].arithmetic, ['H: (10 − 2 + 2·0)/2 + 1 = 5', 'W: (10 − 2 + 2·0)/2 + 1 = 5']);
  // Linear has no size arithmetic to show.
  assert.equal(byPath.get('fc1'), undefined);
});

test('LeNet without any input: fc1 pins the flattened size, so the input is solved to 32×32', async () => {
  const withoutInput = lenet.replace('# netlens: input=(1, 1, 32, 32)', '').replace(/if __name__[\s\S]*$/, '');
  const { model, diagnostics } = await analyzeLenet(withoutInput);
  assert.deepEqual(model.inputs, [['N', 1, 32, 32]]);
  assert.deepEqual(model.output, [['N', 10]]);
  assert.deepEqual(model.layers.find((l) => l.path === 'fc1')?.inputs, [['N', 400]]);
  const solved = diagnostics.find((d) => d.code === 'input-solved');
  assert.equal(solved?.severity, 'info');
  assert.match(solved?.message ?? '', /H = 32, W = 32/);
  assert.equal(diagnostics.filter((d) => d.severity !== 'info').length, 0, JSON.stringify(diagnostics));
});
