#!/usr/bin/env node
// Runs the analyzer over every .py file of the torchvision and timm source trees
// (.cache/pysrc/, provisioned by scripts/fetch-python-sources.mjs) and checks that each one
// ends within its budget with a report or diagnostics. The analyzer must never throw:
// an exception, or a file that runs past the wall-clock limit, fails the run.
//
// Usage: node scripts/robustness.mjs [--limit-ms 20000] [--steps 2000000] [--filter substr]
//                                    [--json results.json]
// Exit codes: 0 no crash and no timeout, 1 otherwise, 2 sources missing or bad arguments.
//
// Each file is analyzed with no entry (the analyzer discovers models by itself: every
// nn.Module subclass constructible without arguments and every module-level model), in a
// worker thread so that a runaway analysis can be stopped and reported. The analyzer runs
// as an esbuild bundle, the form the extension and the CLI ship.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { analyzerBundlePath, bundleAnalyzer } from './analyzer-bundle.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pysrcDir = path.join(repoRoot, '.cache', 'pysrc');
const trees = ['torchvision', 'timm'];

// Budget diagnostics are recognized by code when the analyzer sets one, else by wording.
const budgetCodes = new Set(['step-budget', 'recursion-limit', 'import-budget']);
const budgetWording = /step budget|recursion limit|too much work/i;

function parseArgs(argv) {
  const options = { limitMs: 20000, steps: 2000000, filter: '', json: '' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--limit-ms') options.limitMs = Number(value());
    else if (flag === '--steps') options.steps = Number(value());
    else if (flag === '--filter') options.filter = value();
    else if (flag === '--json') options.json = value();
    else {
      console.error(`robustness: unknown option ${flag}; options: --limit-ms N --steps N --filter SUBSTR --json FILE`);
      process.exit(2);
    }
  }
  if (!(options.limitMs > 0) || !(options.steps > 0)) {
    console.error('robustness: --limit-ms and --steps need positive numbers');
    process.exit(2);
  }
  return options;
}

function listPythonFiles() {
  const files = [];
  for (const tree of trees) {
    const root = path.join(pysrcDir, tree);
    for (const entry of fs.readdirSync(root, { recursive: true, encoding: 'utf8' })) {
      if (entry.endsWith('.py')) files.push(path.join(root, entry));
    }
  }
  return files.sort();
}

/** One long-lived worker (the parser loads once); replaced when a file runs past the limit. */
class AnalysisWorker {
  constructor(steps) {
    this.steps = steps;
    this.start();
  }

  start() {
    this.worker = new Worker(fileURLToPath(import.meta.url), { workerData: { steps: this.steps } });
    this.worker.unref();
  }

  analyze(file, limitMs) {
    return new Promise((resolve) => {
      const worker = this.worker;
      const finish = (result) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        resolve(result);
      };
      const onMessage = (message) => finish(message);
      const onError = (error) => {
        finish({ outcome: 'crash', error: String(error?.stack ?? error) });
        this.start();
      };
      const onExit = (code) => {
        finish({ outcome: 'crash', error: `worker exited with code ${code}` });
        this.start();
      };
      const timer = setTimeout(() => {
        finish({ outcome: 'timeout', ms: limitMs });
        worker.terminate();
        this.start();
      }, limitMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage({ file });
    });
  }

  stop() {
    return this.worker.terminate();
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function runMain() {
  const options = parseArgs(process.argv.slice(2));
  if (!trees.every((tree) => fs.existsSync(path.join(pysrcDir, tree)))) {
    console.error(`robustness: ${path.relative(repoRoot, pysrcDir)}/{${trees.join(',')}} missing; ` +
      'run node scripts/fetch-python-sources.mjs first');
    process.exit(2);
  }
  await bundleAnalyzer();
  const files = listPythonFiles().filter((file) => file.includes(options.filter));
  console.log(`robustness: ${files.length} files, wall limit ${options.limitMs} ms, step budget ${options.steps} per file, ` +
    `load average ${os.loadavg().map((load) => load.toFixed(1)).join(' ')}`);

  const worker = new AnalysisWorker(options.steps);
  // Warm-up: the parser and the builtin modules load once, outside any file's time.
  await worker.analyze(path.join(pysrcDir, 'torchvision', '__init__.py'), 120000);

  const results = [];
  const started = Date.now();
  for (const [index, file] of files.entries()) {
    const result = { file: path.relative(pysrcDir, file), ...(await worker.analyze(file, options.limitMs)) };
    results.push(result);
    if (result.outcome === 'crash' || result.outcome === 'timeout') {
      console.log(`  ${result.outcome.toUpperCase()} ${result.file}${result.error ? `\n    ${result.error.split('\n').slice(0, 6).join('\n    ')}` : ''}`);
    }
    if ((index + 1) % 100 === 0) console.log(`  ... ${index + 1}/${files.length} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  await worker.stop();

  const count = (outcome) => results.filter((r) => r.outcome === outcome).length;
  const times = results.filter((r) => typeof r.ms === 'number' && r.outcome !== 'timeout').map((r) => r.ms).sort((a, b) => a - b);
  const crashes = count('crash');
  const timeouts = count('timeout');
  const budgetHits = results.filter((r) => r.budgetHit).length;
  console.log('\nrobustness summary');
  console.log(`  files:                 ${results.length}`);
  console.log(`  reports:               ${count('report')} (${results.filter((r) => r.models > 0).length} with models, ` +
    `${results.filter((r) => r.diagnostics > 0).length} with diagnostics)`);
  console.log(`  step/recursion budget: ${budgetHits} file(s) stopped by the budget (a diagnostic, not a failure)`);
  console.log(`  crashes (exceptions):  ${crashes}`);
  console.log(`  past the wall limit:   ${timeouts}`);
  console.log(`  time per file:         median ${percentile(times, 0.5).toFixed(1)} ms, p95 ${percentile(times, 0.95).toFixed(1)} ms, ` +
    `max ${(times.at(-1) ?? 0).toFixed(1)} ms, total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const slowest = results.filter((r) => typeof r.ms === 'number').sort((a, b) => b.ms - a.ms).slice(0, 8);
  console.log('  slowest:');
  for (const r of slowest) console.log(`    ${r.ms.toFixed(0).padStart(6)} ms  ${r.file}${r.budgetHit ? '  (budget)' : ''}${r.outcome === 'timeout' ? '  (TIMEOUT)' : ''}`);
  if (options.json) {
    fs.writeFileSync(options.json, JSON.stringify({ date: new Date().toISOString(), options, results }, null, 1));
    console.log(`  results written to ${options.json}`);
  }
  process.exitCode = crashes + timeouts > 0 ? 1 : 0;
}

async function runWorker() {
  const require = createRequire(import.meta.url);
  const { analyzeFile } = require(analyzerBundlePath);
  const { steps } = workerData;
  parentPort.on('message', async ({ file }) => {
    const t0 = performance.now();
    try {
      const source = fs.readFileSync(file, 'utf8');
      const report = await analyzeFile(file, source, { sitePackages: [pysrcDir], stepBudget: steps });
      const diagnostics = [...report.diagnostics, ...report.models.flatMap((model) => model.diagnostics)];
      parentPort.postMessage({
        outcome: 'report',
        ms: performance.now() - t0,
        models: report.models.length,
        diagnostics: diagnostics.length,
        budgetHit: diagnostics.some((d) => budgetCodes.has(d.code) || budgetWording.test(d.message)),
      });
    } catch (error) {
      parentPort.postMessage({ outcome: 'crash', ms: performance.now() - t0, error: String(error?.stack ?? error) });
    }
  });
}

// Last, so that the class above is initialized before it is used.
if (isMainThread) {
  await runMain();
} else {
  await runWorker();
}
