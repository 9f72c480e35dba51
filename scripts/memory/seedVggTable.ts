// The seed notes' VGG-16 memory table (../shared/seed/cs231n-cnn-notes.md, "VGG网络的细节"),
// transcribed as the seed wrote it, and the same table computed by the analyzer from
// examples/vgg16.py at 1×3×224×224. tests/unit/memorySeedVgg.test.ts checks that they agree row
// by row (and that the seed's known slips are the only differences); run this file to print the
// reproduced table as Markdown for docs/MEMORY.md:
//   npx tsx scripts/memory/seedVggTable.ts
import * as fs from 'node:fs';
import * as path from 'node:path';

import { analyzeFile } from '../../extension/analysis/index';
import type { LayerReport, ModelReport } from '../../extension/analysis/reportTypes';

export interface SeedVggRow {
  /** The seed's row label. */
  label: 'INPUT' | 'CONV3-64' | 'CONV3-128' | 'CONV3-256' | 'CONV3-512' | 'POOL2' | 'FC';
  /** The shape the seed wrote, [H, W, C] (FC: [1, 1, units]). */
  shape: [number, number, number];
  /** The activation count the seed wrote, as it rounded it (150K, 3.2M, ...). */
  memoryText: string;
  /** The product the seed wrote for the memory line (its factors). */
  memoryFactors: number[];
  /** The weight count the seed wrote (weights only: the seed leaves biases out). */
  weights: number;
  /** The factors the seed wrote for the weights, when it wrote any. */
  weightFactors: number[];
}

const row = (label: SeedVggRow['label'], shape: [number, number, number], memoryText: string, memoryFactors: number[], weights: number, weightFactors: number[] = []): SeedVggRow =>
  ({ label, shape, memoryText, memoryFactors, weights, weightFactors });

/** Exactly as in the seed, slips included (see SEED_SLIPS). */
export const SEED_VGG16_ROWS: readonly SeedVggRow[] = [
  row('INPUT', [224, 224, 3], '150K', [224, 224, 3], 0),
  row('CONV3-64', [224, 224, 64], '3.2M', [224, 224, 64], 1728, [3, 3, 3, 64]),
  row('CONV3-64', [224, 224, 64], '3.2M', [224, 224, 64], 36864),
  row('POOL2', [112, 112, 64], '800K', [112, 112, 64], 0),
  row('CONV3-128', [112, 112, 128], '1.6M', [112, 112, 128], 73728, [3, 3, 64, 128]),
  row('CONV3-128', [112, 112, 128], '1.6M', [112, 112, 128], 147456, [3, 3, 3, 128]),
  row('POOL2', [56, 56, 128], '400K', [56, 56, 128], 0),
  row('CONV3-256', [56, 56, 256], '800K', [56, 56, 256], 294912, [3, 3, 128, 256]),
  row('CONV3-256', [56, 56, 256], '800K', [56, 56, 256], 589824, [3, 3, 256, 256]),
  row('CONV3-256', [56, 56, 256], '800K', [56, 56, 256], 589824, [3, 3, 256, 256]),
  row('POOL2', [28, 28, 256], '200K', [28, 28, 256], 0),
  row('CONV3-512', [28, 28, 512], '400K', [28, 28, 512], 1179648, [3, 3, 256, 512]),
  row('CONV3-512', [28, 28, 512], '400K', [28, 28, 512], 2359296, [3, 3, 512, 512]),
  row('CONV3-512', [28, 28, 512], '400K', [28, 28, 512], 2359296, [3, 3, 512, 512]),
  row('POOL2', [14, 14, 256], '100K', [14, 14, 512], 0),
  row('CONV3-512', [14, 14, 512], '100K', [14, 14, 512], 2359296, [3, 3, 512, 512]),
  row('CONV3-512', [14, 14, 512], '100K', [14, 14, 512], 2359296, [3, 3, 512, 512]),
  row('CONV3-512', [14, 14, 512], '100K', [14, 14, 512], 2359296, [3, 3, 512, 512]),
  row('POOL2', [7, 7, 256], '25K', [7, 7, 512], 0),
  row('FC', [1, 1, 4096], '4096', [4096], 102760448, [7, 7, 512, 4096]),
  row('FC', [1, 1, 4096], '4096', [4096], 16777216, [4096, 4096]),
  row('FC', [1, 1, 4096], '1000', [1000], 4096000, [4096, 1000]),
];

/** The seed's totals: "总内存: 24M * 4byte ~= 93MB / img" and "总参数数量: 1亿3千8百万" (138M). */
export const SEED_TOTALS = { activations: 24e6, bytesPerImage: 93e6, params: 138e6 };

/** Where the seed is wrong, by row index, and what is right (the test checks each claim). */
export const SEED_SLIPS: readonly { row: number; field: 'shape' | 'memory' | 'weightFactors'; seed: string; correct: string }[] = [
  { row: 5, field: 'weightFactors', seed: '3x3x3x128', correct: '3x3x128x128 (= 147456, the value the seed wrote)' },
  { row: 14, field: 'shape', seed: '[14x14x256]', correct: '[14x14x512] (its own memory line says 14x14x512)' },
  { row: 18, field: 'shape', seed: '[7x7x256]', correct: '[7x7x512] (its own memory line says 7x7x512)' },
  { row: 21, field: 'shape', seed: '[1x1x4096]', correct: '[1x1x1000] (its memory line says 1000)' },
];

export interface ReproducedVggRow {
  seed: SeedVggRow;
  /** The analyzer's layer (null for INPUT). */
  layer: { path: string; type: string } | null;
  /** [H, W, C] from the analyzer's output shape (FC: [1, 1, features]). */
  shape: [number, number, number];
  activations: number;
  /** The weight tensor's element count (bias left out, as the seed does). */
  weights: number;
  bias: number;
  /**
   * Bytes kept for backward in float32 at batch 1 by this layer and the layers after it up to the
   * next row (a conv's in-place ReLU, the classifier's dropout): the analyzer's per-layer saved_bytes.
   */
  savedBytes: number;
}

function numbers(dims: readonly (number | string)[]): number[] {
  return dims.map((d) => {
    if (typeof d !== 'number') throw new Error(`symbolic dimension ${d}: analyze VGG-16 with a concrete input`);
    return d;
  });
}

function hwc(shape: number[]): [number, number, number] {
  if (shape.length === 4) return [shape[2]!, shape[3]!, shape[1]!];
  if (shape.length === 2) return [1, 1, shape[1]!];
  throw new Error(`unexpected output rank ${shape.length}`);
}

function elementCount(shape: readonly (number | string)[]): number {
  return numbers(shape).reduce((a, b) => a * b, 1);
}

function parameterCount(layer: LayerReport, name: string): number {
  const parameter = layer.parameters?.find((p) => p.name === name);
  return parameter ? elementCount(parameter.shape) : 0;
}

/** Lines the analyzer's report up with the seed's rows: the input, each conv (its ReLU is in place), each pool, each linear. */
export function reproduceSeedVgg(model: ModelReport): ReproducedVggRow[] {
  const input = numbers(model.inputs[0] ?? []);
  const rows: ReproducedVggRow[] = [];
  const inputShape = hwc(input);
  rows.push({ seed: SEED_VGG16_ROWS[0]!, layer: null, shape: inputShape, activations: elementCount(input.slice(1)), weights: 0, bias: 0, savedBytes: 0 });
  for (const layer of model.layers) {
    const isRow = layer.type === 'Conv2d' || layer.type === 'MaxPool2d' || layer.type === 'Linear';
    if (!isRow) {
      // ReLU, AdaptiveAvgPool2d (7×7 → 7×7 here), Dropout: not rows of the seed's table; what they keep is the row's above.
      const previous = rows[rows.length - 1]!;
      previous.savedBytes += layer.saved_bytes ?? 0;
      continue;
    }
    const seed = SEED_VGG16_ROWS[rows.length];
    if (!seed) throw new Error(`the analyzer found more conv/pool/linear layers than the seed's table (${layer.path})`);
    const output = numbers(layer.output[0] ?? []);
    rows.push({
      seed, layer: { path: layer.path, type: layer.type }, shape: hwc(output), activations: elementCount(output.slice(1)),
      weights: parameterCount(layer, 'weight'), bias: parameterCount(layer, 'bias'), savedBytes: layer.saved_bytes ?? 0,
    });
  }
  return rows;
}

export async function analyzeExampleVgg16(repoRoot: string): Promise<ModelReport> {
  const file = path.join(repoRoot, 'examples', 'vgg16.py');
  const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), { entry: 'vgg16()', inputs: [{ shape: [1, 3, 224, 224] }] });
  const model = report.models[0];
  if (!model) throw new Error(`examples/vgg16.py gave no model: ${report.diagnostics.map((d) => d.message).join('; ')}`);
  return model;
}

function formatCount(value: number): string {
  return value.toLocaleString('en-US');
}

function formatMB(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

export function markdownTable(rows: readonly ReproducedVggRow[], model: ModelReport): string {
  const lines = [
    '| # | seed row | seed shape | Netlens layer | shape (H×W×C) | activations | seed memory | weights | seed weights | bias | kept for backward, fp32 (row + its ReLU/dropout) |',
    '|---|---|---|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  rows.forEach((r, i) => {
    lines.push(`| ${i} | ${r.seed.label} | ${r.seed.shape.join('×')} | ${r.layer ? `${r.layer.path} (${r.layer.type})` : 'input'} | ${r.shape.join('×')} | ${formatCount(r.activations)} | ${r.seed.memoryText} | ${formatCount(r.weights)} | ${formatCount(r.seed.weights)} | ${formatCount(r.bias)} | ${formatMB(r.savedBytes)} |`);
  });
  const activations = rows.reduce((sum, r) => sum + r.activations, 0);
  const weights = rows.reduce((sum, r) => sum + r.weights, 0);
  const biases = rows.reduce((sum, r) => sum + r.bias, 0);
  lines.push('');
  lines.push(`Sum of the activation column: ${formatCount(activations)} values = ${formatMB(activations * 4)} in float32 per image (seed: "24M * 4 bytes ~= 93MB").`);
  lines.push(`Weights ${formatCount(weights)} + biases ${formatCount(biases)} = ${formatCount(weights + biases)} parameters (analyzer total ${formatCount(model.params.total)}; seed: 138M).`);
  const saved = rows.reduce((sum, r) => sum + r.savedBytes, 0);
  lines.push(`Kept for backward at batch 1, float32 (sum of the last column = the analyzer's saved_bytes ${formatMB(model.memory.saved_bytes ?? 0)}): ${formatMB(saved)}, plus the ${formatMB(model.memory.input_bytes ?? 0)} input batch that the first conv keeps.`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const model = await analyzeExampleVgg16(path.resolve(__dirname, '..', '..'));
  process.stdout.write(`${markdownTable(reproduceSeedVgg(model), model)}\n`);
}

if (require.main === module) void main();
