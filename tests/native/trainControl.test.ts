// Run control through the same API the panels use (runTraining + RunControl) against the real
// engine process: a pause issues no steps and changes no result, a cancel ends with a checkpoint
// and a `cancelled` status, a resume from that checkpoint continues the counters and (with an
// optimizer that keeps no state) the very losses of an uninterrupted run, and an engine crash
// marks the run failed with the metrics written so far.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';

import { EngineClient } from '../../extension/engine/client';
import type { EngineOptimizerSpec } from '../../extension/training/lower';
import { prepareModel, type PreparedModel } from '../../extension/training/modelSpec';
import { readResumePoint } from '../../extension/training/resume';
import { RunControl } from '../../extension/training/runControl';
import { RunStore } from '../../extension/training/runStore';
import { safetensorsMetadata } from '../../extension/training/safetensors';
import { runTraining, type TrainingEvent, type TrainingOptions } from '../../extension/training/train';
import { addonPath, hostSource, tsxExecArgv } from './support';

const model = `import torch
import torch.nn as nn
import torch.nn.functional as F

# netlens: input=(16, 1, 28, 28)
class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, stride=2)
        self.fc = nn.Linear(4 * 12 * 12, 10)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.conv(x)), 1))
`;

let dir: string;
/** The cancelled run of the cancel test, reused as a checkpoint to tamper with. */
let cancelledRunDir: string | undefined;
let client: EngineClient;
const prepared = new Map<string, PreparedModel>();

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-control-'));
  fs.writeFileSync(path.join(dir, 'small.py'), model);
  client = new EngineClient({ hostModule: hostSource, addonPath: addonPath(), execArgv: tsxExecArgv, env: { NETLENS_ENGINE_TEST: '1' }, startTimeoutMs: 20_000 });
  await client.start();
});

after(async () => {
  await client.dispose();
});

async function options(optimizer: EngineOptimizerSpec, extra: Partial<TrainingOptions> = {}): Promise<TrainingOptions> {
  const key = JSON.stringify(optimizer);
  let model = prepared.get(key);
  if (!model) {
    model = await prepareModel({ file: path.join(dir, 'small.py'), analyze: {}, engineOps: await client.request('engineOps', {}), optimizer });
    prepared.set(key, model);
  }
  return {
    spec: model.spec, data: { kind: 'default', options: { variant: 'shapes28', split: 'train' } }, epochs: 1, batch: 16, maxSteps: 24,
    validationFraction: 0.1, augment: false, seed: 3, ...extra,
  };
}

const momentum: EngineOptimizerSpec = { type: 'sgd', lr: 0.05, momentum: 0.9 };
const plainSgd: EngineOptimizerSpec = { type: 'sgd', lr: 0.05 };

function losses(events: readonly TrainingEvent[]): number[] {
  return events.flatMap((e) => (e.type === 'step' ? [e.loss] : []));
}

function stored(store: RunStore): TrainingEvent[] {
  return fs.readFileSync(path.join(store.dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as TrainingEvent);
}

test('pause stops issuing steps between chunks; resume gives the losses of an unpaused run', async () => {
  const plainEvents: TrainingEvent[] = [];
  await runTraining(client, await options(momentum), RunStore.create(dir, {}), (e) => plainEvents.push(e));

  const control = new RunControl();
  const events: TrainingEvent[] = [];
  let stepsAtPause = -1;
  control.onDidChange((state) => {
    if (state === 'running') stepsAtPause = losses(events).length;
  });
  const run = runTraining(client, await options(momentum, { control }), RunStore.create(dir, {}), (e) => {
    events.push(e);
    if (e.type === 'step' && e.step === 1) {
      control.pause();
      // Resumed well after the chunk in flight came back: anything issued while paused would show.
      setTimeout(() => control.resume(), 400);
    }
  });
  const done = await run;
  assert.equal(stepsAtPause, 8, 'the chunk in flight (8 steps) finished, then nothing until resumed');
  assert.deepEqual(done.type === 'done' && [done.steps, done.status], [24, 'completed']);
  assert.deepEqual(losses(events), losses(plainEvents), 'same seed, same losses, paused or not');
});

test('cancel (AbortSignal) ends after the chunk in flight with a checkpoint and the status cancelled', async () => {
  const abort = new AbortController();
  const store = RunStore.create(dir, {});
  const events: TrainingEvent[] = [];
  const done = await runTraining(client, await options(momentum, { control: new RunControl(abort.signal) }), store, (e) => {
    events.push(e);
    if (e.type === 'step' && e.step === 3) abort.abort();
  });
  assert.deepEqual(done, { ...done, type: 'done', steps: 8, epochs: 0, status: 'cancelled' });
  assert.equal(events.filter((e) => e.type === 'epoch').length, 0, 'no epoch summary for a cut epoch');
  const checkpoint = events.find((e) => e.type === 'checkpoint');
  assert.ok(checkpoint && checkpoint.type === 'checkpoint');
  assert.equal(path.basename(checkpoint.path), 'step-8.safetensors');
  assert.deepEqual(safetensorsMetadata(fs.readFileSync(checkpoint.path)), { format: 'pt', epoch: '0', step: '8', epoch_step: '8' });
  assert.deepEqual(store.status(), { ...store.status(), status: 'cancelled', steps: 8 });
  assert.deepEqual(stored(store), events);
  cancelledRunDir = store.dir;
});

test('resume from a cancelled run continues its counters and metrics and matches an uninterrupted run', async () => {
  const whole: TrainingEvent[] = [];
  await runTraining(client, await options(plainSgd, { maxSteps: 16 }), RunStore.create(dir, {}), (e) => whole.push(e));

  const store = RunStore.create(dir, {});
  const control = new RunControl();
  await runTraining(client, await options(plainSgd, { maxSteps: 16, control }), store, (e) => {
    if (e.type === 'step' && e.step === 1) control.cancel();
  });
  const point = readResumePoint(store.dir);
  assert.deepEqual([path.basename(point.checkpoint), point.runDir, point.epochsDone, point.step, point.epochStep], ['step-8.safetensors', store.dir, 0, 8, 8]);

  const resumed: TrainingEvent[] = [];
  const done = await runTraining(client, await options(plainSgd, { maxSteps: 16, resume: point }), RunStore.open(point.runDir!), (e) => resumed.push(e));
  assert.deepEqual(done.type === 'done' && [done.steps, done.status], [16, 'completed']);
  const start = resumed[0];
  assert.ok(start?.type === 'start');
  assert.deepEqual(start.resumed_from, { checkpoint: point.checkpoint, epoch: 0, step: 8 });
  const resumedSteps = resumed.flatMap((e) => (e.type === 'step' ? [e.step] : []));
  assert.deepEqual(resumedSteps, [9, 10, 11, 12, 13, 14, 15, 16]);
  // Plain SGD has no optimizer state, so the weights and the skipped-over data are the whole story.
  losses(resumed).forEach((loss, i) => {
    const expected = losses(whole)[8 + i]!;
    assert.ok(Math.abs(loss - expected) <= 1e-5 * Math.abs(expected), `step ${9 + i}: ${loss} vs ${expected}`);
  });
  const metricSteps = stored(store).flatMap((e) => (e.type === 'step' ? [e.step] : []));
  assert.deepEqual(metricSteps, Array.from({ length: 16 }, (_, i) => i + 1), 'metrics.jsonl goes on from step 9');
  assert.deepEqual(store.status(), { ...store.status(), status: 'completed', steps: 16 });
});

test('a checkpoint of another model is refused naming the file and the tensor', async () => {
  assert.ok(cancelledRunDir, 'the cancel test ran first');
  const point = readResumePoint(cancelledRunDir);
  const wrong = { ...point, tensors: point.tensors.map((t) => (t.name === 'fc.weight' ? { ...t, shape: [5, t.data.length / 5] } : t)) };
  const store = RunStore.create(dir, {});
  const done = await runTraining(client, await options(momentum, { resume: wrong }), store, () => undefined);
  assert.equal(done.type, 'error');
  assert.match(done.type === 'error' ? done.message : '', /step-8\.safetensors: /);
  assert.match(done.type === 'error' ? done.message : '', /'fc\.weight' is 5×\d+ but the model's is 10×576/);
  assert.equal(store.status()?.status, 'failed');
});

test('an engine crash mid-run marks the run failed and keeps the metrics written so far', async () => {
  const store = RunStore.create(dir, {});
  const events: TrainingEvent[] = [];
  const done = await runTraining(client, await options(momentum), store, (e) => {
    events.push(e);
    // The host aborts on this test-only request, between two chunks of steps.
    if (e.type === 'step' && e.step === 8) client.request('crashForTest', {}).catch(() => undefined);
  });
  assert.equal(done.type, 'error');
  assert.match(done.type === 'error' ? done.message : '', /engine process exited unexpectedly/);
  const status = store.status();
  assert.equal(status?.status, 'failed');
  assert.equal(status?.steps, 8);
  const metrics = stored(store);
  assert.deepEqual(metrics, events);
  assert.deepEqual(metrics.flatMap((e) => (e.type === 'step' ? [e.step] : [])), [1, 2, 3, 4, 5, 6, 7, 8]);
  await client.restart();
});
