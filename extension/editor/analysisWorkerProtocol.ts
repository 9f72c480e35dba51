// Messages between the extension host and the analysis worker thread. Types only.
import type { FileReport } from '../analysis/reportTypes';
import type { AnalysisJob } from './analysisJob';

export interface WorkerRequest {
  id: number;
  job: AnalysisJob;
}

export type WorkerReply =
  | { id: number; ok: true; report: FileReport; elapsedMs: number }
  | { id: number; ok: false; error: string; elapsedMs: number };
