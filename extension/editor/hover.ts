// Hovers on lines that construct layers (type, output shape with its arithmetic, parameters
// split into weight and bias, MACs, memory kept for backward) and on forward statements (the
// shape they produce), each with a link to the model summary. The analysis worker writes the
// hover from the report it holds; the host only adds the link.
import * as vscode from 'vscode';

import type { EditorContext } from './editorContext';
import { HOVER_SECTION_SEPARATOR } from './presentation';
import { SHOW_SUMMARY_COMMAND } from './summaryPanel';

export function registerHover(context: EditorContext): vscode.Disposable {
  const provider: vscode.HoverProvider = {
    async provideHover(document, position, token) {
      const line = position.line + 1;
      const markdown = await context.analysis.hover(document, line);
      if (!markdown || token.isCancellationRequested) return undefined;
      const args = encodeURIComponent(JSON.stringify([document.uri.toString(), line]));
      const link = `[Open summary](command:${SHOW_SUMMARY_COMMAND}?${args} "Netlens: Show Model Summary")`;
      const content = new vscode.MarkdownString(`${markdown}${HOVER_SECTION_SEPARATOR}${link}`);
      content.isTrusted = { enabledCommands: [SHOW_SUMMARY_COMMAND] };
      return new vscode.Hover(content, document.lineAt(position.line).range);
    },
  };
  return vscode.languages.registerHoverProvider({ language: 'python', scheme: 'file' }, provider);
}
