// The interpreter on the Python that model code uses: each test runs a small snippet as a
// module and reads back module-level values (repr'd like Python would print them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runModule } from './interpSupport';

async function values(source: string, names: string[]): Promise<Record<string, string>> {
  const run = await runModule(source);
  assert.equal(run.outcome, 'ok', run.error);
  return Object.fromEntries(names.map((n) => [n, run.repr(n)]));
}

test('functions: defaults, *args, **kwargs, keyword-only', async () => {
  const v = await values(`
def f(a, b=2, *args, c, d=4, **kw):
    return (a, b, args, c, d, sorted(kw.items()))
x = f(1, c=3, e=5)
y = f(1, 2, 3, 4, c=0)
def g(*, k=1): return k
z = g(k=5)
`, ['x', 'y', 'z']);
  assert.deepEqual(v, { x: "(1, 2, (), 3, 4, [('e', 5)])", y: '(1, 2, (3, 4), 0, 4, [])', z: '5' });
});

test('integer and float arithmetic follows Python (floor division, modulo, power)', async () => {
  const v = await values(`
q = (7 // 2, -7 // 2, 7 % -3, -7 % 3, 2 ** 10, 7 / 2, 2 ** -1, 1 + True)
r = (int(3.9), int(-3.9), round(2.5), round(3.5), round(3.14159, 2), abs(-4), divmod(17, 5))
c = (1 < 2 < 3, 3 > 2 > 2, 1 == 1.0, 'a' < 'b', (1, 2) < (1, 3))
`, ['q', 'r', 'c']);
  assert.equal(v.q, '(3, -4, -2, 2, 1024, 3.5, 0.5, 2)');
  assert.equal(v.r, '(3, -3, 2, 4, 3.14, 4, (3, 2))');
  assert.equal(v.c, '(True, False, True, True, True)');
});

test('math module', async () => {
  const v = await values(`
import math
a = (math.floor(7 / 2), math.ceil(7 / 2), math.sqrt(16), math.gcd(12, 18), math.prod([2, 3, 4]), math.isqrt(17))
b = math.log2(8)
`, ['a', 'b']);
  assert.deepEqual(v, { a: '(3, 4, 4.0, 6, 24, 4)', b: '3.0' });
});

test('tuple unpacking, starred targets, nested targets, walrus', async () => {
  const v = await values(`
a, *b, c = (1, 2, 3, 4)
(d, e), f = (5, 6), 7
for i, (j, k) in [(0, (1, 2))]:
    pass
if (n := 10) > 5:
    m = n * 2
`, ['a', 'b', 'c', 'd', 'e', 'f', 'j', 'k', 'm']);
  assert.deepEqual(v, { a: '1', b: '[2, 3]', c: '4', d: '5', e: '6', f: '7', j: '1', k: '2', m: '20' });
});

test('comprehensions, generators and the builtins over iterables', async () => {
  const v = await values(`
w = [i * i for i in range(5) if i % 2 == 0]
d = {k: v for k, v in zip("abc", range(3))}
s = sorted({x % 3 for x in range(10)})
g = sum(x for x in range(4))
e = list(enumerate(['a', 'b'], start=1))
mm = (min(3, 1, 2), max([4, 9, 2]), min([5, 6], key=lambda t: -t), any([0, 1]), all([1, 0]))
r = list(reversed(range(3)))
m = list(map(lambda x: x + 1, [1, 2]))
f = list(filter(None, [0, 1, 2]))
it = iter([1, 2, 3])
first = next(it)
rest = list(it)
`, ['w', 'd', 's', 'g', 'e', 'mm', 'r', 'm', 'f', 'first', 'rest']);
  assert.deepEqual(v, {
    w: '[0, 4, 16]', d: "{'a': 0, 'b': 1, 'c': 2}", s: '[0, 1, 2]', g: '6', e: "[(1, 'a'), (2, 'b')]",
    mm: '(1, 9, 6, True, False)', r: '[2, 1, 0]', m: '[2, 3]', f: '[1, 2]', first: '1', rest: '[2, 3]',
  });
});

test('strings: f-strings, format, methods, % formatting', async () => {
  const v = await values(`
import math
s = f"{math.floor(7/2)}-{3.14159:.2f}-{'x'!r}-{42:>5}-{1000000:,}"
t = "{}x{}".format(3, 4) + " {name}".format(name="n")
u = ("a,b,c".split(","), "-".join(["x", "y"]), "  pad ".strip(), "Conv".lower(), "layer1.0".startswith("layer"), "abc".replace("b", "B"))
p = "%d x %s = %.1f" % (3, 'four', 12.0)
`, ['s', 't', 'u', 'p']);
  assert.equal(v.s, `"3-3.14-'x'-   42-1,000,000"`);
  assert.equal(v.t, "'3x4 n'");
  assert.equal(v.u, "(['a', 'b', 'c'], 'x-y', 'pad', 'conv', True, 'aBc')");
  assert.equal(v.p, "'3 x four = 12.0'");
});

test('lists and dicts: methods, slicing, OrderedDict, in', async () => {
  const v = await values(`
from collections import OrderedDict
l = [3, 1, 2]
l.append(4); l.extend([5]); l.insert(0, 0); l.sort(); popped = l.pop()
sl = (l[1:3], l[::-1], l[-2:], l[:-1:2])
d = OrderedDict()
d["b"] = 1
d["a"] = 2
keys = list(d.keys())
d2 = dict(d, c=3)
got = (d2.get("c"), d2.get("z", 0), "a" in d2, 3 in l, d2.pop("a"), len(d2))
od = OrderedDict([("x", 1), ("y", 2)])
items = list(od.items())
`, ['l', 'popped', 'sl', 'keys', 'got', 'items']);
  assert.deepEqual(v, {
    l: '[0, 1, 2, 3, 4]', popped: '5', sl: '([1, 2], [4, 3, 2, 1, 0], [3, 4], [0, 2])', keys: "['b', 'a']",
    got: '(3, 0, True, True, 2, 2)', items: "[('x', 1), ('y', 2)]",
  });
});

test('classes: inheritance, MRO, super() with zero and two arguments, class attributes', async () => {
  const v = await values(`
class A:
    expansion = 1
    def __init__(self, x):
        self.x = x
    def who(self): return "A"
class B(A):
    def __init__(self, x):
        super().__init__(x * 2)
    def who(self): return "B" + super().who()
class C(A):
    expansion = 4
    def who(self): return "C" + super(C, self).who()
class D(B, C):
    def who(self): return "D" + super().who()
d = D(5)
r = (d.x, d.who(), D.expansion, B.expansion, [k.__name__ for k in D.__mro__])
`, ['r']);
  assert.equal(v.r, "(10, 'DBCA', 4, 1, ['D', 'B', 'C', 'A', 'object'])");
});

test('decorators: staticmethod, classmethod, property with setter, unknown decorators are transparent', async () => {
  const v = await values(`
import some_unknown_library as lib
class P:
    base = 3
    def __init__(self): self._v = 1
    @staticmethod
    def s(a): return a + 1
    @classmethod
    def make(cls): return cls.base * 2
    @property
    def v(self): return self._v * 10
    @v.setter
    def v(self, value): self._v = value
    @lib.magic(option=True)
    def kept(self): return "still here"
p = P()
p.v = 4
r = (P.s(1), p.s(2), P.make(), p.make(), p.v, p.kept())
`, ['r']);
  assert.equal(v.r, "(2, 3, 6, 6, 40, 'still here')");
});

test('lambdas, closures, nonlocal, functools.partial, decorators with arguments', async () => {
  const v = await values(`
from functools import partial, wraps, reduce
def counter():
    n = 0
    def inc():
        nonlocal n
        n += 1
        return n
    return inc
c = counter(); c(); c()
count = c()
def repeat(times):
    def deco(fn):
        @wraps(fn)
        def wrapper(*a, **k):
            return [fn(*a, **k) for _ in range(times)]
        return wrapper
    return deco
@repeat(2)
def one(): return 1
add = lambda a, b=10: a + b
p = partial(add, b=1)
r = (count, one(), add(1), p(5), reduce(lambda a, b: a * b, [1, 2, 3, 4]), one.__name__)
import functools, types
kinds = (isinstance(p, functools.partial), isinstance(p, types.FunctionType), isinstance(add, types.FunctionType), p.func is add, p.keywords)
`, ['r', 'kinds']);
  assert.equal(v.r, "(3, [1, 1], 11, 6, 24, 'one')");
  assert.equal(v.kinds, "(True, False, True, True, {'b': 1})");
});

test('dataclasses and NamedTuple configs', async () => {
  const v = await values(`
from dataclasses import dataclass, field
from typing import NamedTuple, List
from collections import namedtuple
@dataclass
class Cfg:
    width: int
    depth: int = 2
    extra: List[int] = field(default_factory=list)
    def total(self): return self.width * self.depth
@dataclass(frozen=True)
class Big(Cfg):
    heads: int = 8
class Spec(NamedTuple):
    c: int
    k: int = 3
Pt = namedtuple("Pt", "x y")
a = Cfg(4)
b = Big(width=2, depth=3)
s = Spec(16)
c, k = s
pt = Pt(1, y=2)
r = (a.total(), a.extra, b.heads, b.total(), s.c, s.k, s[0], len(s), c, k, pt.x + pt.y, tuple(pt))
`, ['r']);
  assert.equal(v.r, '(8, [], 8, 6, 16, 3, 16, 2, 16, 3, 3, (1, 2))');
});

test('Enum classes with members, aliases, lookup by name and value', async () => {
  const v = await values(`
from enum import Enum
class W(Enum):
    V1 = "url1"
    V2 = "url2"
    DEFAULT = V2
    @classmethod
    def verify(cls, obj):
        if obj is not None:
            if type(obj) is str:
                obj = cls[obj.replace(cls.__name__ + ".", "")]
        return obj
r = (W.V1.value, W.DEFAULT is W.V2, W.DEFAULT.name, W.verify("W.V1").value, W.verify(None), W("url1").name, [m.name for m in W], isinstance(W.V1, W))
`, ['r']);
  assert.equal(v.r, "('url1', True, 'V2', 'url1', None, 'V1', ['V1', 'V2'], True)");
});

test('control flow: while/break/continue/else, try/except/finally, with, assert', async () => {
  const v = await values(`
i = 0
out = []
while True:
    i += 1
    if i % 2: continue
    if i > 6: break
    out.append(i)
for x in range(3):
    pass
else:
    out.append("else")
try:
    y = {}["missing"]
except KeyError as e:
    y = "caught"
finally:
    z = "finally"
try:
    ok = 1
except Exception:
    ok = 2
else:
    ok = 3
class Ctx:
    def __enter__(self): return "entered"
    def __exit__(self, *a): return False
with Ctx() as w:
    pass
assert ok == 3, "never"
`, ['out', 'y', 'z', 'ok', 'w']);
  assert.deepEqual(v, { out: "[2, 4, 6, 'else']", y: "'caught'", z: "'finally'", ok: '3', w: "'entered'" });
});

test('getattr/setattr/hasattr/isinstance/issubclass/type', async () => {
  const v = await values(`
class A: pass
class B(A):
    k = 1
b = B()
setattr(b, "n", 5)
r = (getattr(b, "n"), getattr(b, "missing", "dflt"), hasattr(b, "k"), hasattr(b, "zz"), isinstance(b, A), isinstance(3, (str, int)),
     issubclass(B, A), type(b) is B, type(3).__name__, isinstance(True, int), callable(b), callable(len))
`, ['r']);
  assert.equal(v.r, '(5, \'dflt\', True, False, True, True, True, True, \'int\', True, False, True)');
});

test('a raise on the analyzed path ends the run with its message', async () => {
  const run = await runModule(`
def check(groups):
    if groups != 1:
        raise ValueError(f"only groups=1 is supported, got {groups}")
check(2)
`);
  assert.equal(run.outcome, 'raise');
  assert.equal(run.error, 'ValueError: only groups=1 is supported, got 2');
});

test('unknown values propagate without errors and unknown conditions follow the documented policy', async () => {
  const run = await runModule(`
import not_installed_pkg
from other_missing import thing
u = not_installed_pkg.compute(3) + 1
v = thing.attr[0].method()
weights = not_installed_pkg.weights
if weights is not None:
    chosen = "weights"
else:
    chosen = "none"
if not_installed_pkg.flag:
    raise ValueError("bad")
else:
    safe = True
for item in not_installed_pkg.items:
    never = True
`);
  assert.equal(run.outcome, 'ok', run.error);
  assert.equal(run.get('u').kind, 'unknown');
  assert.equal(run.get('v').kind, 'unknown');
  assert.equal(run.repr('chosen'), "'none'");
  assert.equal(run.repr('safe'), 'True');
  assert.equal(run.get('never').kind, 'unknown');
  assert.ok(run.diagnostics.some((d) => d.message.includes("Cannot find module 'not_installed_pkg'")));
});

test('an infinite loop ends with the step budget, fast', async () => {
  const start = Date.now();
  const run = await runModule('x = 0\nwhile True:\n    x += 1\n', { stepBudget: 100_000 });
  assert.equal(run.outcome, 'budget');
  assert.ok(Date.now() - start < 2000);
});

test('deep recursion ends with the recursion limit', async () => {
  const run = await runModule('def f(n):\n    return f(n + 1)\nf(0)\n', { recursionLimit: 50 });
  assert.equal(run.outcome, 'recursion');
  assert.match(run.error ?? '', /recursion limit/);
});

test('except clauses catch interpreter-raised errors (IndexError, ZeroDivisionError, TypeError)', async () => {
  const v = await values(`
r = []
for thunk in (lambda: [1][5], lambda: 1 // 0, lambda: (lambda a: a)()):
    try:
        thunk()
    except IndexError:
        r.append("index")
    except ZeroDivisionError:
        r.append("zero")
    except TypeError:
        r.append("type")
`, ['r']);
  assert.equal(v.r, "['index', 'zero', 'type']");
});

test('copy.deepcopy makes new objects; itertools basics', async () => {
  const v = await values(`
import copy, itertools
a = [[1], [2]]
b = copy.deepcopy(a)
b[0].append(9)
c = list(itertools.chain([1], (2, 3)))
p = list(itertools.product([0, 1], repeat=2))
acc = list(itertools.accumulate([1, 2, 3]))
r = (a, b, c, p, acc)
`, ['r']);
  assert.equal(v.r, '([[1], [2]], [[1, 9], [2]], [1, 2, 3], [(0, 0), (0, 1), (1, 0), (1, 1)], [1, 3, 6])');
});

test('inspect.signature supports keyword-only detection (torchvision\'s kwonly_to_pos_or_kw)', async () => {
  const v = await values(`
import inspect
def f(a, *, weights=None, progress=True): return (a, weights, progress)
params = inspect.signature(f).parameters
idx = next(i for i, p in enumerate(params.values()) if p.kind == p.KEYWORD_ONLY)
names = tuple(params)[idx:]
`, ['idx', 'names']);
  assert.deepEqual(v, { idx: '1', names: "('weights', 'progress')" });
});

test('re: split, match groups, sub with backreferences and callables, findall, compile', async () => {
  const v = await values(`
import re
parts = [re.split(r'(\\d.*)', op)[:2] for op in "ir_r2_k3_s2_e6_c24".split("_")[1:]]
m = re.match(r"(?P<kind>[a-z]+)(\\d+)", "conv3x3")
got = (m.group(0), m.group("kind"), m.group(2), m.groups(), m.span())
none = re.match(r"\\d", "x1")
sub = (re.sub(r"layer(\\d+)", r"stage\\1", "layer1.layer22"), re.sub(r"\\d", lambda mm: str(int(mm.group(0)) * 2), "a1b4"))
pat = re.compile(r"^blocks\\.(\\d+)", re.I)
found = (pat.match("Blocks.7.conv").group(1), re.findall(r"(\\w)=(\\d)", "a=1, b=2"), bool(re.search("x", "abc")))
`, ['parts', 'got', 'none', 'sub', 'found']);
  assert.deepEqual(v, {
    parts: "[['r', '2'], ['k', '3'], ['s', '2'], ['e', '6'], ['c', '24']]",
    got: "('conv3', 'conv', '3', ('conv', '3'), (0, 5))",
    none: 'None',
    sub: "('stage1.stage22', 'a2b8')",
    found: "('7', [('a', '1'), ('b', '2')], False)",
  });
});
