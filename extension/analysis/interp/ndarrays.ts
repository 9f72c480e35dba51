// What the small numpy (builtins.ts) knows about an ndarray: its numbers in row-major order,
// its shape and its dtype. torch.from_numpy reads it, so `torch.from_numpy(np.eye(k))` keeps
// its shape and values.
import type { InstanceValue, Value } from './values';

export interface NdarrayContents {
  values: number[];
  shape: number[];
  /** numpy's dtype name: float64, float32, int64, ... */
  dtype: string;
}

const contents = new WeakMap<InstanceValue, NdarrayContents>();

export function recordNdarray(array: InstanceValue, value: NdarrayContents): void {
  contents.set(array, value);
}

export function ndarrayContents(v: Value | undefined): NdarrayContents | undefined {
  return v?.kind === 'instance' ? contents.get(v) : undefined;
}
