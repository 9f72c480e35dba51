// "Netlens: Inspect Activations…" in a real VS Code: a LeNet-5 run trained in the workspace by the
// CLI, picked in the weights quick pick, the data set's samples picked as images; the panel shows
// the top-5 classes, every layer's feature maps, the first-layer filters and a saliency overlay,
// reads values on hover, moves to the next sample and computes an occlusion map through the engine.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import type { Frame } from 'playwright-core';

import { repoRoot, UI_TIMEOUT_MS, VsCodeSession, WORKBENCH_TIMEOUT_MS } from './harness';

let session: VsCodeSession;
let runId: string;

async function waitInFrame(frame: Frame, what: string, predicate: () => boolean, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
  await frame.waitForFunction(predicate, undefined, { timeout: timeoutMs }).catch((error: unknown) => {
    throw new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`);
  });
}

/** Distinct colours and painted pixels of a canvas in the webview. */
async function canvasColours(frame: Frame, selector: string): Promise<{ colours: number; painted: number }> {
  return frame.$eval(selector, (canvas) => {
    const element = canvas as HTMLCanvasElement;
    const data = element.getContext('2d')!.getImageData(0, 0, element.width, element.height).data;
    const colours = new Set<number>();
    let painted = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3]! > 0) painted++;
      colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
    }
    return { colours: colours.size, painted };
  });
}

before(async () => {
  session = await VsCodeSession.start({ name: 'inspector' });
  // A short real training run of the workspace's LeNet-5, so the weights pick lists a run.
  const trained = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'netlens.js'), 'train', 'lenet5.py', '--data', 'default', '--epochs', '1',
    '--optimizer', 'adam', '--lr', '0.002', '--json-events'], { cwd: session.workspaceDir, encoding: 'utf8', timeout: 120_000 });
  assert.equal(trained.status, 0, trained.stderr);
  runId = fs.readdirSync(path.join(session.workspaceDir, '.netlens', 'runs'))[0]!;
  await session.step('open-lenet5', () => session.openFile('lenet5.py'));
}, { timeout: WORKBENCH_TIMEOUT_MS + 180_000 });

after(async () => {
  await session?.close();
});

test('the inspector shows feature maps, predictions, filters and saliency of a trained LeNet-5', { timeout: 240_000 }, async () => {
  // Room for the panel (cosmetic: the screenshots show more of it).
  await session.runCommand('View: Close Primary Side Bar', 10_000).catch(() => session.page.keyboard.press('Escape'));
  await session.step('run-inspect', () => session.runCommand('Netlens: Inspect Activations…', 60_000));
  await session.step('pick-weights', async () => {
    const labels = await session.quickPickLabels();
    assert.ok(labels.some((label) => label.includes(`Run ${runId}`)), JSON.stringify(labels));
    assert.ok(labels.some((label) => label.includes('initial weights (seed 0, untrained)')), JSON.stringify(labels));
    // The newest run is first and preselected.
    assert.ok(labels[0]!.includes(`Run ${runId}`));
    await session.page.keyboard.press('Enter');
  });
  await session.step('pick-images', async () => {
    await session.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Data set samples' }).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await session.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Data set samples' }).first().click();
  });

  const frame = await session.step('panel', () => session.findWebviewFrame('#inspector-layers canvas.maps', 120_000));
  await session.step('rendered', () => waitInFrame(frame, 'saliency drawn', () => document.getElementById('inspector-saliency')?.dataset['class'] !== undefined, 60_000));
  const layers = await frame.$$eval('canvas.maps', (items) => items.map((item) => (item as HTMLCanvasElement).dataset['layer'] ?? ''));
  assert.deepEqual(layers, ['conv1', 'relu_1', 'pool', 'conv2', 'relu_4', 'pool#2', 'reshape_6', 'fc1', 'relu_8', 'fc2', 'relu_10', 'fc3']);
  const conv1 = await canvasColours(frame, 'canvas.maps[data-layer="conv1"]');
  assert.ok(conv1.painted >= 6 * 28 * 28 && conv1.colours > 20, JSON.stringify(conv1));
  assert.match((await frame.textContent('#inspector-weights')) ?? '', new RegExp(`run ${runId} · epoch-1\\.safetensors`));
  const predictions = await frame.$$eval('#inspector-predictions li .name', (items) => items.map((item) => item.textContent ?? ''));
  assert.equal(predictions.length, 5);
  assert.ok(predictions.every((name) => name.length > 0 && !name.startsWith('class ')), `class names shown: ${predictions.join(', ')}`);
  const saliency = await canvasColours(frame, '#inspector-saliency');
  assert.ok(saliency.colours > 10, JSON.stringify(saliency));
  assert.ok((await canvasColours(frame, '#inspector-filters')).colours > 10);

  await session.step('hover', async () => {
    const canvas = frame.locator('canvas.maps[data-layer="conv1"]');
    // Below the overview in a narrow panel; centred, so the sticky readout does not cover it.
    await frame.$eval('canvas.maps[data-layer="conv1"]', (element) => element.scrollIntoView({ block: 'center' }));
    const box = (await canvas.boundingBox())!;
    // The fifth tile's pixel (x 10, y 20): the canvas is 3 tiles of 28 (+1 px gaps) wide, 2 high.
    await session.page.mouse.move(box.x + ((29 + 10 + 0.5) / 86) * box.width, box.y + ((29 + 20 + 0.5) / 57) * box.height);
    await waitInFrame(frame, 'hover readout', () => document.getElementById('inspector-readout')?.dataset['layer'] === 'conv1');
    assert.match((await frame.textContent('#inspector-readout')) ?? '', /^conv1 · channel 4 · y 20 · x 10 · value -?\d/);
  });
  await session.screenshot('feature-maps', 'inspector-feature-maps');
  await frame.$eval('main', (element) => element.scrollIntoView({ block: 'start' }));
  await session.screenshot('activations', 'inspector-activations');

  await session.step('next-sample', async () => {
    const token = await frame.getAttribute('body', 'data-token');
    await frame.click('#inspector-next');
    await frame.waitForFunction((before) => document.body.dataset['token'] !== before, token, { timeout: 60_000 });
    assert.match((await frame.textContent('#inspector-image-caption')) ?? '', /^sample 1 of the built-in test images · label: /);
  });
  await session.step('occlusion', async () => {
    await waitInFrame(frame, 'saliency for the new image', () => document.getElementById('inspector-saliency')?.dataset['class'] !== undefined, 60_000);
    await frame.click('#inspector-occlude');
    await waitInFrame(frame, 'occlusion drawn', () => document.getElementById('inspector-occlusion')?.dataset['class'] !== undefined, 60_000);
    // Patch 8, stride 4 on 32×32: (32 − 8) / 4 + 1 = 7 positions a side.
    assert.match((await frame.textContent('#inspector-occlusion-caption')) ?? '', /7×7 positions, largest drop/);
  });
  await session.screenshot('occlusion');

  // The page reports its drawing time to the output channel: the number behind docs/PERFORMANCE.md.
  const log = await session.step('timing-logged', () => session.readOutputChannel('Netlens', /inspector: 12 layers drawn in [\d.]+ ms/, 30_000));
  const timings = [...log.matchAll(/inspector: 12 layers drawn in ([\d.]+) ms, on screen after ([\d.]+) ms \(engine ([\d.]+) ms\)/g)];
  assert.ok(timings.length >= 1, log);
  console.log(`[e2e] inspector timings in VS Code: ${timings.map((m) => `draw ${m[1]} ms, frame ${m[2]} ms, engine ${m[3]} ms`).join('; ')}`);
});
