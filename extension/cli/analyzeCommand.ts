// `netlens analyze`: reads the file, runs the analyzer with the command line's options and
// prints the report as JSON (the contract in ARCHITECTURE.md) or as a table.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { analyzeFile } from '../analysis/index';
import type { AnalyzeOptions } from '../analysis/reportTypes';
import { UsageError, type AnalyzeCliOptions } from './args';
import { reportJson } from './jsonReport';
import { findPythonEnvironment } from './pythonEnvironment';
import { renderReportTable } from './table';

export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export async function runAnalyze(cli: AnalyzeCliOptions, io: CommandIo): Promise<number> {
  const filePath = path.resolve(io.cwd, cli.file);
  let source: string;
  try {
    source = fs.readFileSync(filePath, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file'
      : (error as NodeJS.ErrnoException).code === 'EISDIR' ? 'it is a folder, not a Python file'
      : (error as Error).message;
    throw new UsageError(`cannot read FILE '${cli.file}': ${reason}.`, 'analyze');
  }
  for (const root of cli.pythonPath) {
    if (!fs.existsSync(path.resolve(io.cwd, root))) {
      throw new UsageError(`--python-path '${root}' does not exist; give a folder that contains Python packages.`, 'analyze');
    }
  }

  const environment = findPythonEnvironment(io.env);
  const options: AnalyzeOptions = {
    entry: cli.entry,
    inputs: cli.inputs.length > 0 ? cli.inputs : undefined,
    batch: cli.batch,
    dtype: cli.dtype,
    optimizer: cli.optimizer,
    pythonPath: cli.pythonPath.map((root) => path.resolve(io.cwd, root)),
    sitePackages: environment?.sitePackages,
    // The forward graph is part of the detailed document only (it costs a little time to record).
    recordGraph: cli.json && cli.detail,
    maxBatchTable: true,
  };
  const report = await analyzeFile(filePath, source, options);

  if (cli.json) {
    io.stdout(reportJson(report, cli.detail));
  } else {
    io.stdout(renderReportTable(report, { cwd: io.cwd, dtype: cli.dtype, optimizer: cli.optimizer }));
  }
  return 0;
}
