// The edits between the text the analysis worker last received for a document and the text of the
// next job, so the worker can reparse incrementally instead of diffing whole texts. The editor
// reports each change; changes that arrive within one debounce window are merged into one edit.
// An event with several changes at once (multi-cursor, format) falls back to the whole text.
// Pure (no `vscode`): indices and columns are UTF-16 code units, as VS Code and web-tree-sitter
// count them.
import type { TextEdit } from '../analysis/python/parser';

type Point = TextEdit['startPosition'];

/** One content change as VS Code reports it (`TextDocumentContentChangeEvent`). */
export interface ContentChange {
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  rangeOffset: number;
  rangeLength: number;
  text: string;
}

/** What a job says about its text: an id, and the edit from the text of an earlier job's id. */
export interface JobText {
  id: number;
  edit?: { baseId: number; edit: TextEdit };
}

export function editFromChange(change: ContentChange): TextEdit {
  const startPosition = { row: change.range.start.line, column: change.range.start.character };
  return {
    startIndex: change.rangeOffset,
    oldEndIndex: change.rangeOffset + change.rangeLength,
    newEndIndex: change.rangeOffset + change.text.length,
    startPosition,
    oldEndPosition: { row: change.range.end.line, column: change.range.end.character },
    newEndPosition: pointAfter(startPosition, change.text),
  };
}

/** Where `text` ends when written starting at `start`. */
function pointAfter(start: Point, text: string): Point {
  const lastBreak = text.lastIndexOf('\n');
  if (lastBreak < 0) return { row: start.row, column: start.column + text.length };
  let rows = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) rows++;
  return { row: start.row + rows, column: text.length - lastBreak - 1 };
}

interface Location {
  index: number;
  point: Point;
}

/** `at` lies at or after `from`; the same place once the text at `from` ends at `to` instead. */
function moved(at: Location, from: Location, to: Location): Location {
  const point = at.point.row === from.point.row
    ? { row: to.point.row, column: to.point.column + at.point.column - from.point.column }
    : { row: at.point.row - from.point.row + to.point.row, column: at.point.column };
  return { index: at.index - from.index + to.index, point };
}

const start = (edit: TextEdit): Location => ({ index: edit.startIndex, point: edit.startPosition });
const oldEnd = (edit: TextEdit): Location => ({ index: edit.oldEndIndex, point: edit.oldEndPosition });
const newEnd = (edit: TextEdit): Location => ({ index: edit.newEndIndex, point: edit.newEndPosition });
const later = (a: Location, b: Location): Location => (a.index >= b.index ? a : b);

/**
 * One edit that does what `first` (text 0 → 1) and then `second` (text 1 → 2) do: the region
 * of text 0 either touched, and what that region became in text 2.
 */
export function composeEdits(first: TextEdit, second: TextEdit): TextEdit {
  const from = second.startIndex < first.startIndex ? start(second) : start(first);
  // The end of `second`'s replaced range, in text 0.
  let secondOldEnd: Location;
  if (second.oldEndIndex >= first.newEndIndex) secondOldEnd = moved(oldEnd(second), newEnd(first), oldEnd(first));
  else if (second.oldEndIndex <= first.startIndex) secondOldEnd = oldEnd(second);
  else secondOldEnd = oldEnd(first);
  // The end of `first`'s inserted text, in text 2.
  let firstNewEnd: Location;
  if (first.newEndIndex >= second.oldEndIndex) firstNewEnd = moved(newEnd(first), oldEnd(second), newEnd(second));
  else if (first.newEndIndex <= second.startIndex) firstNewEnd = newEnd(first);
  else firstNewEnd = newEnd(second);
  const to0 = later(oldEnd(first), secondOldEnd);
  const to2 = later(newEnd(second), firstNewEnd);
  return {
    startIndex: from.index,
    oldEndIndex: to0.index,
    newEndIndex: to2.index,
    startPosition: from.point,
    oldEndPosition: to0.point,
    newEndPosition: to2.point,
  };
}

interface DocumentState {
  /** The id of the text the last job carried. */
  sentId: number;
  /** The edit from that text to the document now; undefined: no change since. */
  pending: TextEdit | undefined;
  /** A change could not be expressed as one edit: the next job carries the whole text only. */
  wholeText: boolean;
}

/** Per document (by key): the edits since its last job, merged. */
export class DocumentEditTracker {
  private readonly documents = new Map<string, DocumentState>();
  private nextId = 1;

  /** Records one change event of the document. */
  record(key: string, changes: readonly ContentChange[]): void {
    const state = this.documents.get(key);
    // Nothing sent yet: the first job carries the whole text anyway.
    if (!state || state.wholeText || changes.length === 0) return;
    if (changes.length > 1) {
      state.wholeText = true;
      state.pending = undefined;
      return;
    }
    const edit = editFromChange(changes[0]!);
    state.pending = state.pending ? composeEdits(state.pending, edit) : edit;
  }

  /** The text description for a job made from the document as it is now. */
  take(key: string): JobText {
    const id = this.nextId++;
    const state = this.documents.get(key);
    const text: JobText = { id };
    if (state && !state.wholeText && state.pending) text.edit = { baseId: state.sentId, edit: state.pending };
    this.documents.set(key, { sentId: id, pending: undefined, wholeText: false });
    return text;
  }

  forget(key: string): void {
    this.documents.delete(key);
  }
}

/** What the worker knows about the text an analyzer holds. */
export interface HeldText {
  id: number | undefined;
  length: number;
}

/**
 * The job's edit when it applies to the text the analyzer holds: made from that very text and
 * consistent with the new text's length. Otherwise undefined (the parser diffs the whole texts).
 */
export function applicableEdit(held: HeldText | undefined, text: JobText | undefined, sourceLength: number): TextEdit | undefined {
  const edit = text?.edit;
  if (!held || !edit || held.id === undefined || edit.baseId !== held.id) return undefined;
  const e = edit.edit;
  const lengthAfter = held.length - (e.oldEndIndex - e.startIndex) + (e.newEndIndex - e.startIndex);
  return lengthAfter === sourceLength && e.startIndex >= 0 && e.oldEndIndex <= held.length ? e : undefined;
}
