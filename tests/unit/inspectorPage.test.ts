// The built "Netlens Activations" page in a plain browser, fed a message log recorded from the
// real engine (LeNet-5; scripts/bench-inspector.mjs --record): predictions, one colormapped grid
// per layer with pixels drawn, the hover readout against the recorded numbers, normalization and
// zoom, first-layer filters, saliency blended over the image and the occlusion map. Needs dist/
// (npm run build) and Debian's chromium; skips with the reason otherwise.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

import type { Page } from 'playwright-core';

import type { InspectorFilters, InspectorImage, InspectorOcclusion, InspectorSaliency, InspectorSession, ToInspector } from '../../webviews/activations/protocol';
import { formatValue, gridLayout, positionAt, topPredictions } from '../../webviews/activations/render';
import { launchChromium, newWebviewPage, pageOrigin, pageSkipReason } from './webviewPage';

const fixtureFile = path.resolve(__dirname, '..', '..', 'webviews', 'activations', 'fixtures', 'lenet5.json');

const skipReason = pageSkipReason('activations.dev.html');

function recorded(): { session: InspectorSession; image: InspectorImage; filters: InspectorFilters; saliency: InspectorSaliency; occlusion: InspectorOcclusion } {
  const log = JSON.parse(fs.readFileSync(fixtureFile, 'utf8')) as ToInspector[];
  const find = <K extends ToInspector['type']>(type: K): Extract<ToInspector, { type: K }> => {
    const message = log.find((entry) => entry.type === type);
    assert.ok(message, `the fixture has a ${type} message`);
    return message as Extract<ToInspector, { type: K }>;
  };
  return { session: find('session').session, image: find('image').image, filters: find('filters').filters, saliency: find('saliency').saliency, occlusion: find('occlusion').occlusion };
}

/** Opens the page on a log: a file under dist/webviews/fixtures, or messages served for this test only. */
async function withPage(log: string | ToInspector[], check: (page: Page, errors: string[]) => Promise<void>): Promise<void> {
  const browser = await launchChromium();
  try {
    const { page, errors } = await newWebviewPage(browser, {
      viewport: { width: 1400, height: 1000 },
      serve: (pathname) => (pathname === '/inline.json' && typeof log !== 'string' ? { body: JSON.stringify(log), contentType: 'application/json' } : undefined),
    });
    const fixture = typeof log === 'string' ? `fixtures/activations/${log}` : 'inline.json';
    await page.goto(`${pageOrigin}/activations.dev.html?fixture=${fixture}`);
    await check(page, errors);
  } finally {
    await browser.close();
  }
}

/** Canvas pixels summarized in the page: how many are painted, how many distinct colours, a checksum. */
async function canvasSummary(page: Page, selector: string): Promise<{ width: number; height: number; painted: number; colours: number; checksum: number }> {
  return page.$eval(selector, (canvas) => {
    const element = canvas as HTMLCanvasElement;
    const context = element.getContext('2d');
    if (!context) throw new Error('no 2d context');
    const data = context.getImageData(0, 0, element.width, element.height).data;
    const colours = new Set<number>();
    let painted = 0;
    let checksum = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3]! > 0) painted++;
      colours.add((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!);
      checksum = (checksum * 31 + data[i]! + 7 * data[i + 1]! + 13 * data[i + 2]!) % 1_000_000_007;
    }
    return { width: element.width, height: element.height, painted, colours: colours.size, checksum };
  });
}

test('the Activations page draws every layer of a recorded LeNet-5 run, with predictions, filters, saliency and occlusion', { skip: skipReason, timeout: 90_000 }, async () => {
  const { session, image, filters, occlusion } = recorded();
  await withPage('lenet5.json', async (page, errors) => {
    await page.waitForFunction(() => document.getElementById('inspector-occlusion')?.dataset['class'] !== undefined);
    assert.deepEqual(errors, []);
    assert.equal(await page.getAttribute('body', 'data-status'), 'ready');
    assert.equal(await page.textContent('#inspector-title'), `Netlens Activations: ${session.title}`);
    assert.match((await page.textContent('#inspector-weights')) ?? '', /^Weights: /);

    // Top-5, best first, named like the session's classes.
    const rows = await page.$$eval('#inspector-predictions li', (items) => items.map((item) => ({
      cls: Number((item as HTMLElement).dataset['class']),
      name: item.querySelector('.name')?.textContent ?? '',
      probability: item.querySelector('.probability')?.textContent ?? '',
    })));
    const expected = topPredictions(image.probabilities as number[], 5);
    assert.deepEqual(rows.map((row) => row.cls), expected.map((p) => p.classIndex));
    assert.deepEqual(rows.map((row) => row.probability), expected.map((p) => `${(p.probability * 100).toFixed(1)}%`));
    assert.equal(rows[0]!.name, session.classNames[expected[0]!.classIndex] ?? `class ${expected[0]!.classIndex}`);

    // The input image is drawn as recorded (gray repeats into RGB).
    const shown = await page.$eval('#inspector-image', (canvas) => {
      const element = canvas as HTMLCanvasElement;
      return Array.from(element.getContext('2d')!.getImageData(0, 0, element.width, element.height).data);
    });
    const pixels = image.pixels as number[];
    assert.equal(shown.length, image.width * image.height * 4);
    for (const i of [0, 77, 300, image.width * image.height - 1]) assert.equal(shown[i * 4], pixels[i * image.channels], `image pixel ${i}`);

    // One canvas per layer, sized by its grid, painted, and not one flat colour where the data varies.
    const canvases = await page.$$eval('canvas.maps', (items) => items.map((item) => (item as HTMLCanvasElement).dataset['layer'] ?? ''));
    assert.deepEqual(canvases, image.activations.map((layer) => layer.id));
    for (const layer of image.activations) {
      const summary = await canvasSummary(page, `canvas.maps[data-layer="${layer.id}"]`);
      const layout = gridLayout(layer.shape);
      assert.deepEqual([summary.width, summary.height], [layout.canvasWidth, layout.canvasHeight], layer.id);
      assert.ok(summary.painted >= layout.channels * layout.height * layout.width, `${layer.id}: every map element painted`);
      const values = new Set(layer.data as number[]);
      if (values.size > 1) assert.ok(summary.colours > 1, `${layer.id}: more than one colour`);
    }
    const firstConv = image.activations.find((layer) => layer.op === 'conv2d')!;
    assert.ok((await canvasSummary(page, `canvas.maps[data-layer="${firstConv.id}"]`)).colours > 20, 'a conv layer shows a range of colours');

    // Filters: the first convolution's weights, one tile per output channel.
    assert.equal(await page.isVisible('#inspector-filters'), true);
    const filterCanvas = await canvasSummary(page, '#inspector-filters');
    const filterLayout = gridLayout([filters.shape[0]!, filters.shape[2]!, filters.shape[3]!]);
    assert.deepEqual([filterCanvas.width, filterCanvas.height], [filterLayout.canvasWidth, filterLayout.canvasHeight]);
    assert.ok(filterCanvas.colours > 10);

    // Saliency over the image, and the occlusion map.
    const saliency = await canvasSummary(page, '#inspector-saliency');
    assert.deepEqual([saliency.width, saliency.height], [image.width, image.height]);
    assert.ok(saliency.colours > 10, 'saliency is more than a flat picture');
    assert.equal(await page.getAttribute('#inspector-saliency', 'data-class'), String(expected[0]!.classIndex));
    const occluded = await canvasSummary(page, '#inspector-occlusion');
    assert.deepEqual([occluded.width, occluded.height], [image.width, image.height]);
    assert.match((await page.textContent('#inspector-occlusion-caption')) ?? '', new RegExp(`${occlusion.rows}×${occlusion.cols} positions`));

    // Choosing another class asks the extension for its saliency (the page logs the request outside VS Code).
    const posted = page.waitForEvent('console', (message) => message.text().includes('would post'));
    await page.click(`#inspector-predictions li[data-class="${expected[1]!.classIndex}"]`);
    const request = await (await posted).args()[1]!.jsonValue() as { type: string; classIndex: number; token: number };
    assert.deepEqual(request, { type: 'saliency', token: image.token, classIndex: expected[1]!.classIndex });
    assert.equal(await page.getAttribute('#inspector-predictions li.selected', 'data-class'), String(expected[1]!.classIndex));
    assert.equal(await page.textContent('#inspector-saliency-caption'), `Saliency for ${rows[1]!.name}…`);
  });
});

test('hovering a feature map reads the recorded value; normalization, zoom and opacity redraw', { skip: skipReason, timeout: 90_000 }, async () => {
  const { image } = recorded();
  await withPage('lenet5.json', async (page, errors) => {
    await page.waitForFunction(() => document.getElementById('inspector-saliency')?.dataset['class'] !== undefined);
    const layer = image.activations.find((candidate) => candidate.shape.length === 3 && candidate.shape[0]! > 4)!;
    const layout = gridLayout(layer.shape);
    // Channel 4, y 7, x 5 (or the nearest inside a smaller map).
    const y = Math.min(7, layout.height - 1);
    const x = Math.min(5, layout.width - 1);
    const px = (4 % layout.columns) * (layout.width + 1) + x;
    const py = Math.floor(4 / layout.columns) * (layout.height + 1) + y;
    const position = positionAt(layout, px, py)!;
    assert.equal(position.channel, 4);
    const selector = `canvas.maps[data-layer="${layer.id}"]`;
    await page.locator(selector).scrollIntoViewIfNeeded();
    const box = (await page.locator(selector).boundingBox())!;
    await page.mouse.move(box.x + ((px + 0.5) / layout.canvasWidth) * box.width, box.y + ((py + 0.5) / layout.canvasHeight) * box.height);
    const value = formatValue((layer.data as number[])[position.index]!);
    assert.equal(await page.textContent('#inspector-readout'), `${layer.id} · channel 4 · y ${y} · x ${x} · value ${value}`);
    assert.equal(await page.getAttribute('#inspector-readout', 'data-value'), value);

    const perMap = await canvasSummary(page, selector);
    await page.selectOption('#inspector-normalization', 'layer');
    const perLayer = await canvasSummary(page, selector);
    assert.notEqual(perLayer.checksum, perMap.checksum, 'per-layer scaling changes the colours');
    await page.selectOption('#inspector-normalization', 'map');
    assert.equal((await canvasSummary(page, selector)).checksum, perMap.checksum, 'and back');

    const width = async (): Promise<number> => (await page.locator(selector).boundingBox())!.width;
    const before = await width();
    await page.selectOption('#inspector-zoom', '4');
    assert.ok(Math.abs((await width()) - 2 * before) < 1, 'zoom 4× is twice 2×');

    // At opacity 0 the saliency view is the plain image; at 100 it differs.
    await page.$eval('#inspector-opacity', (input) => {
      (input as HTMLInputElement).value = '0';
      input.dispatchEvent(new Event('input'));
    });
    assert.equal((await canvasSummary(page, '#inspector-saliency')).checksum, (await canvasSummary(page, '#inspector-image')).checksum);
    await page.$eval('#inspector-opacity', (input) => {
      (input as HTMLInputElement).value = '100';
      input.dispatchEvent(new Event('input'));
    });
    assert.notEqual((await canvasSummary(page, '#inspector-saliency')).checksum, (await canvasSummary(page, '#inspector-image')).checksum);
    assert.deepEqual(errors, []);
  });
});

test('answers for an image that was replaced are ignored; left-out layers and errors are said', { skip: skipReason, timeout: 60_000 }, async () => {
  const { session, image, saliency } = recorded();
  const newer = { ...image, token: image.token + 1, source: 'newer image', omittedLayers: ['huge_layer'] };
  const log: ToInspector[] = [
    { type: 'session', session },
    { type: 'image', image },
    { type: 'image', image: newer },
    // Computed for the first image: must not be drawn over the newer one.
    { type: 'saliency', saliency: { ...saliency, token: image.token } },
    { type: 'error', message: 'the engine could not read cat.png' },
  ];
  await withPage(log, async (page, errors) => {
    await page.waitForFunction(() => document.body.dataset['status'] === 'error');
    assert.deepEqual(errors, []);
    assert.equal(await page.textContent('#inspector-status'), 'the engine could not read cat.png');
    assert.match((await page.textContent('#inspector-image-caption')) ?? '', /^newer image/);
    assert.match((await page.textContent('#inspector-timing')) ?? '', /not shown, too large to send at once: huge_layer$/);
    assert.equal(await page.getAttribute('#inspector-saliency', 'data-class'), null);
    assert.deepEqual((await canvasSummary(page, '#inspector-saliency')).width, 1);
  });
});
