// The small hand-checked graph the memory-model tests walk (memory.test.ts, memoryCuda.test.ts):
// input [2,3,8,8] → Conv2d(3,4,3,padding=1) → ReLU(inplace) → MaxPool2d(2) → flatten → Linear(64,10).
import type { MemoryModelInput } from '../../extension/analysis/memory/index';
import type { GraphNodeReport } from '../../extension/analysis/reportTypes';

/** A graph node fed by the model input or by output 0 of an earlier node. */
export function node(op: string, from: number | 'input', outputs: number[][], extra: Partial<GraphNodeReport> = {}): GraphNodeReport {
  const ref = from === 'input' ? { input: 0 } : { node: from, output: 0 };
  return { op, kind: 'module', attrs: {}, args: [{ tensor: ref }], kwargs: {}, outputs, file: '', line: 0, col: 0, ...extra };
}

export const smallModel: MemoryModelInput = {
  graph: {
    nodes: [
      node('Conv2d', 'input', [[2, 4, 8, 8]], { path: 'conv' }),
      node('ReLU', 0, [[2, 4, 8, 8]], { path: 'relu', attrs: { inplace: true } }),
      node('MaxPool2d', 1, [[2, 4, 4, 4]], { path: 'pool' }),
      node('flatten', 2, [[2, 64]], { kind: 'method' }),
      node('Linear', 3, [[2, 10]], { path: 'fc' }),
    ],
    outputs: [{ node: 4, output: 0 }],
  },
  inputs: [{ shape: [2, 3, 8, 8], bytesPerElement: 4 }],
  paramsByPath: new Map([['conv', 112], ['fc', 650]]),
  totalParams: 762,
  trainableParams: 762,
  largestParam: 640,
  buffersBytes: 0,
};
