// The choices of "Netlens: Train Model…" as data: remembered plans read back safely, and the
// memory check that refuses a batch that does not fit and names the largest one that does.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { MemoryReport } from '../../extension/analysis/reportTypes';
import { checkMemory, defaultPlan, planSummary, restorePlan } from '../../extension/editor/trainingPlan';

const GiB = 2 ** 30;

function memory(peak: number, capacity: number, batches: Partial<Record<string, number>>): MemoryReport {
  return {
    params_bytes: 0, grads_bytes: 0, optimizer_bytes: 0, activations_bytes: 0, training_peak_bytes: peak, inference_peak_bytes: 0,
    max_batch: {
      capacity_bytes: capacity,
      entries: Object.entries(batches).map(([key, batch]) => {
        const [optimizer, dtype] = key.split('/') as ['adam', 'float32'];
        return { optimizer, dtype, batch: batch ?? 0 };
      }),
    },
  };
}

test('a remembered plan is read back; malformed fields fall back to the defaults', () => {
  assert.deepEqual(restorePlan(undefined), defaultPlan());
  const plan = restorePlan({ epochs: 3, batch: 8, optimizer: 'adam', lr: 0.002, device: 'cuda', data: { kind: 'paths', paths: ['/d/train.bin'] } });
  assert.deepEqual(plan, { epochs: 3, batch: 8, optimizer: 'adam', lr: 0.002, device: 'cuda', data: { kind: 'paths', paths: ['/d/train.bin'] } });
  const bad = restorePlan({ epochs: 0, batch: 2.5, optimizer: 'lion', lr: -1, device: 'tpu', data: { kind: 'paths', paths: [] } });
  assert.deepEqual(bad, defaultPlan());
  // Without a learning rate, the optimizer's own default.
  assert.equal(restorePlan({ optimizer: 'adamw' }).lr, 0.001);
  assert.equal(planSummary(plan, (p) => p.split('/').pop() ?? p), 'train.bin · 3 epochs · batch 8 · adam lr 0.002 · cuda');
});

test('a plan that fits passes with its numbers', () => {
  const verdict = checkMemory('LeNet5', memory(3 * GiB, 16 * GiB, {}), { ...defaultPlan(), batch: 64 }, 16 * GiB, 'cpu');
  assert.deepEqual(verdict, { fits: true, peakBytes: 3 * GiB, capacityBytes: 16 * GiB });
});

test('a plan that does not fit is refused with the numbers and the largest batch that fits', () => {
  const plan = { ...defaultPlan(), batch: 4096, optimizer: 'adam' as const };
  const verdict = checkMemory('ResNet', memory(40 * GiB, 16 * GiB, { 'adam/float32': 1500, 'sgd/float32': 1700, 'adam/float16': 2900 }), plan, 16 * GiB, "this machine's memory (cpu)");
  assert.equal(verdict.fits, false);
  if (verdict.fits) return;
  assert.equal(verdict.largestBatch, 1500);
  assert.equal(verdict.message,
    "Netlens: ResNet needs about 40.00 GiB to train with batch 4096 (float32, adam), but this machine's memory (cpu) has 16.00 GiB. The largest batch that fits is 1500.");
});

test('when not even one sample fits, no batch is offered', () => {
  const verdict = checkMemory('Giant', memory(900 * GiB, 8 * GiB, { 'momentum/float32': 0 }), defaultPlan(), 8 * GiB, 'cpu');
  assert.equal(verdict.fits, false);
  if (verdict.fits) return;
  assert.equal(verdict.largestBatch, 0);
  assert.match(verdict.message, /Not even a batch of 1 fits\.$/);
});

test('a max_batch table made for another capacity is not trusted', () => {
  const verdict = checkMemory('Net', memory(20 * GiB, 80 * GiB, { 'momentum/float32': 500 }), defaultPlan(), 8 * GiB, 'cpu');
  assert.equal(verdict.fits, false);
  if (!verdict.fits) assert.equal(verdict.largestBatch, 0);
});
