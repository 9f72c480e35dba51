// Messages between the extension and the training dashboard. Type-only on both sides: the
// extension tails the run store and forwards each run's metrics events as written; the page
// turns them into curves. The page never reads files, so a run written by the CLI and one
// started from the editor look the same.
import type { TrainingEvent } from '../../extension/training/train';

export type DashboardRunStatus = 'running' | 'completed' | 'cancelled' | 'failed' | 'unknown';

/** One run of the run store as the run list shows it (from config.json and status.json). */
export interface DashboardRun {
  /** The run folder's name, e.g. "20261127-110124"; sorts by start time. */
  id: string;
  /** Model class, e.g. "LeNet5" ("" when config.json does not say). */
  model: string;
  /** The model file's base name. */
  file: string;
  status: DashboardRunStatus;
  /** Why it failed, for a failed run. */
  message?: string;
  /** "batch 32 · adam lr 0.001 · 1 epoch · shapes32", from config.json. */
  settings: string;
  /** The analyzer's training peak for this run's batch and optimizer, when the run recorded it. */
  predictedPeakBytes?: number;
  /** Memory of the device the run was checked against. */
  capacityBytes?: number;
  device?: string;
}

/** Extension → page. */
export type ToDashboard =
  /** The runs the panel shows, in order; a run missing from the list is dropped from the page. */
  | { type: 'runs'; runs: DashboardRun[] }
  /** Events of `run` in file order; `reset` drops what the page had for it first (file truncated or replaced). */
  | { type: 'events'; run: string; events: TrainingEvent[]; reset: boolean };

/** Page → extension. */
export type FromDashboard =
  | { type: 'ready' }
  /** A file the page made (CSV text, or a PNG as a data: URL) for the extension to save through a save dialog. */
  | { type: 'save'; format: 'csv'; suggestedName: string; text: string }
  | { type: 'save'; format: 'png'; suggestedName: string; dataUrl: string };

export function isFromDashboard(value: unknown): value is FromDashboard {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as { type?: unknown; format?: unknown; suggestedName?: unknown; text?: unknown; dataUrl?: unknown };
  if (message.type === 'ready') return true;
  if (message.type !== 'save' || typeof message.suggestedName !== 'string') return false;
  if (message.format === 'csv') return typeof message.text === 'string';
  return message.format === 'png' && typeof message.dataUrl === 'string' && message.dataUrl.startsWith('data:image/png;base64,');
}

export function isToDashboard(value: unknown): value is ToDashboard {
  if (typeof value !== 'object' || value === null) return false;
  const message = value as { type?: unknown; runs?: unknown; run?: unknown; events?: unknown; reset?: unknown };
  if (message.type === 'runs') return Array.isArray(message.runs);
  return message.type === 'events' && typeof message.run === 'string' && Array.isArray(message.events) && typeof message.reset === 'boolean';
}
