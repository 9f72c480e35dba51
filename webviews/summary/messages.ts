// Messages between the extension and the "Netlens Summary" webview. Type-only on both sides:
// the extension sends rows already formatted, so the page only renders text.

export interface SummaryRow {
  /** Indentation level in the module hierarchy (0 = a child of the model). */
  depth: number;
  /** `conv1 (Conv2d)` for a leaf, `layer1` for a container. */
  layer: string;
  output: string;
  params: string;
  macs: string;
  /** Leaves only: where the module is constructed, for "go to line". */
  line?: number;
}

export interface SummaryTotal {
  label: string;
  value: string;
}

export interface SummaryModel {
  name: string;
  entry: string;
  inputs: string;
  rows: SummaryRow[];
  totals: SummaryTotal[];
  diagnostics: string[];
}

export type SummaryViewState =
  | { status: 'waiting'; file: string }
  | { status: 'ready'; file: string; models: SummaryModel[]; markdown: string }
  | { status: 'empty'; file: string; reason: string };

/** Extension → webview. */
export type ToSummaryView = { type: 'summary'; state: SummaryViewState };

/** Webview → extension. */
export type FromSummaryView = { type: 'ready' } | { type: 'copyMarkdown' } | { type: 'reveal'; line: number };

export function isFromSummaryView(value: unknown): value is FromSummaryView {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as { type?: unknown; line?: unknown };
  if (message.type === 'reveal') return typeof message.line === 'number' && Number.isInteger(message.line) && message.line > 0;
  return message.type === 'ready' || message.type === 'copyMarkdown';
}

export function isToSummaryView(value: unknown): value is ToSummaryView {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as { type?: unknown; state?: { status?: unknown; file?: unknown } };
  return message.type === 'summary' && typeof message.state === 'object' && message.state !== null &&
    typeof message.state.status === 'string' && typeof message.state.file === 'string';
}
