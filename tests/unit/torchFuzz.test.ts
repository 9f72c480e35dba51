// The catalog never throws: every torch.*, F.* function, tensor method, operator, index
// and layer is called with arbitrary mixes of tensors (known, symbolic, unknown rank),
// Python values and unknowns. Results may be unknown and diagnostics may appear; an
// exception would abort the user's whole analysis, so none may escape.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { TensorValue, Value } from '../../extension/analysis/interp/values';
import { sym } from '../../extension/analysis/shape/dim';
import { NONE, boolV, floatV, intV, listV, strV, tupleV, unknownV } from '../../extension/analysis/torch/args';
import { Harness } from './torchHarness';

function makeRandom(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % n;
  };
}

function samples(h: Harness): Value[] {
  const t = (shape: TensorValue['shape'], dtype: TensorValue['dtype'] = 'float32'): Value => h.ctx.newTensor(shape, dtype);
  const N = sym('N');
  const H = sym('H');
  return [
    t([2, 3, 8, 8]), t([4, 5]), t([7]), t([]), t(null), t([N, 3, H, H]), t([N, 16]), t([3, 3], 'int64'), t([2, 3], 'bool'), t([0, 4]),
    t([1, 1, 1, 1, 1]), t([N, sym('L'), 32]),
    intV(0), intV(1), intV(-1), intV(3), intV(100), intV(sym('K')), floatV(0.5), floatV(2.5), boolV(true), boolV(false), NONE, unknownV(),
    strV('same'), strV('valid'), strV('mean'), strV('ij,jk->ik'), strV('bilinear'), strV('nonsense'),
    tupleV([intV(2), intV(2)]), listV([intV(1), intV(2), intV(3)]), tupleV([]), listV([t([2, 3]), t([2, 3])]), tupleV([t([4]), t([5])]),
    { kind: 'slice', start: intV(1), stop: NONE, step: intV(2) }, { kind: 'ellipsis' }, h.member('torch', 'float16'),
  ];
}

function argLists(rand: (n: number) => number, pool: Value[], count: number): Value[][] {
  const out: Value[][] = [[]];
  for (let i = 0; i < count; i++) {
    const n = 1 + rand(4);
    out.push(Array.from({ length: n }, () => pool[rand(pool.length)]));
  }
  return out;
}

test('torch.*, F.* and torch.nn.utils.rnn functions never throw', () => {
  const h = new Harness();
  const rand = makeRandom(7);
  const pool = samples(h);
  let calls = 0;
  for (const moduleName of ['torch', 'torch.nn.functional', 'torch.nn.utils.rnn', 'torch.nn.init', 'torch.nn.modules.utils']) {
    for (const [name, fn] of h.catalog.modules.get(moduleName) ?? []) {
      if (fn.kind !== 'builtin') continue;
      for (const args of argLists(rand, pool, 25)) {
        assert.doesNotThrow(() => h.call(fn, args, new Map()), `${moduleName}.${name}(${args.map((a) => a.kind).join(', ')})`);
        calls++;
      }
    }
  }
  assert.ok(calls > 5000);
});

test('tensor methods, operators and indexing never throw', () => {
  const h = new Harness();
  const rand = makeRandom(11);
  const pool = samples(h);
  const tensors = pool.filter((v): v is TensorValue => v.kind === 'tensor');
  const names = ['view', 'reshape', 'permute', 'transpose', 'flatten', 'unflatten', 'squeeze', 'unsqueeze', 'expand', 'repeat', 'chunk', 'split', 'mean', 'sum',
    'max', 'min', 'argmax', 'std', 'softmax', 'size', 'to', 'type', 'narrow', 'gather', 'index_select', 'masked_fill', 'topk', 'unbind', 'diagonal', 'unfold',
    'tolist', 'item', 'float', 'new_zeros', 'new_full', 'expand_as', 'view_as', 'movedim', 'tile', 'diff', 'clamp', 'add_', 'erfinv_', 'tensor_split'];
  for (const name of names) {
    const impl = h.catalog.tensorMethod(name);
    assert.ok(impl, name);
    for (const t of tensors) {
      for (const args of argLists(rand, pool, 8)) {
        try {
          impl([t, ...args], new Map(), h.ctx);
        } catch (e) {
          assert.fail(`${name}(${args.map((a) => a.kind).join(', ')}) threw ${(e as Error).stack}`);
        }
      }
    }
  }
  const ops = ['+', '-', '*', '/', '//', '%', '**', '@', '&', '|', '==', '<', '>='] as const;
  for (const op of ops) for (const a of pool) for (const t of tensors) {
    assert.doesNotThrow(() => h.catalog.binaryOp(op, a, t, h.ctx));
    assert.doesNotThrow(() => h.catalog.binaryOp(op, t, a, h.ctx));
  }
  for (const t of tensors) {
    for (const a of pool) assert.doesNotThrow(() => h.catalog.getItem(t, a, h.ctx));
    for (const args of argLists(rand, pool, 30)) assert.doesNotThrow(() => h.catalog.getItem(t, tupleV(args), h.ctx));
    for (const name of ['shape', 'T', 'mT', 'dtype', 'device', 'ndim', 'data']) assert.doesNotThrow(() => h.catalog.tensorAttribute(t, name, h.ctx));
    assert.doesNotThrow(() => h.catalog.unaryOp('-', t, h.ctx));
  }
});

test('every layer constructs and runs on arbitrary arguments without throwing', () => {
  for (const seed of [3, 5, 8, 13]) {
    const h = new Harness();
    const rand = makeRandom(seed);
    const pool = samples(h);
    const plain = pool.filter((v) => v.kind !== 'tensor');
    const pick = (from: Value[]): Value => from[rand(from.length)];
    for (const [name, cls] of h.catalog.modules.get('torch.nn') ?? []) {
      if (cls.kind !== 'class' || !cls.builtinModule) continue;
      const spec = cls.builtinModule;
      for (let round = 0; round < 12; round++) {
        // Required parameters positionally, a random subset of the others by keyword.
        const args = spec.signature.filter((p) => p.default === undefined && (p.kind ?? 'positional') === 'positional').map(() => pick(plain));
        const kwargs = new Map<string, Value>();
        for (const p of spec.signature) if (p.default !== undefined && p.kind !== 'varargs' && p.kind !== 'varkw' && rand(3) === 0) kwargs.set(p.name, pick(plain));
        let inst;
        try {
          inst = h.instantiate(cls, args, kwargs);
        } catch (e) {
          assert.fail(`${name}(${args.map((a) => a.kind).join(', ')}) threw ${(e as Error).stack}`);
        }
        for (let call = 0; call < 6; call++) {
          const inputs = spec.forwardSignature.filter((p) => p.default === undefined && p.kind !== 'varargs' && p.kind !== 'varkw').map(() => pick(pool));
          try {
            h.callModule(inst, inputs, new Map());
          } catch (e) {
            assert.fail(`${name} forward(${inputs.map((a) => a.kind).join(', ')}) threw ${(e as Error).stack}`);
          }
        }
      }
    }
  }
});
