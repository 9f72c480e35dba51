// Keeps an analysis of every open Python file: re-analyzes after each edit (debounced), with
// unsaved buffers and the netlens.* settings, in a worker thread so typing never waits on the
// analyzer. The host receives an EditorView per analysis (what the editor shows of the report)
// and asks the worker for details (hover, module tree, summary, largest batch) when they are
// shown. Views are tagged with the document version they were made from; features ask for the
// current version and get nothing rather than a stale view.
import * as path from 'node:path';
import * as vscode from 'vscode';

import type { AnalysisJob, AnalysisSettings } from './analysisJob';
import { AnalysisScheduler } from './analysisScheduler';
import { AnalysisWorkerClient } from './analysisWorkerClient';
import type { QueryAnswer, SummaryTable, WorkerQuery } from './analysisWorkerProtocol';
import { affectsAnalysis, readAnalysisSettings } from './config';
import { DocumentEditTracker } from './documentEdits';
import type { EditorView } from './editorView';
import type { MemoryContext, ModuleNode } from './presentation';

const DEBOUNCE_MS = 150;

export function isAnalyzable(document: vscode.TextDocument): boolean {
  return document.languageId === 'python' && document.uri.scheme === 'file';
}

export class AnalysisService implements vscode.Disposable {
  private readonly worker: AnalysisWorkerClient;
  private readonly scheduler: AnalysisScheduler<AnalysisJob, EditorView>;
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private settings: AnalysisSettings;
  /** Bumped when settings change, so a report made with old settings counts as stale. */
  private settingsGeneration = 0;
  private gpu: AnalysisSettings['gpu'];
  private lastError: string | undefined;
  /** Per document: bumped when another open Python file is saved (it may be imported). */
  private readonly dependencyGenerations = new Map<string, number>();
  /** The edits since each document's last job, so the worker reparses only what changed. */
  private readonly edits = new DocumentEditTracker();
  /** Largest-batch answers by report, model and capacity: each one costs the worker an analysis. */
  private readonly maxBatches = new Map<string, Promise<number | undefined>>();

  /** Fires with a document's URI when a fresh view of its current version is ready. */
  readonly onDidChangeReport = this.changed.event;

  constructor(extensionRoot: string, private readonly output: vscode.LogOutputChannel) {
    this.settings = this.readSettings();
    this.worker = new AnalysisWorkerClient({
      script: path.join(extensionRoot, 'dist', 'analysisWorker.js'),
      log: (line) => output.warn(line),
    });
    this.scheduler = new AnalysisScheduler<AnalysisJob, EditorView>({
      debounceMs: DEBOUNCE_MS,
      run: (job) => this.worker.analyze(job),
      onError: (key, _version, error) => {
        const message = `analysis of ${vscode.Uri.parse(key).fsPath} failed: ${error instanceof Error ? error.message : String(error)}`;
        // The same failure on every keystroke would bury the log: say it once until it changes.
        if (message !== this.lastError) output.error(message);
        this.lastError = message;
      },
      onResult: (key) => {
        this.lastError = undefined;
        this.changed.fire(vscode.Uri.parse(key));
      },
    });

    this.disposables.push(
      vscode.workspace.onDidOpenTextDocument((document) => {
        if (isAnalyzable(document)) void this.viewFor(document, true);
      }),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (!isAnalyzable(event.document) || event.contentChanges.length === 0) return;
        this.edits.record(event.document.uri.toString(), event.contentChanges);
        // Before the debounce: the worker ends idle-time work before the job is due.
        this.worker.noteEditing(event.document.uri.fsPath, DEBOUNCE_MS);
        void this.viewFor(event.document);
      }),
      // Other open files may import the saved one: their reports can change too. The saved file's
      // own report stands (it was made from the same text).
      vscode.workspace.onDidSaveTextDocument((saved) => {
        if (!isAnalyzable(saved)) return;
        for (const document of vscode.workspace.textDocuments) {
          if (document === saved || !isAnalyzable(document)) continue;
          const key = document.uri.toString();
          this.dependencyGenerations.set(key, (this.dependencyGenerations.get(key) ?? 0) + 1);
          void this.viewFor(document, true);
        }
      }),
      vscode.workspace.onDidCloseTextDocument((document) => {
        this.scheduler.forget(document.uri.toString());
        this.edits.forget(document.uri.toString());
        this.dependencyGenerations.delete(document.uri.toString());
        for (const key of this.maxBatches.keys()) if (key.startsWith(`${document.uri.fsPath}#`)) this.maxBatches.delete(key);
      }),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (!affectsAnalysis(event)) return;
        this.settings = this.readSettings();
        this.settingsGeneration++;
        this.analyzeOpenDocuments();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.settings = this.readSettings();
        this.settingsGeneration++;
        this.analyzeOpenDocuments();
      }),
    );
    // Started now rather than by the first job: the worker's warm-up begins at activation.
    this.worker.start();
    this.analyzeOpenDocuments();
  }

  /** The view of the document as it is now; undefined when the document changes first. */
  viewFor(document: vscode.TextDocument, immediate = false): Promise<EditorView | undefined> {
    return this.scheduler.request(document.uri.toString(), this.versionTag(document), () => this.jobFor(document), immediate);
  }

  /** The finished view of the document's current version, without waiting. */
  currentView(document: vscode.TextDocument): EditorView | undefined {
    return this.scheduler.latest(document.uri.toString(), this.versionTag(document));
  }

  /** Markdown of the hover on a 1-based line of the document as it is now (without the summary link). */
  async hover(document: vscode.TextDocument, line: number): Promise<string | undefined> {
    return this.detail(document, (view) => ({ kind: 'hover', file: view.file, reportId: view.reportId, line }));
  }

  /** The module hierarchy of one model of a view; undefined once the view is stale. */
  moduleTree(view: EditorView, model: number): Promise<ModuleNode[] | undefined> {
    return this.queryWorker({ kind: 'moduleTree', file: view.file, reportId: view.reportId, model });
  }

  /** The summary table of a view's models; undefined once the view is stale. */
  summary(view: EditorView, context: MemoryContext): Promise<SummaryTable | undefined> {
    return this.queryWorker({ kind: 'summary', file: view.file, reportId: view.reportId, context });
  }

  /** The largest batch whose training step fits `capacityBytes` (dtype and optimizer of the settings). */
  maxBatch(view: EditorView, model: number, capacityBytes: number): Promise<number | undefined> {
    const fileKey = `${view.file}#`;
    const reportKey = `${fileKey}${view.reportId}:`;
    const key = `${reportKey}${model}:${capacityBytes}`;
    let answer = this.maxBatches.get(key);
    if (!answer) {
      // Answers for older reports of the file are of no further use.
      for (const old of this.maxBatches.keys()) if (old.startsWith(fileKey) && !old.startsWith(reportKey)) this.maxBatches.delete(old);
      answer = this.queryWorker({ kind: 'maxBatch', file: view.file, reportId: view.reportId, model, capacityBytes });
      this.maxBatches.set(key, answer);
    }
    return answer;
  }

  /** A query about the document's current view, asked again once if a newer view replaced it meanwhile. */
  private async detail<Q extends WorkerQuery>(document: vscode.TextDocument, query: (view: EditorView) => Q): Promise<QueryAnswer<Q> | undefined> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const view = await this.viewFor(document);
      if (!view) return undefined;
      const outcome = await this.worker.query(query(view)).catch(() => ({ stale: true as const }));
      if (!outcome.stale) return outcome.value;
    }
    return undefined;
  }

  private async queryWorker<Q extends WorkerQuery>(query: Q): Promise<QueryAnswer<Q> | undefined> {
    try {
      const outcome = await this.worker.query(query);
      return outcome.stale ? undefined : outcome.value;
    } catch (error) {
      this.output.warn(`Netlens: ${query.kind} of ${query.file} failed: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  /** The analysis settings in effect (the dtype and optimizer the memory numbers assume). */
  get currentSettings(): AnalysisSettings {
    return this.settings;
  }

  dispose(): void {
    this.scheduler.dispose();
    void this.worker.dispose();
    for (const disposable of this.disposables) disposable.dispose();
  }

  private analyzeOpenDocuments(): void {
    for (const document of vscode.workspace.textDocuments) {
      if (isAnalyzable(document)) void this.viewFor(document, true);
    }
  }

  private versionTag(document: vscode.TextDocument): string {
    return `${document.version}:${this.settingsGeneration}:${this.dependencyGenerations.get(document.uri.toString()) ?? 0}`;
  }

  private jobFor(document: vscode.TextDocument): AnalysisJob {
    const unsavedBuffers: Record<string, string> = {};
    for (const open of vscode.workspace.textDocuments) {
      if (open.isDirty && isAnalyzable(open) && open !== document) unsavedBuffers[open.uri.fsPath] = open.getText();
    }
    const text = this.edits.take(document.uri.toString());
    return { file: document.uri.fsPath, source: document.getText(), settings: this.settings, unsavedBuffers, text };
  }

  /** The engine's GPU for the memory estimate; a change re-analyzes the open documents. */
  setGpu(gpu: AnalysisSettings['gpu']): void {
    if (gpu?.name === this.gpu?.name && gpu?.computeCapability === this.gpu?.computeCapability) return;
    this.gpu = gpu;
    this.settings = this.readSettings();
    this.settingsGeneration++;
    this.analyzeOpenDocuments();
  }

  private readSettings(): AnalysisSettings {
    const settings = readAnalysisSettings((model, reason) => this.output.warn(`ignoring netlens.inputShapes["${model}"]: ${reason}`));
    return this.gpu ? { ...settings, gpu: this.gpu } : settings;
  }
}
