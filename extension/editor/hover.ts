// Hovers on lines that construct layers (type, output shape with its arithmetic, parameters
// split into weight and bias, MACs, memory kept for backward) and on forward statements (the
// shape they produce), each with a link to the model summary.
import * as vscode from 'vscode';

import type { EditorContext } from './editorContext';
import { hoverMarkdown } from './presentation';
import { SHOW_SUMMARY_COMMAND } from './summaryPanel';

export function registerHover(context: EditorContext): vscode.Disposable {
  const provider: vscode.HoverProvider = {
    async provideHover(document, position, token) {
      const report = await context.analysis.reportFor(document);
      if (!report || token.isCancellationRequested) return undefined;
      const line = position.line + 1;
      const args = encodeURIComponent(JSON.stringify([document.uri.toString(), line]));
      const link = `[Open summary](command:${SHOW_SUMMARY_COMMAND}?${args} "Netlens: Show Model Summary")`;
      const markdown = hoverMarkdown(report, document.uri.fsPath, line, link);
      if (!markdown) return undefined;
      const content = new vscode.MarkdownString(markdown);
      content.isTrusted = { enabledCommands: [SHOW_SUMMARY_COMMAND] };
      return new vscode.Hover(content, document.lineAt(position.line).range);
    },
  };
  return vscode.languages.registerHoverProvider({ language: 'python', scheme: 'file' }, provider);
}
