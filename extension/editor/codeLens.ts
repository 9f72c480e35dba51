// CodeLens above each model: parameters, MACs, training memory at the configured batch, dtype
// and optimizer, whether that fits the GPU, and the Summary action.
import * as vscode from 'vscode';

import type { EditorContext } from './editorContext';
import { modelLensText, sameFile } from './presentation';
import { SHOW_SUMMARY_COMMAND } from './summaryPanel';

export function registerCodeLens(context: EditorContext): vscode.Disposable {
  const changed = new vscode.EventEmitter<void>();
  const provider: vscode.CodeLensProvider = {
    onDidChangeCodeLenses: changed.event,
    async provideCodeLenses(document, token) {
      const report = await context.analysis.reportFor(document);
      if (!report || token.isCancellationRequested) return undefined;
      const memory = context.memoryContext();
      const lenses: vscode.CodeLens[] = [];
      for (const model of report.models) {
        if (model.line === undefined || model.line < 1 || model.line > document.lineCount) continue;
        if (model.definedIn && !sameFile(model.definedIn, document.uri.fsPath)) continue;
        const range = document.lineAt(model.line - 1).range;
        // The numbers are information, not an action: an empty command renders as plain text.
        lenses.push(new vscode.CodeLens(range, { title: modelLensText(model, memory), command: '' }));
        lenses.push(new vscode.CodeLens(range, {
          title: 'Summary',
          command: SHOW_SUMMARY_COMMAND,
          arguments: [document.uri.toString(), model.line],
          tooltip: `Netlens: Show Model Summary of ${model.name}`,
        }));
      }
      return lenses;
    },
  };
  return vscode.Disposable.from(
    changed,
    vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, provider),
    context.analysis.onDidChangeReport(() => changed.fire()),
    context.onDidChangeMemoryContext(() => changed.fire()),
  );
}
