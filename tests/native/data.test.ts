// Data sets through the add-on: `new Dataset({kind, paths, options})` gives the data set's info and
// batch loaders whose batches arrive as JS-owned Float32Array images and Int32Array labels, prepared
// on the core's background thread; bad files become JS errors naming the file and the problem.
// The fixtures come from scripts/goldens/make_data_fixtures.py: pixel = (n·31 + c·11 + y·7 + x·3) mod 256, label = n mod 3.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { addonPath, repoRoot } from './support';

interface DatasetInfo {
  name: string;
  count: number;
  shape: number[];
  classes: number;
  classNames: string[];
  coarseClassNames: string[];
  mean: number[];
  std: number[];
}
interface NativeBatch {
  shape: number[];
  images: Float32Array;
  labels: Int32Array;
  index: number;
}
interface NativeBatchLoader {
  next(): NativeBatch | null;
  startEpoch(epoch: number): void;
  close(): void;
  readonly batchesPerEpoch: number;
  readonly sampleCount: number;
  readonly epoch: number;
}
interface LoaderOptions {
  batchSize?: number;
  shuffle?: boolean;
  dropLast?: boolean;
  seed?: number;
  indices?: Int32Array | number[];
  cropPadding?: number;
  horizontalFlip?: boolean;
  normalize?: boolean | { mean: number[]; std: number[] };
}
interface NativeDataset {
  info(): DatasetInfo;
  classCounts(): number[];
  validationSplit(options: { fraction: number; seed?: number; stratified?: boolean }): { train: Int32Array; validation: Int32Array };
  loader(options?: LoaderOptions): NativeBatchLoader;
}
interface DatasetSpec {
  kind: 'default' | 'idx' | 'cifar' | 'folder' | 'npy';
  paths?: string[];
  options?: Record<string, unknown>;
}
interface DataExports {
  Dataset: new (spec: DatasetSpec) => NativeDataset;
  dataFormats(): { images: string[]; gzip: boolean };
}

function loadData(): DataExports {
  const module: { exports: Record<string, unknown> } = { exports: {} };
  process.dlopen(module, path.resolve(addonPath()));
  assert.equal(typeof module.exports['Dataset'], 'function', 'the add-on exports a Dataset class');
  return module.exports as unknown as DataExports;
}

const fixtures = path.join(repoRoot, 'tests', 'native', 'fixtures', 'data');
const fixturePixel = (n: number, c: number, y: number, x: number): number => ((n * 31 + c * 11 + y * 7 + x * 3) % 256) / 255;

function drain(loader: NativeBatchLoader): NativeBatch[] {
  const batches: NativeBatch[] = [];
  for (let batch = loader.next(); batch !== null; batch = loader.next()) batches.push(batch);
  return batches;
}

test('the default data set: info, balanced classes, normalized batches from the background thread', () => {
  const { Dataset } = loadData();
  const dataset = new Dataset({ kind: 'default', options: { variant: 'shapes28', split: 'test' } });
  const info = dataset.info();
  assert.equal(info.name, 'shapes28');
  assert.equal(info.count, 2000);
  assert.deepEqual(info.shape, [1, 28, 28]);
  assert.equal(info.classes, 10);
  assert.deepEqual(info.classNames.slice(0, 3), ['circle', 'square', 'triangle']);
  assert.deepEqual(dataset.classCounts(), new Array(10).fill(200));

  const loader = dataset.loader({ batchSize: 300, normalize: true, seed: 1 });
  assert.equal(loader.batchesPerEpoch, 7);
  const batches = drain(loader);
  assert.equal(batches.length, 7);
  assert.deepEqual(batches[6]?.shape, [200, 1, 28, 28]);
  const counts = new Array<number>(10).fill(0);
  let sum = 0;
  let values = 0;
  for (const batch of batches) {
    assert.ok(batch.images instanceof Float32Array && batch.labels instanceof Int32Array);
    assert.equal(batch.images.length, batch.labels.length * 784);
    for (const label of batch.labels) counts[label] = (counts[label] ?? 0) + 1;
    for (const value of batch.images) sum += value;
    values += batch.images.length;
  }
  assert.deepEqual(counts, new Array(10).fill(200), 'one epoch visits every image once');
  assert.ok(Math.abs(sum / values) < 1e-3, `normalized mean ${sum / values}`);

  const again = dataset.loader({ batchSize: 300, normalize: true, seed: 1 }).next();
  assert.deepEqual(again?.labels, batches[0]?.labels, 'same seed, same first batch');
  loader.startEpoch(1);
  assert.notDeepEqual(loader.next()?.labels, batches[0]?.labels, 'the next epoch reshuffles');
  loader.close();
  assert.throws(() => loader.next(), /closed/);

  const a = new Dataset({ kind: 'default', options: { variant: 'shapes32', split: 'test', seed: 5 } }).loader({ shuffle: false, batchSize: 4 }).next();
  const b = new Dataset({ kind: 'default', options: { variant: 'shapes32', split: 'test', seed: 5 } }).loader({ shuffle: false, batchSize: 4 }).next();
  assert.deepEqual(a?.shape, [4, 3, 32, 32]);
  assert.deepEqual(a?.images, b?.images, 'the same seed generates the same images');
});

test('a stratified validation split feeds a loader through indices', () => {
  const { Dataset } = loadData();
  const dataset = new Dataset({ kind: 'default', options: { variant: 'shapes28', split: 'test' } });
  const split = dataset.validationSplit({ fraction: 0.1, seed: 3, stratified: true });
  assert.equal(split.validation.length, 200);
  assert.equal(split.train.length, 1800);
  const loader = dataset.loader({ batchSize: 64, indices: split.validation, shuffle: false });
  assert.equal(loader.sampleCount, 200);
  const counts = new Array<number>(10).fill(0);
  for (const batch of drain(loader)) for (const label of batch.labels) counts[label] = (counts[label] ?? 0) + 1;
  assert.deepEqual(counts, new Array(10).fill(20));
  assert.throws(() => dataset.validationSplit({ fraction: 1.5 }), /validation fraction must be in \[0, 1\)/);
});

test('readers through the binding: gzip IDX, .npz, image folder', () => {
  const { Dataset, dataFormats } = loadData();
  const formats = dataFormats();
  assert.equal(formats.gzip, true, 'zlib compiled in');

  const idx = new Dataset({ kind: 'idx', paths: [path.join(fixtures, 'idx-images.gz'), path.join(fixtures, 'idx-labels.gz')] });
  assert.deepEqual(idx.info().shape, [1, 5, 4]);
  const idxBatch = idx.loader({ shuffle: false, batchSize: 6 }).next();
  assert.deepEqual(Array.from(idxBatch?.labels ?? []), [0, 1, 2, 0, 1, 2]);
  assert.ok(Math.abs((idxBatch?.images[20 + 2 * 4 + 3] ?? NaN) - fixturePixel(1, 0, 2, 3)) < 1e-6);

  const npz = new Dataset({ kind: 'npy', paths: [path.join(fixtures, 'deflate.npz')], options: { imagesKey: 'images', labelsKey: 'targets', layout: 'nhwc' } });
  assert.deepEqual(npz.info().shape, [3, 3, 2]);
  const npzBatch = npz.loader({ shuffle: false, batchSize: 4 }).next();
  // Sample 2, channel 1, y 2, x 1 in C×H×W order.
  assert.ok(Math.abs((npzBatch?.images[2 * 18 + 1 * 6 + 2 * 2 + 1] ?? NaN) - fixturePixel(2, 1, 2, 1)) < 1e-6);

  if (formats.images.includes('png') && formats.images.includes('jpeg')) {
    const folder = new Dataset({ kind: 'folder', paths: [path.join(fixtures, 'folder')], options: { size: [8, 8], channels: 1 } });
    const info = folder.info();
    assert.deepEqual(info.classNames, ['cats', 'dogs']);
    assert.deepEqual(info.shape, [1, 8, 8]);
    assert.equal(info.count, 6);
    const augmented = folder.loader({ batchSize: 6, cropPadding: 2, horizontalFlip: true, normalize: true, seed: 9 }).next();
    assert.deepEqual(augmented?.shape, [6, 1, 8, 8]);
  } else {
    // `images` lists the formats that decode now: compiled in and their library (dlopen'ed) present.
    assert.throws(() => new Dataset({ kind: 'folder', paths: [path.join(fixtures, 'folder')] }), /not compiled in|cannot read (PNG|JPEG): lib/);
  }
});

test('bad specs and bad files become errors naming the file and the fix', () => {
  const { Dataset } = loadData();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-data-'));
  try {
    const cut = path.join(scratch, 'data_batch_1.bin');
    fs.writeFileSync(cut, Buffer.alloc(3073 + 10));
    assert.throws(() => new Dataset({ kind: 'cifar', paths: [cut] }), /data_batch_1\.bin: truncated or not CIFAR-10: .*record 1 at offset 3073 is cut short/);
    const mixed = path.join(fixtures, 'mixed');
    assert.throws(() => new Dataset({ kind: 'folder', paths: [mixed] }), /images differ in size, so give a size/);
    assert.throws(() => new Dataset({ kind: 'npy', paths: [path.join(fixtures, 'fortran.npy'), path.join(fixtures, 'labels-i8.npy')] }), /fortran\.npy: stored in Fortran order/);
    assert.throws(() => new Dataset({ kind: 'idx', paths: [path.join(scratch, 'nope'), path.join(scratch, 'nope2')] }), /nope: cannot open/);
    assert.throws(() => new Dataset({ kind: 'parquet' as 'npy' }), /unknown data set kind 'parquet'/);
    assert.throws(() => new Dataset({ kind: 'default', options: { variant: 'shapes64' } }), /variant is 'shapes32'/);
    const dataset = new Dataset({ kind: 'default', options: { variant: 'shapes28', split: 'test' } });
    assert.throws(() => dataset.loader({ batchSize: 0 }), /batch size must be at least 1/);
    assert.throws(() => dataset.loader({ seed: -1 }), /seed must be a non-negative safe integer/);
    assert.throws(() => dataset.loader({ normalize: { mean: [0.5, 0.5], std: [1, 1] } }), /one mean and one std per channel/);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});
