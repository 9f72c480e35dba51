// Augmented assignment on tensors (`x *= 2`, `x += y`) is an in-place op: PyTorch changes the
// tensor x names, so every later read of x — and of any other name for the same tensor — sees the
// new value. The recorded graph must say so (an `imul`/`iadd` node that later reads consume), and
// the lowered engine graph must keep the arithmetic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { analyzeFile } from '../../extension/analysis/index';
import type { GraphArgument, ModelReport } from '../../extension/analysis/reportTypes';
import { lowerModel } from '../../extension/training/lower';

async function analyzedForward(forward: string[]): Promise<ModelReport> {
  const source = [
    'import torch', 'import torch.nn as nn', '',
    '# netlens: input=(2, 8)',
    'class Net(nn.Module):',
    '    def __init__(self):',
    '        super().__init__()',
    '        self.a = nn.Linear(8, 8)',
    '        self.fc = nn.Linear(8, 3)',
    '    def forward(self, x):',
    ...forward.map((line) => `        ${line}`),
    '',
  ].join('\n');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-inplace-'));
  const file = path.join(dir, 'net.py');
  fs.writeFileSync(file, source);
  const report = await analyzeFile(file, source, { entry: 'Net()', recordGraph: true }, { astCacheDir: false });
  const model = report.models[0];
  assert.ok(model, 'a model');
  assert.ok(model.graph, 'a recorded graph');
  return model;
}

function tensorArg(arg: GraphArgument | undefined): unknown {
  return arg !== null && typeof arg === 'object' && !Array.isArray(arg) && 'tensor' in arg ? arg.tensor : undefined;
}

test('x *= 2: the next layer reads the multiplied tensor, in the graph and in the lowered spec', async () => {
  const model = await analyzedForward(['x = self.a(x)', 'x *= 2', 'return self.fc(x)']);
  const nodes = model.graph!.nodes;
  assert.deepEqual(nodes.map((n) => n.op), ['Linear', 'imul', 'Linear']);
  assert.deepEqual(tensorArg(nodes[1]!.args[0]), { node: 0, output: 0 });
  assert.deepEqual(tensorArg(nodes[2]!.args[0]), { node: 1, output: 0 });
  assert.deepEqual(model.output, [[2, 3]]);

  const spec = lowerModel(model);
  assert.deepEqual(spec.nodes.map((n) => n.op), ['linear', 'mul', 'linear']);
  assert.deepEqual(spec.nodes[2]!.inputs, [spec.nodes[1]!.id]);
});

test('x += y on an alias: the other name sees the update too, as in PyTorch', async () => {
  const model = await analyzedForward(['h = self.a(x)', 'skip = h', 'h += self.a(x)', 'return self.fc(skip)']);
  const nodes = model.graph!.nodes;
  assert.deepEqual(nodes.map((n) => n.op), ['Linear', 'Linear', 'iadd', 'Linear']);
  assert.deepEqual(tensorArg(nodes[3]!.args[0]), { node: 2, output: 0 });
  const spec = lowerModel(model);
  assert.deepEqual(spec.nodes.map((n) => n.op), ['linear', 'linear', 'add', 'linear']);
  assert.deepEqual(spec.nodes[3]!.inputs, [spec.nodes[2]!.id]);
});

test('x -= m and x /= s chain: each reads the previous in-place result', async () => {
  const model = await analyzedForward(['x = self.a(x)', 'x -= 1.0', 'x /= 2.0', 'x *= x', 'return self.fc(x)']);
  const nodes = model.graph!.nodes;
  assert.deepEqual(nodes.map((n) => n.op), ['Linear', 'isub', 'idiv', 'imul', 'Linear']);
  assert.deepEqual(nodes.slice(1).map((n) => tensorArg(n.args[0])), [
    { node: 0, output: 0 }, { node: 1, output: 0 }, { node: 2, output: 0 }, { node: 3, output: 0 },
  ]);
  assert.deepEqual(tensorArg(nodes[3]!.args[1]), { node: 2, output: 0 });
});

test('an in-place op that would change the shape is not taken as the new x', async () => {
  // (2, 8) += (4, 2, 8) raises in PyTorch ("output with shape ... doesn't match the broadcast shape").
  const model = await analyzedForward(['x = self.a(x)', 'x += torch.zeros(4, 2, 8)', 'return self.fc(x)']);
  const error = model.diagnostics.find((d) => d.severity === 'error');
  assert.equal(error?.message, "In-place '+=': the result's shape [4, 2, 8] does not fit the tensor's shape [2, 8] (PyTorch raises here).");
  assert.equal(error?.line, 12);
  assert.notDeepEqual(model.output, [[4, 2, 3]]);
});
