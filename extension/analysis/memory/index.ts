// The memory fields of a ModelReport from the memory model: the breakdown at the analyzed
// batch, dtype and optimizer, per-layer saved bytes, and the largest batch per setting.
import type { GraphReport, LayerReport, MemoryReport, ReportDim } from '../reportTypes';
import { estimateMemory, largestBatchThatFits, momentsWithOptimizer, type MemoryModelInput, type Optimizer, type TrainingDType, type TrainingOptions } from './trainingMemory';

export { estimateMemory, largestBatchThatFits, momentsWithOptimizer, OPTIMIZER_STATES } from './trainingMemory';
export type { MemoryEstimate, MemoryModelInput, MemoryMoment, Optimizer, ParameterTensor, TrainingDType, TrainingOptions } from './trainingMemory';
export { cublasWorkspaces, cudaBlockBytes, type GpuDevice } from './cudaRuntime';

const OPTIMIZERS: Optimizer[] = ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop'];
const DTYPES: TrainingDType[] = ['float32', 'bfloat16', 'float16'];

export interface ModelMemory {
  memory: MemoryReport;
  /** Saved bytes per layer, aligned with the report's layers. */
  layerSaved: number[];
}

/** Where the step runs and how: device, optimizer path, GPU (TrainingOptions less dtype and optimizer). */
export type MemoryRuntime = Omit<TrainingOptions, 'dtype' | 'optimizer'>;

export function modelMemory(input: MemoryModelInput, layers: readonly LayerReport[], dtype: TrainingDType, optimizer: Optimizer, capacityBytes: number, runtime: MemoryRuntime = { device: 'cuda' }, maxBatchTable = true): ModelMemory {
  const e = estimateMemory(input, { ...runtime, dtype, optimizer });
  const memory: MemoryReport = {
    params_bytes: e.params_bytes,
    grads_bytes: e.grads_bytes,
    optimizer_bytes: e.optimizer_bytes,
    activations_bytes: e.saved_bytes,
    training_peak_bytes: e.training_peak_bytes,
    inference_peak_bytes: e.inference_peak_bytes,
    buffers_bytes: e.buffers_bytes,
    input_bytes: e.input_bytes,
    saved_bytes: e.saved_bytes,
    training_peak_at: e.training_peak_at,
  };
  if (e.cuda_device !== undefined) {
    memory.cublas_workspace_bytes = e.cublas_workspace_bytes;
    memory.cuda_device = e.cuda_device;
  }
  const batch = batchOf(input.inputs[0]?.shape);
  if (maxBatchTable && batch !== undefined && !e.incomplete) {
    const entries: NonNullable<MemoryReport['max_batch']>['entries'] = [];
    for (const d of DTYPES) {
      // One walk per dtype: the optimizer only adds constant bytes (see momentsWithOptimizer).
      const walked = d === dtype ? e : estimateMemory(input, { ...runtime, dtype: d, optimizer });
      for (const o of OPTIMIZERS) {
        const moments = o === optimizer ? walked.moments : momentsWithOptimizer(walked, input, { ...runtime, dtype: d, optimizer }, o);
        entries.push({ optimizer: o, dtype: d, batch: largestBatchThatFits(moments, batch, capacityBytes) });
      }
    }
    memory.max_batch = { capacity_bytes: capacityBytes, entries };
  }
  return { memory, layerSaved: alignToLayers(input.graph, e.savedPerNode, layers) };
}

function batchOf(shape: readonly ReportDim[] | undefined): number | undefined {
  const b = shape?.[0];
  return typeof b === 'number' && b > 0 ? b : undefined;
}

/** Graph module nodes are the leaf-layer calls in the same order; match them by path. */
function alignToLayers(graph: GraphReport, savedPerNode: readonly number[], layers: readonly LayerReport[]): number[] {
  const out = layers.map(() => 0);
  let next = 0;
  graph.nodes.forEach((node, index) => {
    if (node.kind !== 'module') return;
    for (let j = next; j < layers.length; j++) {
      if (layers[j].path === (node.path ?? '')) {
        out[j] = savedPerNode[index] ?? 0;
        next = j + 1;
        return;
      }
    }
  });
  return out;
}
