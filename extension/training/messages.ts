// Every user-facing message of lowering, training and benchmarking, in one place so they read
// the same way and tests can check them.

export const trainingMessages = {
  unsupportedOp: (op: string, engineOps: readonly string[]) =>
    `'${op}' is not supported by the Netlens engine yet; the engine runs: ${engineOps.join(', ')}.`,
  unsupportedArgument: (op: string, what: string) => `'${op}' with ${what} is not supported by the Netlens engine yet.`,
  untrackedTensor: (op: string) =>
    `'${op}' uses a tensor whose origin the analyzer could not follow (a parameter used directly, a tensor built in forward, or an unknown call); the engine cannot run it.`,
  noGraph: (model: string) => `the analysis of ${model} did not record a forward graph; nothing to lower.`,
  noTrace: (model: string) => `${model} could not be traced (see the analysis diagnostics), so it cannot be run by the engine.`,
  symbolicInput: (shape: string) =>
    `the engine needs a concrete input shape, got (${shape}); give one with --input, e.g. --input 8,3,32,32.`,
  unsupportedInputDtype: (dtype: string) => `an input of dtype ${dtype} is not supported by the engine (float32, int64).`,
  notOneInput: (count: number) => `the engine trains models with exactly one input tensor, this one takes ${count}.`,
  notOneOutput: (count: number) => `training needs a model with exactly one tensor output, this one returns ${count}.`,
  outputNotClassLogits: (shape: string) =>
    `cross-entropy training needs class scores of shape (N, classes), the model returns (${shape}).`,
  dataDoesNotFit: (need: string, dataName: string, fits: string) =>
    `the model's input is (${need}) but the '${dataName}' data set gives ${fits}; give --data PATH with data that fits, or --input with the shape your model expects.`,
  defaultDataDoesNotFit: (need: string) =>
    `the built-in data sets are 3×32×32 (shapes32) and 1×28×28 (shapes28) images; the model's input is (${need}). Give --data PATH with data of that shape.`,
  cudaUnavailable: (why: string) => `--device cuda: no usable CUDA GPU on this machine (${why}); use --device cpu.`,
  cudaTrainingNotAvailable: `--device cuda: training on the GPU is not available in this version; use --device cpu.`,
  noModel: (file: string) => `no model found in ${file}; give --entry, e.g. --entry 'Net()'.`,
  manyModels: (names: string) => `several models in the file (${names}); choose one with --entry.`,
  lossNotFinite: (step: number) => `the loss became NaN or infinite at step ${step}; the run stopped. Lower --lr.`,
} as const;
