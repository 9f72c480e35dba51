// The built "Netlens Engine" page in a plain browser, fed a fixture message log: the fast way to
// check a webview without VS Code. Needs dist/ (npm run build) and Debian's chromium.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';

import { chromium } from 'playwright-core';

import { repoRoot } from './support';

const webviewsDist = path.join(repoRoot, 'dist', 'webviews');
const chromiumBin = process.env['NETLENS_CHROMIUM'] ?? '/usr/bin/chromium';
const contentTypes: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

function serve(root: string): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const file = path.join(root, decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname));
    if (!file.startsWith(root) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': contentTypes[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(response);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function renderFixture(fixture: string): Promise<Record<string, string>> {
  const server = await serve(webviewsDist);
  const browser = await chromium.launch({ executablePath: chromiumBin, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/engineInfo.dev.html?fixture=fixtures/engineInfo/${fixture}`);
    await page.waitForFunction(() => document.body.dataset['status'] !== undefined && document.body.dataset['status'] !== 'starting');
    assert.deepEqual(errors, []);
    return await page.evaluate(() => {
      const texts: Record<string, string> = { status: document.body.dataset['status'] ?? '' };
      for (const element of Array.from(document.querySelectorAll('[id^="engine-"]'))) {
        texts[element.id] = (element as HTMLElement).hidden ? '<hidden>' : element.textContent ?? '';
      }
      return texts;
    });
  } finally {
    await browser.close();
    server.close();
  }
}

const skipReason = !fs.existsSync(path.join(webviewsDist, 'engineInfo.dev.html'))
  ? 'dist/webviews not built (npm run build)'
  : !fs.existsSync(chromiumBin)
    ? `no chromium at ${chromiumBin} (set NETLENS_CHROMIUM)`
    : undefined;

test('the page renders a hello as the table with stable ids', { skip: skipReason, timeout: 60_000 }, async () => {
  const texts = await renderFixture('cuda-build-no-gpu.json');
  assert.equal(texts['status'], 'ready');
  assert.equal(texts['engine-state'], 'Engine running');
  assert.equal(texts['engine-error'], '<hidden>');
  assert.equal(texts['engine-version'], '0.1.0');
  assert.equal(texts['engine-cuda'], 'yes (runtime 13.0)');
  assert.match(texts['engine-gpu'] ?? '', /^no: no NVIDIA driver found/);
  assert.equal(texts['engine-device'], 'none');
});

test('the page shows why the engine could not start', { skip: skipReason, timeout: 60_000 }, async () => {
  const texts = await renderFixture('addon-missing.json');
  assert.equal(texts['status'], 'failed');
  assert.equal(texts['engine-state'], 'The engine could not start');
  assert.match(texts['engine-error'] ?? '', /native add-on netlens\.node was not found/);
  assert.equal(texts['engine-version'], undefined, 'no table rows without a hello');
});
