// Every Netlens panel is one page of dist/webviews/ (built from webviews/<page>/): scripts on,
// resources only from that folder, and the shared HTML shell with a fresh nonce per load.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

import { webviewPageHtml } from '../../webviews/shared/html';

export interface NetlensPage {
  /** Folder name under webviews/, e.g. "summary": its bundle is <page>.js and <page>.css. */
  page: string;
  title: string;
  /** Static markup shown before the page's script runs. */
  bodyHtml: string;
}

export function createNetlensPanel(
  extension: vscode.ExtensionContext,
  viewType: string,
  page: NetlensPage,
  showOptions: vscode.ViewColumn | { viewColumn: vscode.ViewColumn; preserveFocus?: boolean },
): vscode.WebviewPanel {
  const webviewRoot = vscode.Uri.joinPath(extension.extensionUri, 'dist', 'webviews');
  const panel = vscode.window.createWebviewPanel(viewType, page.title, showOptions, {
    enableScripts: true,
    localResourceRoots: [webviewRoot],
  });
  const webview = panel.webview;
  const resource = (file: string): string => webview.asWebviewUri(vscode.Uri.joinPath(webviewRoot, file)).toString();
  webview.html = webviewPageHtml({
    title: page.title,
    cspSource: webview.cspSource,
    nonce: randomBytes(16).toString('base64'),
    scriptUri: resource(`${page.page}.js`),
    styleUri: resource(`${page.page}.css`),
    bodyHtml: page.bodyHtml,
  });
  return panel;
}
