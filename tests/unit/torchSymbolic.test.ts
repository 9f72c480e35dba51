// The catalog with symbolic input sizes, the diagnostics it writes (arithmetic shown),
// solving a symbolic size against a concrete requirement, and the values of small
// constant tensors (RegNet computes its widths with tensor arithmetic).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { TensorValue, Value } from '../../extension/analysis/interp/values';
import { dimToString, evaluate, mul as mulDim, shapeToString, sym, type Dim } from '../../extension/analysis/shape/dim';
import { floatV, intV, listV, strV, tupleV } from '../../extension/analysis/torch/args';
import { slidingOutputSize } from '../../extension/analysis/torch/conv';
import { Harness } from './torchHarness';

const N = sym('N');
const H = sym('H');
const W = sym('W');

function layer(h: Harness, name: string, args: Value[], kwargs: [string, Value][] = []) {
  return h.instantiate(h.nnClass(name), args, new Map(kwargs));
}

function run(h: Harness, inst: ReturnType<typeof layer>, x: Value): TensorValue {
  const out = h.callModule(inst, [x], new Map());
  assert.equal(out.kind, 'tensor');
  return out as TensorValue;
}

function shapeText(t: Value): string {
  assert.equal(t.kind, 'tensor');
  const s = (t as TensorValue).shape;
  assert.ok(s, 'shape is known');
  return shapeToString(s);
}

function torchFn(h: Harness, name: string, args: Value[], kwargs: [string, Value][] = []): Value {
  return h.call(h.member('torch', name), args, new Map(kwargs));
}

function method(h: Harness, t: Value, name: string, args: Value[] = []): Value {
  const impl = h.catalog.tensorMethod(name);
  assert.ok(impl, `Tensor.${name}`);
  return impl([t, ...args], new Map(), h.ctx);
}

test('a ResNet stem keeps symbolic sizes in one floor each', () => {
  const h = new Harness();
  let x: Value = h.ctx.newTensor([N, 3, H, W]);
  x = run(h, layer(h, 'Conv2d', [intV(3), intV(64), intV(7)], [['stride', intV(2)], ['padding', intV(3)], ['bias', { kind: 'bool', value: false }]]), x);
  assert.equal(shapeText(x), '[N, 64, floor((H + 1)/2), floor((W + 1)/2)]');
  x = run(h, layer(h, 'MaxPool2d', [intV(3), intV(2), intV(1)]), x);
  assert.equal(shapeText(x), '[N, 64, floor((H + 3)/4), floor((W + 3)/4)]');
  // Products print factored, as written by hand.
  assert.equal(dimToString(h.macs), '9408*N*floor((H + 1)/2)*floor((W + 1)/2)');
  // ResNet-18's conv1 at 224×224: 118013952 MACs, as in the analyze contract's example.
  assert.equal(evaluate(h.macs, new Map([['N', 1], ['H', 224], ['W', 224]])), 118013952);
  assert.deepEqual(h.diagnostics, []);
});

test('Linear after a flatten shows the arithmetic of a concrete mismatch', () => {
  const h = new Harness();
  const x = h.ctx.newTensor([1, 256, 6, 6]);
  const flat = run(h, layer(h, 'Flatten', []), x);
  run(h, layer(h, 'Linear', [intV(4096), intV(10)]), flat);
  assert.deepEqual(h.diagnostics, [{ severity: 'error', message: 'Linear expects 4096 input features, gets 9216 = 256×6×6' }]);
  h.reset();
  const viewed = method(h, x, 'view', [intV(1), intV(-1)]);
  run(h, layer(h, 'Linear', [intV(4096), intV(10)]), viewed);
  assert.deepEqual(h.diagnostics, [{ severity: 'error', message: 'Linear expects 4096 input features, gets 9216 = 256×6×6' }]);
});

test('a symbolic flatten meeting Linear(in_features) is solved, not reported as an error', () => {
  const h = new Harness();
  // AlexNet's features on an unknown input size.
  let x: Value = h.ctx.newTensor([N, 3, H, W]);
  const conv = (cin: number, cout: number, k: number, s: number, p: number) =>
    layer(h, 'Conv2d', [intV(cin), intV(cout), intV(k)], [['stride', intV(s)], ['padding', intV(p)]]);
  const pool = () => layer(h, 'MaxPool2d', [intV(3), intV(2)]);
  for (const l of [conv(3, 64, 11, 4, 2), pool(), conv(64, 192, 5, 1, 2), pool(), conv(192, 384, 3, 1, 1), conv(384, 256, 3, 1, 1), conv(256, 256, 3, 1, 1), pool()]) {
    x = run(h, l, x);
  }
  const flat = run(h, layer(h, 'Flatten', []), x);
  const out = run(h, layer(h, 'Linear', [intV(9216), intV(4096)]), flat);
  assert.equal(shapeText(out), '[N, 4096]');
  assert.equal(h.errors().length, 0);
  const info = h.diagnostics.filter((d) => d.severity === 'info');
  assert.equal(info.length, 1);
  assert.equal(info[0].message, 'Linear needs input features 256*floor((H - 31)/32)*floor((W - 31)/32) = 9216: holds for H = W in 223–254');
  h.reset();
  run(h, layer(h, 'Linear', [intV(1000), intV(10)]), flat);
  assert.deepEqual(h.errors(), []);
  assert.match(h.diagnostics[0].message, /which no H = W from 1 to 8192 gives/);
});

test('conv and pool output sizes that are not positive show the formula', () => {
  const h = new Harness();
  run(h, layer(h, 'Conv2d', [intV(3), intV(8), intV(7)]), h.ctx.newTensor([1, 3, 5, 5]));
  assert.equal(h.errors()[0].message, 'Conv2d output size is not positive: (W − F + 2P)/S + 1 = floor((5 − 7 + 2·0)/1) + 1 = -1');
  h.reset();
  run(h, layer(h, 'Conv2d', [intV(4), intV(8), intV(3)]), h.ctx.newTensor([1, 3, 8, 8]));
  assert.equal(h.errors()[0].message, 'Conv2d expects 4 input channels, gets 3 (input [1, 3, 8, 8])');
});

test('shape mismatches of cat, add, matmul and view are errors with both shapes', () => {
  const h = new Harness();
  const a = h.ctx.newTensor([2, 3]);
  const b = h.ctx.newTensor([2, 4]);
  torchFn(h, 'cat', [listV([a, b])]);
  assert.equal(h.errors()[0].message, 'cat: tensor 1 has shape [2, 4], which differs from [2, 3] outside dim 0');
  h.reset();
  h.catalog.binaryOp('+', a, b, h.ctx);
  assert.equal(h.errors()[0].message, '+: shapes [2, 3] and [2, 4] do not broadcast (size 3 vs 4 at dim 1)');
  h.reset();
  h.catalog.binaryOp('@', a, b, h.ctx);
  assert.equal(h.errors()[0].message, '@: shapes [2, 3] and [2, 4] cannot be multiplied (3 ≠ 2)');
  h.reset();
  method(h, a, 'view', [intV(4), intV(-1)]);
  assert.equal(h.errors()[0].message, 'view: shape [4, -1] is invalid for input of size 6 (input [2, 3])');
});

test('symbolic dims that might match are never errors', () => {
  const h = new Harness();
  const x = h.ctx.newTensor([N, 3, H, W]);
  const y = h.ctx.newTensor([N, 3, W, H]);
  const sum = h.catalog.binaryOp('+', x, y, h.ctx);
  assert.equal(shapeText(sum), '[N, 3, H, W]');
  const flat = method(h, x, 'view', [intV(-1), intV(12)]);
  // 3·H·W·N / 12 is not known to divide evenly; the inferred size says so with floor().
  assert.equal(shapeText(flat), '[floor(H*N*W/4), 12]');
  assert.deepEqual(h.errors(), []);
  // Sizes read from a symbolic tensor stay symbolic ints.
  const size = method(h, x, 'size', [intV(2)]);
  assert.deepEqual(size, intV(H));
  const shape = h.catalog.tensorAttribute(x as TensorValue, 'shape', h.ctx);
  assert.equal(shape?.kind, 'tuple');
});

test('slicing, indexing and interpolation of symbolic sizes', () => {
  const h = new Harness();
  const x = h.ctx.newTensor([N, 3, H, W]) as TensorValue;
  const slice = (start: Value, stop: Value, step: Value = { kind: 'none' }): Value => ({ kind: 'slice', start, stop, step });
  const none: Value = { kind: 'none' };
  assert.equal(shapeText(h.catalog.getItem(x, tupleV([slice(none, none), intV(0)]), h.ctx)), '[N, H, W]');
  assert.equal(shapeText(h.catalog.getItem(x, tupleV([{ kind: 'ellipsis' }, slice(intV(1), intV(-1))]), h.ctx)), '[N, 3, H, W - 2]');
  assert.equal(shapeText(h.catalog.getItem(x, tupleV([{ kind: 'ellipsis' }, slice(none, none, intV(2))]), h.ctx)), '[N, 3, H, floor((W + 1)/2)]');
  const up = h.call(h.member('torch.nn.functional', 'interpolate'), [x], new Map<string, Value>([['scale_factor', floatV(0.5)]]));
  assert.equal(shapeText(up), '[N, 3, floor(H/2), floor(W/2)]');
  const chunks = method(h, h.ctx.newTensor([N, 2, H]), 'chunk', [intV(2), intV(1)]);
  assert.equal(chunks.kind, 'tuple');
});

test('ceil_mode pooling is exact for symbolic sizes', () => {
  // The symbolic formula, evaluated at H, must equal the concrete computation for every H.
  for (const [k, s, p] of [[3, 2, 0], [3, 2, 1], [2, 2, 0], [1, 3, 0], [5, 3, 2], [3, 3, 1]]) {
    const symbolic = slidingOutputSize(H, k, s, p, 1, true);
    for (let hv = Math.max(1, k - 2 * p); hv < 60; hv++) {
      const concrete = slidingOutputSize(hv, k, s, p, 1, true);
      assert.equal(evaluate(symbolic, new Map([['H', hv]])), concrete, `k=${k} s=${s} p=${p} H=${hv}: ${dimToString(symbolic)}`);
    }
  }
});

test('constant tensor values flow through RegNet-style width arithmetic', () => {
  const h = new Harness();
  // torchvision regnet_y_400mf: depth=16, w_0=48, w_a=27.89, w_m=2.09, QUANT=8.
  const widthsCont = h.catalog.binaryOp('+', h.catalog.binaryOp('*', torchFn(h, 'arange', [intV(16)]), floatV(27.89), h.ctx), intV(48), h.ctx);
  const capacity = torchFn(h, 'round', [h.catalog.binaryOp('/', torchFn(h, 'log', [h.catalog.binaryOp('/', widthsCont, intV(48), h.ctx)]), floatV(Math.log(2.09)), h.ctx)]);
  const scaled = torchFn(h, 'divide', [h.catalog.binaryOp('*', intV(48), torchFn(h, 'pow', [floatV(2.09), capacity]), h.ctx), intV(8)]);
  const widths = method(h, method(h, h.catalog.binaryOp('*', torchFn(h, 'round', [scaled]), intV(8), h.ctx), 'int'), 'tolist');
  assert.equal(widths.kind, 'list');
  const values = (widths as { items: Value[] }).items.map((v) => (v.kind === 'int' ? v.value : NaN));
  // Reference values printed by PyTorch 2.13 for the same expression.
  assert.deepEqual(values, [48, 104, 104, 104, 208, 208, 208, 208, 208, 208, 440, 440, 440, 440, 440, 440]);
  const counts = method(h, torchFn(h, 'diff', [torchFn(h, 'tensor', [listV([intV(0), intV(1), intV(5), intV(11), intV(16)])])]), 'tolist');
  assert.deepEqual(counts, listV([intV(1), intV(4), intV(6), intV(5)]));
  assert.deepEqual(method(h, torchFn(h, 'tensor', [floatV(2.5)]), 'item'), floatV(2.5));
  void strV;
});

test('RNN MACs follow the documented convention', () => {
  const h = new Harness();
  const lstm = layer(h, 'LSTM', [intV(10), intV(20)], [['num_layers', intV(2)]]);
  const out = h.callModule(lstm, [h.ctx.newTensor([5, 3, 10])], new Map());
  assert.equal(out.kind, 'tuple');
  // 5 steps × 3 sequences × [4·20·(10 + 20) + 4·20·(20 + 20)]
  assert.equal(h.macs, 15 * (4 * 20 * 30 + 4 * 20 * 40));
  const d: Dim = h.macs;
  assert.equal(typeof d, 'number');
});

test('a bare symbolic size meeting a requirement is stated, not solved', () => {
  const h = new Harness();
  const C = sym('C');
  run(h, layer(h, 'Conv2d', [intV(3), intV(8), intV(3)]), h.ctx.newTensor([N, C, H, W]));
  assert.deepEqual(h.diagnostics, [{ severity: 'info', message: 'Conv2d needs input channels C = 3' }]);
  h.reset();
  run(h, layer(h, 'Linear', [intV(10), intV(2)]), h.ctx.newTensor([N, sym('L'), mulDim(2, sym('D'))]));
  assert.deepEqual(h.diagnostics, [{ severity: 'info', message: 'Linear needs input features 2*D = 10: holds for D = 5' }]);
});

test('values of linspace reach Python through iteration and item()', () => {
  const h = new Harness();
  // timm: dpr = [x.item() for x in torch.linspace(0, drop_path_rate, depth)]
  const dpr = torchFn(h, 'linspace', [intV(0), floatV(0.1), intV(3)]) as TensorValue;
  const items = [0, 1, 2].map((i) => method(h, h.catalog.getItem(dpr, intV(i), h.ctx), 'item'));
  assert.deepEqual(items.map((v) => (v.kind === 'float' ? Math.round(v.value * 1e6) / 1e6 : v.kind)), [0, 0.05, 0.1]);
  const zeros = torchFn(h, 'linspace', [intV(0), intV(0), intV(4)]) as TensorValue;
  assert.deepEqual(method(h, h.catalog.getItem(zeros, intV(-1), h.ctx), 'item'), floatV(0));
});

test('view(-1, k) on a symbolic batch says which input sizes keep the batch', () => {
  const h = new Harness();
  // LeNet-5: conv5 → pool2 → conv5 → pool2 → view(-1, 16*5*5)
  let x: Value = h.ctx.newTensor([N, 1, H, W]);
  x = run(h, layer(h, 'Conv2d', [intV(1), intV(6), intV(5)]), x);
  x = run(h, layer(h, 'MaxPool2d', [intV(2)]), x);
  x = run(h, layer(h, 'Conv2d', [intV(6), intV(16), intV(5)]), x);
  x = run(h, layer(h, 'MaxPool2d', [intV(2)]), x);
  method(h, x, 'view', [intV(-1), intV(400)]);
  assert.deepEqual(h.diagnostics, [{ severity: 'info', message: 'view(-1, 400) keeps the batch size N when 16*floor((H - 12)/4)*floor((W - 12)/4) = 400: holds for H = W in 32–35' }]);
  h.reset();
  method(h, x, 'view', [intV(-1), intV(7)]);
  assert.equal(h.diagnostics[0].severity, 'warning');
  assert.match(h.diagnostics[0].message, /^view\(-1, 7\) mixes the batch dim N into the others/);
});

test('values survive reshapes, flips and full reductions', () => {
  const h = new Harness();
  // timm NesT: (4 ** torch.arange(num_levels)).flip(0).tolist()
  const blocks = method(h, h.catalog.binaryOp('**', intV(4), torchFn(h, 'arange', [intV(3)]), h.ctx), 'flip', [intV(0)]);
  assert.deepEqual(method(h, blocks, 'tolist'), listV([intV(16), intV(4), intV(1)]));
  const grid = method(h, torchFn(h, 'arange', [intV(6)]), 'view', [intV(2), intV(3)]);
  assert.deepEqual(method(h, method(h, grid, 'flip', [intV(1)]), 'tolist'), listV([listV([intV(2), intV(1), intV(0)]), listV([intV(5), intV(4), intV(3)])]));
  assert.deepEqual(method(h, method(h, grid, 'sum'), 'item'), intV(15));
});

test('values survive split, as in timm stage-wise drop-path schedules', () => {
  const h = new Harness();
  // [x.tolist() for x in torch.linspace(0, 0, 4).split([1, 3])]
  const parts = method(h, torchFn(h, 'linspace', [intV(0), intV(0), intV(4)]), 'split', [listV([intV(1), intV(3)])]);
  assert.equal(parts.kind, 'tuple');
  const lists = (parts as { items: Value[] }).items.map((p) => method(h, p, 'tolist'));
  assert.deepEqual(lists, [listV([floatV(0)]), listV([floatV(0), floatV(0), floatV(0)])]);
});

test('layers write out their output-size arithmetic for hovers', () => {
  const h = new Harness();
  const explain = (name: string, args: Value[], kwargs: [string, Value][], input: Value): string[] => {
    const inst = layer(h, name, args, kwargs);
    const spec = inst.cls.builtinModule!;
    const bound = new Map<string, Value>([['input', input]]);
    const out = spec.forward(inst, bound, h.ctx);
    return spec.arithmetic ? spec.arithmetic(inst, bound, out) : [];
  };
  assert.deepEqual(explain('Conv2d', [intV(3), intV(96), intV(11)], [['stride', intV(4)], ['padding', intV(2)]], h.ctx.newTensor([1, 3, 224, 224])),
    ['H: (224 − 11 + 2·2)/4 + 1 = 55', 'W: (224 − 11 + 2·2)/4 + 1 = 55']);
  assert.deepEqual(explain('Conv2d', [intV(8), intV(8), intV(3)], [['padding', intV(2)], ['dilation', intV(2)]], h.ctx.newTensor([1, 8, N, 10])),
    ['H: (N − 5 + 2·2)/1 + 1 = N (F = 2·(3 − 1) + 1)', 'W: (10 − 5 + 2·2)/1 + 1 = 10 (F = 2·(3 − 1) + 1)']);
  assert.deepEqual(explain('ConvTranspose2d', [intV(16), intV(8), intV(3)], [['stride', intV(2)], ['padding', intV(1)], ['output_padding', intV(1)]], h.ctx.newTensor([1, 16, 7, 7])),
    ['H: (7 − 1)·2 − 2·1 + 3 + 1 = 14', 'W: (7 − 1)·2 − 2·1 + 3 + 1 = 14']);
  assert.deepEqual(explain('MaxPool2d', [intV(3), intV(2)], [['ceil_mode', { kind: 'bool', value: true }]], h.ctx.newTensor([1, 96, 109, 109])),
    ['H: ceil((109 − 3 + 2·0)/2) + 1 = 54', 'W: ceil((109 − 3 + 2·0)/2) + 1 = 54']);
  assert.deepEqual(explain('Conv1d', [intV(4), intV(4), intV(3)], [['padding', strV('same')]], h.ctx.newTensor([1, 4, 17])), ["L: padding='same' keeps 17"]);
  assert.deepEqual(explain('AdaptiveAvgPool2d', [intV(1)], [], h.ctx.newTensor([2, 512, 7, 7])), ['H: 7 → 1 (adaptive)', 'W: 7 → 1 (adaptive)']);
  assert.deepEqual(explain('Upsample', [], [['scale_factor', intV(2)]], h.ctx.newTensor([1, 3, 5, 7])), ['H: floor(5 × 2) = 10', 'W: floor(7 × 2) = 14']);
  assert.deepEqual(explain('Flatten', [], [], h.ctx.newTensor([1, 256, 6, 6])), ['features: 256×6×6 = 9216']);
});

test('Embedding.from_pretrained builds a frozen layer of the weight\'s shape', () => {
  const h = new Harness();
  const cls = h.nnClass('Embedding');
  const fromPretrained = cls.attrs.get('from_pretrained');
  assert.equal(fromPretrained?.kind, 'builtin');
  const inst = h.call(fromPretrained!, [h.ctx.newTensor([50, 8])], new Map());
  assert.equal(inst.kind, 'instance');
  const weight = (inst as { module?: { params: Map<string, Value> } }).module?.params.get('weight') as TensorValue;
  assert.deepEqual(weight.shape, [50, 8]);
  assert.equal(weight.requiresGrad, false);
  const out = h.callModule(inst as never, [h.ctx.newTensor([2, 5], 'int64')], new Map());
  assert.equal(shapeText(out), '[2, 5, 8]');
  const trainable = h.call(fromPretrained!, [h.ctx.newTensor([50, 8])], new Map([['freeze', { kind: 'bool', value: false } as Value]]));
  assert.equal(((trainable as { module?: { params: Map<string, Value> } }).module?.params.get('weight') as TensorValue).requiresGrad, true);
});
