// The status bar item: the training memory of the model under the cursor against the GPU's
// memory; a warning icon and background when it does not fit, with the largest batch that does
// in the tooltip. Clicking it opens the summary.
import * as vscode from 'vscode';

import { isAnalyzable } from './analysisService';
import type { EditorContext } from './editorContext';
import { modelAt, overGpuBudget, statusView } from './presentation';
import { SHOW_SUMMARY_COMMAND } from './summaryPanel';

export function registerStatusBar(context: EditorContext): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('netlens.memory', vscode.StatusBarAlignment.Right, 100);
  item.name = 'Netlens Memory';

  // The update that runs last wins: a largest-batch answer arriving late must not overwrite a newer state.
  let updates = 0;
  const update = (): void => {
    const editor = vscode.window.activeTextEditor;
    const view = editor && isAnalyzable(editor.document) ? context.analysis.currentView(editor.document) : undefined;
    if (!editor || !view) {
      // Without a current view keep the last text while the active file is re-analyzed.
      if (!editor || !isAnalyzable(editor.document)) item.hide();
      return;
    }
    const model = modelAt(view, editor.document.uri.fsPath, editor.selection.active.line + 1);
    if (!model) {
      item.hide();
      return;
    }
    const memory = context.memoryContext();
    const show = (maxBatch?: number): void => {
      const status = statusView(model, memory, maxBatch);
      item.text = `${status.overBudget ? '$(warning)' : '$(chip)'} ${status.text}`;
      item.tooltip = status.tooltip;
      item.backgroundColor = status.overBudget ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
      item.command = { title: 'Show Model Summary', command: SHOW_SUMMARY_COMMAND, arguments: [editor.document.uri.toString(), model.line] };
      item.show();
    };
    show();
    const ticket = ++updates;
    if (overGpuBudget(model, memory) && memory.gpuMemoryBytes !== undefined) {
      void context.analysis.maxBatch(view, view.models.indexOf(model), memory.gpuMemoryBytes).then((maxBatch) => {
        if (ticket === updates && maxBatch !== undefined) show(maxBatch);
      });
    }
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
