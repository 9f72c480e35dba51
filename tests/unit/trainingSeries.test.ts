// The dashboard's columns without the DOM: events folded into a run's series, the smoothed loss
// kept up to date point by point (the same as computing it at once), and the CSV export.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import type { TrainingEvent } from '../../extension/training/train';
import { applyEvents, emptySeries, SmoothedColumn, stepTable, toCsv } from '../../webviews/training/series';

const step = (n: number, loss: number): TrainingEvent => ({ type: 'step', epoch: 1, step: n, loss, lr: 0.01, images_per_s: 100 });

test('events become columns; the dense flag notices repeated steps', () => {
  const series = emptySeries();
  applyEvents(series, [step(1, 2), step(2, 1.5), { type: 'epoch', epoch: 1, train_loss: 1.7, train_acc: 0.4, val_loss: 1.6, val_acc: 0.5 }]);
  assert.deepEqual(series.steps, [1, 2]);
  assert.equal(series.dense, true);
  assert.deepEqual(series.epochs, [{ epoch: 1, step: 2, trainLoss: 1.7, trainAcc: 0.4, valLoss: 1.6, valAcc: 0.5 }]);
  // A run resumed from an earlier checkpoint writes step 2 again.
  applyEvents(series, [step(2, 1.4)]);
  assert.equal(series.dense, false);
  const table = stepTable([series], (s) => s.loss);
  assert.deepEqual(table.x, [1, 2]);
  assert.deepEqual(table.columns[0], [2, 1.4], 'the last value of a repeated step wins');
});

test('the smoothed column grows point by point exactly as a fresh computation', () => {
  const losses = Array.from({ length: 500 }, (_, i) => 2 * Math.exp(-i / 100) + 0.1 * Math.sin(i));
  const incremental = new SmoothedColumn();
  for (let n = 1; n <= losses.length; n += 7) incremental.update(losses.slice(0, n), 0.8);
  incremental.update(losses, 0.8);
  const fresh = new SmoothedColumn().update(losses, 0.8);
  assert.deepEqual(incremental.values, fresh);
  // Debiased: the first point is the first value, not pulled toward zero.
  assert.equal(fresh[0], losses[0]);
  // A new weight starts over; weight 0 is the raw line.
  assert.deepEqual(incremental.update(losses, 0), losses);
  assert.ok(Math.abs(fresh[499]! - losses.slice(-20).reduce((a, b) => a + b, 0) / 20) < 0.1);
});

test('CSV: one row per step and per epoch, ids quoted when needed', () => {
  const series = emptySeries();
  applyEvents(series, [step(1, 2), { type: 'epoch', epoch: 1, train_loss: 2, train_acc: 0.25, val_loss: null, val_acc: null }]);
  assert.equal(toCsv([{ id: 'run,1', series }]),
    'run,kind,epoch,step,loss,lr,images_per_s,train_loss,train_acc,val_loss,val_acc\n' +
    '"run,1",step,1,1,2,0.01,100,,,,\n' +
    '"run,1",epoch,1,1,,,,2,0.25,,\n');
});
