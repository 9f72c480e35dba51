// What catalog entries may need from the catalog being built: the ClassValues of other
// layers (MultiheadAttention creates its out_proj child, TransformerEncoderLayer its
// attention/linear/norm children, LazyLinear becomes a Linear) and the dtype values.
import type { ClassValue, DType, Value } from '../interp/values';
import type { PackedSequences } from './packed';

export interface CatalogEnv {
  /** Catalog layer classes by PyTorch class name. */
  classes: Map<string, ClassValue>;
  /** The `torch.float32`-style value of a dtype. */
  dtypeValue(dtype: DType): Value;
  /** A `torch.device` value ('cpu', 'cuda', ...). Tensors are analysed as living on the CPU. */
  deviceValue(type: string): Value;
  /** A torch.nn.functional builtin by name (the default activation of Transformer layers). */
  functional(name: string): Value;
  /** A torch.<name> builtin (torch.add for the Transformer layers' residual sums, so the graph records them). */
  torchFunction(name: string): Value;
  /** torch.nn.ModuleList & co.: the interpreter's class when installed, else the catalog's stand-in. */
  containerClass(name: string): ClassValue | undefined;
  /** torch.nn.utils.rnn.PackedSequence support. */
  packed: PackedSequences;
  /** The DType a value denotes (`torch.float16`, `torch.half`, 'float16'), if any. */
  dtypeOf(v: Value | undefined): DType | undefined;
}
