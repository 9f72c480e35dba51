// Entry of the Netlens extension. activate() creates the shared pieces (output channel, engine
// service) and runs the list of editor features; each feature lives in extension/editor/.
import * as vscode from 'vscode';

import { editorFeature } from './editor/editorFeature';
import { engineInfoFeature } from './editor/engineInfoCommand';
import { EngineService } from './editor/engineService';
import { inspectorFeature } from './editor/inspectorCommand';
import type { Feature, FeatureContext } from './editor/feature';
import { onnxFeature } from './editor/onnxEditor';
import { trainingFeature } from './editor/trainingCommand';
import { torchrunFeature } from './editor/torchrunCommands';

/** Add a feature here: it gets the shared context and registers its own commands and providers. */
const features: Feature[] = [engineInfoFeature, editorFeature, inspectorFeature, trainingFeature, torchrunFeature, onnxFeature];

export function activate(extension: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('Netlens', { log: true });
  const engine = new EngineService(extension.extensionPath, output);
  extension.subscriptions.push(output, engine);
  const context: FeatureContext = { extension, output, engine };

  for (const feature of features) {
    try {
      feature(context);
    } catch (error) {
      // One broken feature must not take the others (or activation) down with it.
      output.error(`a Netlens feature failed to register: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    }
  }

  // Started in the background: activation does not wait for the native engine.
  void engine.start();
}

export function deactivate(): void {
  // Everything is disposed through extension.subscriptions.
}
