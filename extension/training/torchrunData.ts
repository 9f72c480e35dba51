// Exports a data set as the engine sees it (the add-on's Dataset, read through its loader with no
// shuffling, augmentation or normalization) to a NumPy .npz archive: `x` (N×C×H×W, uint8 when the
// source is bytes, else float32), `y` (int64 labels) and `class_names`. The torchrun script reads it
// with numpy.load, and `netlens train --data FILE.npz` reads it back natively (keys x and y).
import * as fs from 'node:fs';

import type { NativeAddon, NativeDatasetSpec } from '../engine/addon';

export interface NumpyArray {
  /** NumPy dtype string: '|u1', '<i8', '<f4' or '<U<n>'. */
  dtype: string;
  shape: number[];
  data: Buffer;
}

/** The .npy (format 1.0) bytes of one array: magic, header dict padded to 64 bytes, the data. */
export function npyBytes(array: NumpyArray): Buffer {
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${array.dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const preamble = Buffer.alloc(10);
  preamble.write('\x93NUMPY', 0, 'latin1');
  preamble.writeUInt8(1, 6);
  preamble.writeUInt8(0, 7);
  preamble.writeUInt16LE(header.length, 8);
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), array.data]);
}

let crcTable: Uint32Array | undefined;

function crc32(bytes: Buffer): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** A zip archive of stored (uncompressed) members, as numpy.savez writes: `<key>.npy` each. */
export function npzBytes(arrays: Record<string, NumpyArray>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [key, array] of Object.entries(arrays)) {
    const name = Buffer.from(`${key}.npy`, 'utf8');
    const content = npyBytes(array);
    if (content.length >= 0xffffffff || offset >= 0xffffffff) throw new Error('the data set is too large for a plain zip archive (4 GiB)');
    const crc = crc32(content);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0, 6); // flags
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(0, 10); // time, date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(content.length, 18);
    local.writeUInt32LE(content.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(content.length, 20);
    central.writeUInt32LE(content.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, content);
    centrals.push(central, name);
    offset += local.length + name.length + content.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(arrays).length, 8);
  end.writeUInt16LE(Object.keys(arrays).length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** Fixed-width UTF-32 strings, as numpy stores `np.array(['cat', 'dog'])`. */
function stringArray(values: readonly string[]): NumpyArray {
  const width = Math.max(1, ...values.map((v) => [...v].length));
  const data = Buffer.alloc(values.length * width * 4);
  values.forEach((value, i) => [...value].forEach((char, j) => data.writeUInt32LE(char.codePointAt(0)!, (i * width + j) * 4)));
  return { dtype: `<U${width}`, shape: [values.length], data };
}

export interface ExportedDataset {
  file: string;
  name: string;
  count: number;
  shape: number[];
  classNames: string[];
  /** Pixels were whole bytes (/255), so they are stored as uint8 and read back exactly. */
  bytes: boolean;
}

/**
 * Reads every sample of `spec` in order through the add-on and writes the .npz. The loader hands out
 * floats (bytes / 255); they are turned back into the same bytes when every value is one, so the file
 * is 4× smaller and the script's `byte / 255` gives the engine's values bit for bit.
 */
export function exportDataset(addon: NativeAddon, spec: NativeDatasetSpec, file: string): ExportedDataset {
  const dataset = addon.openDataset(spec);
  const info = dataset.info();
  const sampleSize = info.shape.reduce((a, b) => a * b, 1);
  const images = new Float32Array(info.count * sampleSize);
  const labels = new BigInt64Array(info.count);
  const loader = dataset.loader({ batchSize: 512, shuffle: false, normalize: false });
  try {
    loader.startEpoch(0);
    let at = 0;
    for (let batch = loader.next(); batch; batch = loader.next()) {
      images.set(batch.images, at * sampleSize);
      batch.labels.forEach((label, i) => { labels[at + i] = BigInt(label); });
      at += batch.labels.length;
    }
    if (at !== info.count) throw new Error(`${info.name}: the loader gave ${at} samples, the data set has ${info.count}`);
  } finally {
    loader.close();
  }
  const bytes = images.every((value) => {
    const level = Math.round(value * 255);
    return level >= 0 && level <= 255 && Math.fround(level / 255) === value;
  });
  const x: NumpyArray = bytes
    ? { dtype: '|u1', shape: [info.count, ...info.shape], data: Buffer.from(Uint8Array.from(images, (value) => Math.round(value * 255))) }
    : { dtype: '<f4', shape: [info.count, ...info.shape], data: Buffer.from(images.buffer, images.byteOffset, images.byteLength) };
  const y: NumpyArray = { dtype: '<i8', shape: [info.count], data: Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength) };
  fs.writeFileSync(`${file}.partial`, npzBytes({ x, y, class_names: stringArray(info.classNames) }));
  fs.renameSync(`${file}.partial`, file);
  return { file, name: info.name, count: info.count, shape: info.shape, classNames: info.classNames, bytes };
}
