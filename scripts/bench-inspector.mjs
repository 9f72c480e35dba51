#!/usr/bin/env node
// How fast the Activations page shows a model's feature maps after an image is chosen, with the
// engine's share measured apart. The engine runs as in the extension (dist/engineHost.js + the
// add-on, through EngineClient and the inspector's engine source); the built page runs in Debian's
// chromium and gets the same messages the panel would post. For each image:
//   engine ms: inferRun's round trip (forward pass, every layer's activation copied, IPC back),
//              and the forward pass alone (a request that returns only the scores)
//   render ms: in the page, from the image message's arrival to the last feature-map canvas drawn
//   frame ms:  the same up to the next animation frame (the maps are on screen)
// The first image also builds the layer sections; it is reported apart.
//
// Usage: npm run build && node scripts/bench-inspector.mjs [--images N] [--model FILE] [--entry E]
//          [--checkpoint FILE] [--record FILE]
//   --model FILE   default: a CIFAR-10 style CNN (4 conv + 2 linear, 3×32×32) written to a temp dir
//   --record FILE  also writes the message log of the first image (session, filters, image,
//                  saliency and an 8/4 occlusion for the top class) as a page fixture
// Target (issue 8): feature maps of a CIFAR net drawn within 100 ms of choosing an image.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { spawnSync } from 'node:child_process';

import { chromium } from 'playwright-core';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const webviewsDist = path.join(repoRoot, 'dist', 'webviews');
const chromiumBin = process.env.NETLENS_CHROMIUM ?? '/usr/bin/chromium';
const origin = 'http://netlens.test';
const TARGET_MS = 100;

// The engine client and the inspector source are TypeScript: run under tsx's loader (tsImport's
// namespaced URLs would break the analyzer's wasm lookup next to its module).
if (!process.execArgv.some((arg) => arg.includes('tsx'))) {
  const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const CIFAR_NET = `import torch.nn as nn
import torch.nn.functional as F


# netlens: input=(1, 3, 32, 32)
class CifarNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(64 * 8 * 8, 256)
        self.fc2 = nn.Linear(256, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = self.pool(F.relu(self.conv2(x)))
        x = F.relu(self.conv3(x))
        x = self.pool(F.relu(self.conv4(x)))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)
`;

function parseArgs(argv) {
  const options = { images: 20, model: undefined, entry: undefined, checkpoint: undefined, record: undefined };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case '--images': options.images = Number(value()); break;
      case '--model': options.model = path.resolve(value()); break;
      case '--entry': options.entry = value(); break;
      case '--checkpoint': options.checkpoint = path.resolve(value()); break;
      case '--record': options.record = path.resolve(value()); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!(options.images >= 2)) throw new Error('--images must be at least 2');
  return options;
}

/** Typed arrays travel through page.evaluate as tagged lists and become typed arrays again in the page. */
function tagTypedArrays(value) {
  if (value instanceof Float32Array) return { __float32: Array.from(value) };
  if (value instanceof Uint8Array) return { __uint8: Array.from(value) };
  if (Array.isArray(value)) return value.map(tagTypedArrays);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, tagTypedArrays(inner)]));
  return value;
}

/** The JSON a fixture log holds: typed arrays as lists, floats at float32's ~7 significant digits. */
function fixtureJson(messages) {
  return JSON.stringify(messages, (_key, value) => {
    if (value instanceof Float32Array) return Array.from(value, (v) => Number(v.toPrecision(7)));
    if (value instanceof Uint8Array) return Array.from(value);
    if (typeof value === 'number' && !Number.isInteger(value)) return Number(value.toPrecision(7));
    return value;
  });
}

function statistics(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1], min: sorted[0] };
}

function findAddonFile() {
  for (const candidate of [path.join(repoRoot, 'dist', 'native', 'netlens.node'), path.join(repoRoot, 'native', 'build', 'Release', 'netlens.node')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new Error('no netlens.node: run npm install (or the native build) first');
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(webviewsDist, 'activations.js'))) throw new Error('dist/webviews/activations.js is missing: run npm run build');
  const { EngineClient, bundledHostModule } = await import('../extension/engine/client.ts');
  const { prepareModel } = await import('../extension/training/modelSpec.ts');
  const { EngineInspectorSource } = await import('../extension/editor/inspectorEngineSource.ts');

  let modelFile = options.model;
  let temp;
  if (!modelFile) {
    temp = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-bench-inspector-'));
    modelFile = path.join(temp, 'cifar_net.py');
    fs.writeFileSync(modelFile, CIFAR_NET);
  }

  const client = new EngineClient({ hostModule: bundledHostModule(repoRoot), addonPath: findAddonFile() });
  const browser = await chromium.launch({ executablePath: chromiumBin, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  try {
    await client.start();
    const prepared = await prepareModel({
      file: modelFile,
      analyze: options.entry ? { entry: options.entry } : {},
      engineOps: await client.request('engineOps', {}),
      optimizer: { type: 'sgd', lr: 0.01 },
    });
    const source = await EngineInspectorSource.open(client, {
      spec: prepared.spec, seed: 0, ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
      title: `${prepared.model.name} — ${path.basename(modelFile)}`,
      weightsLabel: options.checkpoint ? path.basename(options.checkpoint) : 'initial weights (seed 0, untrained)',
    });
    if (source.dataSamples < options.images) throw new Error(`the model's data set has ${source.dataSamples} samples; fewer than --images`);

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const errors = [];
    page.on('pageerror', (error) => errors.push(error.message));
    const rendered = new Map();
    const waiters = new Map();
    page.on('console', async (message) => {
      const args = message.args();
      if (args.length < 2 || !message.text().startsWith('[netlens webview] would post')) return;
      const posted = await args[1].jsonValue();
      if (posted?.type !== 'rendered') return;
      rendered.set(posted.timing.token, posted.timing);
      waiters.get(posted.timing.token)?.(posted.timing);
    });
    await page.route(`${origin}/**`, async (route) => {
      const pathname = decodeURIComponent(new URL(route.request().url()).pathname);
      // The page as the panel loads it, minus the CSP shell: the bundle and its stylesheet.
      if (pathname === '/bench.html') {
        return route.fulfill({ contentType: 'text/html', body: '<!DOCTYPE html><html><head><meta charset="UTF-8"><link rel="stylesheet" href="activations.css"></head><body><script src="activations.js"></script></body></html>' });
      }
      const file = path.join(webviewsDist, pathname);
      if (!file.startsWith(webviewsDist) || !fs.existsSync(file)) return route.fulfill({ status: 404 });
      return route.fulfill({ path: file, contentType: file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'text/html' });
    });
    await page.goto(`${origin}/bench.html`);
    const deliver = (message) => page.evaluate((tagged) => {
      const untag = (value) => {
        if (value && typeof value === 'object' && '__float32' in value) return Float32Array.from(value.__float32);
        if (value && typeof value === 'object' && '__uint8' in value) return Uint8Array.from(value.__uint8);
        if (Array.isArray(value)) return value.map(untag);
        if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, untag(inner)]));
        return value;
      };
      window.postMessage(untag(tagged), '*');
    }, tagTypedArrays(message));

    const session = source.sessionMessage();
    await deliver(session);
    const filters = await source.filters();
    if (filters) await deliver(filters);

    // A second, raw session of the same model: the forward pass alone (only the scores come
    // back), to tell the engine's compute from copying every activation out of it.
    const raw = await client.request('inferOpen', { spec: JSON.stringify(prepared.spec), seed: 0, ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}) }, 120_000);
    const lastLayer = raw.layers[raw.layers.length - 1].id;
    const rows = [];
    let firstImage;
    for (let i = 0; i < options.images; i++) {
      const started = performance.now();
      const image = await source.sample(i);
      const engineTotalMs = performance.now() - started;
      if (i === 0) firstImage = image;
      const token = image.image.token;
      const done = new Promise((resolve) => waiters.set(token, resolve));
      await deliver(image);
      const timing = rendered.get(token) ?? (await done);
      const sample = await client.request('inferSample', { session: raw.session, index: i }, 120_000);
      const forwardStarted = performance.now();
      await client.request('inferRun', { session: raw.session, image: sample.image, layers: [lastLayer] }, 120_000);
      const forwardMs = performance.now() - forwardStarted;
      rows.push({ token, layers: image.image.activations.length, engineRunMs: image.image.sourceMs, engineTotalMs, forwardMs, ...timing });
    }
    if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);

    const layers = rows[0].layers;
    const values = firstImage.image.activations.reduce((sum, a) => sum + a.data.length, 0);
    const later = rows.slice(1);
    const render = statistics(later.map((row) => row.renderMs));
    const frame = statistics(later.map((row) => row.framedMs));
    const engine = statistics(later.map((row) => row.engineRunMs));
    const engineTotal = statistics(later.map((row) => row.engineTotalMs));
    const forward = statistics(later.map((row) => row.forwardMs));
    console.log(`${prepared.model.name}: ${layers} layers, ${values.toLocaleString('en-US')} activation values per image; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'})`);
    console.log(`first image: render ${rows[0].renderMs.toFixed(1)} ms, frame ${rows[0].framedMs.toFixed(1)} ms, engine ${rows[0].engineRunMs.toFixed(1)} ms`);
    console.log(`next ${later.length} images (median / max):`);
    console.log(`  page render  ${render.median.toFixed(1)} / ${render.max.toFixed(1)} ms   (message arrival → last canvas drawn)`);
    console.log(`  page frame   ${frame.median.toFixed(1)} / ${frame.max.toFixed(1)} ms   (→ next animation frame)`);
    console.log(`  engine run   ${engine.median.toFixed(1)} / ${engine.max.toFixed(1)} ms   (inferRun round trip)`);
    console.log(`  engine total ${engineTotal.median.toFixed(1)} / ${engineTotal.max.toFixed(1)} ms   (inferSample + inferRun)`);
    console.log(`  forward only ${forward.median.toFixed(1)} / ${forward.max.toFixed(1)} ms   (inferRun returning the scores only)`);
    console.log(`load average ${os.loadavg().map((load) => load.toFixed(1)).join(' ')}`);
    const met = frame.max <= TARGET_MS;
    console.log(`target: maps on screen within ${TARGET_MS} ms of the image message: ${met ? 'met' : 'MISSED'} (max ${frame.max.toFixed(1)} ms)`);

    if (options.record) {
      // Sample 0 again, so that it is the source's current image for saliency and occlusion.
      const image = await source.sample(0);
      const probabilities = Array.from(image.image.probabilities);
      const top = probabilities.indexOf(Math.max(...probabilities));
      const saliency = await source.saliency(image.image.token, top);
      const patch = Math.max(1, Math.round(image.image.height / 4));
      const occlusion = await source.occlusion(image.image.token, top, patch, Math.max(1, Math.round(image.image.height / 8)));
      const log = [session, ...(filters ? [filters] : []), image, saliency, occlusion];
      fs.mkdirSync(path.dirname(options.record), { recursive: true });
      fs.writeFileSync(options.record, fixtureJson(log) + '\n');
      console.log(`recorded ${log.length} messages to ${path.relative(process.cwd(), options.record)}`);
    }
    await source.close();
    await client.request('inferClose', { session: raw.session });
    process.exitCode = met ? 0 : 1;
  } finally {
    await browser.close();
    await client.dispose();
    if (temp) fs.rmSync(temp, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`bench-inspector: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
