// "Netlens: Show Engine Info": a one-line summary notification plus the "Netlens Engine" panel.
import * as vscode from 'vscode';

import { engineSummary } from '../../webviews/engineInfo/rows';
import type { Feature } from './feature';
import { EngineInfoPanel } from './engineInfoPanel';

export const SHOW_ENGINE_INFO_COMMAND = 'netlens.showEngineInfo';

export const engineInfoFeature: Feature = ({ extension, engine, output }) => {
  extension.subscriptions.push(
    vscode.commands.registerCommand(SHOW_ENGINE_INFO_COMMAND, async () => {
      // Open the panel first: it shows "starting" while the engine (re)starts.
      EngineInfoPanel.show(extension, engine);
      const state = await engine.hello();
      const line =
        state.status === 'ready'
          ? engineSummary(state.hello)
          : state.status === 'failed'
            ? `Netlens engine unavailable: ${state.error}`
            : state.status === 'disabled'
              ? `Netlens engine is off: ${state.reason}`
              : 'Netlens engine is starting…';
      output.info(`[show engine info] ${line}`);
      if (state.status === 'ready') void vscode.window.showInformationMessage(line);
      else void vscode.window.showWarningMessage(line);
    }),
  );
};
