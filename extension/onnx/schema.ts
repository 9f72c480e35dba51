// The subset of ONNX's protobuf messages Netlens reads and writes, as a protobufjs reflection
// schema. Field numbers and types are those of onnx.proto (a proto2 file: repeated scalars are
// unpacked unless onnx.proto marks them packed). Fields Netlens never needs (training info,
// functions, sparse initializers, segments) are left out: protobufjs skips unknown fields when
// decoding, and a model Netlens writes never has them.
import * as protobuf from 'protobufjs';

type FieldJson = { type: string; id: number; rule?: 'repeated'; options?: { packed: boolean } };

const scalar = (type: string, id: number): FieldJson => ({ type, id });
const repeated = (type: string, id: number, packed = false): FieldJson => ({ type, id, rule: 'repeated', options: { packed } });

const descriptor = {
  nested: {
    onnx: {
      edition: 'proto2',
      nested: {
        StringStringEntryProto: { fields: { key: scalar('string', 1), value: scalar('string', 2) } },
        OperatorSetIdProto: { fields: { domain: scalar('string', 1), version: scalar('int64', 2) } },
        TensorShapeProto: {
          fields: { dim: repeated('Dimension', 1) },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dim_value', 'dim_param'] } },
              fields: { dim_value: scalar('int64', 1), dim_param: scalar('string', 2), denotation: scalar('string', 3) },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensor_type'] } },
          fields: { tensor_type: scalar('Tensor', 1), denotation: scalar('string', 6) },
          nested: { Tensor: { fields: { elem_type: scalar('int32', 1), shape: scalar('TensorShapeProto', 2) } } },
        },
        ValueInfoProto: { fields: { name: scalar('string', 1), type: scalar('TypeProto', 2), doc_string: scalar('string', 3) } },
        TensorProto: {
          fields: {
            dims: repeated('int64', 1),
            data_type: scalar('int32', 2),
            float_data: repeated('float', 4, true),
            int32_data: repeated('int32', 5, true),
            string_data: repeated('bytes', 6),
            int64_data: repeated('int64', 7, true),
            name: scalar('string', 8),
            raw_data: scalar('bytes', 9),
            double_data: repeated('double', 10, true),
            uint64_data: repeated('uint64', 11, true),
            doc_string: scalar('string', 12),
            external_data: repeated('StringStringEntryProto', 13),
            data_location: scalar('int32', 14),
          },
        },
        AttributeProto: {
          fields: {
            name: scalar('string', 1),
            f: scalar('float', 2),
            i: scalar('int64', 3),
            s: scalar('bytes', 4),
            t: scalar('TensorProto', 5),
            g: scalar('GraphProto', 6),
            floats: repeated('float', 7),
            ints: repeated('int64', 8),
            strings: repeated('bytes', 9),
            tensors: repeated('TensorProto', 10),
            graphs: repeated('GraphProto', 11),
            doc_string: scalar('string', 13),
            type: scalar('int32', 20),
            ref_attr_name: scalar('string', 21),
          },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: scalar('string', 3),
            op_type: scalar('string', 4),
            attribute: repeated('AttributeProto', 5),
            doc_string: scalar('string', 6),
            domain: scalar('string', 7),
          },
        },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: scalar('string', 2),
            initializer: repeated('TensorProto', 5),
            doc_string: scalar('string', 10),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            value_info: repeated('ValueInfoProto', 13),
          },
        },
        ModelProto: {
          fields: {
            ir_version: scalar('int64', 1),
            producer_name: scalar('string', 2),
            producer_version: scalar('string', 3),
            domain: scalar('string', 4),
            model_version: scalar('int64', 5),
            doc_string: scalar('string', 6),
            graph: scalar('GraphProto', 7),
            opset_import: repeated('OperatorSetIdProto', 8),
            metadata_props: repeated('StringStringEntryProto', 14),
          },
        },
      },
    },
  },
};

let modelType: protobuf.Type | undefined;

/** onnx.ModelProto, built once. */
export function modelProtoType(): protobuf.Type {
  if (!modelType) {
    const root = protobuf.Root.fromJSON(descriptor);
    root.resolveAll();
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

/** ONNX TensorProto.DataType values Netlens names. */
export const OnnxDataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;

/** Bytes per element by data type (0: not a fixed-width type Netlens sizes). */
export function dataTypeWidth(dataType: number): number {
  switch (dataType) {
    case OnnxDataType.UINT8: case OnnxDataType.INT8: case OnnxDataType.BOOL: return 1;
    case OnnxDataType.UINT16: case OnnxDataType.INT16: case OnnxDataType.FLOAT16: case OnnxDataType.BFLOAT16: return 2;
    case OnnxDataType.FLOAT: case OnnxDataType.INT32: case OnnxDataType.UINT32: return 4;
    case OnnxDataType.DOUBLE: case OnnxDataType.INT64: case OnnxDataType.UINT64: case OnnxDataType.COMPLEX64: return 8;
    case OnnxDataType.COMPLEX128: return 16;
    default: return 0;
  }
}

const typeNames: Record<number, string> = Object.fromEntries(Object.entries(OnnxDataType).map(([name, value]) => [value, name.toLowerCase()]));

export function dataTypeName(dataType: number): string {
  return typeNames[dataType] ?? `type ${dataType}`;
}

/** ONNX AttributeProto.AttributeType values. */
export const OnnxAttributeType = {
  FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10,
} as const;
