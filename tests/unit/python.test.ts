// Parsing Python with tree-sitter into the interpreter's AST: constructs, syntax errors as
// data (never a crash), `# netlens: input=` comments, incremental reparsing, lazily
// converted function bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPythonParser, ParsedDocument, type TextEdit } from '../../extension/analysis/python/parser';
import type { Stmt } from '../../extension/analysis/python/ast';
import { parseInputComment } from '../../extension/analysis/inputs';

test('parses statements into the AST with 1-based lines', async () => {
  const parser = await loadPythonParser();
  const ast = parser.parse([
    'import torch.nn as nn',
    'from ..utils import a as b, c',
    '@dec(1)',
    'class A(nn.Module, metaclass=M):',
    '    x: int = 3',
    '    def f(self, a, b=2, *args, c, d=4, **kw):',
    '        return [i * 2 for i in range(a) if i]',
    'x = y = f"v={1 + 2:>3}"',
  ].join('\n'));
  assert.deepEqual(ast.syntaxErrors, []);
  assert.deepEqual(ast.body.map((s: Stmt) => [s.t, s.span.line]), [['import', 1], ['importfrom', 2], ['class', 3], ['assign', 8]]);
  const imp = ast.body[1];
  assert.ok(imp.t === 'importfrom');
  assert.equal(imp.level, 2);
  assert.equal(imp.module, 'utils');
  assert.deepEqual(imp.names, [{ name: 'a', alias: 'b' }, { name: 'c' }]);
  const cls = ast.body[2];
  assert.ok(cls.t === 'class');
  assert.equal(cls.decorators.length, 1);
  assert.deepEqual(cls.bases.map((b) => b.kind), ['pos', 'kw']);
  const def = cls.body[1];
  assert.ok(def.t === 'def');
  assert.deepEqual(def.params.map((p) => `${p.kind}:${p.name}${p.default ? '=' : ''}`), [
    'positional:self', 'positional:a', 'positional:b=', 'varargs:args', 'keyword-only:c', 'keyword-only:d=', 'varkw:kw',
  ]);
  const assign = ast.body[3];
  assert.ok(assign.t === 'assign');
  assert.equal(assign.targets.length, 2);
  assert.equal(assign.value.t, 'fstring');
});

test('syntax errors are reported as problems and the rest of the file still converts', async () => {
  const parser = await loadPythonParser();
  const ast = parser.parse('x = 1\ndef broken(:\n    pass\ny = (2 +\nz = 3\n');
  assert.ok(ast.syntaxErrors.length > 0);
  assert.ok(ast.syntaxErrors.every((e) => e.span.line >= 1 && /Syntax error/.test(e.message)));
  assert.ok(ast.body.some((s) => s.t === 'assign'));
});

test('malformed input never throws', async () => {
  const parser = await loadPythonParser();
  const samples = ['', '(((((', 'def', 'class :', '@@@\n', 'x = [1, 2', '"""unterminated', 'lambda: (yield)', '\x00\x01\x02', 'if x:\nelse:\n', 'f(**)', 'a[1:2:3:4]'];
  let seed = 7;
  const alphabet = 'def class ( ) : [ ] { } , . = + - * / " \' \n    if else for in return lambda yield @ # x y 1 2';
  const tokens = alphabet.split(' ');
  for (let i = 0; i < 200; i++) {
    let s = '';
    for (let k = 0; k < 40; k++) { seed = (seed * 1103515245 + 12345) % 2 ** 31; s += tokens[seed % tokens.length] + (seed % 3 ? ' ' : ''); }
    samples.push(s);
  }
  for (const s of samples) assert.doesNotThrow(() => parser.parse(s), s);
});

test('input comments are collected with their lines and read into shapes', async () => {
  const parser = await loadPythonParser();
  const ast = parser.parse('import torch\n# netlens: input=(N, 3, 32, 32)\nclass Net: pass\n#netlens:input=(1, 50):int64, (1, 10)\n');
  assert.deepEqual(ast.inputComments, [{ text: '(N, 3, 32, 32)', line: 2 }, { text: '(1, 50):int64, (1, 10)', line: 4 }]);
  assert.deepEqual(parseInputComment('(N, 3, 32, 32)'), [{ shape: ['N', 3, 32, 32] }]);
  assert.deepEqual(parseInputComment('(1, 50):int64, (1, 10)'), [{ shape: [1, 50], dtype: 'int64' }, { shape: [1, 10] }]);
  assert.equal(parseInputComment('(1, 2'), undefined);
  assert.equal(parseInputComment('(1, 2):float128'), undefined);
});

test('incremental reparse after an edit gives the same AST as a full parse', async () => {
  const parser = await loadPythonParser();
  const before = 'import torch.nn as nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4096, 10)\n';
  const doc = new ParsedDocument(parser);
  doc.update(before);
  const at = before.indexOf('4096');
  const after = before.slice(0, at) + '9216' + before.slice(at + 4);
  const row = 4;
  const column = before.split('\n')[row].indexOf('4096');
  const edit: TextEdit = {
    startIndex: at, oldEndIndex: at + 4, newEndIndex: at + 4,
    startPosition: { row, column }, oldEndPosition: { row, column: column + 4 }, newEndPosition: { row, column: column + 4 },
  };
  doc.update(after, edit);
  const incremental = JSON.stringify(doc.getAst());
  assert.ok(incremental.includes('9216'));
  assert.equal(incremental, JSON.stringify(parser.parse(after)));
  doc.dispose();
});

test('library files convert function bodies on first use, with the same result', async () => {
  const parser = await loadPythonParser();
  const src = 'def f(a):\n    b = a + 1\n    yield b\nclass C:\n    def g(self):\n        global q\n        q = 1\n';
  const lazy = parser.parseLazily(src);
  const eager = parser.parse(src);
  assert.equal(JSON.stringify(lazy), JSON.stringify(eager));
  const f = lazy.body[0];
  assert.ok(f.t === 'def');
  assert.equal(f.isGenerator, true);
  assert.deepEqual([...f.locals].sort(), ['a', 'b']);
});

test('after an edit, top-level statements the edit did not touch are taken over unchanged', async () => {
  const parser = await loadPythonParser();
  const before = 'import torch\nA = 1\nclass Net:\n    def f(self):\n        return A\nB = 2\n';
  const doc = new ParsedDocument(parser);
  doc.update(before);
  const first = doc.getAst().body;
  const at = before.indexOf('B = 2') + 4;
  const after = before.slice(0, at) + '3' + before.slice(at + 1);
  doc.update(after, {
    startIndex: at, oldEndIndex: at + 1, newEndIndex: at + 1,
    startPosition: { row: 5, column: 4 }, oldEndPosition: { row: 5, column: 5 }, newEndPosition: { row: 5, column: 5 },
  });
  const second = doc.getAst().body;
  assert.equal(second.length, 4);
  assert.ok(second[0] === first[0] && second[1] === first[1] && second[2] === first[2]);
  assert.notEqual(second[3], first[3]);
  assert.equal(JSON.stringify(second), JSON.stringify(parser.parse(after).body));
  doc.dispose();
});
