// "Netlens: Show Model Summary": one webview panel with the torchinfo-like table of the models
// of a Python file, live with its edits; "Copy as Markdown" and clicks on a layer go through here.
import * as vscode from 'vscode';

import { summaryBodyHtml } from '../../webviews/summary/body';
import { isFromSummaryView, type SummaryViewState, type ToSummaryView } from '../../webviews/summary/messages';
import { isAnalyzable } from './analysisService';
import type { EditorContext } from './editorContext';
import { createNetlensPanel } from './webviewPanel';

export const SHOW_SUMMARY_COMMAND = 'netlens.showSummary';
export const SUMMARY_VIEW_TYPE = 'netlens.summary';

export class SummaryPanel implements vscode.Disposable {
  private static instance: SummaryPanel | undefined;
  private pageReady = false;
  /** Counts refreshes, so only the latest one's table is shown. */
  private refreshes = 0;
  private state: SummaryViewState;
  private readonly disposables: vscode.Disposable[] = [];

  static show(extension: vscode.ExtensionContext, context: EditorContext, document: vscode.TextDocument): SummaryPanel {
    if (SummaryPanel.instance) {
      SummaryPanel.instance.follow(document);
      SummaryPanel.instance.panel.reveal(vscode.ViewColumn.Beside, true);
      return SummaryPanel.instance;
    }
    const panel = createNetlensPanel(
      extension,
      SUMMARY_VIEW_TYPE,
      { page: 'summary', title: 'Netlens Summary', bodyHtml: summaryBodyHtml },
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
    );
    SummaryPanel.instance = new SummaryPanel(panel, context, document);
    return SummaryPanel.instance;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly context: EditorContext,
    private document: vscode.TextDocument,
  ) {
    this.state = { status: 'waiting', file: document.uri.fsPath };
    const webview = panel.webview;
    this.disposables.push(
      webview.onDidReceiveMessage((message: unknown) => void this.received(message)),
      context.analysis.onDidChangeReport((uri) => {
        if (uri.toString() === this.document.uri.toString()) this.refresh();
      }),
      context.onDidChangeMemoryContext(() => this.refresh()),
      panel.onDidDispose(() => this.dispose()),
    );
    this.follow(document);
  }

  dispose(): void {
    if (SummaryPanel.instance === this) SummaryPanel.instance = undefined;
    for (const disposable of this.disposables) disposable.dispose();
    this.disposables.length = 0;
    this.panel.dispose();
  }

  private follow(document: vscode.TextDocument): void {
    this.document = document;
    this.panel.title = `Netlens Summary: ${vscode.workspace.asRelativePath(document.uri)}`;
    this.refresh();
    void this.context.analysis.viewFor(document, true).then(() => this.refresh());
  }

  private refresh(): void {
    const file = this.document.uri.fsPath;
    const view = this.context.analysis.currentView(this.document);
    if (!view) {
      // Keep showing the last table while the next report is computed; say "waiting" only at first.
      if (this.state.status !== 'ready' || this.state.file !== file) this.setState({ status: 'waiting', file });
      return;
    }
    if (view.models.length === 0) {
      this.setState({ status: 'empty', file, reason: 'No nn.Module model found in this file (or none could be constructed without arguments).' });
      return;
    }
    // The analysis worker builds the table; a newer analysis meanwhile makes it stale (undefined)
    // and that analysis refreshes the panel again.
    const ticket = ++this.refreshes;
    void this.context.analysis.summary(view, this.context.memoryContext()).then((table) => {
      if (!table || ticket !== this.refreshes || this.document.uri.fsPath !== file) return;
      this.setState({ status: 'ready', file, models: table.models, markdown: table.markdown });
    });
  }

  private setState(state: SummaryViewState): void {
    this.state = state;
    if (!this.pageReady) return;
    const message: ToSummaryView = { type: 'summary', state };
    void this.panel.webview.postMessage(message);
  }

  private async received(message: unknown): Promise<void> {
    if (!isFromSummaryView(message)) return;
    switch (message.type) {
      case 'ready':
        this.pageReady = true;
        this.setState(this.state);
        break;
      case 'copyMarkdown':
        if (this.state.status !== 'ready') return;
        await vscode.env.clipboard.writeText(this.state.markdown);
        void vscode.window.showInformationMessage('Netlens: model summary copied as Markdown.');
        break;
      case 'reveal': {
        const position = new vscode.Position(message.line - 1, 0);
        await vscode.window.showTextDocument(this.document, {
          viewColumn: vscode.ViewColumn.One,
          selection: new vscode.Range(position, position),
        });
        break;
      }
    }
  }
}

/** The document the command is about: its argument (from a hover or CodeLens link), else the active editor. */
export function summaryTarget(args: unknown[]): vscode.TextDocument | undefined {
  const [uriText] = args;
  if (typeof uriText === 'string') {
    return vscode.workspace.textDocuments.find((document) => document.uri.toString() === uriText);
  }
  const active = vscode.window.activeTextEditor?.document;
  return active && isAnalyzable(active) ? active : undefined;
}
