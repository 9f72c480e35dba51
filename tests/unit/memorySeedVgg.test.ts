// The seed's VGG-16 table (per-layer activations and weights at 224×224) reproduced by the
// analyzer's per-layer breakdown of examples/vgg16.py; the seed's slips are named, and each claim
// about them is checked here so docs/MEMORY.md cannot drift from what the analyzer computes.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, describe, test } from 'node:test';

import type { ModelReport } from '../../extension/analysis/reportTypes';
import { analyzeExampleVgg16, reproduceSeedVgg, SEED_SLIPS, SEED_TOTALS, SEED_VGG16_ROWS, type ReproducedVggRow } from '../../scripts/memory/seedVggTable';

const repoRoot = path.resolve(__dirname, '..', '..');
const product = (values: readonly number[]): number => values.reduce((a, b) => a * b, 1);

/** "150K" → 150000, "3.2M" → 3200000, "4096" → 4096: what the seed's rounded figure stands for. */
function seedFigure(text: string): number {
  const match = /^([\d.]+)([KM]?)$/.exec(text);
  assert.ok(match, `unreadable seed figure ${text}`);
  const scale = match[2] === 'M' ? 1e6 : match[2] === 'K' ? 1e3 : 1;
  return Number(match[1]) * scale;
}

describe("the seed's VGG-16 memory table", () => {
  let model: ModelReport;
  let rows: ReproducedVggRow[];
  before(async () => {
    model = await analyzeExampleVgg16(repoRoot);
    rows = reproduceSeedVgg(model);
  });

  test('has one analyzer layer per seed row, in order', () => {
    assert.equal(rows.length, SEED_VGG16_ROWS.length);
    const kinds = rows.map((r) => r.layer?.type ?? 'input');
    const expected = SEED_VGG16_ROWS.map((r) => (r.label === 'INPUT' ? 'input' : r.label === 'POOL2' ? 'MaxPool2d' : r.label === 'FC' ? 'Linear' : 'Conv2d'));
    assert.deepEqual(kinds, expected);
  });

  test("every row's activation count is the product the seed wrote, and rounds to the seed's figure", () => {
    for (const [i, r] of rows.entries()) {
      assert.equal(r.activations, product(r.seed.memoryFactors), `row ${i} (${r.seed.label})`);
      const figure = seedFigure(r.seed.memoryText);
      // The seed rounds to two significant digits (3,211,264 → 3.2M; 802,816 → 800K; 25,088 → 25K).
      assert.ok(Math.abs(r.activations - figure) / r.activations < 0.05, `row ${i}: ${r.activations} vs the seed's ${r.seed.memoryText}`);
    }
  });

  test("every row's weight count (bias left out, as the seed does) equals the seed's", () => {
    for (const [i, r] of rows.entries()) assert.equal(r.weights, r.seed.weights, `row ${i} (${r.seed.label})`);
  });

  test('shapes match the seed except in the rows its slips name', () => {
    const shapeSlips = new Set(SEED_SLIPS.filter((s) => s.field === 'shape').map((s) => s.row));
    for (const [i, r] of rows.entries()) {
      if (shapeSlips.has(i)) {
        assert.notDeepEqual(r.shape, r.seed.shape, `row ${i} is listed as a slip but agrees with the seed`);
        // The seed's own memory line has the right channel count.
        assert.equal(product(r.shape), product(r.seed.memoryFactors), `row ${i}`);
      } else {
        assert.deepEqual(r.shape, r.seed.shape, `row ${i} (${r.seed.label})`);
      }
    }
  });

  test("the weight formulas the seed wrote multiply out to its values, except the slip it names", () => {
    const formulaSlips = new Set(SEED_SLIPS.filter((s) => s.field === 'weightFactors').map((s) => s.row));
    for (const [i, r] of rows.entries()) {
      if (r.seed.weightFactors.length === 0) continue;
      if (formulaSlips.has(i)) assert.notEqual(product(r.seed.weightFactors), r.seed.weights, `row ${i}`);
      else assert.equal(product(r.seed.weightFactors), r.seed.weights, `row ${i}`);
    }
  });

  test("the totals: 138M parameters as the seed says; 15.2M activations, not the seed's 24M", () => {
    const weights = rows.reduce((sum, r) => sum + r.weights + r.bias, 0);
    assert.equal(weights, model.params.total);
    assert.equal(Math.round(model.params.total / 1e6), SEED_TOTALS.params / 1e6);
    const activations = rows.reduce((sum, r) => sum + r.activations, 0);
    assert.equal(activations, 15_237_608);
    // The seed's 24M does not follow from its own rows (docs/MEMORY.md says why that matters).
    assert.ok(activations < SEED_TOTALS.activations * 0.7);
  });

  test('what autograd keeps is the per-layer breakdown, not "forward ×2"', () => {
    const kept = rows.reduce((sum, r) => sum + r.savedBytes, 0);
    // Every layer of the model belongs to one row, so the rows add up to the layers' total.
    assert.equal(kept, model.layers.reduce((sum, layer) => sum + (layer.saved_bytes ?? 0), 0));
    // Convs keep nothing of their own beyond the in-place ReLU's output (they save that tensor),
    // max pools keep their int64 indices: 2 × 4 bytes per output value.
    const firstPool = rows[3]!;
    assert.equal(firstPool.savedBytes, firstPool.activations * 8);
    const forwardBytes = rows.reduce((sum, r) => sum + r.activations, 0) * 4;
    assert.ok(kept > forwardBytes && kept < 2 * forwardBytes, `kept ${kept} vs forward ${forwardBytes}`);
  });
});
