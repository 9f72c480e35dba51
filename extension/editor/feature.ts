// What activate() hands to each editor feature. A feature registers its commands and providers
// and pushes what it creates onto context.subscriptions; activate() is only a list of features.
import type * as vscode from 'vscode';

import type { EngineService } from './engineService';

export interface FeatureContext {
  extension: vscode.ExtensionContext;
  /** The "Netlens" output channel (engine log, feature notes). */
  output: vscode.LogOutputChannel;
  engine: EngineService;
}

export type Feature = (context: FeatureContext) => void;
