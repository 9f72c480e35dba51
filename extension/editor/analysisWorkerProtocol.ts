// Messages between the extension host and the analysis worker thread. Types only.
// An analysis answers with an EditorView (what the editor shows on every keystroke); the rest is
// asked by the view's report id when it is shown, and answered from the report the worker holds.
import type { SummaryModel } from '../../webviews/summary/messages';
import type { AnalysisJob } from './analysisJob';
import type { EditorView } from './editorView';
import type { MemoryContext, ModuleNode } from './presentation';

/** Details of one held report. `file` is the job's file, `reportId` the view's. */
export type WorkerQuery =
  | { kind: 'hover'; file: string; reportId: number; line: number }
  | { kind: 'moduleTree'; file: string; reportId: number; model: number }
  | { kind: 'summary'; file: string; reportId: number; context: MemoryContext }
  /** The largest batch whose training step fits `capacityBytes` at the job's dtype and optimizer. */
  | { kind: 'maxBatch'; file: string; reportId: number; model: number; capacityBytes: number };

export interface SummaryTable {
  models: SummaryModel[];
  markdown: string;
}

/** What each query kind answers. */
export interface WorkerQueryAnswers {
  /** Markdown of the hover on the line (without the summary link), or undefined for none. */
  hover: string | undefined;
  moduleTree: ModuleNode[];
  summary: SummaryTable;
  /** Undefined when the analyzer cannot say (symbolic batch, incomplete shapes). */
  maxBatch: number | undefined;
}

export type QueryAnswer<Q extends WorkerQuery> = WorkerQueryAnswers[Q['kind']];

/** A query about a report the worker no longer holds (a newer analysis of the file replaced it) is `stale`. */
export type QueryOutcome<T> = { stale: true } | { stale: false; value: T };

export type WorkerRequest =
  | { id: number; kind: 'analyze'; job: AnalysisJob }
  | { id: number; kind: 'query'; query: WorkerQuery };

/**
 * Unanswered: the user is typing in `file` (sent on a keystroke, before the debounced job, which
 * comes `jobDueInMs` later at the earliest). The worker ends its idle-time follow-up analyses
 * (analysis/followUp.ts) before then, so the job finds it free.
 */
export interface WorkerNotice {
  kind: 'editing';
  file: string;
  jobDueInMs: number;
}

export type WorkerReply =
  | { id: number; ok: true; kind: 'analyze'; view: EditorView; elapsedMs: number }
  | { id: number; ok: true; kind: 'query'; outcome: QueryOutcome<WorkerQueryAnswers[keyof WorkerQueryAnswers]>; elapsedMs: number }
  | { id: number; ok: false; error: string; elapsedMs: number };
