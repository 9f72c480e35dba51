// The analysis worker's start-up warm-up (analysis/warmUp.ts) must exercise the analyzer's real
// paths: its built-in model has to analyze cleanly both ways the editor analyzes, or the warm-up
// would compile error paths instead of the interpreter, catalog and report code.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { PerformanceObserver, constants } from 'node:perf_hooks';
import * as vm from 'node:vm';

import { DocumentAnalyzer } from '../../extension/analysis/index';
import { collectYoungGeneration } from '../../extension/analysis/idleCollect';
import { createAnalyzerWarmUp, warmUpFiles, WARM_UP_FILE, WARM_UP_MODEL } from '../../extension/analysis/warmUp';

const readFile = warmUpFiles;

test('the warm-up model analyzes without diagnostics, symbolic and concrete', async () => {
  const analyzer = await DocumentAnalyzer.create(WARM_UP_FILE, { astCacheDir: false });
  try {
    analyzer.update(WARM_UP_MODEL);
    const discovered = analyzer.analyze({ readFile });
    assert.deepEqual(discovered.diagnostics, []);
    assert.equal(discovered.models.length, 1);
    const symbolic = discovered.models[0];
    assert.equal(symbolic.name, 'WarmUpNet');
    assert.deepEqual(symbolic.output, [['N', 10], ['N']]);
    assert.deepEqual(symbolic.diagnostics.filter((d) => d.severity !== 'info'), []);

    // The builder the warm-up calls: registry decorator, weights Enum, `**kwargs` forwarding.
    const concrete = analyzer.analyze({ readFile, entry: 'warm_up_net(num_classes=10)', inputs: [{ shape: [2, 3, 64, 64] }] });
    assert.deepEqual(concrete.diagnostics, []);
    const model = concrete.models[0];
    assert.deepEqual(model.output, [[2, 10], [2]]);
    assert.deepEqual(model.diagnostics, []);
    // Leaf-layer calls: conv0/norm0/relu0/pool0, 7 dense layers of 6, a transition of 4, two basic
    // blocks of 6 (the ReLU runs twice), the downsampling block of 8, dropout, 2 heads.
    assert.equal(model.layers.length, 4 + 7 * 6 + 4 + 2 * 6 + 8 + 1 + 2);
    assert.ok(model.memory.training_peak_bytes > 0);
  } finally {
    analyzer.dispose();
  }
});

test('a warm-up runs four analyses per round, one per step, and stops when disposed', async () => {
  const warmUp = await createAnalyzerWarmUp(2);
  let steps = 1;
  while (warmUp.step()) steps++;
  assert.equal(steps, 8);
  assert.equal(warmUp.step(), false);
  warmUp.dispose();

  const stopped = await createAnalyzerWarmUp(2);
  assert.equal(stopped.step(), true);
  stopped.dispose();
  assert.equal(stopped.step(), false);
});

test('idle collection runs a young-generation GC and leaves no `gc` global behind', async () => {
  const kinds: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) kinds.push(((entry as { detail?: { kind?: number } }).detail?.kind) ?? -1);
  });
  observer.observe({ entryTypes: ['gc'] });
  assert.equal(collectYoungGeneration(), true);
  assert.equal(collectYoungGeneration(), true);
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  assert.ok(kinds.includes(constants.NODE_PERFORMANCE_GC_MINOR), `gc kinds seen: ${kinds.join(', ')}`);
  assert.equal(vm.runInNewContext('typeof gc'), 'undefined');
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined');
});
