// DocumentAnalyzer, the editor's form of the analyzer: incremental updates of the open
// document, and imported modules reused across runs until their files change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DocumentAnalyzer, type TextEdit } from '../../extension/analysis/index';
import { createTestCatalog } from './interpSupport';

/** The edit that replaces `from` (first occurrence) by `to` in `text`, as an editor reports it. */
function replaceEdit(text: string, from: string, to: string): { text: string; edit: TextEdit } {
  const at = text.indexOf(from);
  const row = text.slice(0, at).split('\n').length - 1;
  const column = at - (text.lastIndexOf('\n', at - 1) + 1);
  return {
    text: text.slice(0, at) + to + text.slice(at + from.length),
    edit: {
      startIndex: at, oldEndIndex: at + from.length, newEndIndex: at + to.length,
      startPosition: { row, column }, oldEndPosition: { row, column: column + from.length }, newEndPosition: { row, column: column + to.length },
    },
  };
}

const SOURCE = `import torch.nn as nn
from layers import WIDTH
# netlens: input=(2, 8)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, WIDTH)
    def forward(self, x):
        return self.fc(x)
`;

test('an edit of the open document re-analyzes with the new text', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-doc-'));
  fs.writeFileSync(path.join(dir, 'layers.py'), 'WIDTH = 4\n');
  const file = path.join(dir, 'net.py');
  const analyzer = await DocumentAnalyzer.create(file, { catalogFactory: createTestCatalog });
  analyzer.update(SOURCE);
  assert.deepEqual(analyzer.analyze().models[0].output, [[2, 4]]);

  const first = replaceEdit(SOURCE, 'nn.Linear(8, WIDTH)', 'nn.Linear(8, WIDTH * 3)');
  analyzer.update(first.text, first.edit);
  assert.deepEqual(analyzer.analyze().models[0].output, [[2, 12]]);

  const second = replaceEdit(first.text, '(2, 8)', '(5, 8)');
  analyzer.update(second.text, second.edit);
  assert.deepEqual(analyzer.analyze().models[0].output, [[5, 12]]);

  const broken = replaceEdit(second.text, 'nn.Linear(8,', 'nn.Linear(7,');
  analyzer.update(broken.text, broken.edit);
  const report = analyzer.analyze().models[0];
  assert.ok(report.diagnostics.some((d) => d.severity === 'error' && d.message === 'Linear expects in_features=7, gets 8.'));
  analyzer.dispose();
});

test('imported files are reused until they change on disk or in an editor buffer', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-doc-'));
  const layers = path.join(dir, 'layers.py');
  fs.writeFileSync(layers, 'WIDTH = 4\n');
  const file = path.join(dir, 'net.py');
  const analyzer = await DocumentAnalyzer.create(file, { catalogFactory: createTestCatalog });
  analyzer.update(SOURCE);
  assert.deepEqual(analyzer.analyze().models[0].output, [[2, 4]]);
  fs.writeFileSync(layers, 'WIDTH = 6\n');
  const later = Date.now() / 1000 + 5;
  fs.utimesSync(layers, later, later);
  assert.deepEqual(analyzer.analyze().models[0].output, [[2, 6]]);

  const buffers = new Map<string, string>([[layers, 'WIDTH = 9\n']]);
  const readFile = (f: string) => buffers.get(f) ?? (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : undefined);
  assert.deepEqual(analyzer.analyze({ readFile }).models[0].output, [[2, 9]]);
  buffers.set(layers, 'WIDTH = 10\n');
  assert.deepEqual(analyzer.analyze({ readFile }).models[0].output, [[2, 10]]);
  analyzer.dispose();
});

test('a syntax error while typing gives diagnostics and keeps analyzing what parses', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-doc-')), 'net.py');
  const analyzer = await DocumentAnalyzer.create(file, { catalogFactory: createTestCatalog });
  const text = SOURCE.replace('from layers import WIDTH', 'WIDTH = 3') + 'def half_typed(:\n';
  analyzer.update(text);
  const report = analyzer.analyze();
  assert.ok(report.diagnostics.some((d) => d.code === 'syntax'));
  assert.deepEqual(report.models.map((m) => m.output), [[[2, 3]]]);
  analyzer.dispose();
});
