// Every user-facing message of Netlens's ONNX support, so they read alike and tests can match them.

export const onnxMessages = {
  empty: () => 'the file is empty',
  malformed: (detail: string) => `the protobuf data is malformed (${detail}); the file is truncated or corrupt, or not an ONNX model`,
  noGraph: () => 'it has no graph; the file is not an ONNX model or is corrupt',
  badIrVersion: (version: number) => `its IR version ${version} is not one ONNX defines; the file is not an ONNX model or is corrupt`,
  noOpset: () => 'it imports no operator set; the file is not an ONNX model or is corrupt',
  nodeWithoutOp: (index: number) => `node ${index} has no operator type; the file is corrupt`,
  nodeWithoutOutput: (node: string) => `node ${node} has no outputs; the file is corrupt`,
  undefinedInput: (node: string, value: string) => `node ${node} reads '${value}', which no input, initializer or earlier node defines; the file is corrupt`,
  undefinedOutput: (value: string) => `the graph output '${value}' is never computed; the file is corrupt`,
  negativeDim: (tensor: string) => `tensor '${tensor}' has a negative dimension; the file is corrupt`,
  tensorSize: (tensor: string, expected: number, actual: number) =>
    `tensor '${tensor}' should hold ${expected} bytes of data but has ${actual}; the file is truncated or corrupt`,
  tensorCount: (tensor: string, expected: number, actual: number) =>
    `tensor '${tensor}' should hold ${expected} values but has ${actual}; the file is corrupt`,
  externalWithoutLocation: (tensor: string) => `tensor '${tensor}' is stored outside the model but names no file`,
  externalMissing: (tensor: string, file: string) => `tensor '${tensor}' is stored in ${file}, which cannot be read`,
  externalShort: (tensor: string, file: string, need: number, have: number) =>
    `tensor '${tensor}' needs bytes up to ${need} of ${file}, which has ${have}; the external data is truncated`,
  externalOutside: (tensor: string, location: string) => `tensor '${tensor}' names external data '${location}' outside the model's folder; refused`,
  unreadable: (detail: string) => `cannot read the file (${detail})`,
  notFloatInput: (name: string, type: string) => `the model's input '${name}' is ${type}; running on an image needs a float input`,
  notImageInput: (name: string, shape: string) => `the model's input '${name}' has shape [${shape}]; running on an image needs [N, C, H, W] with C 1 or 3`,
  manyInputs: (count: number) => `the model takes ${count} inputs; running on an image needs exactly one`,
  unknownValue: (name: string) => `the model has no value named '${name}'`,
  cudaFallback: (detail: string) => `the CUDA execution provider could not start (${detail}); running on the CPU`,
  unknownSession: (id: number) => `ONNX session ${id} is not open (it was closed or the engine restarted)`,
  // Export.
  exportUnsupported: (op: string, node: string) => `the engine op '${op}' (node ${node}) has no ONNX export in Netlens; the model cannot be exported`,
  exportAttr: (op: string, node: string, detail: string) => `cannot export ${op} node ${node}: ${detail}`,
  exportMissingWeight: (name: string) => `the checkpoint has no tensor '${name}', which the model needs`,
  exportMismatch: (maxError: number, output: string) =>
    `the exported model does not match the engine: output '${output}' differs by a relative error of ${maxError.toExponential(2)} (limit 1e-4)`,
} as const;
