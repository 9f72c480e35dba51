// The training-memory model against measured peaks: the CPU oracle (committed, made by
// scripts/memory/measure_cpu.py) and, when a GPU session has produced it, the GPU JSON
// (scripts/memory/measure_gpu.py). Both must agree within ±10 %.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeFile } from '../../extension/analysis/index';
import type { AnalyzeOptions, InputSpec } from '../../extension/analysis/reportTypes';

const ROOT = path.resolve(__dirname, '..', '..');
const GOLDENS = path.join(ROOT, 'tests', 'unit', 'goldens', 'memory');
const PYSRC = path.join(ROOT, '.cache', 'pysrc');
const TOLERANCE = 0.1;

interface MeasuredCase {
  example?: string;
  source?: string;
  entry: string;
  input: number[];
  input_dtype?: 'float32' | 'int64';
  optimizer: NonNullable<AnalyzeOptions['optimizer']>;
  dtype: NonNullable<AnalyzeOptions['dtype']>;
  peak_bytes: number;
  /** The optimizer ran with foreach=True (CPU oracle cases of the CUDA optimizer path). */
  foreach?: boolean;
}

/** What gpu.json says of its GPU: the memory model sizes the CUDA runtime's terms for it. */
interface MeasuredGpu {
  gpu?: string;
  compute_capability?: string;
}

/** The model file of a case: an examples/ file, or "torchvision:models.resnet" read from .cache/pysrc. */
function sourceFile(c: MeasuredCase): { file: string; needsPysrc: boolean } {
  const source = c.source ?? c.example ?? '';
  if (source.startsWith('torchvision:')) {
    return { file: path.join(PYSRC, 'torchvision', ...source.slice('torchvision:'.length).split('.')) + '.py', needsPysrc: true };
  }
  return { file: path.join(ROOT, 'examples', source), needsPysrc: false };
}

async function estimate(c: MeasuredCase, device: 'cpu' | 'cuda', gpu?: MeasuredGpu): Promise<number> {
  const { file } = sourceFile(c);
  const input: InputSpec = { shape: c.input, dtype: c.input_dtype ?? 'float32' };
  const options: AnalyzeOptions = {
    entry: c.entry, inputs: [input], optimizer: c.optimizer, dtype: c.dtype, recordGraph: true, memoryDevice: device, sitePackages: [PYSRC],
  };
  if (c.foreach !== undefined) options.optimizerForeach = c.foreach;
  if (gpu?.compute_capability) options.gpu = { name: gpu.gpu, computeCapability: gpu.compute_capability };
  const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), options);
  const model = report.models[0];
  assert.ok(model, `${c.entry}: no model in the report`);
  return model.memory.training_peak_bytes;
}

function caseName(c: MeasuredCase): string {
  return `${c.entry} ${JSON.stringify(c.input)} ${c.dtype} ${c.optimizer}${c.foreach ? ' foreach' : ''}`;
}

const cpu = JSON.parse(fs.readFileSync(path.join(GOLDENS, 'cpu_oracle.json'), 'utf8')) as { results: MeasuredCase[] };
for (const c of cpu.results) {
  const skip = sourceFile(c).needsPysrc && !fs.existsSync(PYSRC) ? 'torchvision sources absent (node scripts/fetch-python-sources.mjs)' : false;
  test(`CPU training peak within ±10 %: ${caseName(c)}`, { skip }, async () => {
    const ours = await estimate(c, 'cpu');
    const ratio = ours / c.peak_bytes;
    assert.ok(Math.abs(ratio - 1) <= TOLERANCE, `estimate ${ours} vs measured ${c.peak_bytes} (×${ratio.toFixed(3)})`);
  });
}

const gpuFile = path.join(GOLDENS, 'gpu.json');
const gpu = fs.existsSync(gpuFile) ? (JSON.parse(fs.readFileSync(gpuFile, 'utf8')) as MeasuredGpu & { results: MeasuredCase[] }) : undefined;
if (!gpu) {
  test('GPU training peak within ±10 %', { skip: 'tests/unit/goldens/memory/gpu.json absent: run scripts/memory/measure_gpu.py on a GPU machine' }, () => {});
} else {
  for (const c of gpu.results) {
    const skip = sourceFile(c).needsPysrc && !fs.existsSync(PYSRC) ? 'torchvision sources absent (node scripts/fetch-python-sources.mjs)' : false;
    test(`GPU training peak within ±10 %: ${caseName(c)}`, { skip }, async () => {
      const ours = await estimate(c, 'cuda', gpu);
      const ratio = ours / c.peak_bytes;
      assert.ok(Math.abs(ratio - 1) <= TOLERANCE, `estimate ${ours} vs measured ${c.peak_bytes} (×${ratio.toFixed(3)})`);
    });
  }
}
