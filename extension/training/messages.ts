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
    `the built-in data sets are 3×32×32 (shapes32) and 1×28×28 (shapes28) images (padded with a border of up to 4 pixels a side to fit a slightly larger input); the model's input is (${need}). Give --data PATH with data of that shape.`,
  cudaUnavailable: (why: string) => `--device cuda: no usable CUDA GPU on this machine (${why}); use --device cpu.`,
  cudaExecutorUnavailable: (why: string) => `--device cuda: the CUDA executor cannot run on this machine (${why}); use --device cpu.`,
  precisionNeedsGpu: (precision: string) =>
    `--precision ${precision}: the CPU engine computes in strict fp32 only (tf32 and bf16 are GPU modes); use --precision fp32 or --device cuda.`,
  autotuneNeedsGpu: () =>
    '--autotune: cuDNN autotuning times GPU convolution algorithms; the CPU engine has none to time. Use --device cuda, or leave --autotune out.',
  channelsLastNeedsGpu: () =>
    '--channels-last: NHWC layouts are for cuDNN\'s GPU convolutions; the CPU engine computes NCHW. Use --device cuda, or leave --channels-last out.',
  bf16NeedsAmpere: (computeCapability: string) =>
    `--precision bf16: needs a GPU of compute capability 8.0 (Ampere) or newer, this one is ${computeCapability}; use --precision fp32 or tf32.`,
  gpuOutOfMemory: (engineMessage: string, estimatedPeakBytes: number | undefined) =>
    `${engineMessage}. ` +
    (estimatedPeakBytes !== undefined && estimatedPeakBytes > 0
      ? `The analyzer estimates ${mebibytes(estimatedPeakBytes)} at the training peak for this model and batch (PyTorch's allocation pattern). `
      : '') +
    'Lower --batch, or use --device cpu.',
  noModel: (file: string) => `no model found in ${file}; give --entry, e.g. --entry 'Net()'.`,
  manyModels: (names: string) => `several models in the file (${names}); choose one with --entry.`,
  lossNotFinite: (step: number) => `the loss became NaN or infinite at step ${step}; the run stopped. Lower --lr.`,
} as const;

/** The engine's GPU out-of-memory errors: the CUDA executor's plan not fitting, or CUDA's own allocation error. */
export function isGpuOutOfMemory(message: string): boolean {
  return /out of GPU memory|cudaErrorMemoryAllocation/.test(message);
}

function mebibytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** What inference sessions (the model inspector, `netlens infer`) tell the user. */
export const inferenceMessages = {
  notOneOutput: (count: number) => `inspection needs a model with exactly one tensor output, this one returns ${count}.`,
  outputNotScores: (shape: string) => `inspection needs class scores of shape (N, classes), the model returns (${shape}).`,
  dataDoesNotFit: (need: string, dataName: string, has: string) =>
    `the model takes ${need} samples but the '${dataName}' data set has ${has}; choose data that fits the model's input.`,
  noData: 'this inspection session has no data set to draw samples from; open it with data.',
  sampleOutOfRange: (index: number, count: number) => `sample ${index} does not exist; the data set has ${count} samples (0 to ${count - 1}).`,
  notAnImageModel: (shape: string) => `the model's input is ${shape}, not an image (1 or 3 channels × height × width).`,
  noImageFile: (file: string) => `${file}: no such image file.`,
  imageSize: (values: number, shape: string) => `the image has ${values} values but the model takes ${shape}.`,
  noLayer: (id: string) => `the model has no layer '${id}'.`,
  noInputGradient: 'the engine returned no gradient for the model input.',
  classOutOfRange: (index: number, classes: number) => `class ${index} does not exist; the model scores ${classes} classes (0 to ${classes - 1}).`,
  badOcclusion: (patch: number, stride: number, height: number, width: number) =>
    `occlusion patch ${patch} with stride ${stride} does not fit a ${height}×${width} image; use a patch of 1 to ${Math.min(height, width)} and a stride of at least 1.`,
  noCheckpoint: (file: string) => `checkpoint ${file}: no such file.`,
} as const;
