// Checkpoints in the safetensors format, keyed by state_dict names, so that
// `model.load_state_dict(safetensors.torch.load_file(path))` works in PyTorch. The engine keeps
// every tensor as float32; PyTorch's BatchNorm counter `num_batches_tracked` is int64 there, so it
// is written as I64. Format: u64 little-endian header length, the JSON header (padded with spaces
// to 8 bytes), then the tensors' bytes back to back.

export interface CheckpointTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

const INT64_STATE = /(^|\.)num_batches_tracked$/;

/** The safetensors bytes of a state (tensors in the given order). */
export function encodeSafetensors(tensors: readonly CheckpointTensor[], metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const tensor of tensors) {
    const bytes = INT64_STATE.test(tensor.name) ? int64Bytes(tensor.data) : Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    header[tensor.name] = { dtype: INT64_STATE.test(tensor.name) ? 'I64' : 'F32', shape: tensor.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([length, Buffer.from(json, 'utf8'), ...chunks]);
}

/** Reads F32/I64 tensors back as float32 (a checkpoint of this engine or of PyTorch); throws what is wrong with a bad file. */
export function decodeSafetensors(bytes: Buffer, source = 'checkpoint'): CheckpointTensor[] {
  if (bytes.length < 8) throw new Error(`${source}: too short to be a safetensors file (${bytes.length} bytes)`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength > bytes.length - 8) throw new Error(`${source}: the header says ${headerLength} bytes but the file has ${bytes.length - 8} after the length`);
  let header: Record<string, { dtype?: unknown; shape?: unknown; data_offsets?: unknown }>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as typeof header;
  } catch {
    throw new Error(`${source}: the header is not valid JSON; the file is not a safetensors checkpoint or is corrupt`);
  }
  const data = bytes.subarray(8 + headerLength);
  const tensors: CheckpointTensor[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const shape = entry.shape;
    const offsets = entry.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0) || !Array.isArray(offsets) || offsets.length !== 2) {
      throw new Error(`${source}: tensor '${name}' has a malformed header entry`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const width = entry.dtype === 'F32' ? 4 : entry.dtype === 'I64' ? 8 : 0;
    if (width === 0) throw new Error(`${source}: tensor '${name}' is ${String(entry.dtype)}; only F32 and I64 are supported`);
    if (end - begin !== count * width || end > data.length || begin < 0) {
      throw new Error(`${source}: tensor '${name}' needs ${count * width} bytes at [${begin}, ${end}) but the data section has ${data.length}; the file is truncated or corrupt`);
    }
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      values[i] = width === 4 ? data.readFloatLE(begin + 4 * i) : Number(data.readBigInt64LE(begin + 8 * i));
    }
    tensors.push({ name, shape: shape as number[], data: values });
  }
  return tensors;
}

/** The `__metadata__` strings of a safetensors file (empty when it has none). */
export function safetensorsMetadata(bytes: Buffer, source = 'checkpoint'): Record<string, string> {
  if (bytes.length < 8) throw new Error(`${source}: too short to be a safetensors file (${bytes.length} bytes)`);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  if (headerLength > bytes.length - 8) throw new Error(`${source}: the header says ${headerLength} bytes but the file has ${bytes.length - 8} after the length`);
  let header: { __metadata__?: unknown };
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as typeof header;
  } catch {
    throw new Error(`${source}: the header is not valid JSON; the file is not a safetensors checkpoint or is corrupt`);
  }
  const metadata = header.__metadata__;
  if (typeof metadata !== 'object' || metadata === null) return {};
  return Object.fromEntries(Object.entries(metadata).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

function int64Bytes(values: Float32Array): Buffer {
  const bytes = Buffer.alloc(values.length * 8);
  values.forEach((value, i) => bytes.writeBigInt64LE(BigInt(Math.round(value)), i * 8));
  return bytes;
}
