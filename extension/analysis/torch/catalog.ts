// CONTRACT between the interpreter and the torch catalog. The catalog (this folder, one
// file per op family: conv, pool, norm, activation, recurrent, attention, tensorOps, ...)
// implements `createTorchCatalog`; the interpreter calls it once per analysis run.
import type { BuiltinImpl, CallContext, TensorValue, Value } from '../interp/values';

export type BinaryOperator =
  | '+' | '-' | '*' | '/' | '//' | '%' | '**' | '@' | '&' | '|' | '^' | '<<' | '>>'
  | '==' | '!=' | '<' | '<=' | '>' | '>=';
export type UnaryOperator = '-' | '+' | '~' | 'not';

export interface TorchCatalog {
  /**
   * Members of the torch Python modules by dotted module name: 'torch', 'torch.nn',
   * 'torch.nn.functional', 'torch.nn.init', 'torch.nn.modules.utils', ...
   * Leaf layers are ClassValues with `builtinModule` set and `mro` = [itself, moduleBase].
   * Functions are BuiltinFunctionValues. The interpreter adds nn.Module, Sequential,
   * ModuleList, ModuleDict, Parameter, ParameterList/Dict itself (they need its machinery).
   */
  modules: Map<string, Map<string, Value>>;
  /** Tensor method by name (`x.view(...)`); the impl receives the tensor as args[0]. */
  tensorMethod(name: string): BuiltinImpl | undefined;
  /** Non-callable tensor attribute (`shape`, `ndim`, `T`, `dtype`, `device`, `is_cuda`, ...), undefined if not one. */
  tensorAttribute(t: TensorValue, name: string, ctx: CallContext): Value | undefined;
  /** `a op b` where at least one side is a tensor (broadcasting, matmul). */
  binaryOp(op: BinaryOperator, a: Value, b: Value, ctx: CallContext): Value;
  unaryOp(op: UnaryOperator, a: TensorValue, ctx: CallContext): Value;
  /** `t[index]` (ints, slices, None, Ellipsis, tuples of those, tensors). */
  getItem(t: TensorValue, index: Value, ctx: CallContext): Value;
}

export { createTorchCatalog } from './index';
