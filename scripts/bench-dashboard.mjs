#!/usr/bin/env node
// Frame times of the training dashboard (dist/webviews/training.*) with 100,000 points, in
// headless Debian Chromium: the page gets the same typed messages the extension posts.
//   1. stream: 100,000 step events arrive in 200 messages of 500, one message per frame;
//   2. live at 100k: 120 more messages of 8 steps (what a running run sends), one per frame;
//   3. smoothing: the EMA slider moved 20 times at 100k points (recompute + redraw);
//   4. overlay: 4 runs of 100,000 points each, then live messages of 8 steps.
// A frame's time is the interval between animation frames while messages keep coming (60 Hz
// = 16.7 ms when the page keeps up); `redraw` is the page's own time per redraw (columns, then
// uPlot's drawing, measured in the page), which depends less on what else the machine runs.
// Prints a JSON summary; --json prints it on one line.
//
//   node scripts/bench-dashboard.mjs [--json]
// Needs `npm run build` (dist/webviews) and Chromium (/usr/bin/chromium or NETLENS_CHROMIUM).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const webviewsDist = path.join(repoRoot, 'dist', 'webviews');
const chromiumBin = process.env.NETLENS_CHROMIUM ?? '/usr/bin/chromium';
const jsonOnly = process.argv.includes('--json');
const origin = 'http://netlens.bench';
const contentTypes = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

if (!fs.existsSync(path.join(webviewsDist, 'training.dev.html'))) {
  console.error('bench-dashboard: dist/webviews/training.dev.html is missing; run `npm run build` first.');
  process.exit(1);
}

/** Runs inside the page: feeds messages one per animation frame and records frame intervals. */
async function pageBench() {
  const POINTS = 100_000;
  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const post = (message) => window.postMessage(message, '*');
  const stepEvents = (from, count, seed) => {
    const events = [];
    for (let i = 0; i < count; i++) {
      const step = from + i;
      // A falling, noisy loss like a real run's.
      const loss = 2.3 * Math.exp(-step / 30000) + 0.1 + 0.15 * Math.sin(step * 12.9898 + seed) * Math.sin(step * 0.37);
      events.push({ type: 'step', epoch: 1 + Math.floor(step / 10000), step, loss, lr: 0.01, images_per_s: 2500 });
      if (step % 10000 === 0) events.push({ type: 'epoch', epoch: step / 10000, train_loss: loss, train_acc: 0.5, val_loss: loss * 1.1, val_acc: 0.45 });
    }
    return events;
  };
  const summary = (intervals) => {
    const sorted = [...intervals].sort((a, b) => a - b);
    const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    return { frames: sorted.length, median_ms: +at(0.5).toFixed(2), p95_ms: +at(0.95).toFixed(2), max_ms: +sorted.at(-1).toFixed(2) };
  };
  /** The page's own time for each redraw (data columns + uPlot drawing), read after each frame. */
  const redrawTimes = [];
  let redrawsSeen = Number(document.body.dataset.redraws ?? 0);
  const collectRedraw = () => {
    const count = Number(document.body.dataset.redraws ?? 0);
    if (count !== redrawsSeen) {
      redrawsSeen = count;
      redrawTimes.push(Number(document.body.dataset.frameMs));
    }
  };
  /** Posts each message at the start of a frame and records the time between frames. */
  const feed = async (messages) => {
    const intervals = [];
    redrawTimes.length = 0;
    let last = await nextFrame();
    for (const message of messages) {
      post(message);
      const now = await nextFrame();
      collectRedraw();
      intervals.push(now - last);
      last = now;
    }
    // The last message's redraw lands in the following frame.
    const now = await nextFrame();
    collectRedraw();
    intervals.push(now - last);
    return intervals;
  };
  const withRedraw = (intervals) => ({ ...summary(intervals), redraw: summary(redrawTimes) });
  const run = (id) => ({ id, model: 'Bench', file: 'bench.py', status: 'running', settings: 'synthetic' });
  const pointsShown = () => Number(document.getElementById('dash-loss')?.dataset.points ?? 0);

  post({ type: 'runs', runs: [run('bench-1')] });
  post({ type: 'events', run: 'bench-1', events: [], reset: true });
  await nextFrame();
  const streamMessages = [];
  for (let from = 1; from <= POINTS; from += 500) streamMessages.push({ type: 'events', run: 'bench-1', events: stepEvents(from, 500, 1), reset: false });
  const streamStarted = performance.now();
  const stream = withRedraw(await feed(streamMessages));
  const streamMs = performance.now() - streamStarted;
  const afterStream = pointsShown();

  const live = [];
  for (let i = 0; i < 120; i++) live.push({ type: 'events', run: 'bench-1', events: stepEvents(POINTS + 1 + i * 8, 8, 1), reset: false });
  const liveAt100k = withRedraw(await feed(live));

  const slider = document.getElementById('dash-smoothing');
  const smoothing = [];
  redrawTimes.length = 0;
  let previous = await nextFrame();
  for (let i = 0; i < 20; i++) {
    slider.value = String(0.5 + i * 0.02);
    slider.dispatchEvent(new Event('input'));
    const now = await nextFrame();
    collectRedraw();
    smoothing.push(now - previous);
    previous = now;
  }
  smoothing.push((await nextFrame()) - previous);
  collectRedraw();
  const smoothingResult = withRedraw(smoothing);

  const ids = ['bench-1', 'bench-2', 'bench-3', 'bench-4'];
  post({ type: 'runs', runs: ids.map(run) });
  for (const id of ids.slice(1)) post({ type: 'events', run: id, events: stepEvents(1, POINTS + 960, ids.indexOf(id) + 1), reset: true });
  const overlayStarted = performance.now();
  await nextFrame();
  await nextFrame();
  const overlayFirstDrawMs = performance.now() - overlayStarted;
  const overlayLive = [];
  for (let i = 0; i < 60; i++) {
    for (const id of ids) overlayLive.push({ type: 'events', run: id, events: stepEvents(POINTS + 961 + i * 8, 8, 1), reset: false });
  }
  // Four messages per frame: every run sends its chunk.
  const overlayFrames = [];
  for (let i = 0; i < overlayLive.length; i += 4) overlayFrames.push(overlayLive.slice(i, i + 4));
  const overlay = [];
  redrawTimes.length = 0;
  let before = await nextFrame();
  for (const group of overlayFrames) {
    for (const message of group) post(message);
    const now = await nextFrame();
    collectRedraw();
    overlay.push(now - before);
    before = now;
  }
  overlay.push((await nextFrame()) - before);
  collectRedraw();
  const overlayResult = withRedraw(overlay);

  return {
    stream_100k: { ...stream, total_ms: +streamMs.toFixed(0), points_drawn: afterStream },
    live_at_100k: liveAt100k,
    smoothing_at_100k: smoothingResult,
    overlay_4x100k: { first_draw_ms: +overlayFirstDrawMs.toFixed(0), ...overlayResult, points_drawn: pointsShown() },
  };
}

const browser = await chromium.launch({ executablePath: chromiumBin, headless: true, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.route(`${origin}/**`, async (route) => {
    const file = path.join(webviewsDist, decodeURIComponent(new URL(route.request().url()).pathname));
    if (!file.startsWith(webviewsDist) || !fs.existsSync(file)) return route.fulfill({ status: 404 });
    return route.fulfill({ path: file, contentType: contentTypes[path.extname(file)] ?? 'application/octet-stream' });
  });
  await page.goto(`${origin}/training.dev.html`);
  await page.waitForFunction(() => ['waiting', 'empty'].includes(document.body.dataset.status ?? ''), undefined, { timeout: 10_000 }).catch((error) => {
    throw new Error(`the dashboard page did not load: ${errors.join('; ') || error.message}`);
  });
  const result = await page.evaluate(pageBench);
  if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
  const report = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, load ${os.loadavg()[0].toFixed(1)}`,
    chromium: browser.version(),
    ...result,
  };
  if (jsonOnly) console.log(JSON.stringify(report));
  else console.log(JSON.stringify(report, null, 2));
} finally {
  await browser.close();
}
