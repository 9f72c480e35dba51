// CodeLens above each model (above its class when the file defines it): parameters, MACs,
// training memory at the configured batch, dtype and optimizer, whether that fits the GPU, and
// the Summary action.
import * as vscode from 'vscode';

import type { EditorContext } from './editorContext';
import { modelLenses } from './presentation';
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
      for (const lens of modelLenses(report, document.uri.fsPath, document.lineCount, memory)) {
        const range = document.lineAt(lens.line - 1).range;
        // The numbers are information, not an action: an empty command renders as plain text.
        lenses.push(new vscode.CodeLens(range, { title: lens.text, command: '' }));
        lenses.push(new vscode.CodeLens(range, {
          title: 'Summary',
          command: SHOW_SUMMARY_COMMAND,
          arguments: [document.uri.toString(), lens.line],
          tooltip: `Netlens: Show Model Summary of ${lens.model.name}`,
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
