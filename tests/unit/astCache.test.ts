// The persistent AST cache of imported files: a cached AST is the one the parser makes,
// entries are keyed by content, unusable entries are misses, and an analysis served from
// the cache reports exactly what a fresh parse does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPythonParser } from '../../extension/analysis/python/parser';
import { flushAstCacheWrites, PersistentAstCache } from '../../extension/analysis/python/astCache';
import { analyzeFile } from '../../extension/analysis/index';

const LIBRARY = `import torch.nn as nn
from typing import Optional

WIDTH = 8


def block(c_in: int, c_out: int, *, stride: int = 1, **kw) -> nn.Module:
    counter = 0

    def bump():
        nonlocal counter
        counter += 1

    global WIDTH
    try:
        layers = [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.ReLU()]
    except (TypeError, ValueError) as e:
        raise
    finally:
        bump()
    for i in range(2):
        if i:
            layers.append(nn.Identity())
    return nn.Sequential(*layers)


class Head(nn.Module):
    scale: float = 0.5

    def __init__(self, c: int, classes: int = 10) -> None:
        super().__init__()
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(x.mean((2, 3)) * self.scale)
`;

const MODEL = `import torch
import torch.nn as nn
from layers import block, Head, WIDTH


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = block(3, WIDTH, stride=2)
        self.head = Head(WIDTH)

    def forward(self, x):
        return self.head(self.body(x))


model = Net()
out = model(torch.randn(2, 3, 32, 32))
`;

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function cacheFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => fs.statSync(f).isFile());
}

test('a cached AST equals the parsed one, scope name sets included', async () => {
  const parser = await loadPythonParser();
  const cache = new PersistentAstCache(tempDir('netlens-astcache-'));
  assert.equal(cache.read(LIBRARY), undefined);
  // Written from a lazily converted AST, as the analyzer does: serializing converts the bodies.
  cache.scheduleWrite(LIBRARY, parser.parseLazily(LIBRARY));
  flushAstCacheWrites();
  const cached = cache.read(LIBRARY);
  assert.ok(cached);
  // Equal up to optional fields that are present but undefined in the parser's output.
  const plain = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x: unknown) => (x instanceof Set ? [...x].sort() : x))) as unknown;
  assert.deepEqual(plain(cached), plain(parser.parse(LIBRARY)));
  const def = cached.body.find((s) => s.t === 'def');
  assert.ok(def?.t === 'def');
  assert.ok(def.locals instanceof Set && def.locals.has('layers') && def.locals.has('counter'));
  assert.ok(def.globals.has('WIDTH'));
  const inner = def.body.find((s) => s.t === 'def');
  assert.ok(inner?.t === 'def' && inner.nonlocals.has('counter'));
  // Another text is another entry.
  assert.equal(cache.read(LIBRARY + '\nX = 1\n'), undefined);
});

test('the interpreter\'s annotations on AST nodes are not stored', async () => {
  const parser = await loadPythonParser();
  const cache = new PersistentAstCache(tempDir('netlens-astcache-'));
  const source = 'x = 1\n';
  const ast = parser.parse(source);
  const stmt = ast.body[0];
  assert.ok(stmt.t === 'assign' && stmt.value.t === 'const');
  stmt.span.location = { file: '/somewhere.py', line: 1, col: 0 };
  stmt.value.cached = { kind: 'int', value: 1 } as never;
  cache.scheduleWrite(source, ast);
  flushAstCacheWrites();
  const cached = cache.read(source);
  assert.ok(cached);
  const back = cached.body[0];
  assert.ok(back.t === 'assign' && back.value.t === 'const');
  assert.equal(back.span.location, undefined);
  assert.equal(back.value.cached, undefined);
  assert.equal(back.value.value, 1);
});

test('files JSON cannot represent are not cached, and broken entries are misses', async () => {
  const parser = await loadPythonParser();
  const dir = tempDir('netlens-astcache-');
  const cache = new PersistentAstCache(dir);
  const infinite = 'BIG = 1e999\n';
  cache.scheduleWrite(infinite, parser.parse(infinite));
  flushAstCacheWrites();
  assert.deepEqual(cacheFiles(dir), []);
  assert.equal(cache.read(infinite), undefined);

  cache.scheduleWrite(LIBRARY, parser.parse(LIBRARY));
  flushAstCacheWrites();
  const [entry] = cacheFiles(dir);
  assert.ok(entry);
  fs.writeFileSync(entry, '{"body": [');
  assert.equal(cache.read(LIBRARY), undefined);
  fs.writeFileSync(entry, '{"something": "else"}');
  assert.equal(cache.read(LIBRARY), undefined);
});

test('an analysis whose import is served from the cache reports the same as a fresh parse', async () => {
  const cacheDir = tempDir('netlens-astcache-');
  const analyzeIn = async (root: string, astCacheDir: string | false) => {
    fs.writeFileSync(path.join(root, 'layers.py'), LIBRARY);
    fs.writeFileSync(path.join(root, 'net.py'), MODEL);
    const report = await analyzeFile(path.join(root, 'net.py'), MODEL, {}, { astCacheDir });
    assert.equal(report.models.length, 1);
    assert.equal(report.models[0].layers.length, 4);
    return JSON.stringify(report.models).split(root).join('<root>');
  };
  const uncached = await analyzeIn(tempDir('netlens-astcache-a-'), false);
  assert.deepEqual(cacheFiles(cacheDir), []);
  // A second folder: the in-process cache (keyed by path) misses, so the first analysis parses
  // and stores layers.py, and the third finds it on disk.
  const first = await analyzeIn(tempDir('netlens-astcache-b-'), cacheDir);
  flushAstCacheWrites();
  assert.equal(cacheFiles(cacheDir).length, 1);
  const fromDisk = await analyzeIn(tempDir('netlens-astcache-c-'), cacheDir);
  assert.equal(first, uncached);
  assert.equal(fromDisk, uncached);
});

test('a new analyzer version removes cache folders of versions unused for a day', async () => {
  const parser = await loadPythonParser();
  const dir = tempDir('netlens-astcache-');
  const folder = (name: string, ageMs: number) => {
    fs.mkdirSync(path.join(dir, name));
    fs.writeFileSync(path.join(dir, name, 'entry.json'), '{}');
    const when = new Date(Date.now() - ageMs);
    fs.utimesSync(path.join(dir, name), when, when);
  };
  folder('0123456789abcdef', 2 * 24 * 3600 * 1000);
  folder('fedcba9876543210', 60 * 1000);
  folder('not-a-version', 2 * 24 * 3600 * 1000);
  const cache = new PersistentAstCache(dir);
  cache.scheduleWrite(LIBRARY, parser.parse(LIBRARY));
  flushAstCacheWrites();
  const left = fs.readdirSync(dir).sort();
  assert.ok(!left.includes('0123456789abcdef'));
  assert.ok(left.includes('fedcba9876543210') && left.includes('not-a-version'));
  assert.equal(left.length, 3);
  assert.ok(cache.read(LIBRARY));
});
