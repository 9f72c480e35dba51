// The analysis worker thread (bundled as dist/analysisWorker.js): runs the analyzer off the
// extension host's event loop, one job at a time, and answers each job by its id. It keeps a
// DocumentAnalyzer per recently analyzed file so parses and imported modules are reused, and
// hands it the job's edit when that edit was made from the text the analyzer holds.
import { parentPort } from 'node:worker_threads';

import { DocumentAnalyzer } from '../analysis/index';
import type { AnalyzeOptions, FileReport } from '../analysis/reportTypes';
import { findPythonEnvironment } from '../cli/pythonEnvironment';
import { runAnalysisJob, type AnalysisJob } from './analysisJob';
import { applicableEdit, type HeldText } from './documentEdits';
import type { WorkerReply, WorkerRequest } from './analysisWorkerProtocol';

/** Open files a user switches between; older analyzers are dropped (and rebuilt on demand). */
const MAX_ANALYZERS = 16;
const analyzers = new Map<string, DocumentAnalyzer>();
/** The text each analyzer holds, by file; gone with the analyzer. */
const heldTexts = new Map<string, HeldText>();

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
    heldTexts.delete(oldFile);
  }
  return analyzer;
}

/** Brings the job's file analyzer to the job's text, reparsing only the edited region when it can. */
async function updateText(job: AnalysisJob): Promise<void> {
  const analyzer = await analyzerFor(job.file);
  const edit = applicableEdit(heldTexts.get(job.file), job.text, job.source.length);
  analyzer.update(job.source, edit);
  heldTexts.set(job.file, { id: job.text?.id, length: job.source.length });
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
    await updateText(request.job);
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
