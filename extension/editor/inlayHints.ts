// Inlay hints: the output shape after each line that constructs layers and after each tensor
// statement of forward(). The provider waits for the view of the document's current version,
// so VS Code keeps the previous hints until fresh ones replace them and never shows stale ones.
// Only the lines VS Code asks for (the visible range) become hint objects.
import * as vscode from 'vscode';

import type { EditorContext } from './editorContext';
import { readHintSettings } from './config';
import { inlayHintsIn } from './editorView';
import { hintColumn, type LineHint } from './presentation';

export function registerInlayHints(context: EditorContext): vscode.Disposable {
  const changed = new vscode.EventEmitter<void>();
  const provider: vscode.InlayHintsProvider = {
    onDidChangeInlayHints: changed.event,
    async provideInlayHints(document, range, token) {
      const settings = readHintSettings();
      if (!settings.layerShapes && !settings.forwardShapes) return [];
      const view = await context.analysis.viewFor(document);
      if (!view || token.isCancellationRequested) return undefined;
      const last = Math.min(range.end.line + 1, document.lineCount);
      return inlayHintsIn(view.hints, range.start.line + 1, last, settings).map((hint) => toInlayHint(document, hint));
    },
  };

  return vscode.Disposable.from(
    changed,
    vscode.languages.registerInlayHintsProvider({ language: 'python', scheme: 'file' }, provider),
    // Reports of other files' imports and settings changes do not come with an edit of this file.
    context.analysis.onDidChangeReport(() => changed.fire()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('netlens.inlayHints')) changed.fire();
    }),
  );
}

function toInlayHint(document: vscode.TextDocument, hint: LineHint): vscode.InlayHint {
  // After the code and before a trailing comment, so the shape reads as part of the statement.
  const place = hintColumn(document.lineAt(hint.line - 1).text);
  const inlay = new vscode.InlayHint(new vscode.Position(hint.line - 1, place.column), hint.text);
  inlay.paddingLeft = true;
  inlay.paddingRight = place.beforeComment;
  return inlay;
}
