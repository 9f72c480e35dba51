// The inline editor experience as one feature: the analysis service, and over its reports the
// diagnostics, inlay hints, hovers, CodeLens, status bar, layers tree, summary and input shapes.
import * as vscode from 'vscode';

import { AnalysisService } from './analysisService';
import { registerCodeLens } from './codeLens';
import { registerDiagnostics } from './diagnostics';
import { EditorContext } from './editorContext';
import type { Feature } from './feature';
import { registerHover } from './hover';
import { registerInlayHints } from './inlayHints';
import { SET_INPUT_SHAPE_COMMAND, setInputShape } from './inputShape';
import { registerLayersTree } from './layersTree';
import { registerStatusBar } from './statusBar';
import { SHOW_SUMMARY_COMMAND, SummaryPanel, summaryTarget } from './summaryPanel';

export const editorFeature: Feature = ({ extension, output, engine }) => {
  const analysis = new AnalysisService(extension.extensionPath, output);
  const context = new EditorContext(analysis, engine);
  extension.subscriptions.push(
    analysis,
    context,
    registerDiagnostics(context),
    registerInlayHints(context),
    registerHover(context),
    registerCodeLens(context),
    registerStatusBar(context),
    registerLayersTree(context),
    vscode.commands.registerCommand(SHOW_SUMMARY_COMMAND, (...args: unknown[]) => {
      const document = summaryTarget(args);
      if (!document) {
        void vscode.window.showWarningMessage('Netlens: open a Python model file to see its summary.');
        return;
      }
      SummaryPanel.show(extension, context, document);
    }),
    vscode.commands.registerCommand(SET_INPUT_SHAPE_COMMAND, () => setInputShape(context)),
  );
};
