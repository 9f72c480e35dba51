// The run-store tailer the dashboard follows runs with: partial lines wait for their newline,
// new runs are noticed, a truncated or replaced metrics file starts over, status changes are
// reported, and fs.watch alone (no poll) delivers appends.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { listRuns, RunsTail, type RunsTailListener } from '../../extension/editor/runsTail';
import type { TrainingEvent } from '../../extension/training/train';

interface Recorded {
  runs: string[][];
  events: { run: string; events: TrainingEvent[]; reset: boolean }[];
  statuses: string[];
}

function recorder(): { listener: RunsTailListener; seen: Recorded } {
  const seen: Recorded = { runs: [], events: [], statuses: [] };
  return {
    seen,
    listener: {
      runsChanged: (runs) => seen.runs.push([...runs]),
      events: (run, events, reset) => seen.events.push({ run, events, reset }),
      statusChanged: (run) => seen.statuses.push(run),
    },
  };
}

function tempRuns(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-tail-')), '.netlens', 'runs');
}

function makeRun(runsDir: string, id: string, text = ''): string {
  const dir = path.join(runsDir, id);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), text);
  return path.join(dir, 'metrics.jsonl');
}

const step = (n: number, loss: number): string => JSON.stringify({ type: 'step', epoch: 1, step: n, loss, lr: 0.01, images_per_s: 100 });

test('a partial last line waits for its newline; complete lines arrive in order', () => {
  const runsDir = tempRuns();
  const metrics = makeRun(runsDir, 'r1', `${step(1, 2.3)}\n${step(2, 2.2).slice(0, 20)}`);
  const { listener, seen } = recorder();
  const tail = new RunsTail(runsDir, listener, { pollMs: 0, watch: false });
  try {
    tail.follow('r1');
    assert.equal(seen.events.length, 1);
    assert.equal(seen.events[0]!.reset, true);
    assert.deepEqual(seen.events[0]!.events.map((e) => e.type === 'step' && e.step), [1]);
    fs.appendFileSync(metrics, step(2, 2.2).slice(20));
    tail.poll();
    assert.equal(seen.events.length, 1, 'no newline yet: nothing new');
    fs.appendFileSync(metrics, `\n${step(3, 2.1)}\n`);
    tail.poll();
    assert.equal(seen.events.length, 2);
    assert.equal(seen.events[1]!.reset, false);
    assert.deepEqual(seen.events[1]!.events.map((e) => e.type === 'step' && e.loss), [2.2, 2.1]);
  } finally {
    tail.dispose();
  }
});

test('a multi-byte character cut between two reads is decoded whole', () => {
  const runsDir = tempRuns();
  const line = JSON.stringify({ type: 'error', message: 'données → échec' }) + '\n';
  const bytes = Buffer.from(line, 'utf8');
  const cut = bytes.indexOf(Buffer.from('→')) + 1;
  const metrics = makeRun(runsDir, 'r1');
  fs.writeFileSync(metrics, bytes.subarray(0, cut));
  const { listener, seen } = recorder();
  const tail = new RunsTail(runsDir, listener, { pollMs: 0, watch: false });
  try {
    tail.follow('r1');
    fs.appendFileSync(metrics, bytes.subarray(cut));
    tail.poll();
    const all = seen.events.flatMap((e) => e.events);
    assert.deepEqual(all, [{ type: 'error', message: 'données → échec' }]);
  } finally {
    tail.dispose();
  }
});

test('new run folders are reported; folders without metrics.jsonl are not runs', () => {
  const runsDir = tempRuns();
  makeRun(runsDir, '20261127-100000');
  const { listener, seen } = recorder();
  const tail = new RunsTail(runsDir, listener, { pollMs: 0, watch: false });
  try {
    assert.deepEqual(tail.runs, ['20261127-100000']);
    fs.mkdirSync(path.join(runsDir, 'not-a-run'));
    makeRun(runsDir, '20261127-090000');
    tail.poll();
    assert.deepEqual(seen.runs, [['20261127-090000', '20261127-100000']]);
    tail.poll();
    assert.equal(seen.runs.length, 1, 'no change, no report');
    assert.deepEqual(listRuns(path.join(runsDir, 'missing')), []);
  } finally {
    tail.dispose();
  }
});

test('a truncated or replaced metrics file is read again from the start', () => {
  const runsDir = tempRuns();
  const metrics = makeRun(runsDir, 'r1', `${step(1, 2.3)}\n${step(2, 2.2)}\n`);
  const { listener, seen } = recorder();
  const tail = new RunsTail(runsDir, listener, { pollMs: 0, watch: false });
  try {
    tail.follow('r1');
    fs.writeFileSync(metrics, `${step(1, 9)}\n`);
    tail.poll();
    assert.equal(seen.events.at(-1)!.reset, true);
    assert.deepEqual(seen.events.at(-1)!.events.map((e) => e.type === 'step' && e.loss), [9]);
    // Replaced by another file of the same or larger size (a new inode): also starts over.
    fs.writeFileSync(`${metrics}.new`, `${step(1, 7)}\n${step(2, 6)}\n${step(3, 5)}\n`);
    fs.renameSync(`${metrics}.new`, metrics);
    tail.poll();
    assert.equal(seen.events.at(-1)!.reset, true);
    assert.deepEqual(seen.events.at(-1)!.events.map((e) => e.type === 'step' && e.loss), [7, 6, 5]);
    fs.appendFileSync(metrics, 'not json\n');
    tail.poll();
    assert.equal(tail.skippedLines, 1);
  } finally {
    tail.dispose();
  }
});

test('status.json writes are reported for followed runs', () => {
  const runsDir = tempRuns();
  makeRun(runsDir, 'r1');
  const { listener, seen } = recorder();
  const tail = new RunsTail(runsDir, listener, { pollMs: 0, watch: false });
  try {
    tail.follow('r1');
    fs.writeFileSync(path.join(runsDir, 'r1', 'status.json'), '{"status":"running","steps":0}');
    tail.poll();
    assert.deepEqual(seen.statuses, ['r1']);
  } finally {
    tail.dispose();
  }
});

test('fs.watch alone delivers appends and new runs, without polling', async () => {
  const runsDir = tempRuns();
  const metrics = makeRun(runsDir, 'r1');
  const { listener, seen } = recorder();
  const tail = new RunsTail(runsDir, listener, { pollMs: 0 });
  const until = async (what: string, done: () => boolean): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  try {
    tail.follow('r1');
    fs.appendFileSync(metrics, `${step(1, 1.5)}\n`);
    await until('the appended step', () => seen.events.some((e) => e.events.length === 1));
    makeRun(runsDir, 'r2');
    await until('the new run', () => seen.runs.some((runs) => runs.includes('r2')));
  } finally {
    tail.dispose();
  }
});
