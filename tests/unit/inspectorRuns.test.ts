// Which runs the inspector offers for a model: run folders of the workspace run store that name
// the same file (and entry) and have a finished checkpoint, newest first, each with its newest
// checkpoint; the built-in data's held-out split for runs trained on it.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { initialWeightsLabel, inspectableRuns, inspectionData, runWeightsLabel } from '../../extension/editor/inspectorRuns';

function makeRun(root: string, id: string, config: object, checkpoints: { name: string; at: number }[], status?: string): string {
  const dir = path.join(root, '.netlens', 'runs', id);
  fs.mkdirSync(path.join(dir, 'checkpoints'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '');
  if (status) fs.writeFileSync(path.join(dir, 'status.json'), JSON.stringify({ status, steps: 10, updated: '' }));
  for (const { name, at } of checkpoints) {
    const file = path.join(dir, 'checkpoints', name);
    fs.writeFileSync(file, 'x');
    fs.utimesSync(file, at, at);
  }
  return dir;
}

test('runs of the model with checkpoints, newest first, each at its newest finished checkpoint', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-inspector-runs-'));
  try {
    const model = path.join(root, 'lenet5.py');
    const t = 1_800_000_000;
    makeRun(root, '20270115-080000', { file: model, entry: 'LeNet5()', seed: 3, data: { kind: 'default' } },
      [{ name: 'epoch-1.safetensors', at: t }, { name: 'epoch-2.safetensors', at: t + 60 }, { name: 'step-900.safetensors.partial', at: t + 120 }], 'completed');
    makeRun(root, '20270115-090000', { file: 'lenet5.py', entry: 'LeNet5()', seed: 0, data: { kind: 'folder', paths: ['/data/digits'] } },
      [{ name: 'step-40.safetensors', at: t + 3600 }], 'cancelled');
    makeRun(root, '20270115-100000', { file: model, entry: 'LeNet5()' }, [], 'running');
    makeRun(root, '20270115-110000', { file: path.join(root, 'other.py'), entry: 'Other()' }, [{ name: 'epoch-1.safetensors', at: t }]);
    makeRun(root, '20270115-120000', { file: model, entry: 'LeNet5(num_classes=3)' }, [{ name: 'epoch-1.safetensors', at: t + 7200 }]);
    fs.mkdirSync(path.join(root, '.netlens', 'runs', 'not-a-run'));

    const runs = inspectableRuns(root, model, 'LeNet5()');
    assert.deepEqual(runs.map((run) => run.id), ['20270115-090000', '20270115-080000']);
    const [folderRun, defaultRun] = runs as [typeof runs[0], typeof runs[0]];
    assert.equal(path.basename(defaultRun.checkpoint), 'epoch-2.safetensors', 'never the .partial one');
    assert.equal(defaultRun.seed, 3);
    assert.equal(defaultRun.status, 'completed');
    assert.equal(runWeightsLabel(defaultRun), 'run 20270115-080000 · epoch-2.safetensors (completed)');
    assert.equal(folderRun.status, 'cancelled');
    // The file may be recorded relative to the workspace root.
    assert.equal(path.basename(folderRun.checkpoint), 'step-40.safetensors');

    // Without an entry every model of the file counts.
    assert.deepEqual(inspectableRuns(root, model).map((run) => run.id), ['20270115-120000', '20270115-090000', '20270115-080000']);
    assert.deepEqual(inspectableRuns(path.join(root, 'empty'), model), []);

    assert.equal(inspectionData(defaultRun), undefined, 'the engine picks the built-in test split');
    assert.deepEqual(inspectionData(folderRun), { kind: 'folder', paths: ['/data/digits'] });
    assert.equal(inspectionData(undefined), undefined);
    assert.equal(initialWeightsLabel(0), 'initial weights (seed 0, untrained)');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
