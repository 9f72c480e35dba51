// The status bar item: the training memory of the model under the cursor against the GPU's
// memory; a warning background when it does not fit. Clicking it opens the summary.
import * as vscode from 'vscode';

import { isAnalyzable } from './analysisService';
import type { EditorContext } from './editorContext';
import { modelAt, statusView } from './presentation';
import { SHOW_SUMMARY_COMMAND } from './summaryPanel';

export function registerStatusBar(context: EditorContext): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('netlens.memory', vscode.StatusBarAlignment.Right, 100);
  item.name = 'Netlens Memory';

  const update = (): void => {
    const editor = vscode.window.activeTextEditor;
    const report = editor && isAnalyzable(editor.document) ? context.analysis.currentReport(editor.document) : undefined;
    if (!editor || !report) {
      // Without a current report keep the last text while the active file is re-analyzed.
      if (!editor || !isAnalyzable(editor.document)) item.hide();
      return;
    }
    const model = modelAt(report, editor.document.uri.fsPath, editor.selection.active.line + 1);
    if (!model) {
      item.hide();
      return;
    }
    const view = statusView(model, context.memoryContext());
    item.text = `$(chip) ${view.text}`;
    item.tooltip = view.tooltip;
    item.backgroundColor = view.overBudget ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    item.command = { title: 'Show Model Summary', command: SHOW_SUMMARY_COMMAND, arguments: [editor.document.uri.toString(), model.line] };
    item.show();
  };

  update();
  return vscode.Disposable.from(
    item,
    vscode.window.onDidChangeActiveTextEditor(update),
    vscode.window.onDidChangeTextEditorSelection((event) => {
      if (event.textEditor === vscode.window.activeTextEditor) update();
    }),
    context.analysis.onDidChangeReport(update),
    context.onDidChangeMemoryContext(update),
  );
}
