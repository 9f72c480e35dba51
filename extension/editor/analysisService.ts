// Keeps an analyzer report for every open Python file: re-analyzes after each edit (debounced),
// with unsaved buffers and the netlens.* settings, in a worker thread so typing never waits on
// the analyzer. Reports are tagged with the document version they were made from; features ask
// for the current version and get nothing rather than a stale report.
import * as path from 'node:path';
import * as vscode from 'vscode';

import type { FileReport } from '../analysis/reportTypes';
import type { AnalysisJob, AnalysisSettings } from './analysisJob';
import { AnalysisScheduler } from './analysisScheduler';
import { AnalysisWorkerClient } from './analysisWorkerClient';
import { DocumentEditTracker } from './documentEdits';
import { affectsAnalysis, readAnalysisSettings } from './config';

const DEBOUNCE_MS = 150;

export function isAnalyzable(document: vscode.TextDocument): boolean {
  return document.languageId === 'python' && document.uri.scheme === 'file';
}

export class AnalysisService implements vscode.Disposable {
  private readonly worker: AnalysisWorkerClient;
  private readonly scheduler: AnalysisScheduler<AnalysisJob, FileReport>;
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  private settings: AnalysisSettings;
  /** Bumped when settings change, so a report made with old settings counts as stale. */
  private settingsGeneration = 0;
  private lastError: string | undefined;
  /** Per document: bumped when another open Python file is saved (it may be imported). */
  private readonly dependencyGenerations = new Map<string, number>();
  /** The edits since each document's last job, so the worker reparses only what changed. */
  private readonly edits = new DocumentEditTracker();

  /** Fires with a document's URI when a fresh report for its current version is ready. */
  readonly onDidChangeReport = this.changed.event;

  constructor(extensionRoot: string, private readonly output: vscode.LogOutputChannel) {
    this.settings = this.readSettings();
    this.worker = new AnalysisWorkerClient({
      script: path.join(extensionRoot, 'dist', 'analysisWorker.js'),
      log: (line) => output.warn(line),
    });
    this.scheduler = new AnalysisScheduler<AnalysisJob, FileReport>({
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
        if (isAnalyzable(document)) void this.reportFor(document, true);
      }),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (!isAnalyzable(event.document) || event.contentChanges.length === 0) return;
        this.edits.record(event.document.uri.toString(), event.contentChanges);
        void this.reportFor(event.document);
      }),
      // Other open files may import the saved one: their reports can change too. The saved file's
      // own report stands (it was made from the same text).
      vscode.workspace.onDidSaveTextDocument((saved) => {
        if (!isAnalyzable(saved)) return;
        for (const document of vscode.workspace.textDocuments) {
          if (document === saved || !isAnalyzable(document)) continue;
          const key = document.uri.toString();
          this.dependencyGenerations.set(key, (this.dependencyGenerations.get(key) ?? 0) + 1);
          void this.reportFor(document, true);
        }
      }),
      vscode.workspace.onDidCloseTextDocument((document) => {
        this.scheduler.forget(document.uri.toString());
        this.edits.forget(document.uri.toString());
        this.dependencyGenerations.delete(document.uri.toString());
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
    this.analyzeOpenDocuments();
  }

  /** The report for the document as it is now; undefined when the document changes first. */
  reportFor(document: vscode.TextDocument, immediate = false): Promise<FileReport | undefined> {
    return this.scheduler.request(document.uri.toString(), this.versionTag(document), () => this.jobFor(document), immediate);
  }

  /** The finished report for the document's current version, without waiting. */
  currentReport(document: vscode.TextDocument): FileReport | undefined {
    return this.scheduler.latest(document.uri.toString(), this.versionTag(document));
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
      if (isAnalyzable(document)) void this.reportFor(document, true);
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

  private readSettings(): AnalysisSettings {
    return readAnalysisSettings((model, reason) => this.output.warn(`ignoring netlens.inputShapes["${model}"]: ${reason}`));
  }
}
