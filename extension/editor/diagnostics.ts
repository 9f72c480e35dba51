// The analyzer's diagnostics as squiggles (their message carries the arithmetic), and a quick
// fix for each one whose report carries a certain `fix`.
import * as vscode from 'vscode';

import type { DiagnosticReport } from '../analysis/reportTypes';
import { isAnalyzable } from './analysisService';
import type { EditorContext } from './editorContext';

const severities: Record<DiagnosticReport['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
};

type Fix = NonNullable<DiagnosticReport['fix']>;

/** Report positions are 1-based lines and 0-based columns; a missing end runs to the line's end. */
function rangeOf(document: vscode.TextDocument, diagnostic: DiagnosticReport): vscode.Range {
  const line = Math.min(Math.max(diagnostic.line - 1, 0), document.lineCount - 1);
  const start = new vscode.Position(line, Math.max(diagnostic.col, 0));
  if (diagnostic.endLine === undefined || diagnostic.endCol === undefined) {
    const text = document.lineAt(line);
    const end = text.range.end;
    // A point diagnostic at the end of a line would be invisible: underline the line's code.
    return start.isBefore(end) ? new vscode.Range(start, end) : text.range.with(new vscode.Position(line, text.firstNonWhitespaceCharacterIndex));
  }
  return document.validateRange(new vscode.Range(start, new vscode.Position(diagnostic.endLine - 1, diagnostic.endCol)));
}

export function registerDiagnostics(context: EditorContext): vscode.Disposable {
  const collection = vscode.languages.createDiagnosticCollection('netlens');
  // The fixes of the diagnostics currently shown, per document. Looked up by position and message:
  // the diagnostics a code action request carries need not be the objects set here.
  const fixes = new Map<string, Map<string, Fix>>();
  const fixKey = (diagnostic: vscode.Diagnostic) =>
    `${diagnostic.range.start.line}:${diagnostic.range.start.character}:${diagnostic.message}`;

  const refresh = (document: vscode.TextDocument): void => {
    if (!isAnalyzable(document)) return;
    const view = context.analysis.currentView(document);
    if (!view) return;
    const documentFixes = new Map<string, Fix>();
    collection.set(document.uri, view.diagnostics.map((reported) => {
      const diagnostic = new vscode.Diagnostic(rangeOf(document, reported), reported.message, severities[reported.severity]);
      diagnostic.source = 'Netlens';
      if (reported.code) diagnostic.code = reported.code;
      if (reported.fix) documentFixes.set(fixKey(diagnostic), reported.fix);
      return diagnostic;
    }));
    fixes.set(document.uri.toString(), documentFixes);
  };

  const quickFixes: vscode.CodeActionProvider = {
    provideCodeActions(document, _range, codeActionContext) {
      const actions: vscode.CodeAction[] = [];
      for (const diagnostic of codeActionContext.diagnostics) {
        if (diagnostic.source !== 'Netlens') continue;
        const fix = fixes.get(document.uri.toString())?.get(fixKey(diagnostic));
        if (!fix) continue;
        const action = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        action.diagnostics = [diagnostic];
        action.isPreferred = true;
        action.edit = new vscode.WorkspaceEdit();
        const target = fix.file ? vscode.Uri.file(fix.file) : document.uri;
        action.edit.replace(target, new vscode.Range(fix.line - 1, fix.col, fix.endLine - 1, fix.endCol), fix.newText);
        actions.push(action);
      }
      return actions;
    },
  };

  return vscode.Disposable.from(
    collection,
    context.analysis.onDidChangeReport((uri) => {
      const document = vscode.workspace.textDocuments.find((open) => open.uri.toString() === uri.toString());
      if (document) refresh(document);
    }),
    vscode.workspace.onDidCloseTextDocument((document) => {
      collection.delete(document.uri);
      fixes.delete(document.uri.toString());
    }),
    vscode.languages.registerCodeActionsProvider({ language: 'python', scheme: 'file' }, quickFixes, {
      providedCodeActionKinds: [vscode.CodeActionKind.QuickFix],
    }),
  );
}
