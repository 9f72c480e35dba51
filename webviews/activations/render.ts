// The pixel work of the Activations page, kept free of the DOM so it is tested in plain node:
// a computed viridis-like colormap, feature-map grids (per-map or per-layer normalization),
// first-layer filters as RGB tiles, saliency (|gradient| max over channels) blended over the
// image, and the occlusion map spread back over the pixels its patches covered.

export type Normalization = 'map' | 'layer';

/** RGBA pixels and their size, as ImageData holds them. */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

// Viridis' published colour stops (dark violet → teal → yellow); colours in between are
// interpolated, so a 256-entry table comes out of ten points and no image asset.
const VIRIDIS_STOPS: readonly (readonly [number, number, number])[] = [
  [68, 1, 84], [72, 40, 120], [62, 73, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [181, 222, 43], [253, 231, 37],
];

/** 256 RGB triples: entry i is the colour of the value i/255. */
export function viridisTable(): Uint8Array {
  const table = new Uint8Array(256 * 3);
  const segments = VIRIDIS_STOPS.length - 1;
  for (let i = 0; i < 256; i++) {
    const position = (i / 255) * segments;
    const index = Math.min(Math.floor(position), segments - 1);
    const fraction = position - index;
    const from = VIRIDIS_STOPS[index]!;
    const to = VIRIDIS_STOPS[index + 1]!;
    for (let c = 0; c < 3; c++) table[i * 3 + c] = Math.round(from[c]! + (to[c]! - from[c]!) * fraction);
  }
  return table;
}

export interface Range {
  min: number;
  max: number;
}

export function valueRange(data: ArrayLike<number>, start = 0, end = data.length): Range {
  let min = Infinity;
  let max = -Infinity;
  for (let i = start; i < end; i++) {
    const value = data[i]!;
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return start < end ? { min, max } : { min: 0, max: 0 };
}

/** How one layer's maps are laid out on its canvas: a near-square grid of tiles, 1 px apart. */
export interface GridLayout {
  channels: number;
  height: number;
  width: number;
  columns: number;
  rows: number;
  gap: number;
  canvasWidth: number;
  canvasHeight: number;
}

/** [C, H, W] → C tiles of H×W; a vector [N] → one 1×N strip. */
export function gridLayout(shape: readonly number[]): GridLayout {
  const gap = 1;
  if (shape.length === 3) {
    const [channels, height, width] = shape as [number, number, number];
    const columns = Math.max(1, Math.ceil(Math.sqrt(channels * (height / Math.max(1, width)))));
    const rows = Math.ceil(channels / columns);
    return { channels, height, width, columns, rows, gap, canvasWidth: columns * (width + gap) - gap, canvasHeight: rows * (height + gap) - gap };
  }
  const length = shape.reduce((product, dim) => product * dim, 1);
  return { channels: 1, height: 1, width: length, columns: 1, rows: 1, gap, canvasWidth: length, canvasHeight: 1 };
}

export interface MapPosition {
  channel: number;
  y: number;
  x: number;
  /** Index into the layer's data. */
  index: number;
}

/** The map element under canvas pixel (px, py), or null over a gap or outside. */
export function positionAt(layout: GridLayout, px: number, py: number): MapPosition | null {
  if (px < 0 || py < 0 || px >= layout.canvasWidth || py >= layout.canvasHeight) return null;
  const column = Math.floor(px / (layout.width + layout.gap));
  const row = Math.floor(py / (layout.height + layout.gap));
  const x = px - column * (layout.width + layout.gap);
  const y = py - row * (layout.height + layout.gap);
  if (x >= layout.width || y >= layout.height) return null;
  const channel = row * layout.columns + column;
  if (channel >= layout.channels) return null;
  return { channel, y, x, index: (channel * layout.height + y) * layout.width + x };
}

/**
 * Paints every map of a layer into `target` (canvasWidth × canvasHeight RGBA), each value through
 * the colormap after scaling by its own map's range or by the whole layer's. Gaps stay transparent.
 */
export function paintFeatureGrid(target: Pixels, layout: GridLayout, data: ArrayLike<number>, normalization: Normalization, table: Uint8Array): void {
  const { channels, height, width, columns, gap } = layout;
  const out = target.data;
  out.fill(0);
  const mapSize = height * width;
  const layerRange = normalization === 'layer' ? valueRange(data, 0, channels * mapSize) : undefined;
  for (let channel = 0; channel < channels; channel++) {
    const start = channel * mapSize;
    const { min, max } = layerRange ?? valueRange(data, start, start + mapSize);
    // A constant map (all zeros after a ReLU, say) shows as the colormap's low end, not as noise.
    const scale = max > min ? 255 / (max - min) : 0;
    const left = (channel % columns) * (width + gap);
    const top = Math.floor(channel / columns) * (height + gap);
    for (let y = 0; y < height; y++) {
      let pixel = ((top + y) * target.width + left) * 4;
      let source = start + y * width;
      for (let x = 0; x < width; x++) {
        const level = ((data[source++]! - min) * scale) | 0;
        out[pixel] = table[level * 3]!;
        out[pixel + 1] = table[level * 3 + 1]!;
        out[pixel + 2] = table[level * 3 + 2]!;
        out[pixel + 3] = 255;
        pixel += 4;
      }
    }
  }
}

/** The value below which `fraction` of the values lie (nearest rank). */
export function percentile(data: ArrayLike<number>, fraction: number): number {
  if (data.length === 0) return 0;
  const sorted = Float64Array.from(data as ArrayLike<number>).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1))]!;
}

/** The input image as RGBA: gray repeats into R, G and B. */
export function imagePixels(pixels: ArrayLike<number>, width: number, height: number, channels: 1 | 3): Pixels {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) data[i * 4 + c] = pixels[i * channels + (channels === 3 ? c : 0)]!;
    data[i * 4 + 3] = 255;
  }
  return { width, height, data };
}

/** Saliency as in Simonyan et al.: |d score / d pixel|, the largest over the colour channels; [H·W]. */
export function saliencyMap(gradient: ArrayLike<number>, shape: readonly number[]): Float32Array {
  const [channels, height, width] = shape as [number, number, number];
  const size = height * width;
  const map = new Float32Array(size);
  for (let c = 0; c < channels; c++) {
    for (let i = 0; i < size; i++) {
      const magnitude = Math.abs(gradient[c * size + i]!);
      if (magnitude > map[i]!) map[i] = magnitude;
    }
  }
  return map;
}

/**
 * Each pixel's occlusion value: the mean drop of the patch positions that covered it (0 where no
 * patch reached, e.g. a right edge the stride skips). Same H×W as the image.
 */
export function occlusionPixels(map: ArrayLike<number>, rows: number, cols: number, patch: number, stride: number, height: number, width: number): Float32Array {
  const sum = new Float32Array(height * width);
  const count = new Uint16Array(height * width);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const drop = map[r * cols + c]!;
      for (let y = r * stride; y < Math.min(height, r * stride + patch); y++) {
        for (let x = c * stride; x < Math.min(width, c * stride + patch); x++) {
          sum[y * width + x]! += drop;
          count[y * width + x]! += 1;
        }
      }
    }
  }
  for (let i = 0; i < sum.length; i++) if (count[i]! > 0) sum[i]! /= count[i]!;
  return sum;
}

/**
 * A heat map over the image: each pixel is (1 − opacity·t)·image + opacity·t·colour, where t is
 * the heat scaled to 0..1 over `range`, so cold pixels keep the image and hot ones take the colour.
 */
export function blendHeat(image: Pixels, heat: ArrayLike<number>, range: Range, opacity: number, table: Uint8Array): Pixels {
  const data = new Uint8ClampedArray(image.data.length);
  const span = range.max > range.min ? range.max - range.min : 1;
  for (let i = 0; i < image.width * image.height; i++) {
    const t = Math.min(1, Math.max(0, (heat[i]! - range.min) / span));
    const level = Math.round(t * 255);
    const weight = opacity * t;
    for (let c = 0; c < 3; c++) data[i * 4 + c] = (1 - weight) * image.data[i * 4 + c]! + weight * table[level * 3 + c]!;
    data[i * 4 + 3] = 255;
  }
  return { width: image.width, height: image.height, data };
}

/**
 * First-layer filters [O, I, kh, kw] as tiles: RGB when the layer reads 3 channels, gray for 1
 * (else the mean over input channels); each filter scaled to its own range, as in cs231n's plots.
 */
export function filterTiles(weights: ArrayLike<number>, shape: readonly number[]): { layout: GridLayout; pixels: Pixels } {
  const [outChannels, inChannels, kernelHeight, kernelWidth] = shape as [number, number, number, number];
  const layout = gridLayout([outChannels, kernelHeight, kernelWidth]);
  const pixels: Pixels = { width: layout.canvasWidth, height: layout.canvasHeight, data: new Uint8ClampedArray(layout.canvasWidth * layout.canvasHeight * 4) };
  const kernelSize = kernelHeight * kernelWidth;
  const filterSize = inChannels * kernelSize;
  for (let o = 0; o < outChannels; o++) {
    const { min, max } = valueRange(weights, o * filterSize, (o + 1) * filterSize);
    const scale = max > min ? 255 / (max - min) : 0;
    const left = (o % layout.columns) * (kernelWidth + layout.gap);
    const top = Math.floor(o / layout.columns) * (kernelHeight + layout.gap);
    for (let y = 0; y < kernelHeight; y++) {
      for (let x = 0; x < kernelWidth; x++) {
        const pixel = ((top + y) * pixels.width + left + x) * 4;
        const at = (channel: number): number => weights[o * filterSize + channel * kernelSize + y * kernelWidth + x]!;
        if (inChannels === 3) {
          for (let c = 0; c < 3; c++) pixels.data[pixel + c] = (at(c) - min) * scale;
        } else {
          let mean = 0;
          for (let c = 0; c < inChannels; c++) mean += at(c);
          const level = (mean / inChannels - min) * scale;
          pixels.data[pixel] = pixels.data[pixel + 1] = pixels.data[pixel + 2] = level;
        }
        pixels.data[pixel + 3] = 255;
      }
    }
  }
  return { layout, pixels };
}

export interface Prediction {
  classIndex: number;
  probability: number;
}

export function topPredictions(probabilities: ArrayLike<number>, count: number): Prediction[] {
  const all: Prediction[] = [];
  for (let i = 0; i < probabilities.length; i++) all.push({ classIndex: i, probability: probabilities[i]! });
  return all.sort((a, b) => b.probability - a.probability || a.classIndex - b.classIndex).slice(0, count);
}

/** Four significant digits, exponent form for very small or large magnitudes. */
export function formatValue(value: number): string {
  const magnitude = Math.abs(value);
  return magnitude === 0 || (magnitude >= 1e-3 && magnitude < 1e5) ? String(Number(value.toPrecision(4))) : value.toExponential(3);
}
