// ONNX models as plain typed values: decoding (with the checks that turn a corrupt or truncated
// file into a message naming the file and the problem) and encoding back to protobuf bytes.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { onnxMessages } from './messages';
import { dataTypeWidth, modelProtoType, OnnxDataType } from './schema';

export type OnnxDim = number | string | null;

export interface OnnxValueInfo {
  name: string;
  /** TensorProto.DataType of the element; 0 when the model does not say. */
  elemType: number;
  /** null when the model gives no shape; a dim is a number, a symbolic name, or null (unknown). */
  shape: OnnxDim[] | null;
}

export interface OnnxExternalData {
  location: string;
  offset: number;
  /** null: up to the end of the file. */
  length: number | null;
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  raw?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  external?: OnnxExternalData;
}

export interface OnnxAttribute {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  g?: OnnxGraph;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: OnnxTensor[];
  graphs?: OnnxGraph[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  producerName: string;
  producerVersion: string;
  opsets: { domain: string; version: number }[];
  graph: OnnxGraph;
}

/** A file that is not a usable ONNX model: the message names the file and what is wrong. */
export class OnnxFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'OnnxFileError';
  }
}

// --- decoding --------------------------------------------------------------------------------

type Proto = Record<string, unknown>;

const asString = (v: unknown): string => (typeof v === 'string' ? v : '');
const asNumber = (v: unknown): number => (typeof v === 'number' ? v : 0);
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asNumbers = (v: unknown): number[] => asList(v).map(asNumber);
const asProto = (v: unknown): Proto | undefined => (typeof v === 'object' && v !== null && !(v instanceof Uint8Array) ? (v as Proto) : undefined);
const asBytes = (v: unknown): Uint8Array | undefined => (v instanceof Uint8Array ? v : undefined);

function valueInfoFrom(proto: Proto): OnnxValueInfo {
  const tensor = asProto(asProto(proto['type'])?.['tensor_type']);
  const shape = asProto(tensor?.['shape']);
  return {
    name: asString(proto['name']),
    elemType: asNumber(tensor?.['elem_type']),
    shape: shape
      ? asList(shape['dim']).map((d) => {
          const dim = asProto(d) ?? {};
          if (typeof dim['dim_value'] === 'number') return dim['dim_value'];
          if (typeof dim['dim_param'] === 'string' && dim['dim_param'] !== '') return dim['dim_param'];
          return null;
        })
      : null,
  };
}

function tensorFrom(proto: Proto): OnnxTensor {
  const tensor: OnnxTensor = { name: asString(proto['name']), dims: asNumbers(proto['dims']), dataType: asNumber(proto['data_type']) };
  const raw = asBytes(proto['raw_data']);
  if (raw) tensor.raw = raw;
  if (Array.isArray(proto['float_data']) && proto['float_data'].length > 0) tensor.floatData = asNumbers(proto['float_data']);
  if (Array.isArray(proto['int32_data']) && proto['int32_data'].length > 0) tensor.int32Data = asNumbers(proto['int32_data']);
  if (Array.isArray(proto['int64_data']) && proto['int64_data'].length > 0) tensor.int64Data = asNumbers(proto['int64_data']);
  if (Array.isArray(proto['double_data']) && proto['double_data'].length > 0) tensor.doubleData = asNumbers(proto['double_data']);
  if (asNumber(proto['data_location']) === 1) {
    const entries = new Map(asList(proto['external_data']).map((e) => [asString(asProto(e)?.['key']), asString(asProto(e)?.['value'])]));
    const length = entries.get('length');
    tensor.external = { location: entries.get('location') ?? '', offset: Number(entries.get('offset') ?? 0), length: length === undefined ? null : Number(length) };
  }
  return tensor;
}

function attributeFrom(proto: Proto): OnnxAttribute {
  const attribute: OnnxAttribute = { name: asString(proto['name']), type: asNumber(proto['type']) };
  if (typeof proto['f'] === 'number') attribute.f = proto['f'];
  if (typeof proto['i'] === 'number') attribute.i = proto['i'];
  const s = asBytes(proto['s']);
  if (s) attribute.s = s;
  const t = asProto(proto['t']);
  if (t) attribute.t = tensorFrom(t);
  const g = asProto(proto['g']);
  if (g) attribute.g = graphFrom(g);
  if (asList(proto['floats']).length > 0) attribute.floats = asNumbers(proto['floats']);
  if (asList(proto['ints']).length > 0) attribute.ints = asNumbers(proto['ints']);
  if (asList(proto['strings']).length > 0) attribute.strings = asList(proto['strings']).flatMap((b) => (b instanceof Uint8Array ? [b] : []));
  if (asList(proto['tensors']).length > 0) attribute.tensors = asList(proto['tensors']).map((t2) => tensorFrom(asProto(t2) ?? {}));
  if (asList(proto['graphs']).length > 0) attribute.graphs = asList(proto['graphs']).map((g2) => graphFrom(asProto(g2) ?? {}));
  return attribute;
}

function graphFrom(proto: Proto): OnnxGraph {
  return {
    name: asString(proto['name']),
    nodes: asList(proto['node']).map((n) => {
      const node = asProto(n) ?? {};
      return {
        name: asString(node['name']),
        opType: asString(node['op_type']),
        domain: asString(node['domain']),
        inputs: asList(node['input']).map(asString),
        outputs: asList(node['output']).map(asString),
        attributes: asList(node['attribute']).map((a) => attributeFrom(asProto(a) ?? {})),
      };
    }),
    initializers: asList(proto['initializer']).map((t) => tensorFrom(asProto(t) ?? {})),
    inputs: asList(proto['input']).map((v) => valueInfoFrom(asProto(v) ?? {})),
    outputs: asList(proto['output']).map((v) => valueInfoFrom(asProto(v) ?? {})),
    valueInfo: asList(proto['value_info']).map((v) => valueInfoFrom(asProto(v) ?? {})),
  };
}

/** Decodes and checks an ONNX model; throws OnnxFileError (never anything else) for a bad file. */
export function decodeOnnx(bytes: Uint8Array, file: string): OnnxModel {
  if (bytes.length === 0) throw new OnnxFileError(file, onnxMessages.empty());
  let proto: Proto;
  try {
    const type = modelProtoType();
    proto = type.toObject(type.decode(bytes), { longs: Number, arrays: true }) as Proto;
  } catch (error) {
    // protobufjs says "index out of range: 1234 + 10 > 1240" for a cut-off field, "invalid wire type 6 at offset 17" for garbage.
    throw new OnnxFileError(file, onnxMessages.malformed(error instanceof Error ? error.message : String(error)));
  }
  let model: OnnxModel;
  try {
    const graph = asProto(proto['graph']);
    if (!graph) throw new OnnxFileError(file, onnxMessages.noGraph());
    const irVersion = asNumber(proto['ir_version']);
    // ONNX IR versions run from 1 (2017) upward by one a release; a wild number means garbage.
    if (!Number.isInteger(irVersion) || irVersion < 1 || irVersion > 100) throw new OnnxFileError(file, onnxMessages.badIrVersion(irVersion));
    model = {
      irVersion,
      producerName: asString(proto['producer_name']),
      producerVersion: asString(proto['producer_version']),
      opsets: asList(proto['opset_import']).map((o) => ({ domain: asString(asProto(o)?.['domain']), version: asNumber(asProto(o)?.['version']) })),
      graph: graphFrom(graph),
    };
  } catch (error) {
    if (error instanceof OnnxFileError) throw error;
    throw new OnnxFileError(file, onnxMessages.malformed(error instanceof Error ? error.message : String(error)));
  }
  checkModel(model, file);
  return model;
}

/** Reads and decodes a .onnx file (OnnxFileError when it cannot be read or is not a model). */
export function readOnnxFile(file: string): OnnxModel {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new OnnxFileError(file, onnxMessages.unreadable(error instanceof Error ? error.message : String(error)));
  }
  return decodeOnnx(bytes, file);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function checkModel(model: OnnxModel, file: string): void {
  const fail = (problem: string): never => {
    throw new OnnxFileError(file, problem);
  };
  if (model.opsets.length === 0) fail(onnxMessages.noOpset());
  const graph = model.graph;
  const defined = new Set<string>(['']);
  for (const input of graph.inputs) defined.add(input.name);
  for (const tensor of graph.initializers) {
    checkTensor(tensor, fail);
    defined.add(tensor.name);
  }
  graph.nodes.forEach((node, index) => {
    if (node.opType === '') fail(onnxMessages.nodeWithoutOp(index));
    const label = nodeLabel(node, index);
    if (node.outputs.length === 0) fail(onnxMessages.nodeWithoutOutput(label));
    for (const input of node.inputs) if (!defined.has(input)) fail(onnxMessages.undefinedInput(label, input));
    for (const output of node.outputs) defined.add(output);
    for (const attribute of node.attributes) if (attribute.t) checkTensor(attribute.t, fail);
  });
  for (const output of graph.outputs) if (!defined.has(output.name)) fail(onnxMessages.undefinedOutput(output.name));
}

function checkTensor(tensor: OnnxTensor, fail: (problem: string) => never): void {
  if (tensor.dims.some((d) => !Number.isInteger(d) || d < 0)) fail(onnxMessages.negativeDim(tensor.name));
  if (tensor.external) {
    if (tensor.external.location === '') fail(onnxMessages.externalWithoutLocation(tensor.name));
    return;
  }
  const count = elementCount(tensor.dims);
  const width = dataTypeWidth(tensor.dataType);
  if (tensor.raw && width > 0) {
    if (tensor.raw.length !== count * width) fail(onnxMessages.tensorSize(tensor.name, count * width, tensor.raw.length));
    return;
  }
  const typed = tensor.floatData ?? tensor.int64Data ?? tensor.doubleData ?? tensor.int32Data;
  if (typed && tensor.dataType !== OnnxDataType.FLOAT16 && tensor.dataType !== OnnxDataType.BFLOAT16 && tensor.dataType !== OnnxDataType.COMPLEX64 && tensor.dataType !== OnnxDataType.COMPLEX128) {
    if (typed.length !== count) fail(onnxMessages.tensorCount(tensor.name, count, typed.length));
  }
}

/** A node's name for people: its own name, else "#index OpType". */
export function nodeLabel(node: OnnxNode, index: number): string {
  return node.name !== '' ? node.name : `#${index} ${node.opType}`;
}

// --- external data ---------------------------------------------------------------------------

/**
 * A copy of the model whose externally stored tensors are read into raw_data, so it can be
 * handed to onnxruntime as bytes (a modified model loses the folder its external files sit in).
 */
export function inlineExternalData(model: OnnxModel, file: string): OnnxModel {
  const folder = path.dirname(path.resolve(file));
  const inline = (tensor: OnnxTensor): OnnxTensor => {
    const external = tensor.external;
    if (!external) return tensor;
    const target = path.resolve(folder, external.location);
    // ONNX resolves locations against the model's folder; a path escaping it is refused (as onnxruntime does).
    if (path.relative(folder, target).startsWith('..')) throw new OnnxFileError(file, onnxMessages.externalOutside(tensor.name, external.location));
    let data: Buffer;
    try {
      data = fs.readFileSync(target);
    } catch {
      throw new OnnxFileError(file, onnxMessages.externalMissing(tensor.name, target));
    }
    const width = dataTypeWidth(tensor.dataType);
    const length = external.length ?? data.length - external.offset;
    if (external.offset + length > data.length || external.offset < 0) throw new OnnxFileError(file, onnxMessages.externalShort(tensor.name, target, external.offset + length, data.length));
    if (width > 0 && length !== elementCount(tensor.dims) * width) throw new OnnxFileError(file, onnxMessages.tensorSize(tensor.name, elementCount(tensor.dims) * width, length));
    const { external: _dropped, ...rest } = tensor;
    return { ...rest, raw: new Uint8Array(data.subarray(external.offset, external.offset + length)) };
  };
  if (!model.graph.initializers.some((t) => t.external)) return model;
  return { ...model, graph: { ...model.graph, initializers: model.graph.initializers.map(inline) } };
}

// --- encoding --------------------------------------------------------------------------------

function valueInfoTo(info: OnnxValueInfo): Proto {
  const proto: Proto = { name: info.name };
  if (info.elemType !== 0 || info.shape) {
    const tensor: Proto = { elem_type: info.elemType };
    if (info.shape) {
      tensor['shape'] = { dim: info.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' ? { dim_param: d } : {})) };
    }
    proto['type'] = { tensor_type: tensor };
  }
  return proto;
}

function tensorTo(tensor: OnnxTensor): Proto {
  const proto: Proto = { name: tensor.name, dims: tensor.dims, data_type: tensor.dataType };
  if (tensor.raw) proto['raw_data'] = tensor.raw;
  if (tensor.floatData) proto['float_data'] = tensor.floatData;
  if (tensor.int32Data) proto['int32_data'] = tensor.int32Data;
  if (tensor.int64Data) proto['int64_data'] = tensor.int64Data;
  if (tensor.doubleData) proto['double_data'] = tensor.doubleData;
  if (tensor.external) {
    proto['data_location'] = 1;
    const entries = [{ key: 'location', value: tensor.external.location }, { key: 'offset', value: String(tensor.external.offset) }];
    if (tensor.external.length !== null) entries.push({ key: 'length', value: String(tensor.external.length) });
    proto['external_data'] = entries;
  }
  return proto;
}

function attributeTo(attribute: OnnxAttribute): Proto {
  const proto: Proto = { name: attribute.name, type: attribute.type };
  if (attribute.f !== undefined) proto['f'] = attribute.f;
  if (attribute.i !== undefined) proto['i'] = attribute.i;
  if (attribute.s) proto['s'] = attribute.s;
  if (attribute.t) proto['t'] = tensorTo(attribute.t);
  if (attribute.g) proto['g'] = graphTo(attribute.g);
  if (attribute.floats) proto['floats'] = attribute.floats;
  if (attribute.ints) proto['ints'] = attribute.ints;
  if (attribute.strings) proto['strings'] = attribute.strings;
  if (attribute.tensors) proto['tensors'] = attribute.tensors.map(tensorTo);
  if (attribute.graphs) proto['graphs'] = attribute.graphs.map(graphTo);
  return proto;
}

function graphTo(graph: OnnxGraph): Proto {
  return {
    name: graph.name,
    node: graph.nodes.map((node) => {
      const proto: Proto = { input: node.inputs, output: node.outputs, op_type: node.opType, attribute: node.attributes.map(attributeTo) };
      if (node.name !== '') proto['name'] = node.name;
      if (node.domain !== '') proto['domain'] = node.domain;
      return proto;
    }),
    initializer: graph.initializers.map(tensorTo),
    input: graph.inputs.map(valueInfoTo),
    output: graph.outputs.map(valueInfoTo),
    value_info: graph.valueInfo.map(valueInfoTo),
  };
}

/** The model's protobuf bytes. */
export function encodeOnnx(model: OnnxModel): Uint8Array {
  const type = modelProtoType();
  const message = type.fromObject({
    ir_version: model.irVersion,
    producer_name: model.producerName,
    producer_version: model.producerVersion,
    opset_import: model.opsets.map((o) => ({ domain: o.domain, version: o.version })),
    graph: graphTo(model.graph),
  });
  return type.encode(message).finish();
}

/**
 * A copy of the model with extra graph outputs (intermediate values), which is how onnxruntime
 * is asked for activations. Names already among the outputs are not added twice.
 */
export function withExtraOutputs(model: OnnxModel, names: readonly string[]): OnnxModel {
  const present = new Set(model.graph.outputs.map((o) => o.name));
  const known = new Map([...model.graph.valueInfo, ...model.graph.outputs].map((v) => [v.name, v]));
  const extra = names.filter((name) => !present.has(name)).map((name) => known.get(name) ?? { name, elemType: 0, shape: null });
  return { ...model, graph: { ...model.graph, outputs: [...model.graph.outputs, ...extra] } };
}
