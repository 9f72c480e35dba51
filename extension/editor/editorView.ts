// What the analysis worker sends the extension host after each analysis: only what the editor
// shows on every keystroke (per-line hint texts, the models' headline numbers, the file's
// diagnostics), not the whole report. A 3,000-line file's report is ~0.8 MB of nested objects;
// cloning it into the host and turning it into text there blocked the host's event loop for
// 50–200 ms per edit. Hovers, module trees and the summary are asked from the worker by the
// view's `reportId` when they are shown. Pure (no `vscode`): the worker builds views, the host
// reads them, and the tests use both sides.
import type { DiagnosticReport, FileReport } from '../analysis/reportTypes';
import { fileDiagnostics, layerHintParts, statementHints, type LineHint, type ModelHeadline } from './presentation';

/** Hint kinds in `HintTable.kinds`. */
export const LAYER_HINT = 0;
export const STATEMENT_HINT = 1;

/**
 * Every hint the file can show, one entry per (line, kind), in line order; a line with both
 * kinds has its layer entry first. Lines and kinds are typed arrays, transferred rather than
 * cloned; `inlayHintsIn` reads the entries of the visible lines only.
 */
export interface HintTable {
  /** 1-based lines, ascending. */
  lines: Int32Array;
  kinds: Uint8Array;
  /** `→ [N, 64, 112, 112]` */
  texts: string[];
  /** Layer entries: ` · 9.41 k params`, or '' when the layers have no parameters. */
  params: string[];
}

export interface EditorView {
  /** The worker's id of the report this view was made from; details are asked by it. */
  reportId: number;
  /** The analyzed file as the job named it (the key of the worker's held report). */
  file: string;
  models: ModelHeadline[];
  /** The diagnostics of this file, each once. */
  diagnostics: DiagnosticReport[];
  hints: HintTable;
}

/** Which hints to show (the netlens.inlayHints.* settings). */
export interface HintSelection {
  layerShapes: boolean;
  forwardShapes: boolean;
  params: boolean;
}

export function headlineOf(model: FileReport['models'][number]): ModelHeadline {
  const { layers: _layers, statements: _statements, graph: _graph, ...headline } = model;
  return headline;
}

export function hintTable(report: FileReport, file: string): HintTable {
  const layers = layerHintParts(report, file);
  const statements = statementHints(report, file);
  const count = layers.length + statements.length;
  const table: HintTable = { lines: new Int32Array(count), kinds: new Uint8Array(count), texts: [], params: [] };
  let l = 0;
  let s = 0;
  for (let index = 0; index < count; index++) {
    const layer = layers[l];
    const statement = statements[s];
    if (layer && (!statement || layer.line <= statement.line)) {
      table.lines[index] = layer.line;
      table.kinds[index] = LAYER_HINT;
      table.texts.push(layer.text);
      table.params.push(layer.params);
      l++;
    } else if (statement) {
      table.lines[index] = statement.line;
      table.kinds[index] = STATEMENT_HINT;
      table.texts.push(statement.text);
      table.params.push('');
      s++;
    }
  }
  return table;
}

export function editorView(report: FileReport, file: string, reportId: number): EditorView {
  return { reportId, file, models: report.models.map(headlineOf), diagnostics: fileDiagnostics(report, file), hints: hintTable(report, file) };
}

/** The first index whose line is at least `line`. */
function firstAtOrAfter(lines: Int32Array, line: number): number {
  let low = 0;
  let high = lines.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((lines[middle] ?? 0) < line) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * The hints to show on 1-based lines `first`..`last` with the chosen kinds. A forward-statement
 * hint is left out on a line that shows a layer hint (the layer's shape is the statement's).
 */
export function inlayHintsIn(table: HintTable, first: number, last: number, selection: HintSelection): LineHint[] {
  const hints: LineHint[] = [];
  let layerShownOn = -1;
  for (let index = firstAtOrAfter(table.lines, first); index < table.lines.length; index++) {
    const line = table.lines[index] ?? 0;
    if (line > last) break;
    if (table.kinds[index] === LAYER_HINT) {
      if (!selection.layerShapes) continue;
      hints.push({ line, text: selection.params ? `${table.texts[index] ?? ''}${table.params[index] ?? ''}` : table.texts[index] ?? '' });
      layerShownOn = line;
    } else if (selection.forwardShapes && layerShownOn !== line) {
      hints.push({ line, text: table.texts[index] ?? '' });
    }
  }
  return hints;
}

/** The typed arrays of a view, for postMessage's transfer list. */
export function transferablesOf(view: EditorView): ArrayBuffer[] {
  return [view.hints.lines.buffer as ArrayBuffer, view.hints.kinds.buffer as ArrayBuffer];
}
