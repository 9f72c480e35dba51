// What each op keeps alive for backward, as PyTorch's autograd formulas (derivatives.yaml)
// save it in training mode, and whether its output is a view or an in-place result that
// shares the input's storage. One table entry per op name, keyed the way the forward graph
// names nodes (module class names, F.*/torch.* function names, tensor methods, operators).

/** One tensor an op keeps for backward. */
export type SavedItem =
  | { input: number }
  | { output: number }
  /** A tensor the op makes for itself: `elements` of a fixed dtype (`bytesPerElement`), or of the activation dtype when absent. */
  | { elements: number; bytesPerElement?: number };

/** How an op treats memory; `numel` of inputs/outputs are activation-element counts. */
export interface OpMemoryRule {
  /** Output k shares the storage of input `aliasOf[k]` (views, in-place ops, identities). */
  aliasOf?: (number | undefined)[];
  saved: SavedItem[];
  /** Bytes the op's backward holds at once besides the gradients of its inputs (internal gradients). */
  backwardScratchBytes?: number;
}

export interface OpCallFacts {
  op: string;
  inputNumel: number[];
  outputNumel: number[];
  /** Channels (dim 1) of the first input, for per-channel statistics. */
  channels: number;
  /** Rows normalized by a LayerNorm/GroupNorm (numel / normalized size). */
  normalizedRows: number;
  inplace: boolean;
  /** Dropout probability, when the op is a dropout. */
  dropoutP?: number;
  /** Stacked layers × directions of a recurrent module (1 otherwise). */
  rnnLayers: number;
  /** Recurrent backends keep different workspaces on the CPU and on CUDA. */
  device: 'cuda' | 'cpu';
  /** adaptive pooling to a 1×1 map runs as a mean, which keeps no tensor. */
  outputIsGlobalPool: boolean;
  /** Bytes per activation element (4, or 2 under autocast). */
  activationBytes: number;
  /** Tensor arguments that are no activation of the graph (parameters, buffers, tensors made in forward). */
  otherTensorInputs?: number;
  /** nn.MultiheadAttention: the sizes its internal tensors take. */
  attention?: AttentionFacts;
}

/** One nn.MultiheadAttention call: rows are sequence positions × batch. */
export interface AttentionFacts {
  queryRows: number;
  keyRows: number;
  embed: number;
  heads: number;
  batch: number;
  batchFirst: boolean;
  needWeights: boolean;
  dropout: number;
  /** The key and value are the query tensor (self-attention: one packed in-projection). */
  selfAttention: boolean;
}

const INT64 = 8;
const FLOAT32 = 4;
const BOOL = 1;

const NOTHING: OpMemoryRule = { saved: [] };
const ALIAS: OpMemoryRule = { aliasOf: [0], saved: [] };

/** Ops whose output is a view of (or is) their first input: no new storage, nothing saved. */
const VIEW_OPS = new Set([
  'view', 'reshape', 'flatten', 'Flatten', 'Unflatten', 'unflatten', 'squeeze', 'unsqueeze', 'transpose', 't', 'permute',
  'expand', 'expand_as', 'narrow', 'select', 'getitem', 'chunk', 'split', 'unbind', 'contiguous', 'Identity', 'detach',
  'view_as', 'reshape_as', 'movedim', 'swapaxes', 'to', 'float', 'type_as', 'clone_view',
  // torchvision.ops.misc.Permute and MaxViT's SwapAxes: leaf modules around permute/swapaxes.
  'Permute', 'SwapAxes', 'swapdims', 'moveaxis',
]);

/** Elementwise activations that save their output (derivatives.yaml: `result`). */
const SAVES_OUTPUT = new Set(['Sigmoid', 'sigmoid', 'Tanh', 'tanh', 'Softmax', 'softmax', 'LogSoftmax', 'log_softmax', 'exp']);
/** Ops that save their input (`self`). */
const SAVES_INPUT = new Set([
  'GELU', 'gelu', 'SiLU', 'silu', 'Mish', 'mish', 'Hardswish', 'hardswish', 'Hardsigmoid', 'hardsigmoid', 'Softplus', 'softplus',
  'LeakyReLU', 'leaky_relu', 'ELU', 'elu', 'ReLU6', 'relu6', 'Hardtanh', 'hardtanh', 'PReLU', 'prelu',
  'AvgPool1d', 'AvgPool2d', 'AvgPool3d', 'avg_pool1d', 'avg_pool2d', 'avg_pool3d', 'Upsample', 'interpolate', 'UpsamplingNearest2d', 'UpsamplingBilinear2d',
  'abs', 'sqrt', 'rsqrt', 'log', 'pow', 'sum', 'mean',
]);
/** Ops that save every tensor input (products of two activations). */
const SAVES_ALL_INPUTS = new Set(['mul', 'matmul', 'bmm', 'mm', 'einsum', 'div', 'baddbmm']);
/** Ops that keep nothing: the gradient needs only shapes. */
const SAVES_NOTHING = new Set([
  'add', 'sub', 'neg', 'pos', 'cat', 'stack', 'concat', 'pad', 'ZeroPad2d', 'ConstantPad2d', 'sum_', 'Dropout_eval', 'clone', 'repeat',
  // A shift's gradient is the opposite shift; comparisons and factories carry no gradient.
  'roll', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'logical_not', 'logical_and', 'logical_or',
  'new_zeros', 'new_ones', 'new_full', 'new_empty', 'zeros_like', 'ones_like', 'full_like', 'empty_like',
  // MaxViT's window (de)partition modules: view, permute and a contiguous reshape.
  'WindowPartition', 'WindowDepartition',
]);

/** In-place forms that clone their input for backward (the rest save their result). */
const CLONES_WHEN_INPLACE = /^(SiLU|silu|Hardswish|hardswish|Hardsigmoid|hardsigmoid|Mish|mish|pow|abs|log)$/;
const CONV_LINEAR = /^(Conv[123]d|ConvTranspose[123]d|Linear|LazyLinear|Bilinear|conv[123]d|linear|conv_transpose[123]d)$/;
const BATCH_NORM = /^(BatchNorm[123]d|SyncBatchNorm|batch_norm)$/;
const INSTANCE_GROUP_NORM = /^(InstanceNorm[123]d|GroupNorm|instance_norm|group_norm)$/;
const LAYER_NORM = /^(LayerNorm|LayerNorm2d|layer_norm|RMSNorm|rms_norm)$/;
/** Stochastic depth (torchvision StochasticDepth, timm DropPath): input × a per-sample 0/1 scale. */
const STOCHASTIC_DEPTH = /^(StochasticDepth|stochastic_depth|DropPath|drop_path)$/;
const MAX_POOL = /^(MaxPool[123]d|max_pool[123]d|AdaptiveMaxPool[123]d|adaptive_max_pool[123]d)$/;
const ADAPTIVE_AVG = /^(AdaptiveAvgPool[123]d|adaptive_avg_pool[123]d)$/;
const DROPOUT = /^(Dropout[123]?d?|AlphaDropout|dropout[123]?d?|FeatureAlphaDropout)$/;
const RELU = /^(ReLU|relu|relu_|threshold|Threshold)$/;

type RuleFamily =
  | 'view' | 'convLinear' | 'relu' | 'batchNorm' | 'rowNorm' | 'maxPool' | 'adaptiveAvg' | 'dropout' | 'embedding'
  | 'hardtanh' | 'savesOutput' | 'savesInput' | 'savesAllInputs' | 'savesNothing' | 'recurrent' | 'attention'
  | 'stochasticDepth' | 'maskedFill' | 'unknown';

/** Which rule an op name takes, tested in the order below; remembered per name (a trace repeats a few names). */
function familyOf(op: string): RuleFamily {
  if (VIEW_OPS.has(op)) return 'view';
  if (CONV_LINEAR.test(op)) return 'convLinear';
  if (RELU.test(op)) return 'relu';
  if (BATCH_NORM.test(op)) return 'batchNorm';
  if (INSTANCE_GROUP_NORM.test(op) || LAYER_NORM.test(op)) return 'rowNorm';
  if (MAX_POOL.test(op)) return 'maxPool';
  if (ADAPTIVE_AVG.test(op)) return 'adaptiveAvg';
  if (DROPOUT.test(op)) return 'dropout';
  if (STOCHASTIC_DEPTH.test(op)) return 'stochasticDepth';
  if (op === 'masked_fill') return 'maskedFill';
  if (op === 'Embedding' || op === 'embedding') return 'embedding';
  // In place, these clone their input first; otherwise they save it (SAVES_INPUT).
  if (/^(ReLU6|relu6|Hardtanh|hardtanh)$/.test(op)) return 'hardtanh';
  if (SAVES_OUTPUT.has(op)) return 'savesOutput';
  if (SAVES_INPUT.has(op)) return 'savesInput';
  if (SAVES_ALL_INPUTS.has(op)) return 'savesAllInputs';
  if (SAVES_NOTHING.has(op) || op.endsWith('_') && SAVES_NOTHING.has(op.slice(0, -1))) return 'savesNothing';
  if (/^(LSTM|GRU|RNN)$/.test(op)) return 'recurrent';
  if (op === 'MultiheadAttention') return 'attention';
  return 'unknown';
}
const families = new Map<string, RuleFamily>();

/** Every rule has the same fields, so that the memory walk reads them through one object shape. */
function rule(aliasOf: (number | undefined)[] | undefined, saved: SavedItem[], known = true, backwardScratchBytes = 0): OpMemoryRule & { known: boolean } {
  return { aliasOf, saved, known, backwardScratchBytes };
}
const KNOWN_ALIAS = rule(ALIAS.aliasOf, ALIAS.saved);
const KNOWN_NOTHING = rule(undefined, NOTHING.saved);
const SAVES_FIRST_INPUT = rule(undefined, [{ input: 0 }]);
const INPLACE = [0];

/** The memory rule of one call in training mode. Unknown ops save their inputs (the conservative guess). */
export function memoryRule(f: OpCallFacts): OpMemoryRule & { known: boolean } {
  const op = f.op;
  let family = families.get(op);
  if (family === undefined) {
    family = familyOf(op);
    families.set(op, family);
  }
  const inplaceAlias = f.inplace ? INPLACE : undefined;
  switch (family) {
    // chunk/split/unbind: every piece is a view of the input's storage.
    case 'view': return f.outputNumel.length > 1 ? rule(f.outputNumel.map(() => 0), []) : KNOWN_ALIAS;
    case 'convLinear': return SAVES_FIRST_INPUT;
    case 'relu': return rule(inplaceAlias, [{ output: 0 }]);
    case 'batchNorm':
      // Input plus save_mean and save_invstd, one float32 per channel each (also under autocast).
      return rule(undefined, [{ input: 0 }, { elements: 2 * f.channels, bytesPerElement: FLOAT32 }]);
    case 'rowNorm': return rule(undefined, [{ input: 0 }, { elements: 2 * f.normalizedRows, bytesPerElement: FLOAT32 }]);
    case 'maxPool': return rule(undefined, [{ input: 0 }, { elements: f.outputNumel[0] ?? 0, bytesPerElement: INT64 }]);
    case 'adaptiveAvg': return f.outputIsGlobalPool ? KNOWN_NOTHING : SAVES_FIRST_INPUT;
    case 'dropout':
      if (f.dropoutP === 0) return KNOWN_ALIAS;
      return rule(inplaceAlias, [{ elements: f.outputNumel[0] ?? 0, bytesPerElement: BOOL }]);
    case 'embedding': return SAVES_FIRST_INPUT;
    // With p = 0 (or in eval) it returns its input; otherwise a new tensor, keeping only the
    // per-sample scale (batch-sized, negligible).
    case 'stochasticDepth': return f.dropoutP === 0 ? KNOWN_ALIAS : KNOWN_NOTHING;
    // Its gradient is the incoming one with the masked places zeroed: it keeps the mask.
    case 'maskedFill': return f.inplace ? rule(INPLACE, f.inputNumel.length > 1 ? [{ input: 1 }] : []) : rule(undefined, f.inputNumel.length > 1 ? [{ input: 1 }] : []);
    case 'hardtanh':
      // hardtanh_ keeps the input as it was before the write: autograd clones it first
      // (measured on torch 2.13: one aten.clone per in-place ReLU6 in MobileNetV2, all kept).
      if (f.inplace) return rule(INPLACE, [{ elements: f.inputNumel[0] ?? 0 }]);
      return SAVES_FIRST_INPUT;
    case 'savesOutput': return rule(inplaceAlias, [{ output: 0 }]);
    case 'savesInput':
      // In place, an op whose gradient needs its input gets a copy of it first (autograd's
      // `original_self`; measured on torch 2.13: one aten.clone per silu_/hardswish_/... call);
      // the others' in-place forms use their result.
      if (f.inplace) return CLONES_WHEN_INPLACE.test(op) ? rule(INPLACE, [{ elements: f.inputNumel[0] ?? 0 }]) : rule(INPLACE, [{ output: 0 }]);
      return SAVES_FIRST_INPUT;
    case 'savesAllInputs':
      // `x * 0.5`, `x / scale`: with a Python number as the other factor the gradient needs only
      // that number (derivatives.yaml saves the other operand, here not a tensor). With a
      // parameter as the other factor (LayerScale's `gamma * x`) x is kept for gamma's gradient.
      if (f.inputNumel.length === 1 && !f.otherTensorInputs && (op === 'mul' || op === 'div')) return f.inplace ? rule(INPLACE, []) : KNOWN_NOTHING;
      return rule(undefined, f.inputNumel.map((_, i) => ({ input: i })));
    case 'savesNothing': return f.inplace ? rule(INPLACE, []) : KNOWN_NOTHING;
    case 'recurrent': {
      // Every layer keeps its output sequence plus the backend's workspace. CPU LSTM (oneDNN
      // mkldnn_rnn_layer) measured 15.7 workspace bytes-of-float32 per output element on torch
      // 2.13 (8,220,672 bytes for T=64, N=8, H=256). cuDNN's reserve space is not measured yet:
      // its gates and states (4H + 2H per step for LSTM, 3H + 1H for GRU) are the estimate.
      const perOutput = op === 'LSTM' ? (f.device === 'cpu' ? 1 + 15.7 : 1 + 6) : op === 'GRU' ? 1 + 4 : 2;
      return rule(undefined, [{ input: 0 }, { elements: Math.round(perOutput * f.rnnLayers * (f.outputNumel[0] ?? 0)) }]);
    }
    case 'attention': return f.attention ? attentionRule(f.attention, f.device, f.activationBytes) : rule(undefined, f.inputNumel.map((_, i) => ({ input: i })), false);
    case 'unknown': return rule(undefined, f.inputNumel.map((_, i) => ({ input: i })), false);
  }
}

/**
 * What F.multi_head_attention_forward keeps (torch 2.13, traced op by op on the CPU): the
 * in-projection's input (a contiguous copy when batch_first, the query itself otherwise), the
 * projected q/k/v made contiguous (kept through the views attention saves), the attention
 * output made contiguous for the out-projection, and the attention core. Without
 * need_weights the core is scaled_dot_product_attention: a fused kernel where it has one
 * (CUDA; the CPU's flash kernel only without dropout) keeps its output and a float32
 * logsumexp per row and head; the math path keeps the scaled q and k, the softmax, and with
 * dropout its mask and the dropped weights, each batch × heads × L × S (float32 on the CPU,
 * whose math path upcasts under autocast; on CUDA the softmax runs in float32 under autocast).
 * Its backward holds two weight-sized gradients at once (of the dropped and of the softmaxed
 * weights) and the packed q/k/v gradient.
 */
function attentionRule(a: AttentionFacts, device: 'cuda' | 'cpu', activationBytes: number): OpMemoryRule & { known: boolean } {
  const queryElements = a.queryRows * a.embed;
  const keyElements = a.keyRows * a.embed;
  const qkvElements = a.selfAttention ? 3 * queryElements : queryElements + 2 * keyElements;
  const weights = a.batch > 0 ? (a.queryRows * a.keyRows * a.heads) / a.batch : 0;
  const saved: SavedItem[] = [
    a.batchFirst ? { elements: queryElements } : { input: 0 },
    { elements: qkvElements },
    { elements: queryElements },
  ];
  const fused = !a.needWeights && (device === 'cuda' || a.dropout === 0);
  if (fused) {
    saved.push({ elements: queryElements }, { elements: a.queryRows * a.heads, bytesPerElement: FLOAT32 });
    return rule(undefined, saved, true, qkvElements * activationBytes);
  }
  const coreBytes = device === 'cpu' ? FLOAT32 : activationBytes;
  saved.push({ elements: a.needWeights ? queryElements : queryElements + keyElements, bytesPerElement: coreBytes });
  saved.push({ elements: weights, bytesPerElement: FLOAT32 });
  if (a.dropout > 0) saved.push({ elements: weights, bytesPerElement: device === 'cpu' ? FLOAT32 : BOOL }, { elements: weights, bytesPerElement: coreBytes });
  return rule(undefined, saved, true, 2 * weights * (device === 'cpu' ? FLOAT32 : activationBytes) + qkvElements * activationBytes);
}
