// The edits the editor hands the analysis worker: VS Code's content changes become tree-sitter
// edits, the changes of one debounce window merge into one edit, and the worker uses an edit only
// when it was made from the text its analyzer holds. The merged edits reparse a real example to
// the same report as a fresh analysis.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { analyzeFile, DocumentAnalyzer } from '../../extension/analysis/index';
import type { TextEdit } from '../../extension/analysis/python/parser';
import { applicableEdit, composeEdits, DocumentEditTracker, editFromChange, type ContentChange } from '../../extension/editor/documentEdits';

const repoRoot = path.resolve(__dirname, '..', '..');

function pointAt(text: string, index: number): { row: number; column: number } {
  const before = text.slice(0, index);
  const lastBreak = before.lastIndexOf('\n');
  return { row: before.split('\n').length - 1, column: index - lastBreak - 1 };
}

/** The change VS Code reports for replacing [from, to) of `text` with `insert`. */
function change(text: string, from: number, to: number, insert: string): ContentChange {
  const start = pointAt(text, from);
  const end = pointAt(text, to);
  return {
    range: { start: { line: start.row, character: start.column }, end: { line: end.row, character: end.column } },
    rangeOffset: from, rangeLength: to - from, text: insert,
  };
}

function apply(text: string, c: ContentChange): string {
  return text.slice(0, c.rangeOffset) + c.text + text.slice(c.rangeOffset + c.rangeLength);
}

/** `edit` turns `before` into `after`: same text outside it, and positions where the indices are. */
function assertDescribes(edit: TextEdit, before: string, after: string): void {
  assert.equal(before.slice(0, edit.startIndex), after.slice(0, edit.startIndex), 'the text before the edit is unchanged');
  assert.equal(before.slice(edit.oldEndIndex), after.slice(edit.newEndIndex), 'the text after the edit is unchanged');
  assert.deepEqual(edit.startPosition, pointAt(before, edit.startIndex));
  assert.deepEqual(edit.oldEndPosition, pointAt(before, edit.oldEndIndex));
  assert.deepEqual(edit.newEndPosition, pointAt(after, edit.newEndIndex));
}

/** A small deterministic generator, so a failure reproduces. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function randomChange(text: string, next: () => number): ContentChange {
  const from = Math.floor(next() * (text.length + 1));
  const to = Math.min(text.length, from + Math.floor(next() * 6));
  const pieces = ['', 'x', '\n', 'ab\ncd', '\n\n', '(', ')', '  ', 'é'];
  return change(text, from, to, pieces[Math.floor(next() * pieces.length)]!);
}

describe('content changes as tree-sitter edits', () => {
  test('typing, deleting and pasting lines', () => {
    const text = 'a = 1\nb = 2\n';
    for (const c of [change(text, 4, 5, '10'), change(text, 5, 11, ''), change(text, 6, 6, 'x = (\n  3)\n')]) {
      assertDescribes(editFromChange(c), text, apply(text, c));
    }
  });

  test('two edits merge into one that describes both, wherever the second lands', () => {
    const next = random(7);
    for (let trial = 0; trial < 2000; trial++) {
      const t0 = 'import torch\nclass Net:\n    x = 1\n'.slice(0, Math.floor(next() * 34));
      const first = randomChange(t0, next);
      const t1 = apply(t0, first);
      const second = randomChange(t1, next);
      const t2 = apply(t1, second);
      assertDescribes(composeEdits(editFromChange(first), editFromChange(second)), t0, t2);
    }
  });

  test('the tracker merges a burst of keystrokes since the last job', () => {
    const tracker = new DocumentEditTracker();
    const next = random(11);
    let text = 'def forward(self, x):\n    return x\n';
    assert.equal(tracker.take('a.py').edit, undefined, 'the first job carries the whole text');
    for (let job = 0; job < 50; job++) {
      const before = text;
      const keystrokes = 1 + Math.floor(next() * 8);
      for (let k = 0; k < keystrokes; k++) {
        const c = randomChange(text, next);
        tracker.record('a.py', [c]);
        text = apply(text, c);
      }
      const jobText = tracker.take('a.py');
      assert.ok(jobText.edit);
      assertDescribes(jobText.edit.edit, before, text);
    }
  });

  test('several changes in one event, or none recorded since the last job: no edit', () => {
    const tracker = new DocumentEditTracker();
    const text = 'a\nb\n';
    const first = tracker.take('a.py');
    tracker.record('a.py', [change(text, 0, 1, 'x'), change(text, 2, 3, 'y')]);
    tracker.record('a.py', [change('x\ny\n', 0, 0, 'z')]);
    const second = tracker.take('a.py');
    assert.equal(second.edit, undefined);
    assert.ok(second.id > first.id);
    assert.equal(tracker.take('a.py').edit, undefined, 'settings changed, text did not');
    tracker.record('b.py', [change(text, 0, 0, 'q')]);
    assert.equal(tracker.take('b.py').edit, undefined, 'a document not sent before starts whole');
  });

  test('the worker uses an edit only on the text it was made from', () => {
    const edit = editFromChange(change('abc', 1, 2, 'XY'));
    const text = { id: 5, edit: { baseId: 4, edit } };
    assert.equal(applicableEdit({ id: 4, length: 3 }, text, 4), edit);
    assert.equal(applicableEdit({ id: 3, length: 3 }, text, 4), undefined, 'another text');
    assert.equal(applicableEdit({ id: 4, length: 3 }, text, 5), undefined, 'lengths disagree');
    assert.equal(applicableEdit(undefined, text, 4), undefined, 'a new analyzer');
    assert.equal(applicableEdit({ id: undefined, length: 3 }, text, 4), undefined);
  });
});

describe('incremental reparse with merged edits', () => {
  test('editing lenet5.py through merged edits gives the report of a fresh analysis', { timeout: 120_000 }, async () => {
    const file = path.join(repoRoot, 'examples', 'lenet5.py');
    let text = fs.readFileSync(file, 'utf8');
    const analyzer = await DocumentAnalyzer.create(file, { astCacheDir: false });
    const tracker = new DocumentEditTracker();
    try {
      analyzer.update(text);
      let held = { id: tracker.take(file).id, length: text.length };
      // Change a layer width in steps (a shape error, then back), type a comment, add a line.
      const steps: [string, string][] = [['nn.Linear(120, 84)', 'nn.Linear(120, 8)'], ['nn.Linear(120, 8)', 'nn.Linear(121, 8)'],
        ['nn.Linear(121, 8)', 'nn.Linear(120, 84)'], ['x = F.relu(self.fc1(x))', 'x = F.relu(self.fc1(x))  # hidden\n        x = x * 2']];
      for (const [from, to] of steps) {
        let at = text.indexOf(from);
        assert.ok(at >= 0, from);
        // One keystroke at a time: delete the old text backwards, then type the new text.
        for (let i = from.length; i > 0; i--) {
          const c = change(text, at + i - 1, at + i, '');
          tracker.record(file, [c]);
          text = apply(text, c);
        }
        for (const ch of to) {
          const c = change(text, at, at, ch);
          tracker.record(file, [c]);
          text = apply(text, c);
          at++;
        }
        const jobText = tracker.take(file);
        const edit = applicableEdit(held, jobText, text.length);
        assert.ok(edit, 'the merged edit applies');
        analyzer.update(text, edit);
        held = { id: jobText.id, length: text.length };
        assert.deepEqual(analyzer.analyze({}), await analyzeFile(file, text, {}), `after "${to}"`);
      }
    } finally {
      analyzer.dispose();
    }
  });
});
