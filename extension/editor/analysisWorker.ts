// The analysis worker thread (bundled as dist/analysisWorker.js): runs the analyzer off the
// extension host's event loop, one job at a time, and answers each job by its id. It keeps a
// DocumentAnalyzer per recently analyzed file so parses and imported modules are reused.
import { parentPort } from 'node:worker_threads';

import { DocumentAnalyzer } from '../analysis/index';
import type { AnalyzeOptions, FileReport } from '../analysis/reportTypes';
import { findPythonEnvironment } from '../cli/pythonEnvironment';
import { runAnalysisJob } from './analysisJob';
import type { WorkerReply, WorkerRequest } from './analysisWorkerProtocol';

/** Open files a user switches between; older analyzers are dropped (and rebuilt on demand). */
const MAX_ANALYZERS = 16;
const analyzers = new Map<string, DocumentAnalyzer>();

// Probing the Python environment spawns an interpreter; do it once, on the first job.
let sitePackages: string[] | undefined;

async function analyzerFor(file: string): Promise<DocumentAnalyzer> {
  let analyzer = analyzers.get(file);
  if (analyzer) {
    analyzers.delete(file);
  } else {
    analyzer = await DocumentAnalyzer.create(file);
  }
  analyzers.set(file, analyzer);
  for (const [oldFile, old] of analyzers) {
    if (analyzers.size <= MAX_ANALYZERS) break;
    old.dispose();
    analyzers.delete(oldFile);
  }
  return analyzer;
}

async function analyze(file: string, source: string, options: AnalyzeOptions): Promise<FileReport> {
  const analyzer = await analyzerFor(file);
  analyzer.update(source);
  return analyzer.analyze(options);
}

async function handle(request: WorkerRequest): Promise<WorkerReply> {
  const started = performance.now();
  try {
    sitePackages ??= findPythonEnvironment(process.env)?.sitePackages ?? [];
    const report = await runAnalysisJob(request.job, analyze, sitePackages);
    return { id: request.id, ok: true, report, elapsedMs: performance.now() - started };
  } catch (error) {
    const message = error instanceof Error ? error.stack ?? error.message : String(error);
    return { id: request.id, ok: false, error: message, elapsedMs: performance.now() - started };
  }
}

const port = parentPort;
if (!port) throw new Error('analysisWorker.js must run as a worker thread');
// Jobs run strictly one after another: the analyzers are not reentrant.
let queue = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  queue = queue.then(() => handle(request)).then((reply) => port.postMessage(reply));
});
