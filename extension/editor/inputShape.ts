// "Netlens: Set Input Shape…": picks a model of the active file and stores the shape of each
// forward argument in netlens.inputShapes (workspace settings), which re-analyzes the file.
import * as vscode from 'vscode';

import type { InputSpec } from '../analysis/reportTypes';
import { parseInputSpec } from '../cli/args';
import { isAnalyzable } from './analysisService';
import { INPUT_SHAPES_SETTING } from './config';
import type { EditorContext } from './editorContext';
import { inputShapeText } from './presentation';

export const SET_INPUT_SHAPE_COMMAND = 'netlens.setInputShape';

function validate(text: string): string | undefined {
  const parts = text.split(';').map((part) => part.trim()).filter(Boolean);
  if (parts.length === 0) return 'Give a shape such as 1,3,224,224 (several forward arguments: separate them with ";").';
  for (const part of parts) {
    try {
      parseInputSpec(part);
    } catch (error) {
      return error instanceof Error ? error.message.replace(/--input /g, '') : String(error);
    }
  }
  return undefined;
}

export async function setInputShape(context: EditorContext): Promise<void> {
  const document = vscode.window.activeTextEditor?.document;
  if (!document || !isAnalyzable(document)) {
    void vscode.window.showWarningMessage('Netlens: open a Python model file first.');
    return;
  }
  const view = await context.analysis.viewFor(document, true);
  const models = view?.models ?? [];
  if (models.length === 0) {
    void vscode.window.showWarningMessage('Netlens: no model found in this file to set an input shape for.');
    return;
  }
  const picked = models.length === 1 ? models[0] : (await vscode.window.showQuickPick(
    models.map((model) => ({ label: model.name, description: model.entry, detail: `input ${inputShapeText(model.inputs)}`, model })),
    { title: 'Netlens: Set Input Shape', placeHolder: 'Which model?' },
  ))?.model;
  if (!picked) return;

  const text = await vscode.window.showInputBox({
    title: `Input shape of ${picked.name}`,
    prompt: 'Full shape with the batch dimension, e.g. 1,3,224,224 or 8,128:int64; several forward arguments separated by ";". Empty: remove the setting.',
    value: picked.inputs.map((shape) => shape.join(',')).join('; '),
    validateInput: (value) => (value.trim() === '' ? undefined : validate(value)),
  });
  if (text === undefined) return;

  const config = vscode.workspace.getConfiguration();
  const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  const current = { ...(config.get<Record<string, unknown>>(INPUT_SHAPES_SETTING) ?? {}) };
  if (text.trim() === '') {
    delete current[picked.name];
  } else {
    const specs: InputSpec[] = text.split(';').map((part) => part.trim()).filter(Boolean).map(parseInputSpec);
    const values = specs.map((spec) => `${spec.shape.join(',')}${spec.dtype ? `:${spec.dtype}` : ''}`);
    current[picked.name] = values.length === 1 ? values[0] : values;
  }
  await config.update(INPUT_SHAPES_SETTING, current, target);
}
