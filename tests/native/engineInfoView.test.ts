// The "Netlens Engine" page's pure parts: rows, summary line, page HTML and CSP, fixture logs.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import type { EngineHello } from '../../extension/engine/protocol';
import { isToEngineInfoView } from '../../webviews/engineInfo/messages';
import { engineInfoRows, engineSummary, formatCudaVersion, formatGiB } from '../../webviews/engineInfo/rows';
import { engineInfoBodyHtml } from '../../webviews/engineInfo/body';
import { contentSecurityPolicy, escapeHtml, webviewPageHtml } from '../../webviews/shared/html';
import { repoRoot } from './support';

const fixturesDir = path.join(repoRoot, 'webviews', 'engineInfo', 'fixtures');

function fixtureHello(): EngineHello {
  const log: unknown = JSON.parse(fs.readFileSync(path.join(fixturesDir, 'cuda-build-no-gpu.json'), 'utf8'));
  assert.ok(Array.isArray(log));
  const ready = log.find((message) => isToEngineInfoView(message) && message.state.status === 'ready');
  assert.ok(ready && isToEngineInfoView(ready) && ready.state.status === 'ready');
  return ready.state.hello;
}

const gpuHello: EngineHello = {
  ...fixtureHello(),
  gpuPresent: true,
  deviceCount: 1,
  deviceName: 'NVIDIA H100 80GB HBM3',
  computeCapability: '9.0',
  totalMemoryBytes: 85_029_158_912,
  freeMemoryBytes: 84_000_000_000,
  driverVersion: 13000,
  gpuError: '',
  cudnnStatus: 'cuDNN 9.24.0 loaded from libcudnn.so.9; cudnnCreate: CUDNN_STATUS_SUCCESS',
  cudaExecutorAvailable: true,
  cudaExecutorStatus: 'CUDA executor ready on NVIDIA H100 80GB HBM3',
};

test('every fixture log is a list of valid view messages', () => {
  const files = fs.readdirSync(fixturesDir).filter((name) => name.endsWith('.json'));
  assert.ok(files.length >= 2);
  for (const file of files) {
    const log: unknown = JSON.parse(fs.readFileSync(path.join(fixturesDir, file), 'utf8'));
    assert.ok(Array.isArray(log), file);
    for (const message of log) assert.ok(isToEngineInfoView(message), `${file}: ${JSON.stringify(message)}`);
  }
});

test('rows have the stable element ids the e2e tests use, each once', () => {
  const ids = engineInfoRows(fixtureHello()).map((row) => row.id);
  for (const id of ['engine-version', 'engine-cuda', 'engine-gpu', 'engine-device']) assert.ok(ids.includes(id), id);
  assert.equal(new Set(ids).size, ids.length);
});

test('rows without a GPU say why', () => {
  const rows = new Map(engineInfoRows(fixtureHello()).map((row) => [row.id, row.value]));
  assert.equal(rows.get('engine-cuda'), 'yes (runtime 13.0)');
  assert.match(rows.get('engine-gpu') ?? '', /^no: no NVIDIA driver found/);
  assert.equal(rows.get('engine-device'), 'none');
  assert.equal(rows.get('engine-driver'), 'none');
  assert.match(rows.get('engine-cuda-executor') ?? '', /^no: no GPU: no NVIDIA driver found/);
});

test('rows and summary with a GPU', () => {
  const rows = new Map(engineInfoRows(gpuHello).map((row) => [row.id, row.value]));
  assert.equal(rows.get('engine-gpu'), 'yes (1 device)');
  assert.equal(rows.get('engine-device'), 'NVIDIA H100 80GB HBM3 (compute 9.0)');
  assert.equal(rows.get('engine-memory'), '79.2 GiB total, 78.2 GiB free');
  assert.equal(rows.get('engine-cuda-executor'), 'yes: CUDA executor ready on NVIDIA H100 80GB HBM3');
  assert.equal(engineSummary(gpuHello), 'Netlens engine 0.1.0: NVIDIA H100 80GB HBM3 (79.2 GiB), CUDA 13.0, cuDNN 9.24.0');
});

test('summary lines for a CPU-only build and a CUDA build without GPU', () => {
  const cpuOnly: EngineHello = { ...fixtureHello(), cudaCompiled: false, runtimeVersion: 0, cpuThreads: 2 };
  assert.equal(engineSummary(cpuOnly), 'Netlens engine 0.1.0: CPU only (CUDA not compiled in), 2 CPU threads');
  assert.match(engineSummary(fixtureHello()), /^Netlens engine 0\.1\.0: CUDA 13\.0 compiled in, no GPU \(no NVIDIA driver found/);
});

test('version and size formatting', () => {
  assert.equal(formatCudaVersion(12040), '12.4');
  assert.equal(formatCudaVersion(0), 'none');
  assert.equal(formatGiB(1024 ** 3 * 1.5), '1.5 GiB');
});

test('the page HTML allows only nonce scripts and local styles', () => {
  const html = webviewPageHtml({
    title: 'Netlens <Engine>',
    cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
    nonce: 'abc123',
    scriptUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webviews/engineInfo.js',
    styleUri: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/webviews/engineInfo.css',
    bodyHtml: engineInfoBodyHtml,
  });
  const csp = contentSecurityPolicy('https://file+.vscode-resource.vscode-cdn.net', 'abc123');
  assert.ok(html.includes(`content="${escapeHtml(csp)}"`));
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-abc123'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  assert.match(html, /<script nonce="abc123" src="[^"]+engineInfo\.js"><\/script>/);
  assert.ok(html.includes('<title>Netlens &lt;Engine&gt;</title>'));
  for (const id of ['engine-state', 'engine-error', 'engine-table', 'engine-restart']) assert.ok(html.includes(`id="${id}"`), id);
});
