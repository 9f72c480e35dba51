// A model of one steady training step's memory (the third step of a loop that calls
// zero_grad(set_to_none=True), forward, cross-entropy, backward, optimizer.step()), and of
// inference. It walks the forward graph with storage liveness: a tensor lives until its
// last use in forward unless an op saved it for backward; then the backward walks the ops in
// reverse, making gradients of inputs and parameters and freeing what each op saved.
//
// Mixed precision (bfloat16/float16 autocast): parameters, gradients and optimizer state
// stay float32; activations are 2 bytes; conv/linear keep a 2-byte cast copy of their
// weight (saved for backward) and of a float32 model input; the loss runs in float32.
import type { GraphArgument, GraphReport, GraphTensorRef, ReportDim } from '../reportTypes';
import { memoryRule, type OpCallFacts } from './savedTensors';

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
}

export interface TrainingOptions {
  dtype: TrainingDType;
  optimizer: Optimizer;
  /** CUDA parameters take the foreach optimizer path; CPU ones the per-tensor path. */
  device: 'cuda' | 'cpu';
}

export interface MemoryMoment {
  /** 'forward:<op index>' | 'loss' | 'backward:<op index>' | 'optimizer' */
  at: string;
  bytes: number;
  /** Bytes that do not grow with the batch (parameters, buffers, their gradients, optimizer state, weight casts). */
  fixedBytes: number;
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
}

interface Storage { fixed?: boolean; output?: boolean; bytes: number; lastUse: number; savedUntil: number; keepToEnd: boolean; created: number }

function numelOf(shape: readonly ReportDim[] | undefined): number | undefined {
  if (!shape) return undefined;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') return undefined;
    n *= d;
  }
  return n;
}

function refKey(r: GraphTensorRef): string | undefined {
  if ('node' in r) return `n${r.node}.${r.output}`;
  if ('input' in r) return `i${r.input}`;
  return undefined;
}

function tensorRefs(args: readonly GraphArgument[], out: GraphTensorRef[] = []): GraphTensorRef[] {
  for (const a of args) {
    if (Array.isArray(a)) tensorRefs(a, out);
    else if (a !== null && typeof a === 'object' && 'tensor' in a) out.push(a.tensor);
  }
  return out;
}

function boolArg(v: GraphArgument | undefined): boolean {
  return v === true;
}

export function estimateMemory(m: MemoryModelInput, options: TrainingOptions): MemoryEstimate {
  const act = options.dtype === 'float32' ? 4 : 2;
  const autocast = options.dtype !== 'float32';
  const nodes = m.graph.nodes;
  let incomplete = false;
  const unknownOps = new Set<string>();

  const storageOf = new Map<string, Storage>();
  const numelOfRef = new Map<string, number>();
  const requiresGrad = new Set<string>();
  const storages: Storage[] = [];
  const newStorage = (bytes: number, created: number): Storage => {
    const s: Storage = { bytes, lastUse: created, savedUntil: Infinity, keepToEnd: false, created };
    storages.push(s);
    return s;
  };
  // Model inputs live for the whole step: the training loop holds the batch.
  m.inputs.forEach((inp, i) => {
    const n = numelOf(inp.shape);
    if (n === undefined) incomplete = true;
    const s = newStorage((n ?? 0) * inp.bytesPerElement, -1);
    s.keepToEnd = true;
    storageOf.set(`i${i}`, s);
    numelOfRef.set(`i${i}`, n ?? 0);
  });
  const inputBytes = storages.reduce((a, s) => a + s.bytes, 0);

  const shapeOfRef = (r: GraphTensorRef): readonly ReportDim[] | undefined =>
    'node' in r ? nodes[r.node]?.outputs[r.output] : 'input' in r ? m.inputs[r.input]?.shape : undefined;

  // Per node: the storages it keeps for backward (autocast adds its weight and batch casts).
  const savedByNode: Storage[][] = [];
  const inputKeysByNode: string[][] = [];
  const savedPerNode: number[] = [];
  nodes.forEach((node, index) => {
    const inputRefs = [...tensorRefs(node.args), ...tensorRefs(Object.values(node.kwargs))];
    const inputKeys = inputRefs.map(refKey).filter((k): k is string => k !== undefined && storageOf.has(k));
    inputKeysByNode.push(inputKeys);
    const outputNumel = node.outputs.map((s) => {
      const n = numelOf(s);
      if (n === undefined) incomplete = true;
      return n ?? 0;
    });
    const firstInput = inputRefs[0] ? shapeOfRef(inputRefs[0]) : undefined;
    const channels = typeof firstInput?.[1] === 'number' ? firstInput[1] : 0;
    const lastDim = typeof firstInput?.[firstInput.length - 1] === 'number' ? (firstInput[firstInput.length - 1] as number) : 1;
    const inputNumel = inputKeys.map((k) => numelOfRef.get(k) ?? 0);
    const p = node.attrs['p'] ?? node.kwargs['p'] ?? node.args[1];
    const facts: OpCallFacts = {
      op: node.op,
      inputNumel,
      outputNumel,
      channels,
      normalizedRows: /GroupNorm|group_norm/.test(node.op) ? (typeof firstInput?.[0] === 'number' ? firstInput[0] : 0) * (typeof node.attrs['num_groups'] === 'number' ? node.attrs['num_groups'] : 1) : Math.floor((inputNumel[0] ?? 0) / Math.max(1, lastDim)),
      inplace: boolArg(node.attrs['inplace']) || boolArg(node.kwargs['inplace']) || (node.kind === 'method' && node.op.endsWith('_')),
      rnnLayers: (typeof node.attrs['num_layers'] === 'number' ? node.attrs['num_layers'] : 1) * (node.attrs['bidirectional'] === true ? 2 : 1),
      device: options.device,
      outputIsGlobalPool: (node.outputs[0] ?? []).slice(2).every((d) => d === 1),
    };
    if (typeof p === 'number') facts.dropoutP = p;
    const rule = memoryRule(node.op.endsWith('_') && node.kind === 'method' ? { ...facts, op: node.op.slice(0, -1) } : facts);
    if (!rule.known) unknownOps.add(node.op);
    const isParamOp = node.path !== undefined && (m.paramsByPath.get(node.path) ?? 0) > 0;
    const needsGrad = isParamOp || inputKeys.some((k) => requiresGrad.has(k));
    node.outputs.forEach((_, k) => {
      const key = `n${index}.${k}`;
      const alias = rule.aliasOf?.[k];
      const aliased = alias !== undefined ? inputKeys[alias] : undefined;
      const s = aliased !== undefined ? storageOf.get(aliased)! : newStorage(outputNumel[k] * act, index);
      s.output = true;
      storageOf.set(key, s);
      numelOfRef.set(key, outputNumel[k]);
      if (needsGrad) requiresGrad.add(key);
    });
    for (const k of inputKeys) storageOf.get(k)!.lastUse = Math.max(storageOf.get(k)!.lastUse, index);
    const kept: Storage[] = [];
    // Nothing is saved when no gradient will flow through the op (a frozen backbone's ops).
    if (needsGrad) {
      for (const item of rule.saved) {
        if ('input' in item) {
          const key = inputKeys[item.input];
          if (key !== undefined) kept.push(storageOf.get(key)!);
        } else if ('output' in item) {
          kept.push(storageOf.get(`n${index}.${item.output}`)!);
        } else {
          kept.push(newStorage(item.elements * (item.bytesPerElement ?? act), index));
        }
      }
      if (autocast && /^(Conv[123]d|ConvTranspose[123]d|Linear|conv[123]d|linear)$/.test(node.op)) {
        const cast = newStorage((m.paramsByPath.get(node.path ?? '') ?? 0) * 2, index);
        cast.fixed = true;
        kept.push(cast);
        const first = inputKeys[0];
        if (first?.startsWith('i')) kept.push(newStorage((numelOfRef.get(first) ?? 0) * 2, index));
      }
    }
    for (const s of kept) s.savedUntil = Math.min(s.savedUntil, index);
    const unique = [...new Set(kept)];
    savedByNode.push(unique);
    savedPerNode.push(0);
  });
  // Per-layer numbers: each saved storage counts once, at the first op that keeps it.
  const attributed = new Set<Storage>();
  savedByNode.forEach((kept, index) => {
    for (const s of kept) {
      if (attributed.has(s) || s.created < 0) continue;
      attributed.add(s);
      savedPerNode[index] += s.bytes;
    }
  });

  const outputKeys = m.graph.outputs.map(refKey).filter((k): k is string => k !== undefined);
  for (const k of outputKeys) storageOf.get(k)!.keepToEnd = true;

  const fixedBase = m.totalParams * 4 + m.buffersBytes + m.trainableParams * 4 * OPTIMIZER_STATES[options.optimizer];
  const moments: MemoryMoment[] = [];

  // Forward, training: storages are freed after their last use unless saved or held to the end.
  let live = fixedBase + inputBytes;
  const freedForward = new Set<Storage>();
  let inferenceLive = m.totalParams * 4 + m.buffersBytes + inputBytes;
  let inferencePeak = inferenceLive;
  let fixedCasts = 0;
  // Bucketed by node so the walk stays linear in the number of ops (long traces have thousands).
  const createdAt = nodes.map((): Storage[] => []);
  const lastUsedAt = nodes.map((): Storage[] => []);
  for (const s of storages) {
    if (s.created >= 0) createdAt[s.created].push(s);
    if (s.created >= 0 && s.lastUse >= 0) lastUsedAt[s.lastUse].push(s);
  }
  nodes.forEach((_, index) => {
    const created = createdAt[index];
    live += created.reduce((a, s) => a + s.bytes, 0);
    fixedCasts += created.filter((s) => s.fixed).reduce((a, s) => a + s.bytes, 0);
    moments.push({ at: `forward:${index}`, bytes: live, fixedBytes: fixedBase + fixedCasts });
    // Inference keeps only op outputs (no masks, indices or casts), each until its last use.
    inferenceLive += created.filter((s) => s.output).reduce((a, s) => a + s.bytes, 0);
    inferencePeak = Math.max(inferencePeak, inferenceLive);
    for (const s of lastUsedAt[index]) {
      if (s.keepToEnd) continue;
      if (s.output) inferenceLive -= s.bytes;
      if (s.savedUntil === Infinity) {
        freedForward.add(s);
        live -= s.bytes;
      }
    }
  });

  // Cross-entropy on the first output: log_softmax output (float32) is saved, the target is int64 per row.
  const logitsKey = outputKeys[0];
  const logits = logitsKey ? numelOfRef.get(logitsKey) ?? 0 : 0;
  const logitsShape = logitsKey && logitsKey.startsWith('n') ? nodes[Number(logitsKey.slice(1).split('.')[0])]?.outputs[0] : undefined;
  // Cross-entropy over every position: one label per row of the flattened logits.
  const classes = typeof logitsShape?.[logitsShape.length - 1] === 'number' ? (logitsShape[logitsShape.length - 1] as number) : 1;
  const rows = logits > 0 ? Math.round(logits / Math.max(1, classes)) : 1;
  const lossSaved = logits * 4 + (autocast ? logits * 4 : 0);
  const targetBytes = rows * 8;
  live += lossSaved + targetBytes + 4;
  const savedAtEnd = storages.filter((s) => s.created >= 0 && !freedForward.has(s) && s.savedUntil !== Infinity).reduce((a, s) => a + s.bytes, 0);
  moments.push({ at: 'loss', bytes: live, fixedBytes: fixedBase + fixedCasts });

  // Backward: gradients of tensors that require grad, parameter gradients as each op's backward runs.
  const gradBytes = new Map<string, number>();
  const paramGradsByNode = nodes.map((n) => (n.path !== undefined ? m.paramsByPath.get(n.path) ?? 0 : 0) * 4);
  const attributedGrads = paramGradsByNode.reduce((a, b) => a + b, 0);
  let paramGrads = Math.max(0, m.trainableParams * 4 - attributedGrads);
  live += paramGrads;
  const logitsGrad = logits * act;
  if (logitsKey) gradBytes.set(logitsKey, logitsGrad);
  live += logitsGrad;
  live -= lossSaved;
  moments.push({ at: 'backward:loss', bytes: live, fixedBytes: fixedBase + fixedCasts + paramGrads });
  for (let index = nodes.length - 1; index >= 0; index--) {
    const node = nodes[index];
    const outKeys = node.outputs.map((_, k) => `n${index}.${k}`);
    const hasGradOut = outKeys.some((k) => gradBytes.has(k));
    if (!hasGradOut && paramGradsByNode[index] === 0) {
      for (const s of savedByNode[index]) if (s.savedUntil === index && !s.keepToEnd) {
        live -= s.bytes;
        if (s.fixed) fixedCasts -= s.bytes;
      }
      continue;
    }
    const isView = storageOf.get(outKeys[0]) !== undefined && inputKeysByNode[index][0] !== undefined && storageOf.get(outKeys[0]) === storageOf.get(inputKeysByNode[index][0]) && savedByNode[index].length === 0;
    let allocated = 0;
    const viewSource = inputKeysByNode[index][0];
    if (isView && viewSource !== undefined && requiresGrad.has(viewSource) && !gradBytes.has(viewSource)) {
      // A view's backward is a view of the incoming gradient: the buffer passes to the input.
      gradBytes.set(viewSource, gradBytes.get(outKeys[0]) ?? 0);
      gradBytes.delete(outKeys[0]);
    }
    for (const k of new Set(inputKeysByNode[index])) {
      if (!requiresGrad.has(k) || gradBytes.has(k)) continue;
      const bytes = (numelOfRef.get(k) ?? 0) * act;
      gradBytes.set(k, bytes);
      allocated += bytes;
    }
    allocated += paramGradsByNode[index];
    paramGrads += paramGradsByNode[index];
    live += allocated;
    moments.push({ at: `backward:${index}`, bytes: live, fixedBytes: fixedBase + fixedCasts + paramGrads });
    for (const s of savedByNode[index]) if (s.fixed && s.savedUntil === index) fixedCasts -= s.bytes;
    for (const s of savedByNode[index]) if (s.savedUntil === index && !s.keepToEnd) live -= s.bytes;
    for (const k of outKeys) {
      const g = gradBytes.get(k);
      if (g !== undefined) live -= g;
      gradBytes.delete(k);
    }
  }
  // Storages of the model output and the loss are held by the loop until the step ends; grads of inputs are not made.
  const optimizerTemp = options.device === 'cuda' ? m.trainableParams * 4 * OPTIMIZER_FOREACH_TEMPORARIES[options.optimizer] : m.largestParam * 4 * OPTIMIZER_PER_TENSOR_TEMPORARIES[options.optimizer];
  const afterBackward = fixedBase + m.trainableParams * 4 + inputBytes + targetBytes;
  moments.push({ at: 'optimizer', bytes: afterBackward + optimizerTemp, fixedBytes: fixedBase + m.trainableParams * 4 + optimizerTemp });

  let peak = moments[0] ?? { at: 'optimizer', bytes: afterBackward, fixedBytes: afterBackward };
  for (const mo of moments) if (mo.bytes > peak.bytes) peak = mo;
  return {
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
  };
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
    const room = capacityBytes - mo.fixedBytes;
    if (room < 0) return 0;
    if (perSample > 0) best = Math.min(best, Math.floor(room / perSample));
  }
  return Number.isFinite(best) ? best : 0;
}
