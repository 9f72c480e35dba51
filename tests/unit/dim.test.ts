// Symbolic dimension arithmetic: canonical texts, floor identities the layer formulas
// rely on, and solving a dim against a concrete requirement.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  add, ceilDiv, constValue, dimEquals, dimToString, evaluate, floorDiv, floorMulRatio, freeSymbols,
  isSym, mod, mul, neg, product, shapeToString, shapesEqual, solveFor, sub, substitute, substituteSymbols, sym, valueRangesText,
  type Dim,
} from '../../extension/analysis/shape/dim';

const H = sym('H');
const W = sym('W');
const N = sym('N');

/** PyTorch's conv/pool output size: floor((x + 2p - d(k-1) - 1)/s) + 1. */
function convOut(x: Dim, k: number, s: number, p: number, d = 1): Dim {
  return add(floorDiv(sub(add(x, 2 * p), d * (k - 1) + 1), s), 1);
}

test('constants fold to plain numbers', () => {
  assert.equal(add(2, 3), 5);
  assert.equal(mul(add(H, 1), 0), 0);
  assert.equal(sub(add(H, 3), H), 3);
  assert.equal(floorDiv(7, 2), 3);
  assert.equal(floorDiv(-7, 2), -4);
  assert.equal(mod(-7, 3), 2);
  assert.equal(ceilDiv(7, 2), 4);
  assert.equal(constValue(sub(mul(H, 2), add(H, H))), 0);
  assert.equal(isSym(H), true);
  assert.equal(isSym(4), false);
});

test('polynomial texts are canonical regardless of construction order', () => {
  const a = add(add(mul(2, H), 1), mul(W, H));
  const b = add(mul(H, W), add(1, add(H, H)));
  assert.equal(dimToString(a), 'H*W + 2*H + 1');
  assert.equal(dimToString(a), dimToString(b));
  assert.equal(dimEquals(a, b), true);
  assert.equal(dimToString(sub(1, H)), '-H + 1');
  assert.equal(dimToString(neg(mul(3, H))), '-3*H');
  assert.equal(dimToString(mul(H, H)), 'H*H');
});

test('floor division pulls out multiples and cancels common factors', () => {
  assert.equal(dimToString(floorDiv(mul(4, H), 2)), '2*H');
  assert.equal(dimToString(floorDiv(add(mul(2, H), 2), 4)), 'floor((H + 1)/2)');
  assert.equal(dimToString(floorDiv(add(mul(5, H), 3), 2)), '2*H + floor((H - 1)/2) + 2');
  assert.equal(dimToString(floorDiv(H, 2)), 'floor(H/2)');
  assert.equal(dimToString(floorDiv(H, -2)), '-H + floor(H/2)');
});

test('resnet stem: conv7/2 then maxpool3/2 gives ceil(H/4) in one floor', () => {
  const conv = convOut(H, 7, 2, 3);
  assert.equal(dimToString(conv), 'floor((H + 1)/2)');
  const pool = convOut(conv, 3, 2, 1);
  assert.equal(dimToString(pool), 'floor((H + 3)/4)');
  assert.equal(dimEquals(pool, ceilDiv(H, 4)), true);
  for (const h of [224, 225, 227, 32, 1]) {
    const expected = Math.floor((Math.floor((h + 6 - 7) / 2) + 1 + 2 - 3) / 2) + 1;
    assert.equal(evaluate(pool, new Map([['H', h]])), expected);
  }
});

test('nested floors merge: floor(floor(H/2)/2) is floor(H/4)', () => {
  assert.equal(dimToString(floorDiv(floorDiv(H, 2), 2)), 'floor(H/4)');
  assert.equal(dimToString(floorDiv(add(floorDiv(H, 3), 1), 2)), 'floor((H + 3)/6)');
});

test('mod and ceil in floor form', () => {
  assert.equal(dimToString(mod(H, 2)), 'H - 2*floor(H/2)');
  assert.equal(dimToString(ceilDiv(H, 2)), 'floor((H + 1)/2)');
  for (let h = 1; h < 20; h++) {
    const env = new Map([['H', h]]);
    assert.equal(evaluate(mod(H, 3), env), h % 3);
    assert.equal(evaluate(ceilDiv(H, 3), env), Math.ceil(h / 3));
  }
});

test('symbolic divisors give deterministic atoms', () => {
  const a = floorDiv(H, W);
  const b = floorDiv(H, W);
  assert.equal(dimToString(a), 'floor(H/W)');
  assert.equal(dimEquals(a, b), true);
  assert.equal(evaluate(a, new Map([['H', 7], ['W', 2]])), 3);
  assert.equal(floorDiv(add(H, W), add(W, H)), 1);
});

test('equality is decided only when it can be', () => {
  assert.equal(dimEquals(H, H), true);
  assert.equal(dimEquals(H, add(H, 1)), false);
  assert.equal(dimEquals(H, 5), undefined);
  assert.equal(dimEquals(H, W), undefined);
  assert.equal(shapesEqual([N, 3, H], [N, 3, H]), true);
  assert.equal(shapesEqual([N, 3, H], [N, 4, H]), false);
  assert.equal(shapesEqual([N, 3], [N, 3, 1]), false);
  assert.equal(shapesEqual([N, 3], [W, 3]), undefined);
});

test('product, substitution and free symbols', () => {
  const numel = product([N, 256, floorDiv(H, 32), floorDiv(W, 32)]);
  assert.equal(dimToString(numel), '256*N*floor(H/32)*floor(W/32)');
  assert.deepEqual(freeSymbols(numel), ['H', 'N', 'W']);
  const partly = substitute(numel, new Map([['H', 224], ['W', 224]]));
  assert.equal(dimToString(partly), '12544*N');
  assert.equal(substitute(partly, new Map([['N', 2]])), 25088);
  assert.equal(shapeToString([N, 64, floorDiv(H, 2)]), '[N, 64, floor(H/2)]');
});

test('solveFor finds every input size that satisfies a requirement', () => {
  // AlexNet-like: features end at 256 x f(H) x f(H); Linear(9216) needs f(H) == 6.
  let x: Dim = H;
  x = convOut(x, 11, 4, 2);
  x = convOut(x, 3, 2, 0);
  x = convOut(x, 5, 1, 2);
  x = convOut(x, 3, 2, 0);
  x = convOut(x, 3, 1, 1);
  x = convOut(x, 3, 2, 0);
  const flat = mul(256, mul(x, x));
  const solved = solveFor(flat, 9216, 1000);
  assert.ok(solved);
  assert.equal(solved.symbol, 'H');
  assert.ok(solved.values.includes(224));
  assert.ok(solved.values.includes(227));
  assert.ok(!solved.values.includes(200));
  assert.equal(valueRangesText(solved.values), '223–254');
  assert.equal(solveFor(mul(H, W), 4), undefined);
  assert.deepEqual(solveFor(mul(2, H), 7)?.values, []);
});

test('floorMulRatio handles interpolate scale factors exactly', () => {
  assert.equal(dimToString(floorMulRatio(H, 2)), '2*H');
  assert.equal(dimToString(floorMulRatio(H, 0.5)), 'floor(H/2)');
  assert.equal(dimToString(floorMulRatio(H, 1.5)), 'H + floor(H/2)');
  assert.equal(floorMulRatio(7, 1.5), 10);
});

test('random expression trees evaluate like Python integer arithmetic', () => {
  // A small deterministic PRNG keeps the test reproducible.
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  type Node = { dim: Dim; value: (h: number, w: number) => number };
  const leaf = (): Node => {
    const r = rand(3);
    if (r === 0) return { dim: H, value: (h) => h };
    if (r === 1) return { dim: W, value: (_h, w) => w };
    const c = rand(9) - 2;
    return { dim: c, value: () => c };
  };
  const build = (depth: number): Node => {
    if (depth === 0) return leaf();
    const a = build(depth - 1);
    const op = rand(8);
    if (op === 6) return { dim: floorDiv(a.dim, H), value: (h, w) => Math.floor(a.value(h, w) / h) };
    if (op === 7) { const b = build(depth - 1); return { dim: mul(a.dim, b.dim), value: (h, w) => a.value(h, w) * b.value(h, w) }; }
    if (op === 0) { const b = build(depth - 1); return { dim: add(a.dim, b.dim), value: (h, w) => a.value(h, w) + b.value(h, w) }; }
    if (op === 1) { const b = build(depth - 1); return { dim: sub(a.dim, b.dim), value: (h, w) => a.value(h, w) - b.value(h, w) }; }
    if (op === 2) { const c = rand(4) + 1; return { dim: mul(a.dim, c), value: (h, w) => a.value(h, w) * c }; }
    if (op === 3) { const c = rand(5) + 2; return { dim: floorDiv(a.dim, c), value: (h, w) => Math.floor(a.value(h, w) / c) }; }
    if (op === 4) { const c = rand(5) + 2; return { dim: mod(a.dim, c), value: (h, w) => { const v = a.value(h, w); return v - c * Math.floor(v / c); } }; }
    const c = rand(5) + 2;
    return { dim: ceilDiv(a.dim, c), value: (h, w) => -Math.floor(-a.value(h, w) / c) };
  };
  const seen = new Map<string, number[]>();
  for (let i = 0; i < 300; i++) {
    const node = build(1 + rand(4));
    // Equal text must mean equal value.
    const text = dimToString(node.dim);
    const values = [[1, 1], [2, 7], [13, 4], [224, 227], [31, 64]].map(([h, w]) => node.value(h, w));
    const before = seen.get(text);
    if (before) assert.deepEqual(values, before, `two expressions print as ${text}`);
    seen.set(text, values);
    for (const [h, w] of [[1, 1], [2, 7], [13, 4], [224, 227], [31, 64]]) {
      const env = new Map([['H', h], ['W', w]]);
      assert.equal(evaluate(node.dim, env), node.value(h, w), `${dimToString(node.dim)} at H=${h}, W=${w}`);
      // Substituting one symbol then the other must agree with direct evaluation.
      const half = substitute(node.dim, new Map([['H', h]]));
      assert.equal(evaluate(half, env), node.value(h, w));
    }
  }
});

test('substituteSymbols renames symbols to reason about square inputs', () => {
  const area = mul(floorDiv(H, 2), floorDiv(W, 2));
  const square = substituteSymbols(area, new Map([['W', H]]));
  assert.equal(dimToString(square), 'floor(H/2)*floor(H/2)');
  assert.deepEqual(solveFor(square, 49, 100)?.values, [14, 15]);
});

test('division by a symbolic monomial takes out the terms it divides', () => {
  const numel = product([N, 256, floorDiv(H, 32), floorDiv(W, 32)]);
  assert.equal(dimToString(floorDiv(numel, N)), '256*floor(H/32)*floor(W/32)');
  assert.equal(dimToString(floorDiv(add(mul(N, H), 3), N)), 'H + floor(3/N)');
  assert.equal(evaluate(floorDiv(add(mul(N, H), 3), N), new Map([['N', 2], ['H', 5]])), 6);
  assert.equal(dimToString(floorDiv(mul(mul(4, N), H), mul(2, N))), '2*H');
});

test('display text factors products and folds constants into floors', () => {
  assert.equal(dimToString(mul(sub(H, 4), sub(W, 4))), '(H - 4)*(W - 4)');
  assert.equal(dimToString(mul(N, add(H, 1))), 'N*(H + 1)');
  assert.equal(dimToString(add(mul(2, H), 2)), '2*H + 2');
  assert.equal(dimToString(sub(1, H)), '-H + 1');
  assert.equal(dimToString(mul(16, sub(floorDiv(H, 4), 3))), '16*floor((H - 12)/4)');
  assert.equal(dimToString(add(floorDiv(H, 2), 1)), 'floor((H + 2)/2)');
  assert.equal(dimToString(mul(add(H, W), add(H, 1))), 'H*H + H*W + H + W');
  // The text is only a rendering: the same polynomial built two ways prints the same.
  assert.equal(dimToString(add(mul(H, W), add(mul(-4, H), add(mul(-4, W), 16)))), '(H - 4)*(W - 4)');
});
