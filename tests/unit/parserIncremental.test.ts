// Incremental reparsing when the editor sends whole texts: the changed region is found by
// comparing the texts, and the document's AST must be exactly what a fresh parse gives,
// non-ASCII text (tree-sitter counts UTF-16 code units here) and multi-line edits included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changedRegion, loadPythonParser, ParsedDocument } from '../../extension/analysis/python/parser';

const BASE = `import torch.nn as nn

# Größe der Ausgabe: 10 Klassen 🙂
class Net(nn.Module):
    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.name = "résumé 🙂"
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.fc(x)


model = Net()
`;

/** The AST as plain data (Sets sorted into arrays, undefined fields dropped). */
function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_key, v: unknown) => (v instanceof Set ? [...v].sort() : v)));
}

function naivePosition(text: string, index: number): { row: number; column: number } {
  const lines = text.slice(0, index).split('\n');
  return { row: lines.length - 1, column: lines[lines.length - 1].length };
}

const EDITS: [string, string][] = [
  ['num_classes: int = 1000', 'num_classes: int = 100'],
  ['"résumé 🙂"', '"résumé 🙃"'],
  ['Größe', 'Grösse'],
  ['🙂\nclass', '🙂\n\nclass'],
  ['        self.fc = nn.Linear(16, num_classes)\n', '        self.fc = nn.Linear(16, num_classes)\n        self.drop = nn.Dropout(0.1)\n'],
  ['return self.fc(x)', 'return self.fc(x'],
  ['model = Net()\n', ''],
];

test('changedRegion describes the edit in UTF-16 code units and rows/columns', () => {
  for (const [from, to] of EDITS) {
    const after = BASE.replace(from, to);
    const edit = changedRegion(BASE, after);
    assert.equal(BASE.slice(0, edit.startIndex) + after.slice(edit.startIndex, edit.newEndIndex) + BASE.slice(edit.oldEndIndex), after);
    assert.equal(BASE.slice(edit.oldEndIndex), after.slice(edit.newEndIndex));
    assert.deepEqual(edit.startPosition, naivePosition(BASE, edit.startIndex));
    assert.deepEqual(edit.oldEndPosition, naivePosition(BASE, edit.oldEndIndex));
    assert.deepEqual(edit.newEndPosition, naivePosition(after, edit.newEndIndex));
  }
  // A changed emoji shares its high surrogate with the old one; the region keeps the pair whole.
  const emoji = changedRegion('a🙂b', 'a🙃b');
  assert.deepEqual([emoji.startIndex, emoji.oldEndIndex, emoji.newEndIndex], [1, 3, 3]);
});

test('whole-text updates reparse incrementally to the same AST as a fresh parse', async () => {
  const parser = await loadPythonParser();
  const document = new ParsedDocument(parser);
  document.update(BASE);
  assert.deepEqual(plain(document.getAst()), plain(parser.parse(BASE)));
  let current = BASE;
  for (const [from, to] of EDITS) {
    // Each edit applies to the previous text, so they accumulate like typing does.
    const next = current.replace(from, to);
    assert.notEqual(next, current, `edit '${from}' applies`);
    document.update(next);
    assert.deepEqual(plain(document.getAst()), plain(parser.parse(next)), `after '${from}' -> '${to}'`);
    current = next;
  }
  // And back to the start in one step (a large region).
  document.update(BASE);
  assert.deepEqual(plain(document.getAst()), plain(parser.parse(BASE)));
  document.dispose();
});
