// One analysis job as the editor asks for it, and how it runs: the settings turned into analyzer
// options, unsaved buffers standing in for files on disk, and per-model input shapes applied by
// re-analyzing just that model's entry. Pure (no `vscode`), so the worker and the tests share it.
import * as fs from 'node:fs';

import type { AnalyzeOptions, FileReport, InputSpec, ModelReport } from '../analysis/reportTypes';
import type { JobText } from './documentEdits';

export type TrainingDtype = NonNullable<AnalyzeOptions['dtype']>;
export type OptimizerName = NonNullable<AnalyzeOptions['optimizer']>;

/** The netlens.* settings that change what the analyzer computes. */
export interface AnalysisSettings {
  /** 0: keep the batch of the input the file gives. */
  batch: number;
  dtype: TrainingDtype;
  optimizer: OptimizerName;
  /** netlens.pythonPath plus the workspace folders. */
  pythonPath: string[];
  /** netlens.inputShapes: model class name (or entry expression) → one shape per forward argument. */
  inputShapes: Record<string, InputSpec[]>;
  /** The engine's GPU, which sizes the CUDA-only terms of the memory estimate; absent: none reported. */
  gpu?: { name: string; computeCapability: string };
}

/** What crosses into the analysis worker: plain data only (functions cannot be posted). */
export interface AnalysisJob {
  file: string;
  source: string;
  settings: AnalysisSettings;
  /** Unsaved editor buffers by absolute path; imports read these instead of the disk. */
  unsavedBuffers: Record<string, string>;
  /** Identifies `source` and carries the edit from the previous job's text, for incremental reparsing. */
  text?: JobText;
}

export type AnalyzeFunction = (file: string, source: string, options: AnalyzeOptions) => Promise<FileReport>;

export function analyzeOptionsFor(job: AnalysisJob, sitePackages: string[]): AnalyzeOptions {
  const buffers = job.unsavedBuffers;
  return {
    batch: job.settings.batch > 0 ? job.settings.batch : undefined,
    dtype: job.settings.dtype,
    optimizer: job.settings.optimizer,
    pythonPath: job.settings.pythonPath,
    sitePackages,
    ...(job.settings.gpu ? { gpu: job.settings.gpu } : {}),
    readFile: (file) => {
      if (Object.hasOwn(buffers, file)) return buffers[file];
      try {
        return fs.readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    },
  };
}

/** The configured inputs for a model, looked up by entry expression first, then class name. */
export function configuredInputs(model: Pick<ModelReport, 'name' | 'entry'>, inputShapes: Record<string, InputSpec[]>): InputSpec[] | undefined {
  const byEntry = Object.hasOwn(inputShapes, model.entry) ? inputShapes[model.entry] : undefined;
  const byName = Object.hasOwn(inputShapes, model.name) ? inputShapes[model.name] : undefined;
  const inputs = byEntry ?? byName;
  return inputs && inputs.length > 0 ? inputs : undefined;
}

/**
 * Analyzes the file; every discovered model with configured input shapes is analyzed again with
 * its own entry and those inputs, and that report replaces the discovered one.
 */
export async function runAnalysisJob(job: AnalysisJob, analyze: AnalyzeFunction, sitePackages: string[] = []): Promise<FileReport> {
  const options = analyzeOptionsFor(job, sitePackages);
  const report = await analyze(job.file, job.source, options);
  const models: ModelReport[] = [];
  for (const model of report.models) {
    const inputs = configuredInputs(model, job.settings.inputShapes);
    if (!inputs) {
      models.push(model);
      continue;
    }
    const withInputs = await analyze(job.file, job.source, { ...options, entry: model.entry, inputs });
    const replacement = withInputs.models[0];
    models.push(replacement ? { ...replacement, line: replacement.line ?? model.line, definedIn: replacement.definedIn ?? model.definedIn } : model);
  }
  return { ...report, models };
}
