// From a Python file to an engine graph spec: analyze with graph recording, choose the model,
// check the input is concrete, lower. Shared by `netlens train`, `netlens bench` and the editor.
import * as fs from 'node:fs';

import { analyzeFile } from '../analysis/index';
import type { AnalyzeOptions, ModelReport } from '../analysis/reportTypes';
import { lowerModel, LoweringError, type EngineGraphSpec, type EngineOptimizerSpec } from './lower';
import { trainingMessages } from './messages';

export interface ModelSpecRequest {
  file: string;
  analyze: Omit<AnalyzeOptions, 'recordGraph'>;
  engineOps: readonly string[];
  optimizer: EngineOptimizerSpec;
}

export interface PreparedModel {
  model: ModelReport;
  spec: EngineGraphSpec;
  /** The model input's shape without the batch (e.g. [3, 32, 32]). */
  sampleShape: number[];
  /** Width of the class scores. */
  classes: number;
}

/** Analyzes and lowers; LoweringError for a model the engine cannot run (before anything starts). */
export async function prepareModel(request: ModelSpecRequest): Promise<PreparedModel> {
  const source = fs.readFileSync(request.file, 'utf8');
  const report = await analyzeFile(request.file, source, { ...request.analyze, recordGraph: true });
  const models = report.models;
  if (models.length === 0) {
    const error = report.diagnostics.find((d) => d.severity === 'error');
    throw new LoweringError(error ? `${trainingMessages.noModel(request.file)} (${error.message})` : trainingMessages.noModel(request.file), 'model', request.file, error?.line ?? 0);
  }
  if (models.length > 1) throw new LoweringError(trainingMessages.manyModels(models.map((m) => m.entry).join(', ')), 'model', request.file, 0);
  const model = models[0]!;
  const traceError = model.diagnostics.find((d) => d.severity === 'error');
  if (traceError) throw new LoweringError(`${trainingMessages.noTrace(model.name)} ${traceError.message}`, 'model', traceError.file, traceError.line);
  const input = model.inputs[0];
  if (!input || model.inputs.length !== 1) throw new LoweringError(trainingMessages.notOneInput(model.inputs.length), 'model', request.file, 0);
  if (input.some((d) => typeof d !== 'number')) throw new LoweringError(trainingMessages.symbolicInput(input.join(', ')), 'input', request.file, 0);
  const spec = lowerModel(model, { engineOps: request.engineOps, loss: 'cross_entropy', optimizer: request.optimizer });
  const output = model.output[0] ?? [];
  return { model, spec, sampleShape: (input as number[]).slice(1), classes: typeof output[1] === 'number' ? output[1] : 0 };
}
