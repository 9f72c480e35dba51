// A model of one steady training step's memory (the third step of a loop that calls
// zero_grad(set_to_none=True), forward, cross-entropy, backward, optimizer.step()), and of
// inference. It walks the forward graph with storage liveness: a tensor lives until its
// last use in forward unless an op saved it for backward; then the backward walks the ops in
// reverse, making gradients of inputs and parameters and freeing what each op saved.
//
// Mixed precision (bfloat16/float16 autocast): parameters, gradients and optimizer state
// stay float32; activations are 2 bytes; conv/linear (and on CUDA cuDNN's RNNs) keep a 2-byte
// cast copy of their weight (saved for backward) and of a float32 model input, and their weight
// gradient is made in 2 bytes before it is cast into the float32 .grad; the loss runs in float32.
//
// On CUDA (cudaRuntime.ts) every tensor is counted as the caching allocator's 512-byte blocks,
// and the cuBLAS/cuBLASLt workspaces PyTorch keeps are part of the fixed bytes.
import type { GraphArgument, GraphNodeReport, GraphReport, GraphTensorRef, ReportDim } from '../reportTypes';
import { cublasWorkspaces, cudaBlockBytes, mayUseCublasLt, runsGemm, type GpuDevice } from './cudaRuntime';
import { memoryRule, type AttentionFacts, type OpCallFacts } from './savedTensors';

export type Optimizer = 'sgd' | 'momentum' | 'adam' | 'adamw' | 'rmsprop';
export type TrainingDType = 'float32' | 'bfloat16' | 'float16';

/** Optimizer state tensors per parameter in steady state (momentum buffer, exp_avg + exp_avg_sq, square_avg). */
export const OPTIMIZER_STATES: Record<Optimizer, number> = { sgd: 0, momentum: 1, adam: 2, adamw: 2, rmsprop: 1 };
/**
 * Temporaries of one step, in parameter-sized tensors. The multi-tensor (foreach) path that
 * PyTorch picks for CUDA parameters takes sqrt of the whole second-moment list at once.
 */
const OPTIMIZER_FOREACH_TEMPORARIES: Record<Optimizer, number> = { sgd: 0, momentum: 0, adam: 1, adamw: 1, rmsprop: 1 };
/**
 * The per-tensor path (CPU parameters) makes its temporaries one parameter at a time: Adam's
 * `exp_avg_sq.sqrt() / bias_correction2_sqrt` holds two of the largest parameter's size at
 * once (measured: VGG-16's 411 MB fc weight gave +822 MB), RMSprop's `square_avg.sqrt()` one.
 */
const OPTIMIZER_PER_TENSOR_TEMPORARIES: Record<Optimizer, number> = { sgd: 0, momentum: 0, adam: 2, adamw: 2, rmsprop: 1 };

/** One parameter tensor, for the CUDA allocator's per-tensor blocks. */
export interface ParameterTensor {
  /** named_modules() path of its module ('' for the model itself). */
  path: string;
  /** Its own name in the module ('weight', 'bias'). */
  name: string;
  numel: number;
  trainable: boolean;
}

export interface MemoryModelInput {
  graph: GraphReport;
  /** Model input shapes and element sizes (token ids are 8-byte int64). */
  inputs: { shape: ReportDim[]; bytesPerElement: number }[];
  /** Own parameter element count per module path (trainable only), for gradients and autocast casts. */
  paramsByPath: ReadonlyMap<string, number>;
  totalParams: number;
  trainableParams: number;
  /** Largest single trainable parameter (elements): the single-tensor optimizer's temporary. */
  largestParam: number;
  buffersBytes: number;
  /** Every float32 parameter tensor; absent: the CUDA estimate does not round them per tensor. */
  parameterTensors?: readonly ParameterTensor[];
  /** Bytes of every buffer tensor, likewise. */
  bufferTensorBytes?: readonly number[];
}

export interface TrainingOptions {
  dtype: TrainingDType;
  optimizer: Optimizer;
  /** Where the step runs: CUDA adds the allocator's block rounding and the cuBLAS workspaces. */
  device: 'cuda' | 'cpu';
  /**
   * The multi-tensor (foreach) optimizer path; default: as PyTorch picks it, on CUDA parameters
   * only. `foreach=True` on CPU parameters takes it too.
   */
  foreach?: boolean;
  /** The GPU the CUDA estimate is for (the engine's device info); absent: an H100 is assumed. */
  gpu?: GpuDevice;
}

export interface MemoryMoment {
  /** 'forward:<op index>' | 'loss' | 'backward:<op index>' | 'optimizer' */
  at: string;
  bytes: number;
  /** Bytes that do not grow with the batch (parameters, buffers, their gradients, optimizer state, weight casts). */
  fixedBytes: number;
  /**
   * Fixed bytes that appear only at a larger batch than the analyzed one: nn.Linear's addmm takes
   * cuBLASLt, with its own workspace, only for more than one row.
   */
  growthBytes?: number;
}

export interface MemoryEstimate {
  params_bytes: number;
  buffers_bytes: number;
  grads_bytes: number;
  optimizer_bytes: number;
  input_bytes: number;
  /** Everything kept for backward at the end of forward (saved tensors, loss inputs). */
  saved_bytes: number;
  training_peak_bytes: number;
  /** Where the training peak happens. */
  training_peak_at: string;
  inference_peak_bytes: number;
  /** Bytes each op keeps for backward (0 for views), in graph order. */
  savedPerNode: number[];
  /** Ops without a memory rule (their inputs were counted as saved). */
  unknownOps: string[];
  /** Whether any shape was symbolic (counted as 0). */
  incomplete: boolean;
  /** The training curve's extremes: every candidate moment, for the batch-size search. */
  moments: MemoryMoment[];
  /** cuBLAS/cuBLASLt workspaces held through the step (CUDA, when a GEMM runs), in the fixed bytes. */
  cublas_workspace_bytes: number;
  /** The GPU the CUDA-only terms are sized for (CUDA only). */
  cuda_device?: string;
}

/** Float32 parameter, gradient and buffer bytes as the device's allocator counts them. */
interface ParameterBytes {
  params: number;
  trainable: number;
  largestTrainable: number;
  buffers: number;
  /** Gradient bytes of each module's own trainable parameters, by module path. */
  gradsByPath: Map<string, number> | undefined;
  /** Paths of the modules that own a `bias` parameter. */
  biasPaths: Set<string> | undefined;
}

function sameBytes(bytes: number): number {
  return bytes;
}

function parameterBytes(m: MemoryModelInput, block: (bytes: number) => number): ParameterBytes {
  const tensors = m.parameterTensors;
  if (!tensors || block === sameBytes) {
    return { params: m.totalParams * 4, trainable: m.trainableParams * 4, largestTrainable: m.largestParam * 4, buffers: m.buffersBytes, gradsByPath: undefined, biasPaths: undefined };
  }
  const gradsByPath = new Map<string, number>();
  const biasPaths = new Set<string>();
  let params = 0;
  let trainable = 0;
  let largestTrainable = 0;
  for (let i = 0; i < tensors.length; i++) {
    const t = tensors[i];
    const bytes = block(t.numel * 4);
    params += bytes;
    if (t.name === 'bias') biasPaths.add(t.path);
    if (!t.trainable) continue;
    trainable += bytes;
    if (bytes > largestTrainable) largestTrainable = bytes;
    gradsByPath.set(t.path, (gradsByPath.get(t.path) ?? 0) + bytes);
  }
  let buffers = 0;
  const bufferBytes = m.bufferTensorBytes;
  if (bufferBytes) for (let i = 0; i < bufferBytes.length; i++) buffers += block(bufferBytes[i]);
  else buffers = m.buffersBytes;
  return { params, trainable, largestTrainable, buffers, gradsByPath, biasPaths };
}

function blockRounding(options: TrainingOptions): (bytes: number) => number {
  return options.device === 'cuda' ? cudaBlockBytes : sameBytes;
}

function usesForeach(options: TrainingOptions): boolean {
  return options.foreach ?? options.device === 'cuda';
}

/** Whether a linear call adds a 1-D bias (addmm: the cuBLASLt path on CUDA). */
function linearHasBias(node: GraphNodeReport, biasPaths: Set<string> | undefined): boolean {
  if (node.kind === 'module') return biasPaths === undefined || biasPaths.has(node.path ?? '');
  const bias = node.args[2] ?? node.kwargs['bias'];
  return bias !== undefined && bias !== null && typeof bias === 'object' && 'tensor' in bias;
}

/**
 * How autocast runs an op (aten/src/ATen/autocast_mode.cpp lists; docs/MEMORY.md): in the low
 * dtype (inputs cast down, the weight cast cached), in float32 (inputs cast up), or in the dtype
 * its inputs have ('follows': type promotion among them, a float32 parameter included).
 */
type AutocastPrecision = 'low' | 'float32' | 'follows';
/** Batched products that reshape their operands to three dimensions before bmm. */
const FOLDS_OPERANDS = /^(matmul|einsum|bmm)$/;
const AUTOCAST_LOW = /^(Conv[123]d|ConvTranspose[123]d|Linear|LazyLinear|Bilinear|conv[123]d|conv_transpose[123]d|linear|bilinear|PReLU|prelu|matmul|mm|bmm|baddbmm|addmm|addbmm|einsum|LSTM|GRU|RNN|LSTMCell|GRUCell|RNNCell|MultiheadAttention|scaled_dot_product_attention)$/;
/** CUDA's float32 list (and the float32-unless-a-dtype-is-given ops), as the graph names them. */
const AUTOCAST_FLOAT32_CUDA = /^(LayerNorm|layer_norm|GroupNorm|group_norm|Softmax|softmax|LogSoftmax|log_softmax|Softmin|softmin|exp|expm1|log|log2|log10|log1p|pow|rsqrt|reciprocal|Softplus|softplus|sum|cumsum|cumprod|prod|logsumexp|norm|cosine_similarity|CosineSimilarity|cdist|pdist|dist|mse_loss|l1_loss|smooth_l1_loss|huber_loss|nll_loss|kl_div|binary_cross_entropy_with_logits|MSELoss|L1Loss|SmoothL1Loss|HuberLoss|NLLLoss|KLDivLoss|BCEWithLogitsLoss)$/;
/** The CPU's float32 list is short (LayerNorm, softmax and GroupNorm stay in the low dtype there: measured on torch 2.13). */
const AUTOCAST_FLOAT32_CPU = /^(cross_entropy|CrossEntropyLoss|nll_loss|NLLLoss|mse_loss|MSELoss|binary_cross_entropy|BCELoss|cdist|prod|cumprod|stft)$/;
/** Ops whose output has their weight's dtype (float32), whatever their integer input. */
const WEIGHT_DTYPE_OUTPUT = /^(Embedding|embedding|EmbeddingBag|embedding_bag)$/;

function autocastPrecision(op: string, cuda: boolean): AutocastPrecision {
  if (AUTOCAST_LOW.test(op)) return 'low';
  if ((cuda ? AUTOCAST_FLOAT32_CUDA : AUTOCAST_FLOAT32_CPU).test(op)) return 'float32';
  return 'follows';
}

/**
 * Bytes per element of an op's outputs under autocast. A module follows its input (BatchNorm,
 * dropout, activations: their float32 parameters do not promote a low-precision input); a
 * function or operator takes the widest floating-point dtype among its tensor arguments, a
 * float32 parameter or buffer included (a ViT's `x + pos_embed` is float32).
 */
function autocastOutputBytes(
  node: GraphNodeReport, precision: AutocastPrecision, refs: readonly GraphTensorRef[], inputCount: number,
  outputSlot: readonly number[], outputCount: readonly number[], slotBytes: Uint8Array, act: number,
): number {
  if (precision === 'low') return 2;
  if (precision === 'float32' || WEIGHT_DTYPE_OUTPUT.test(node.op)) return 4;
  let widest = 0;
  for (let i = 0; i < refs.length; i++) {
    const ref = refs[i];
    const bytes = 'state' in ref ? 4 : slotBytes[slotOf(ref, inputCount, outputSlot, outputCount)] ?? 0;
    // Integer tensors (token ids, indices: 8 bytes) do not decide a floating-point result.
    if (bytes === 2 || bytes === 4) {
      if (node.kind === 'module') return bytes;
      if (bytes > widest) widest = bytes;
    }
  }
  return widest > 0 ? widest : act;
}

/** Ops autocast runs in the low dtype with a cast copy of their weight; cuDNN's RNNs (CUDA) cast their flat weights to float16. */
const CASTS_WEIGHT = /^(Conv[123]d|ConvTranspose[123]d|Linear|conv[123]d|linear|PReLU|prelu)$/;
const CUDNN_RNN = /^(LSTM|GRU|RNN)$/;

/** `bytes` as the device's allocator counts them; `slack` the part of it that is block rounding. */
interface Storage { fixed: boolean; output: boolean; bytes: number; slack: number; lastUse: number; savedUntil: number; keepToEnd: boolean; created: number }

/** An output whose spatial dims (after N, C) are all 1, as adaptive pooling to 1×1 makes. */
function isGlobalPoolShape(shape: readonly ReportDim[] | undefined): boolean {
  if (!shape) return true;
  for (let i = 2; i < shape.length; i++) if (shape[i] !== 1) return false;
  return true;
}

function numelOf(shape: readonly ReportDim[] | undefined): number | undefined {
  if (!shape) return undefined;
  let n = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

/**
 * Tensors are numbered densely: model input i is slot i, output k of node n is slot
 * `outputSlot[n] + k`; -1 for a reference to nothing the graph made (state, untracked, a
 * node or output that does not exist). Typed arrays indexed by slot replace string-keyed maps:
 * a long trace has thousands of references.
 */
function slotOf(r: GraphTensorRef, inputCount: number, outputSlot: readonly number[], outputCount: readonly number[]): number {
  if ('node' in r) {
    const { node, output } = r;
    if (!Number.isInteger(node) || !Number.isInteger(output) || node < 0 || node >= outputSlot.length || output < 0 || output >= outputCount[node]) return -1;
    return outputSlot[node] + output;
  }
  if ('input' in r) return Number.isInteger(r.input) && r.input >= 0 && r.input < inputCount ? r.input : -1;
  return -1;
}

/** The node whose outputs include `slot` (a node output slot, not an input's). */
function nodeOfSlot(outputSlot: readonly number[], slot: number): number {
  let low = 0;
  let high = outputSlot.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (outputSlot[mid] <= slot) low = mid;
    else high = mid - 1;
  }
  return low;
}

function tensorRefs(args: readonly GraphArgument[], out: GraphTensorRef[] = []): GraphTensorRef[] {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (Array.isArray(a)) tensorRefs(a, out);
    else if (a !== null && typeof a === 'object' && 'tensor' in a) out.push(a.tensor);
  }
  return out;
}

function boolArg(v: GraphArgument | undefined): boolean {
  return v === true;
}

/** The sizes of one nn.MultiheadAttention call (query, key, value are its first three inputs). */
function attentionFacts(node: GraphNodeReport, inputNumel: readonly number[], inputSlots: readonly number[], embed: number, query: readonly ReportDim[] | undefined): AttentionFacts | undefined {
  const heads = node.attrs['num_heads'];
  if (typeof heads !== 'number' || heads <= 0 || embed <= 0 || !query || query.length < 2) return undefined;
  const batchFirst = node.attrs['batch_first'] === true;
  // Unbatched (2-D) queries are one sequence.
  const batchDim = query.length === 2 ? 1 : batchFirst ? query[0] : query[1];
  if (typeof batchDim !== 'number') return undefined;
  const dropout = node.attrs['dropout'];
  const needWeights = node.kwargs['need_weights'] ?? (node.args.length > 4 ? node.args[4] : true);
  return {
    queryRows: (inputNumel[0] ?? 0) / embed,
    keyRows: (inputNumel[1] ?? inputNumel[0] ?? 0) / embed,
    embed,
    heads,
    batch: batchDim,
    batchFirst: batchFirst && query.length === 3,
    needWeights: needWeights !== false,
    dropout: typeof dropout === 'number' ? dropout : 0,
    selfAttention: inputSlots.length <= 1 || (inputSlots[1] === inputSlots[0] && inputSlots[2] === inputSlots[0]),
  };
}

export function estimateMemory(m: MemoryModelInput, options: TrainingOptions): MemoryEstimate {
  // Written with indexed loops and no per-node closures: it runs once per analysis, mostly
  // before V8 has optimized it, over every op of the trace.
  const act = options.dtype === 'float32' ? 4 : 2;
  const autocast = options.dtype !== 'float32';
  const cuda = options.device === 'cuda';
  const block = blockRounding(options);
  const sizes = parameterBytes(m, block);
  const gemm = { forward: false, backward: false, lt: false };
  let ltAtLargerBatch = false;
  const nodes = m.graph.nodes;
  const nodeCount = nodes.length;
  let incomplete = false;
  const unknownOps = new Set<string>();

  const inputCount = m.inputs.length;
  const outputSlot: number[] = new Array<number>(nodeCount);
  const outputCount: number[] = new Array<number>(nodeCount);
  let slotCount = inputCount;
  for (let index = 0; index < nodeCount; index++) {
    const outputs = nodes[index].outputs.length;
    outputSlot[index] = slotCount;
    outputCount[index] = outputs;
    slotCount += outputs;
  }
  const storageOf: (Storage | undefined)[] = new Array<Storage | undefined>(slotCount).fill(undefined);
  const numelOfSlot = new Float64Array(slotCount);
  // Bytes per element of each tensor: under autocast some activations are float32 (ops on the
  // float32 list, type promotion with a float32 parameter or input) and others low precision.
  const slotBytes = new Uint8Array(slotCount);
  const requiresGrad = new Uint8Array(slotCount);
  const storages: Storage[] = [];
  const newStorage = (bytes: number, created: number): Storage => {
    // Every field set here, so that all storages share one object shape.
    const rounded = block(bytes);
    const s: Storage = { fixed: false, output: false, bytes: rounded, slack: rounded - bytes, lastUse: created, savedUntil: Infinity, keepToEnd: false, created };
    storages.push(s);
    return s;
  };
  // Model inputs live for the whole step: the training loop holds the batch.
  let inputBytes = 0;
  let inputSlack = 0;
  for (let i = 0; i < inputCount; i++) {
    const inp = m.inputs[i];
    const n = numelOf(inp.shape);
    if (n === undefined) incomplete = true;
    const s = newStorage((n ?? 0) * inp.bytesPerElement, -1);
    s.keepToEnd = true;
    storageOf[i] = s;
    numelOfSlot[i] = n ?? 0;
    slotBytes[i] = inp.bytesPerElement;
    inputBytes += s.bytes;
    inputSlack += s.slack;
  }

  // Per node: the storages it keeps for backward (autocast adds its weight and batch casts).
  const savedByNode: Storage[][] = new Array<Storage[]>(nodeCount);
  const inputSlotsByNode: number[][] = new Array<number[]>(nodeCount);
  const savedPerNode: number[] = new Array<number>(nodeCount).fill(0);
  // Own trainable parameter elements of each node's module (0 for functions), looked up once.
  const nodeParams = new Float64Array(nodeCount);
  // Bytes of each node's low-precision weight cast (autocast), whose gradient is made in that dtype too.
  const castBytes = new Float64Array(nodeCount);
  // Bytes a node's backward holds besides its input gradients (attention's internal gradients).
  const scratchByNode = new Float64Array(nodeCount);
  const inputRefs: GraphTensorRef[] = [];
  for (let index = 0; index < nodeCount; index++) {
    const node = nodes[index];
    if (node.path !== undefined) nodeParams[index] = m.paramsByPath.get(node.path) ?? 0;
    inputRefs.length = 0;
    tensorRefs(node.args, inputRefs);
    for (const key in node.kwargs) tensorRefs([node.kwargs[key]], inputRefs);
    const inputSlots: number[] = [];
    const inputNumel: number[] = [];
    for (let i = 0; i < inputRefs.length; i++) {
      const slot = slotOf(inputRefs[i], inputCount, outputSlot, outputCount);
      if (slot >= 0 && storageOf[slot] !== undefined) {
        inputSlots.push(slot);
        inputNumel.push(numelOfSlot[slot]);
      }
    }
    inputSlotsByNode[index] = inputSlots;
    const outputs = node.outputs.length;
    const outputNumel: number[] = new Array<number>(outputs);
    for (let k = 0; k < outputs; k++) {
      const n = numelOf(node.outputs[k]);
      if (n === undefined) incomplete = true;
      outputNumel[k] = n ?? 0;
    }
    const first = inputRefs.length > 0 ? inputRefs[0] : undefined;
    const firstInput = first === undefined ? undefined : 'node' in first ? nodes[first.node]?.outputs[first.output] : 'input' in first ? m.inputs[first.input]?.shape : undefined;
    const channels = typeof firstInput?.[1] === 'number' ? firstInput[1] : 0;
    const lastDim = typeof firstInput?.[firstInput.length - 1] === 'number' ? (firstInput[firstInput.length - 1] as number) : 1;
    const p = node.attrs['p'] ?? node.kwargs['p'] ?? node.args[1];
    const facts: OpCallFacts = {
      op: node.op,
      inputNumel,
      outputNumel,
      channels,
      normalizedRows: /GroupNorm|group_norm/.test(node.op) ? (typeof firstInput?.[0] === 'number' ? firstInput[0] : 0) * (typeof node.attrs['num_groups'] === 'number' ? node.attrs['num_groups'] : 1) : Math.floor((inputNumel[0] ?? 0) / Math.max(1, lastDim)),
      inplace: boolArg(node.attrs['inplace']) || boolArg(node.kwargs['inplace']) || (node.kind === 'method' && node.op.endsWith('_')) || isAugmentedOperator(node),
      rnnLayers: (typeof node.attrs['num_layers'] === 'number' ? node.attrs['num_layers'] : 1) * (node.attrs['bidirectional'] === true ? 2 : 1),
      device: options.device,
      outputIsGlobalPool: isGlobalPoolShape(node.outputs[0]),
      activationBytes: act,
      otherTensorInputs: inputRefs.length - inputSlots.length,
    };
    if (typeof p === 'number') facts.dropoutP = p;
    if (node.op === 'MultiheadAttention') facts.attention = attentionFacts(node, inputNumel, inputSlots, lastDim, firstInput);
    // `x.add_(y)` and `x += y` (operator node `iadd`) follow the rule of `add`, in place.
    const rule = memoryRule(node.op.endsWith('_') && node.kind === 'method' ? { ...facts, op: node.op.slice(0, -1) } : isAugmentedOperator(node) ? { ...facts, op: node.op.slice(1) } : facts);
    if (!rule.known) unknownOps.add(node.op);
    if (rule.backwardScratchBytes) scratchByNode[index] = rule.backwardScratchBytes;
    let needsGrad = nodeParams[index] > 0;
    for (let i = 0; !needsGrad && i < inputSlots.length; i++) needsGrad = requiresGrad[inputSlots[i]] === 1;
    if (cuda && runsGemm(node.op)) {
      gemm.forward = true;
      if (needsGrad) gemm.backward = true;
      // cuBLASLt takes addmm with a bias only for more than one row and column (isInputCompliesAddmmCudaLt).
      if (mayUseCublasLt(node.op) && lastDim > 1 && linearHasBias(node, sizes.biasPaths)) {
        if (facts.normalizedRows > 1) gemm.lt = true;
        else ltAtLargerBatch = true;
      }
    }
    const firstOutput = outputSlot[index];
    const precision = autocast ? autocastPrecision(node.op, cuda) : 'follows';
    const outBytes = autocast ? autocastOutputBytes(node, precision, inputRefs, inputCount, outputSlot, outputCount, slotBytes, act) : act;
    for (let k = 0; k < outputs; k++) {
      const alias = rule.aliasOf?.[k];
      const aliased = alias !== undefined ? inputSlots[alias] : undefined;
      const s = aliased !== undefined ? storageOf[aliased]! : newStorage(outputNumel[k] * outBytes, index);
      s.output = true;
      storageOf[firstOutput + k] = s;
      numelOfSlot[firstOutput + k] = outputNumel[k];
      slotBytes[firstOutput + k] = aliased !== undefined ? slotBytes[aliased] : outBytes;
      if (needsGrad) requiresGrad[firstOutput + k] = 1;
    }
    for (let i = 0; i < inputSlots.length; i++) {
      const s = storageOf[inputSlots[i]]!;
      if (s.lastUse < index) s.lastUse = index;
    }
    let kept: Storage[] = [];
    // Nothing is saved when no gradient will flow through the op (a frozen backbone's ops).
    if (needsGrad) {
      for (let j = 0; j < rule.saved.length; j++) {
        const item = rule.saved[j];
        if ('input' in item) {
          const slot = inputSlots[item.input];
          if (slot === undefined) continue;
          // Autocast casts a float input to the op's dtype first; the op saves the cast copy.
          const castTo = precision === 'low' ? 2 : precision === 'float32' ? 4 : 0;
          const source = storageOf[slot]!;
          if (castTo > 0 && (slotBytes[slot] === 2 || slotBytes[slot] === 4) && slotBytes[slot] !== castTo) kept.push(newStorage(numelOfSlot[slot] * castTo, index));
          // A batched product folds its operand's batch dims with reshape, which copies a piece of
          // a larger tensor (k and v split out of a packed projection): the copy is saved and the
          // packed tensor is not kept by this op (Swin's window attention; torch 2.13 traces).
          else if (FOLDS_OPERANDS.test(node.op) && source.bytes > block(numelOfSlot[slot] * slotBytes[slot]) + 512) kept.push(newStorage(numelOfSlot[slot] * slotBytes[slot], index));
          else kept.push(source);
        } else if ('output' in item) {
          // An output the node does not have is kept as nothing (as a missing map entry was).
          const s = item.output < outputs ? storageOf[firstOutput + item.output] : undefined;
          if (s) kept.push(s);
        } else {
          kept.push(newStorage(item.elements * (item.bytesPerElement ?? outBytes), index));
        }
      }
      if (autocast && (CASTS_WEIGHT.test(node.op) || (cuda && CUDNN_RNN.test(node.op)))) {
        const cast = newStorage((node.path !== undefined ? nodeParams[index] : m.paramsByPath.get('') ?? 0) * 2, index);
        cast.fixed = true;
        castBytes[index] = cast.bytes;
        kept.push(cast);
      }
    }
    for (let j = 0; j < kept.length; j++) if (kept[j].savedUntil > index) kept[j].savedUntil = index;
    if (kept.length > 1) kept = [...new Set(kept)];
    savedByNode[index] = kept;
  }
  const growthBytes = cuda && ltAtLargerBatch && !gemm.lt ? cublasWorkspaces({ ...gemm, lt: true }, options.gpu).trainingBytes - cublasWorkspaces(gemm, options.gpu).trainingBytes : 0;
  // Per-layer numbers: each saved storage counts once, at the first op that keeps it.
  const attributed = new Set<Storage>();
  for (let index = 0; index < nodeCount; index++) {
    const kept = savedByNode[index];
    for (let j = 0; j < kept.length; j++) {
      const s = kept[j];
      if (s.created < 0 || attributed.has(s)) continue;
      attributed.add(s);
      savedPerNode[index] += s.bytes;
    }
  }

  const outputSlots: number[] = [];
  for (let j = 0; j < m.graph.outputs.length; j++) {
    const slot = slotOf(m.graph.outputs[j], inputCount, outputSlot, outputCount);
    if (slot < 0) continue;
    outputSlots.push(slot);
    const s = storageOf[slot];
    if (s) s.keepToEnd = true;
  }

  const workspaces = cuda ? cublasWorkspaces(gemm, options.gpu) : undefined;
  const workspaceBytes = workspaces?.trainingBytes ?? 0;
  const fixedBase = sizes.params + sizes.buffers + sizes.trainable * OPTIMIZER_STATES[options.optimizer] + workspaceBytes;
  const moments: MemoryMoment[] = [];

  // Forward, training: storages are freed after their last use unless saved or held to the end.
  let live = fixedBase + inputBytes;
  // Block rounding of the live tensors that grow with the batch: it stays about the same as the
  // batch grows (under 512 bytes a tensor), so the batch search counts it with the fixed bytes.
  let liveSlack = inputSlack;
  let inferenceLive = sizes.params + sizes.buffers + inputBytes + (workspaces?.inferenceBytes ?? 0);
  let inferencePeak = inferenceLive;
  let fixedCasts = 0;
  // Bucketed by node so the walk stays linear in the number of ops (long traces have thousands).
  const createdAt: Storage[][] = new Array<Storage[]>(nodeCount);
  const lastUsedAt: Storage[][] = new Array<Storage[]>(nodeCount);
  for (let index = 0; index < nodeCount; index++) {
    createdAt[index] = [];
    lastUsedAt[index] = [];
  }
  for (let j = 0; j < storages.length; j++) {
    const s = storages[j];
    if (s.created < 0) continue;
    createdAt[s.created].push(s);
    if (s.lastUse >= 0) lastUsedAt[s.lastUse].push(s);
  }
  // Storages freed during forward (dead after their last use and not saved) are marked here.
  const freedForward = new Set<Storage>();
  for (let index = 0; index < nodeCount; index++) {
    const created = createdAt[index];
    for (let j = 0; j < created.length; j++) {
      const s = created[j];
      live += s.bytes;
      if (s.fixed) fixedCasts += s.bytes;
      else liveSlack += s.slack;
      // Inference keeps only op outputs (no masks, indices or casts), each until its last use.
      if (s.output) inferenceLive += s.bytes;
    }
    moments.push({ at: `forward:${index}`, bytes: live, fixedBytes: fixedBase + fixedCasts + liveSlack });
    if (inferenceLive > inferencePeak) inferencePeak = inferenceLive;
    const lastUsed = lastUsedAt[index];
    for (let j = 0; j < lastUsed.length; j++) {
      const s = lastUsed[j];
      if (s.keepToEnd) continue;
      if (s.output) inferenceLive -= s.bytes;
      if (s.savedUntil === Infinity) {
        freedForward.add(s);
        live -= s.bytes;
        if (!s.fixed) liveSlack -= s.slack;
      }
    }
  }

  // Cross-entropy on the first output: log_softmax output (float32) is saved, the target is int64 per row.
  const logitsSlot = outputSlots.length > 0 ? outputSlots[0] : -1;
  const logits = logitsSlot >= 0 ? numelOfSlot[logitsSlot] : 0;
  const logitsShape = logitsSlot >= inputCount ? nodes[nodeOfSlot(outputSlot, logitsSlot)]?.outputs[0] : undefined;
  // Cross-entropy over every position: one label per row of the flattened logits.
  const classes = typeof logitsShape?.[logitsShape.length - 1] === 'number' ? (logitsShape[logitsShape.length - 1] as number) : 1;
  const rows = logits > 0 ? Math.round(logits / Math.max(1, classes)) : 1;
  // Under autocast, logits in low precision are cast to float32 for the loss (a saved copy).
  const logitsCast = autocast && logitsSlot >= 0 && slotBytes[logitsSlot] !== 4;
  const lossSaved = block(logits * 4) + (logitsCast ? block(logits * 4) : 0);
  const targetBytes = block(rows * 8);
  live += lossSaved + targetBytes + block(4);
  const lossSavedSlack = lossSaved - (logitsCast ? 2 : 1) * logits * 4;
  const targetSlack = targetBytes - rows * 8;
  // The loss itself is one number whatever the batch: with the fixed bytes too.
  liveSlack += lossSavedSlack + targetSlack + block(4);
  let savedAtEnd = 0;
  for (let j = 0; j < storages.length; j++) {
    const s = storages[j];
    if (s.created >= 0 && s.savedUntil !== Infinity && !freedForward.has(s)) savedAtEnd += s.bytes;
  }
  moments.push({ at: 'loss', bytes: live, fixedBytes: fixedBase + fixedCasts + liveSlack });

  // Backward: gradients of tensors that require grad, parameter gradients as each op's backward runs.
  const gradBytes = new Float64Array(slotCount);
  const gradSlack = new Float64Array(slotCount);
  const hasGrad = new Uint8Array(slotCount);
  const paramGradsByNode: number[] = new Array<number>(nodeCount);
  let attributedGrads = 0;
  const gradsByPath = sizes.gradsByPath;
  for (let index = 0; index < nodeCount; index++) {
    const path = nodes[index].path;
    paramGradsByNode[index] = gradsByPath && path !== undefined && nodeParams[index] > 0 ? gradsByPath.get(path) ?? 0 : nodeParams[index] * 4;
    attributedGrads += paramGradsByNode[index];
  }
  let paramGrads = Math.max(0, sizes.trainable - attributedGrads);
  live += paramGrads;
  const logitsBytes = logitsSlot >= 0 && autocast ? slotBytes[logitsSlot] : act;
  const logitsGrad = block(logits * logitsBytes);
  if (logitsSlot >= 0) {
    gradBytes[logitsSlot] = logitsGrad;
    gradSlack[logitsSlot] = logitsGrad - logits * logitsBytes;
    hasGrad[logitsSlot] = 1;
  }
  live += logitsGrad;
  live -= lossSaved;
  liveSlack += logitsGrad - logits * logitsBytes - lossSavedSlack;
  moments.push({ at: 'backward:loss', bytes: live, fixedBytes: fixedBase + fixedCasts + paramGrads + liveSlack });
  for (let index = nodeCount - 1; index >= 0; index--) {
    const firstOutput = outputSlot[index];
    const outputs = outputCount[index];
    const saved = savedByNode[index];
    let hasGradOut = false;
    for (let k = 0; !hasGradOut && k < outputs; k++) hasGradOut = hasGrad[firstOutput + k] === 1;
    if (!hasGradOut && paramGradsByNode[index] === 0) {
      for (let j = 0; j < saved.length; j++) {
        const s = saved[j];
        if (s.savedUntil !== index || s.keepToEnd) continue;
        live -= s.bytes;
        if (s.fixed) fixedCasts -= s.bytes;
        else liveSlack -= s.slack;
      }
      continue;
    }
    const inputSlots = inputSlotsByNode[index];
    const viewSource = inputSlots.length > 0 ? inputSlots[0] : -1;
    const isView = outputs > 0 && storageOf[firstOutput] !== undefined && viewSource >= 0 && storageOf[firstOutput] === storageOf[viewSource] && saved.length === 0;
    let allocated = 0;
    if (isView && requiresGrad[viewSource] === 1 && hasGrad[viewSource] === 0) {
      // A view's backward is a view of the incoming gradient: the buffer passes to the input.
      gradBytes[viewSource] = hasGrad[firstOutput] === 1 ? gradBytes[firstOutput] : 0;
      gradSlack[viewSource] = hasGrad[firstOutput] === 1 ? gradSlack[firstOutput] : 0;
      hasGrad[viewSource] = 1;
      hasGrad[firstOutput] = 0;
    }
    for (let i = 0; i < inputSlots.length; i++) {
      const slot = inputSlots[i];
      if (requiresGrad[slot] === 0 || hasGrad[slot] === 1) continue;
      // A tensor passed twice gets one gradient: the first pass sets hasGrad.
      // A gradient has its tensor's dtype.
      const elementBytes = autocast ? slotBytes[slot] : act;
      const bytes = block(numelOfSlot[slot] * elementBytes);
      gradBytes[slot] = bytes;
      gradSlack[slot] = bytes - numelOfSlot[slot] * elementBytes;
      liveSlack += gradSlack[slot];
      hasGrad[slot] = 1;
      allocated += bytes;
    }
    allocated += paramGradsByNode[index];
    paramGrads += paramGradsByNode[index];
    live += allocated;
    // Under autocast the weight gradient comes out in the cast's dtype and is then copied into
    // the float32 .grad (ToCopyBackward), but only after the op's own backward returned and the
    // engine released what it saved, the weight cast included: the low-precision gradient
    // exists with the saved tensors, and then with the float32 one (measured on the CPU oracle:
    // VGG-16's fc1 under bfloat16 autocast peaks at that copy, its 205 MB cast already freed).
    const lowPrecisionGrad = paramGradsByNode[index] > 0 ? castBytes[index] : 0;
    if (lowPrecisionGrad > 0) {
      let released = 0;
      let releasedFixed = 0;
      let releasedSlack = 0;
      for (let j = 0; j < saved.length; j++) {
        if (saved[j].savedUntil !== index || saved[j].keepToEnd) continue;
        released += saved[j].bytes;
        if (saved[j].fixed) releasedFixed += saved[j].bytes;
        else releasedSlack += saved[j].slack;
      }
      const ownGrads = paramGradsByNode[index];
      const beforeCopy = live - ownGrads + lowPrecisionGrad;
      const atCopy = live + lowPrecisionGrad - released;
      moments.push(atCopy >= beforeCopy
        ? { at: `backward:${index}`, bytes: atCopy, fixedBytes: fixedBase + fixedCasts - releasedFixed + paramGrads + lowPrecisionGrad + liveSlack - releasedSlack }
        : { at: `backward:${index}`, bytes: beforeCopy, fixedBytes: fixedBase + fixedCasts + paramGrads - ownGrads + lowPrecisionGrad + liveSlack });
    } else {
      moments.push({ at: `backward:${index}`, bytes: live + scratchByNode[index], fixedBytes: fixedBase + fixedCasts + paramGrads + liveSlack });
    }
    for (let j = 0; j < saved.length; j++) if (saved[j].fixed && saved[j].savedUntil === index) fixedCasts -= saved[j].bytes;
    for (let j = 0; j < saved.length; j++) {
      if (saved[j].savedUntil !== index || saved[j].keepToEnd) continue;
      live -= saved[j].bytes;
      if (!saved[j].fixed) liveSlack -= saved[j].slack;
    }
    for (let k = 0; k < outputs; k++) {
      if (hasGrad[firstOutput + k] === 1) {
        live -= gradBytes[firstOutput + k];
        liveSlack -= gradSlack[firstOutput + k];
      }
      hasGrad[firstOutput + k] = 0;
    }
  }
  // Storages of the model output and the loss are held by the loop until the step ends; grads of inputs are not made.
  const optimizerTemp = optimizerTemporaries(sizes, usesForeach(options), options.optimizer);
  const afterBackward = fixedBase + sizes.trainable + inputBytes + targetBytes;
  moments.push({ at: 'optimizer', bytes: afterBackward + optimizerTemp, fixedBytes: fixedBase + sizes.trainable + optimizerTemp + inputSlack + targetSlack });

  if (growthBytes > 0) for (let j = 0; j < moments.length; j++) moments[j].growthBytes = growthBytes;
  let peak = moments[0] ?? { at: 'optimizer', bytes: afterBackward, fixedBytes: afterBackward };
  for (let j = 1; j < moments.length; j++) if (moments[j].bytes > peak.bytes) peak = moments[j];
  // The breakdown gives the tensors' own sizes; their allocator blocks are in the moments and the peak.
  const estimate: MemoryEstimate = {
    params_bytes: m.totalParams * 4,
    buffers_bytes: m.buffersBytes,
    grads_bytes: m.trainableParams * 4,
    optimizer_bytes: m.trainableParams * 4 * OPTIMIZER_STATES[options.optimizer],
    input_bytes: inputBytes + targetBytes,
    saved_bytes: savedAtEnd + lossSaved,
    training_peak_bytes: peak.bytes,
    training_peak_at: peak.at,
    inference_peak_bytes: inferencePeak,
    savedPerNode,
    unknownOps: [...unknownOps],
    incomplete,
    moments,
    cublas_workspace_bytes: workspaceBytes,
  };
  if (workspaces) estimate.cuda_device = workspaces.device;
  return estimate;
}

/**
 * The moments `estimateMemory(m, { ...options, optimizer })` would return, from an estimate
 * made with `options`: the optimizer's state is a constant part of every moment (it is in the
 * fixed bytes the walk starts from), and only the last moment (the optimizer step, with its
 * temporaries) changes otherwise. Saves a walk over the graph per optimizer.
 */
export function momentsWithOptimizer(estimate: MemoryEstimate, m: MemoryModelInput, options: TrainingOptions, optimizer: Optimizer): MemoryMoment[] {
  const sizes = parameterBytes(m, blockRounding(options));
  const stateBytes = (o: Optimizer): number => sizes.trainable * OPTIMIZER_STATES[o];
  const shift = stateBytes(optimizer) - stateBytes(options.optimizer);
  const moments = estimate.moments.map((mo): MemoryMoment => {
    const moved: MemoryMoment = { at: mo.at, bytes: mo.bytes + shift, fixedBytes: mo.fixedBytes + shift };
    if (mo.growthBytes !== undefined) moved.growthBytes = mo.growthBytes;
    return moved;
  });
  const last = moments[moments.length - 1];
  if (last && last.at === 'optimizer') {
    const fixedBase = sizes.params + sizes.buffers + stateBytes(optimizer) + estimate.cublas_workspace_bytes;
    const temporaries = optimizerTemporaries(sizes, usesForeach(options), optimizer);
    // The part that grows with the batch (the batch and its labels) is the walked one.
    const perBatch = last.bytes - last.fixedBytes;
    last.bytes = fixedBase + sizes.trainable + estimate.input_bytes + temporaries;
    last.fixedBytes = last.bytes - perBatch;
  }
  return moments;
}

function optimizerTemporaries(sizes: ParameterBytes, foreach: boolean, optimizer: Optimizer): number {
  return foreach ? sizes.trainable * OPTIMIZER_FOREACH_TEMPORARIES[optimizer] : sizes.largestTrainable * OPTIMIZER_PER_TENSOR_TEMPORARIES[optimizer];
}

/**
 * The largest batch whose training peak fits `capacityBytes`, from moments measured at
 * `batch`: each moment is fixed bytes plus bytes proportional to the batch (every activation
 * carries the batch dimension). 0 when not even one sample fits.
 */
export function largestBatchThatFits(moments: readonly MemoryMoment[], batch: number, capacityBytes: number): number {
  let best = Infinity;
  for (const mo of moments) {
    const perSample = (mo.bytes - mo.fixedBytes) / batch;
    const room = capacityBytes - mo.fixedBytes - (mo.growthBytes ?? 0);
    if (room < 0) return 0;
    if (perSample > 0) best = Math.min(best, Math.floor(room / perSample));
  }
  return Number.isFinite(best) ? best : 0;
}

/** An augmented assignment on a tensor (`x += y` records operator `iadd`, `x *= y` `imul`, ...). */
function isAugmentedOperator(node: { kind: string; op: string }): boolean {
  return node.kind === 'operator' && /^i(add|sub|mul|div|truediv|floordiv|mod|pow|matmul|and|or|xor|lshift|rshift)$/.test(node.op);
}
