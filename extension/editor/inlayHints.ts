// Inlay hints: the output shape after each line that constructs layers and after each tensor
// statement of forward(). The provider waits for the report of the document's current version,
// so VS Code keeps the previous hints until fresh ones replace them and never shows stale ones.
import * as vscode from 'vscode';

import type { EditorContext } from './editorContext';
import type { FileReport } from '../analysis/reportTypes';
import { readHintSettings, type HintSettings } from './config';
import { hintColumn, layerHints, statementHints, type LineHint } from './presentation';

export function registerInlayHints(context: EditorContext): vscode.Disposable {
  const changed = new vscode.EventEmitter<void>();
  // VS Code asks again for every scroll and range; a report's hints are computed once per settings.
  const computed = new WeakMap<FileReport, { key: string; hints: LineHint[] }>();
  const hintsOf = (report: FileReport, file: string, settings: HintSettings): LineHint[] => {
    const key = JSON.stringify(settings);
    const cached = computed.get(report);
    if (cached && cached.key === key) return cached.hints;
    const layers = settings.layerShapes ? layerHints(report, file, settings.params) : [];
    const layerLines = new Set(layers.map((hint) => hint.line));
    const statements = settings.forwardShapes ? statementHints(report, file, layerLines) : [];
    const hints = [...layers, ...statements];
    computed.set(report, { key, hints });
    return hints;
  };

  const provider: vscode.InlayHintsProvider = {
    onDidChangeInlayHints: changed.event,
    async provideInlayHints(document, range, token) {
      const settings = readHintSettings();
      if (!settings.layerShapes && !settings.forwardShapes) return [];
      const report = await context.analysis.reportFor(document);
      if (!report || token.isCancellationRequested) return undefined;
      return hintsOf(report, document.uri.fsPath, settings)
        .filter((hint) => hint.line >= 1 && hint.line <= document.lineCount && range.contains(new vscode.Position(hint.line - 1, 0)))
        .map((hint) => toInlayHint(document, hint));
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
