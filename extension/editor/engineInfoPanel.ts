// The "Netlens Engine" webview panel: one instance, shows the engine service's state live.
import * as vscode from 'vscode';

import { engineInfoBodyHtml } from '../../webviews/engineInfo/body';
import { isFromEngineInfoView, type EngineInfoViewState, type ToEngineInfoView } from '../../webviews/engineInfo/messages';
import type { EngineService } from './engineService';
import { createNetlensPanel } from './webviewPanel';

export const ENGINE_INFO_VIEW_TYPE = 'netlens.engineInfo';

export class EngineInfoPanel implements vscode.Disposable {
  private static instance: EngineInfoPanel | undefined;
  private pageReady = false;
  private readonly disposables: vscode.Disposable[] = [];

  /** Opens the panel, or reveals it when already open. */
  static show(extension: vscode.ExtensionContext, engine: EngineService): EngineInfoPanel {
    if (EngineInfoPanel.instance) {
      EngineInfoPanel.instance.panel.reveal();
      return EngineInfoPanel.instance;
    }
    const panel = createNetlensPanel(
      extension,
      ENGINE_INFO_VIEW_TYPE,
      { page: 'engineInfo', title: 'Netlens Engine', bodyHtml: engineInfoBodyHtml },
      vscode.ViewColumn.Active,
    );
    EngineInfoPanel.instance = new EngineInfoPanel(panel, engine);
    return EngineInfoPanel.instance;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly engine: EngineService,
  ) {
    const webview = panel.webview;
    this.disposables.push(
      webview.onDidReceiveMessage((message: unknown) => this.received(message)),
      engine.onDidChangeState((state) => this.post(state)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  dispose(): void {
    if (EngineInfoPanel.instance === this) EngineInfoPanel.instance = undefined;
    for (const disposable of this.disposables) disposable.dispose();
    this.disposables.length = 0;
    this.panel.dispose();
  }

  private received(message: unknown): void {
    if (!isFromEngineInfoView(message)) return;
    if (message.type === 'ready') {
      // The page may load after the state it should show; send the current state on its ready.
      this.pageReady = true;
      this.post(this.engine.current);
    } else {
      void this.engine.restart();
    }
  }

  private post(state: EngineInfoViewState): void {
    if (!this.pageReady) return;
    const message: ToEngineInfoView = { type: 'state', state };
    void this.panel.webview.postMessage(message);
  }
}
