// CodeLens above each model (above its class when the file defines it): parameters, MACs,
// training memory at the configured batch, dtype and optimizer, whether that fits the GPU, and
// the Summary, Train and Inspect actions (the last two are the training and inspector features'
// commands, given the file and the model's entry). A model that does not fit says so with a warning and the largest batch
// that does (asked from the analysis worker only for such a model: it costs an analysis).
import * as vscode from 'vscode';

import type { EditorContext } from './editorContext';
import { INSPECT_ACTIVATIONS_COMMAND } from './inspectorCommand';
import { modelLenses, modelLensText } from './presentation';
import { SHOW_SUMMARY_COMMAND } from './summaryPanel';
import { TRAIN_MODEL_COMMAND } from './trainingCommand';

export function registerCodeLens(context: EditorContext): vscode.Disposable {
  const changed = new vscode.EventEmitter<void>();
  const provider: vscode.CodeLensProvider = {
    onDidChangeCodeLenses: changed.event,
    async provideCodeLenses(document, token) {
      const view = await context.analysis.viewFor(document);
      if (!view || token.isCancellationRequested) return undefined;
      const memory = context.memoryContext();
      const lenses = modelLenses(view, document.uri.fsPath, document.lineCount, memory);
      const titles = await Promise.all(lenses.map(async (lens) => {
        if (!lens.overBudget || memory.gpuMemoryBytes === undefined) return lens.text;
        const maxBatch = await context.analysis.maxBatch(view, lens.index, memory.gpuMemoryBytes);
        return modelLensText(lens.model, memory, lens.label, maxBatch);
      }));
      if (token.isCancellationRequested) return undefined;
      const result: vscode.CodeLens[] = [];
      lenses.forEach((lens, index) => {
        const range = document.lineAt(lens.line - 1).range;
        // The numbers are information, not an action: an empty command renders as plain text.
        result.push(new vscode.CodeLens(range, { title: titles[index] ?? lens.text, command: '' }));
        result.push(new vscode.CodeLens(range, {
          title: 'Summary',
          command: SHOW_SUMMARY_COMMAND,
          arguments: [document.uri.toString(), lens.line],
          tooltip: `Netlens: Show Model Summary of ${lens.model.name}`,
        }));
        const model = { uri: document.uri.toString(), entry: lens.model.entry };
        result.push(new vscode.CodeLens(range, { title: 'Train', command: TRAIN_MODEL_COMMAND, arguments: [model], tooltip: `Netlens: Train ${lens.label}…` }));
        result.push(new vscode.CodeLens(range, {
          title: 'Inspect',
          command: INSPECT_ACTIVATIONS_COMMAND,
          arguments: [model],
          tooltip: `Netlens: Inspect the Activations of ${lens.label}…`,
        }));
      });
      return result;
    },
  };
  return vscode.Disposable.from(
    changed,
    vscode.languages.registerCodeLensProvider({ language: 'python', scheme: 'file' }, provider),
    context.analysis.onDidChangeReport(() => changed.fire()),
    context.onDidChangeMemoryContext(() => changed.fire()),
  );
}
