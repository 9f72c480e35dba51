// The analysis worker thread (bundled as dist/analysisWorker.js): runs the analyzer off the
// extension host's event loop, one job at a time, and answers each job by its id with an
// EditorView (what the editor shows), keeping the full report to answer hover, tree and summary
// queries about it. It keeps a DocumentAnalyzer per recently analyzed file so parses and
// imported modules are reused, and hands it the job's edit when that edit was made from the text
// the analyzer holds.
import { parentPort } from 'node:worker_threads';

import { collectYoungGeneration, createAnalyzerWarmUp, DocumentAnalyzer, FollowUpAnalyses, type AnalyzerWarmUp } from '../analysis/index';
import type { AnalyzeOptions, FileReport } from '../analysis/reportTypes';
import { findPythonEnvironment } from '../cli/pythonEnvironment';
import { analyzeOptionsFor, configuredInputs, runAnalysisJob, type AnalysisJob } from './analysisJob';
import type { QueryAnswer, WorkerNotice, WorkerQuery, WorkerReply, WorkerRequest } from './analysisWorkerProtocol';
import { applicableEdit, type HeldText } from './documentEdits';
import { editorView, transferablesOf, type EditorView } from './editorView';
import { hoverMarkdown, moduleTree } from './presentation';
import { summaryMarkdown, summaryModels } from './summaryTable';

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
    heldReports.delete(oldFile);
    followedUpFiles.delete(oldFile);
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

/** The latest report of each file, which queries about its view are answered from. */
interface HeldReport {
  reportId: number;
  job: AnalysisJob;
  report: FileReport;
}
const heldReports = new Map<string, HeldReport>();
let nextReportId = 1;

async function runJob(job: AnalysisJob): Promise<EditorView> {
  sitePackages ??= findPythonEnvironment(process.env)?.sitePackages ?? [];
  await updateText(job);
  const report = await runAnalysisJob(job, analyze, sitePackages);
  const reportId = nextReportId++;
  heldReports.set(job.file, { reportId, job, report });
  return editorView(report, job.file, reportId);
}

/**
 * Re-analyzes one model of a held report with the largest-batch search on (15 runs of the
 * memory model: too slow for every keystroke, so only for a model shown not to fit; the host
 * keeps the answer per report).
 */
async function largestBatch(held: HeldReport, index: number, capacityBytes: number): Promise<number | undefined> {
  const model = held.report.models[index];
  if (!model) return undefined;
  const options = analyzeOptionsFor(held.job, sitePackages ?? []);
  const inputs = configuredInputs(model, held.job.settings.inputShapes);
  const again = await analyze(held.job.file, held.job.source, {
    ...options,
    entry: model.entry,
    inputs,
    maxBatchTable: true,
    // The analyzer takes decimal gigabytes.
    gpuMemoryGB: capacityBytes / 1e9,
  });
  const entries = again.models[0]?.memory.max_batch?.entries ?? [];
  return entries.find((entry) => entry.dtype === held.job.settings.dtype && entry.optimizer === held.job.settings.optimizer)?.batch;
}

/** Hover, tree and summary read the held report only: they are answered at once, between jobs. */
function answerAtOnce(query: Exclude<WorkerQuery, { kind: 'maxBatch' }>, held: HeldReport): QueryAnswer<typeof query> {
  const report = held.report;
  switch (query.kind) {
    case 'hover':
      return hoverMarkdown(report, query.file, query.line);
    case 'moduleTree': {
      const model = report.models[query.model];
      return model ? moduleTree(model) : [];
    }
    case 'summary': {
      const models = summaryModels(report, query.context);
      return { models, markdown: summaryMarkdown(report.file, models) };
    }
  }
}

function heldFor(query: WorkerQuery): HeldReport | undefined {
  const held = heldReports.get(query.file);
  return held && held.reportId === query.reportId ? held : undefined;
}

function failure(id: number, error: unknown, started: number): WorkerReply {
  const message = error instanceof Error ? error.stack ?? error.message : String(error);
  return { id, ok: false, error: message, elapsedMs: performance.now() - started };
}

async function handleQueued(request: WorkerRequest): Promise<WorkerReply> {
  const started = performance.now();
  try {
    if (request.kind === 'analyze') {
      const view = await runJob(request.job);
      const elapsedMs = performance.now() - started;
      planFollowUp(request.job, elapsedMs);
      return { id: request.id, ok: true, kind: 'analyze', view, elapsedMs };
    }
    const query = request.query;
    const held = heldFor(query);
    if (!held || query.kind !== 'maxBatch') return { id: request.id, ok: true, kind: 'query', outcome: { stale: true }, elapsedMs: performance.now() - started };
    const value = await largestBatch(held, query.model, query.capacityBytes);
    return { id: request.id, ok: true, kind: 'query', outcome: { stale: false, value }, elapsedMs: performance.now() - started };
  } catch (error) {
    return failure(request.id, error, started);
  }
}

const port = parentPort;
if (!port) throw new Error('analysisWorker.js must run as a worker thread');

function send(reply: WorkerReply): void {
  // The view's typed arrays move to the host instead of being copied.
  port!.postMessage(reply, reply.ok && reply.kind === 'analyze' ? transferablesOf(reply.view) : []);
}

// Warm-up (analysis/warmUp.ts): a built-in model analyzed one step at a time, so that the
// interpreter is compiled before the files the user opens. It runs while the worker is idle:
// from its start until the first request, then again once the worker has been quiet for a while
// (no request, no keystroke notice, no follow-up left), paused whenever work comes. The file whose
// opening activated the extension is analyzed before it (it gets follow-ups instead); the next
// files find the interpreter compiled. A job waits at most for the step under way.
const WARM_UP_QUIET_MS = 500;
let warmUp: AnalyzerWarmUp | undefined;
let warmUpScheduled = false;
let lastMessageAt = -Infinity;
function stopWarmUp(): void {
  if (!warmUp) return;
  warmUp.dispose();
  warmUp = undefined;
  collectWhenIdle();
}
function scheduleWarmUp(delayMs: number): void {
  if (!warmUp || warmUpScheduled) return;
  warmUpScheduled = true;
  const run = (): void => {
    warmUpScheduled = false;
    warmUpStep();
  };
  if (delayMs > 0) setTimeout(run, delayMs);
  else setImmediate(run);
}
function warmUpStep(): void {
  if (!warmUp) return;
  const quietFor = performance.now() - lastMessageAt;
  if (queuedRequests > 0 || followUp || plannedFollowUp || quietFor < WARM_UP_QUIET_MS) {
    return scheduleWarmUp(Math.max(WARM_UP_QUIET_MS - quietFor, 50));
  }
  let more = false;
  try {
    more = warmUp.step();
  } catch {
    // A warm-up failure only costs speed; the real analysis reports its own errors.
  }
  if (more) scheduleWarmUp(0);
  else stopWarmUp();
}
createAnalyzerWarmUp().then((created) => {
  warmUp = created;
  scheduleWarmUp(0);
}, () => { /* the parser failed to load: the first job reports it */ });

// Idle-time collection (analysis/idleCollect.ts): when the last queued request is answered and
// nothing new came in the meantime, the young generation is collected before the next keystroke.
let queuedRequests = 0;
function collectWhenIdle(): void {
  setImmediate(() => {
    if (queuedRequests === 0) collectYoungGeneration();
  });
}

// Idle-time follow-up analyses (analysis/followUp.ts): after the first job of a file, while
// nothing else is asked, the same job runs again a few times (results discarded) so that V8
// compiles the paths this file takes before the user's first edit. A keystroke notice lets them
// go on only while they end before the debounced job is due; a job cancels them. Hover, tree and
// summary queries do not (they are answered between two follow-ups, as between two jobs).
const followedUpFiles = new Set<string>();
let followUp: FollowUpAnalyses | undefined;
let plannedFollowUp: FollowUpAnalyses | undefined;
function planFollowUp(job: AnalysisJob, firstMs: number): void {
  if (followedUpFiles.has(job.file)) return;
  followedUpFiles.add(job.file);
  plannedFollowUp = new FollowUpAnalyses(async () => {
    const report = await runAnalysisJob(job, analyze, sitePackages ?? []);
    editorView(report, job.file, 0);
  }, firstMs);
}
function cancelFollowUp(): void {
  followUp?.cancel();
  followUp = undefined;
  plannedFollowUp?.cancel();
  plannedFollowUp = undefined;
}
/** One follow-up analysis per turn of the event loop, so that a message in between cancels the rest. */
function followUpStep(): void {
  const current = followUp;
  if (!current || queuedRequests > 0) return;
  queuedRequests++;
  queue = queue.then(() => current.step()).then((more) => {
    queuedRequests--;
    if (more && followUp === current) setImmediate(followUpStep);
    else {
      if (followUp === current) followUp = undefined;
      collectWhenIdle();
    }
  });
}

// Jobs (and queries that run the analyzer) run strictly one after another: the analyzers are not reentrant.
let queue: Promise<unknown> = Promise.resolve();
port.on('message', (message: WorkerRequest | WorkerNotice) => {
  lastMessageAt = performance.now();
  if (message.kind === 'editing') {
    const due = performance.now() + message.jobDueInMs;
    followUp?.finishBy(due);
    plannedFollowUp?.finishBy(due);
    return;
  }
  const request = message;
  if (request.kind === 'query' && request.query.kind !== 'maxBatch') {
    const started = performance.now();
    try {
      const held = heldFor(request.query);
      send(held
        ? { id: request.id, ok: true, kind: 'query', outcome: { stale: false, value: answerAtOnce(request.query, held) }, elapsedMs: performance.now() - started }
        : { id: request.id, ok: true, kind: 'query', outcome: { stale: true }, elapsedMs: performance.now() - started });
    } catch (error) {
      send(failure(request.id, error, started));
    }
    return;
  }
  cancelFollowUp();
  queuedRequests++;
  queue = queue.then(() => handleQueued(request)).then((reply) => {
    send(reply);
    if (--queuedRequests > 0) return;
    if (plannedFollowUp) {
      followUp = plannedFollowUp;
      plannedFollowUp = undefined;
      setImmediate(followUpStep);
    } else {
      collectWhenIdle();
    }
  });
});
