// Idle-time follow-up analyses (analysis/followUp.ts): when they run and when they stop. The
// analyses here only advance a fake clock by the time each one "takes".
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { FollowUpAnalyses, FOLLOW_UP_POLICY } from '../../extension/analysis/followUp';

/** A follow-up whose n-th analysis takes durations[n] ms on a fake clock; counts the analyses. */
function followUpTaking(durations: number[], firstMs: number, fail = -1) {
  let clock = 0;
  let analyses = 0;
  const followUp = new FollowUpAnalyses(() => {
    if (analyses === fail) throw new Error('analysis failed');
    clock += durations[analyses++] ?? 1;
  }, firstMs, { maxRuns: 4, fastEnoughMs: 15, marginMs: 5 }, () => clock);
  return { followUp, analyses: () => analyses, advance: (ms: number) => { clock += ms; } };
}

async function runAll(followUp: FollowUpAnalyses): Promise<void> {
  while (await followUp.step()) { /* until it stops */ }
}

test('follow-ups run until an analysis is fast enough', async () => {
  const { followUp, analyses } = followUpTaking([40, 30, 12, 11], 90);
  await runAll(followUp);
  assert.equal(analyses(), 3);
  assert.deepEqual(followUp.timesMs, [40, 30, 12]);
  assert.equal(followUp.wanted, false);
  assert.equal(await followUp.step(), false, 'a finished follow-up runs nothing more');
  assert.equal(analyses(), 3);
});

test('follow-ups stop after the policy maximum even when analyses stay slow', async () => {
  const { followUp, analyses } = followUpTaking([50, 50, 50, 50, 50, 50], 90);
  await runAll(followUp);
  assert.equal(analyses(), 4);
});

test('a file already analyzed fast gets no follow-up', async () => {
  const { followUp, analyses } = followUpTaking([5], 8);
  assert.equal(followUp.wanted, false);
  assert.equal(await followUp.step(), false);
  assert.equal(analyses(), 0);
});

test('after a keystroke, follow-ups go on only while one more ends before the job is due', async () => {
  const { followUp, analyses } = followUpTaking([40, 30, 25, 20], 90);
  assert.equal(await followUp.step(), true); // clock 40, last 40
  // The debounced job is due at 120: a 40 ms analysis plus the 5 ms margin still fits (40 + 40 + 5 <= 120).
  followUp.finishBy(120);
  assert.equal(await followUp.step(), true); // clock 70, last 30: 70 + 30 + 5 = 105 fits
  assert.equal(await followUp.step(), false); // clock 95, last 25: 95 + 25 + 5 = 125 > 120
  assert.equal(analyses(), 3);
  // A later deadline from another keystroke does not extend an earlier one.
  followUp.finishBy(1_000);
  assert.equal(followUp.wanted, false);
});

test('cancelling (a job or a query came) stops follow-ups before the next analysis', async () => {
  const { followUp, analyses } = followUpTaking([40, 40, 40], 90);
  assert.equal(await followUp.step(), true);
  followUp.cancel();
  assert.equal(followUp.wanted, false);
  assert.equal(await followUp.step(), false);
  assert.equal(analyses(), 1);
});

test('a failing analysis ends the follow-ups quietly', async () => {
  const { followUp, analyses } = followUpTaking([40, 40, 40], 90, 1);
  assert.equal(await followUp.step(), true);
  assert.equal(await followUp.step(), false);
  assert.equal(followUp.wanted, false);
  assert.equal(analyses(), 1);
});

test('asynchronous analyses are awaited and timed', async () => {
  let clock = 0;
  const followUp = new FollowUpAnalyses(async () => {
    await new Promise((resolve) => setImmediate(resolve));
    clock += 20;
  }, 60, FOLLOW_UP_POLICY, () => clock);
  assert.equal(await followUp.step(), true);
  assert.deepEqual(followUp.timesMs, [20]);
});
