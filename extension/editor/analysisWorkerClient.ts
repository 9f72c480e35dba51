// Owns the analysis worker thread: starts it on first use, sends it analysis jobs and queries
// about their reports, matches replies to requests, and replaces a worker that died or ran past
// the time limit (the analyzer's step budget should stop it long before; this is the guard for a
// bug in the analyzer, not a normal path). No `vscode`.
import * as fs from 'node:fs';
import { Worker } from 'node:worker_threads';

import type { AnalysisJob } from './analysisJob';
import type { QueryAnswer, QueryOutcome, WorkerNotice, WorkerQuery, WorkerReply, WorkerRequest } from './analysisWorkerProtocol';
import type { EditorView } from './editorView';

export interface AnalysisWorkerOptions {
  /** The worker script: dist/analysisWorker.js in the bundle. */
  script: string;
  timeoutMs?: number;
  log?: (line: string) => void;
}

interface Pending {
  resolve: (reply: WorkerReply & { ok: true }) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/** Keystrokes closer together than this send one editing notice. */
const EDITING_NOTICE_INTERVAL_MS = 100;

export class AnalysisWorkerClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private disposed = false;
  private lastNoticeAt = 0;

  constructor(private readonly options: AnalysisWorkerOptions) {}

  /** Analyzes the job's text; the answer is what the editor shows of the report. */
  async analyze(job: AnalysisJob): Promise<EditorView> {
    const reply = await this.send({ id: 0, kind: 'analyze', job }, job.file);
    if (reply.kind !== 'analyze') throw new Error('the analysis worker answered a job with a query answer');
    return reply.view;
  }

  /** A detail of a view's report; `stale` once a newer analysis of the file replaced that report. */
  async query<Q extends WorkerQuery>(query: Q): Promise<QueryOutcome<QueryAnswer<Q>>> {
    const reply = await this.send({ id: 0, kind: 'query', query }, query.file);
    if (reply.kind !== 'query') throw new Error('the analysis worker answered a query with a view');
    // The worker answers a query of kind K with WorkerQueryAnswers[K] (analysisWorker.ts).
    return reply.outcome as QueryOutcome<QueryAnswer<Q>>;
  }

  /**
   * Starts the worker ahead of the first job, so that its start-up warm-up (analysis/warmUp.ts)
   * runs before a file is opened. A missing bundle is reported by the first job instead.
   */
  start(): void {
    if (this.disposed) return;
    try {
      this.ensureWorker();
    } catch {
      // analyze() rejects with the same error, where the caller reports it.
    }
  }

  /**
   * Tells a running worker that the user is typing in `file` (no answer; nothing starts a
   * worker for it). At most one notice per interval: a burst of keystrokes needs only one.
   */
  noteEditing(file: string, jobDueInMs: number): void {
    const now = Date.now();
    if (!this.worker || this.disposed || now - this.lastNoticeAt < EDITING_NOTICE_INTERVAL_MS) return;
    this.lastNoticeAt = now;
    const notice: WorkerNotice = { kind: 'editing', file, jobDueInMs };
    this.worker.postMessage(notice);
  }

  private send(request: WorkerRequest, file: string): Promise<WorkerReply & { ok: true }> {
    if (this.disposed) return Promise.reject(new Error('the analysis worker was disposed'));
    let worker: Worker;
    try {
      worker = this.ensureWorker();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    const id = this.nextId++;
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    return new Promise<WorkerReply & { ok: true }>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.options.log?.(`analysis of ${file} ran past ${timeoutMs} ms; restarting the analysis worker`);
        this.failAll(new Error(`analysis of ${file} did not finish within ${timeoutMs} ms`));
        void this.stopWorker();
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({ ...request, id });
    });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.failAll(new Error('the analysis worker was disposed'));
    await this.stopWorker();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    if (!fs.existsSync(this.options.script)) {
      throw new Error(`the analysis worker ${this.options.script} is missing; build the extension with \`npm run build\``);
    }
    const worker = new Worker(this.options.script);
    // The extension host must be free to exit while the worker idles.
    worker.unref();
    worker.on('message', (reply: WorkerReply) => this.received(reply));
    worker.on('error', (error) => {
      this.options.log?.(`analysis worker failed: ${error.stack ?? error.message}`);
      this.failAll(error);
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      if (this.pending.size > 0) this.failAll(new Error(`the analysis worker exited with code ${code}`));
    });
    this.worker = worker;
    return worker;
  }

  private received(reply: WorkerReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    clearTimeout(pending.timer);
    if (reply.ok) pending.resolve(reply);
    else pending.reject(new Error(reply.error));
  }

  private failAll(error: Error): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.pending.clear();
  }

  private async stopWorker(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }
}
