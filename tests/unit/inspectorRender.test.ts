// The Activations page's pixel work, without a browser: colormap, grid layout and hover
// positions, per-map vs per-layer normalization, saliency reduction, occlusion spreading, blending
// and first-layer filter tiles.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  blendHeat,
  filterTiles,
  formatValue,
  gridLayout,
  imagePixels,
  occlusionPixels,
  paintFeatureGrid,
  percentile,
  positionAt,
  saliencyMap,
  topPredictions,
  viridisTable,
  type Pixels,
} from '../../webviews/activations/render';

const table = viridisTable();
const colour = (level: number): number[] => [table[level * 3]!, table[level * 3 + 1]!, table[level * 3 + 2]!];

function pixelAt(pixels: Pixels, x: number, y: number): number[] {
  const i = (y * pixels.width + x) * 4;
  return Array.from(pixels.data.subarray(i, i + 4));
}

test('the colormap runs from viridis dark violet to yellow and gets brighter on the way', () => {
  assert.deepEqual(colour(0), [68, 1, 84]);
  assert.deepEqual(colour(255), [253, 231, 37]);
  const luminance = (level: number): number => {
    const [r, g, b] = colour(level) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  for (let level = 16; level < 256; level += 16) assert.ok(luminance(level) > luminance(level - 16), `level ${level}`);
});

test('a layer of 6 maps of 28×28 is a 3×2 grid of tiles one pixel apart, and hover finds each value', () => {
  const layout = gridLayout([6, 28, 28]);
  assert.equal(layout.columns, 3);
  assert.equal(layout.rows, 2);
  assert.equal(layout.canvasWidth, 3 * 28 + 2);
  assert.equal(layout.canvasHeight, 2 * 28 + 1);
  assert.deepEqual(positionAt(layout, 0, 0), { channel: 0, y: 0, x: 0, index: 0 });
  // Tile 4 is the second row's second tile; (x 5, y 7) inside it.
  assert.deepEqual(positionAt(layout, 29 + 5, 29 + 7), { channel: 4, y: 7, x: 5, index: 4 * 784 + 7 * 28 + 5 });
  assert.equal(positionAt(layout, 28, 3), null, 'the gap between tiles');
  assert.equal(positionAt(layout, layout.canvasWidth, 0), null, 'outside');
  const vector = gridLayout([120]);
  assert.deepEqual([vector.canvasWidth, vector.canvasHeight], [120, 1]);
  assert.deepEqual(positionAt(vector, 17, 0), { channel: 0, y: 0, x: 17, index: 17 });
});

test('per-map normalization stretches every map to the full colormap; per-layer keeps maps comparable', () => {
  // Two 1×2 maps: [0, 1] and [0, 10].
  const layout = gridLayout([2, 1, 2]);
  const data = new Float32Array([0, 1, 0, 10]);
  const pixels: Pixels = { width: layout.canvasWidth, height: layout.canvasHeight, data: new Uint8ClampedArray(layout.canvasWidth * layout.canvasHeight * 4) };
  // Where map 1's second value lands on the canvas, wherever the layout puts the tile.
  const secondMap = { x: (1 % layout.columns) * (layout.width + 1) + 1, y: Math.floor(1 / layout.columns) * (layout.height + 1) };
  assert.deepEqual(positionAt(layout, secondMap.x, secondMap.y)?.index, 3);
  paintFeatureGrid(pixels, layout, data, 'map', table);
  assert.deepEqual(pixelAt(pixels, 1, 0), [...colour(255), 255], 'map 0 max');
  assert.deepEqual(pixelAt(pixels, secondMap.x, secondMap.y).slice(0, 3), colour(255), 'map 1 max');
  paintFeatureGrid(pixels, layout, data, 'layer', table);
  assert.deepEqual(pixelAt(pixels, 1, 0).slice(0, 3), colour(25), 'map 0 max is a tenth of the layer range');
  assert.deepEqual(pixelAt(pixels, secondMap.x, secondMap.y).slice(0, 3), colour(255));
  const constant = new Float32Array([3, 3, 3, 3]);
  paintFeatureGrid(pixels, layout, constant, 'map', table);
  assert.deepEqual(pixelAt(pixels, 0, 0).slice(0, 3), colour(0), 'a constant map is the low end, not noise');
});

test('saliency is the largest |gradient| over the colour channels', () => {
  const gradient = new Float32Array([
    0.5, -2, 0, 0, // red plane (2×2)
    -1, 1, 0, 0.25, // green
    0.1, 0.1, -3, 0, // blue
  ]);
  assert.deepEqual(Array.from(saliencyMap(gradient, [3, 2, 2])), [1, 2, 3, 0.25]);
  // The overlay's top end: a percentile, so one extreme pixel does not wash out the rest.
  const values = Float32Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentile(values, 0.99), 99);
  assert.equal(percentile(values, 1), 100);
  assert.equal(percentile(new Float32Array([5]), 0.99), 5);
});

test('occlusion drops spread back over the pixels each patch covered, averaged where patches overlap', () => {
  // 4×4 image, patch 2, stride 2 → 2×2 positions with no overlap.
  const map = new Float32Array([0.1, 0.2, 0.3, 0.4]);
  const heat = occlusionPixels(map, 2, 2, 2, 2, 4, 4);
  assert.deepEqual(Array.from(heat).map((v) => Number(v.toFixed(3))), [0.1, 0.1, 0.2, 0.2, 0.1, 0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.3, 0.3, 0.4, 0.4]);
  // Patch 2, stride 1 on a 3-wide row: the middle pixel is covered by both positions.
  const overlap = occlusionPixels(new Float32Array([1, 3]), 1, 2, 2, 1, 2, 3);
  assert.deepEqual(Array.from(overlap.subarray(0, 3)), [1, 2, 3]);
});

test('the heat blend keeps cold pixels as the image and paints hot ones with the colormap, by opacity', () => {
  const image = imagePixels(new Uint8Array([10, 200]), 2, 1, 1);
  assert.deepEqual(pixelAt(image, 1, 0), [200, 200, 200, 255]);
  const blended = blendHeat(image, new Float32Array([0, 1]), { min: 0, max: 1 }, 1, table);
  assert.deepEqual(pixelAt(blended, 0, 0), [10, 10, 10, 255]);
  assert.deepEqual(pixelAt(blended, 1, 0), [...colour(255), 255]);
  const half = blendHeat(image, new Float32Array([0, 1]), { min: 0, max: 1 }, 0.5, table);
  assert.deepEqual(pixelAt(half, 1, 0).slice(0, 3), Array.from(Uint8ClampedArray.from(colour(255), (c) => 0.5 * 200 + 0.5 * c)));
});

test('first-layer filters of a colour input become RGB tiles, each scaled to its own range', () => {
  // Two 3-channel 1×1 filters: (red 1, green 0, blue 0) and (0, 0, 5).
  const { layout, pixels } = filterTiles(new Float32Array([1, 0, 0, 0, 0, 5]), [2, 3, 1, 1]);
  assert.equal(layout.channels, 2);
  assert.deepEqual(pixelAt(pixels, 0, 0), [255, 0, 0, 255]);
  assert.deepEqual(pixelAt(pixels, 2, 0), [0, 0, 255, 255]);
  const gray = filterTiles(new Float32Array([0, 2]), [1, 1, 1, 2]);
  assert.deepEqual(pixelAt(gray.pixels, 1, 0), [255, 255, 255, 255]);
});

test('top predictions are sorted by probability, and values read with four significant digits', () => {
  assert.deepEqual(topPredictions([0.1, 0.6, 0.05, 0.25], 2), [{ classIndex: 1, probability: 0.6 }, { classIndex: 3, probability: 0.25 }]);
  assert.equal(formatValue(0.123456), '0.1235');
  assert.equal(formatValue(0), '0');
  assert.equal(formatValue(-12.5), '-12.5');
  assert.equal(formatValue(0.0000123), '1.230e-5');
});
