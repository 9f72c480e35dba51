// The netlens.* settings the editor features read, typed, with their defaults in one place
// (package.json's `contributes.configuration` declares the same names for the Settings UI).
import * as path from 'node:path';
import * as vscode from 'vscode';

import type { InputSpec } from '../analysis/reportTypes';
import type { EngineInfoViewState } from '../../webviews/engineInfo/messages';
import { parseInputSpec } from '../cli/args';
import type { AnalysisSettings, OptimizerName, TrainingDtype } from './analysisJob';

export const INPUT_SHAPES_SETTING = 'netlens.inputShapes';

export interface HintSettings {
  /** `→ [N, 64, 112, 112]` after each layer construction line. */
  layerShapes: boolean;
  /** Shapes after tensor statements of forward(). */
  forwardShapes: boolean;
  /** Parameter counts next to layer shapes. */
  params: boolean;
}

const dtypes: readonly TrainingDtype[] = ['float32', 'bfloat16', 'float16'];
const optimizers: readonly OptimizerName[] = ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop'];

function section(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('netlens');
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.find((candidate) => candidate === value) ?? fallback;
}

/**
 * netlens.inputShapes maps a model (class name or entry expression) to a shape string such as
 * "1,3,224,224" or a list of them, one per forward argument. Entries that do not parse are
 * reported through `invalid` and skipped, so one typo does not turn the others off.
 */
export function readInputShapes(invalid?: (model: string, reason: string) => void): Record<string, InputSpec[]> {
  const raw = section().get<Record<string, unknown>>('inputShapes', {});
  const shapes: Record<string, InputSpec[]> = {};
  for (const [model, value] of Object.entries(raw)) {
    const texts = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
    try {
      if (texts.length === 0 || texts.some((text) => typeof text !== 'string')) throw new Error('expected "1,3,224,224" or a list of such strings');
      shapes[model] = texts.map((text) => parseInputSpec(String(text)));
    } catch (error) {
      invalid?.(model, error instanceof Error ? error.message : String(error));
    }
  }
  return shapes;
}

export function readAnalysisSettings(invalid?: (model: string, reason: string) => void): AnalysisSettings {
  const config = section();
  const batch = config.get<number>('batch', 0);
  const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
  const extraRoots = config.get<string[]>('pythonPath', []).map((root) =>
    path.isAbsolute(root) || folders.length === 0 ? root : path.join(folders[0] ?? '', root));
  return {
    batch: Number.isInteger(batch) && batch > 0 ? batch : 0,
    dtype: oneOf(config.get('dtype'), dtypes, 'float32'),
    optimizer: oneOf(config.get('optimizer'), optimizers, 'adam'),
    pythonPath: [...extraRoots, ...folders],
    inputShapes: readInputShapes(invalid),
  };
}

export function readHintSettings(): HintSettings {
  const config = section();
  return {
    layerShapes: config.get<boolean>('inlayHints.layerShapes', true),
    forwardShapes: config.get<boolean>('inlayHints.forwardShapes', true),
    params: config.get<boolean>('inlayHints.params', true),
  };
}

/** GPU memory to plan against when the engine reports no GPU; undefined when unset (0). */
export function configuredGpuMemoryBytes(): number | undefined {
  const gigabytes = section().get<number>('gpuMemoryGB', 0);
  return gigabytes > 0 ? gigabytes * 2 ** 30 : undefined;
}

/** True when the change touches a setting that changes analysis results. */
export function affectsAnalysis(event: vscode.ConfigurationChangeEvent): boolean {
  return ['batch', 'dtype', 'optimizer', 'pythonPath', 'inputShapes'].some((name) => event.affectsConfiguration(`netlens.${name}`));
}

/**
 * The GPU memory training has to fit in: the engine's GPU when it reports one, else the
 * netlens.gpuMemoryGB setting, else unknown.
 */
export function gpuMemoryBytes(engineState: EngineInfoViewState): number | undefined {
  if (engineState.status === 'ready' && engineState.hello.gpuPresent && engineState.hello.totalMemoryBytes > 0) {
    return engineState.hello.totalMemoryBytes;
  }
  return configuredGpuMemoryBytes();
}
