// The values the abstract interpreter computes with. CONTRACT between the interpreter
// (analysis/interp, owner of this file) and the torch catalog (analysis/torch).
// Anything the interpreter cannot know is an UnknownValue; operations on it stay Unknown
// and never throw.
import type { Dim, Shape } from '../shape/dim';

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool' | 'complex64' | 'complex128';

/** Where a value or a call comes from, for diagnostics and for the layer table. */
export interface SourceLocation {
  file: string;
  /** 1-based line, 0-based column, like the `netlens analyze` JSON. */
  line: number;
  col: number;
  endLine?: number;
  endCol?: number;
}

export interface NoneValue { kind: 'none' }
export interface BoolValue { kind: 'bool'; value: boolean }
/** Python int. May be a symbolic dimension (e.g. `x.size(2)` of a symbolic input). */
export interface IntValue { kind: 'int'; value: Dim }
export interface FloatValue { kind: 'float'; value: number }
export interface StrValue { kind: 'str'; value: string }
export interface TupleValue {
  kind: 'tuple';
  items: Value[];
  /** Field names of a torch.return_types result (values, indices): readable as attributes. */
  fields?: readonly string[];
}
export interface ListValue { kind: 'list'; items: Value[] }
/** dict / OrderedDict. Keys are restricted to hashable constants (str/int/bool/None) keyed by `dictKey()`. */
export interface DictValue {
  kind: 'dict';
  entries: Map<string, { key: Value; value: Value }>;
  ordered?: boolean;
  /** A Python set (values are None); frozenset too. */
  isSet?: boolean;
  /** collections.defaultdict: called for a missing key on read, and its result stored under it. */
  defaultFactory?: Value;
  /** collections.Counter: what a missing key reads as (0), without storing it. */
  missingValue?: Value;
}
export interface SliceValue { kind: 'slice'; start: Value; stop: Value; step: Value }
/** `...` */
export interface EllipsisValue { kind: 'ellipsis' }

/** A tensor: its shape (null = unknown rank) and dtype. */
export interface TensorValue {
  kind: 'tensor';
  shape: Shape | null;
  dtype: DType;
  /** Set when this tensor is an nn.Parameter (counted in params). */
  isParameter?: boolean;
  requiresGrad?: boolean;
  /** Unique id: parameters are deduplicated by identity (shared weights count once). */
  id: number;
}

export interface UnknownValue {
  kind: 'unknown';
  /** Why it is unknown (shown in info diagnostics), optional. */
  reason?: string;
  /**
   * The Python type the value certainly has, when only its contents are unknown
   * (`t.tolist()` of a tensor whose values are not followed is a list): isinstance() decides on it.
   */
  pythonType?: 'int' | 'float' | 'bool' | 'list';
}

/**
 * A function implemented in TypeScript (torch.*, F.*, math.*, builtins, tensor methods).
 * `self` is bound for methods.
 */
export interface BuiltinFunctionValue {
  kind: 'builtin';
  name: string;
  call: BuiltinImpl;
  self?: Value;
}

export type BuiltinImpl = (args: Value[], kwargs: Map<string, Value>, ctx: CallContext) => Value;

/** Interpreter-owned values (user functions, classes, instances, Python modules). */
export interface FunctionValue { kind: 'function'; name: string; /** interpreter-private */ impl: unknown; self?: Value }
export interface ClassValue {
  kind: 'class';
  name: string;
  /** Method resolution order, this class first. */
  mro: ClassValue[];
  /** Class attributes and methods (own, not inherited). */
  attrs: Map<string, Value>;
  /** Set on nn layers implemented by the torch catalog. */
  builtinModule?: ModuleSpec;
  /** true for torch.nn.Module itself and every subclass. */
  isModule: boolean;
  location?: SourceLocation;
}
export interface InstanceValue {
  kind: 'instance';
  cls: ClassValue;
  /** Plain attributes (not parameters/buffers/children). */
  attrs: Map<string, Value>;
  /**
   * Present when cls.isModule. Always a field (undefined otherwise), so that every instance
   * shares one hidden class in V8 whatever made it.
   */
  module: ModuleState | undefined;
  id: number;
}
export interface PyModuleValue { kind: 'pymodule'; name: string; attrs: Map<string, Value>; file?: string }

export type Value =
  | NoneValue | BoolValue | IntValue | FloatValue | StrValue | TupleValue | ListValue | DictValue
  | SliceValue | EllipsisValue | TensorValue | UnknownValue | BuiltinFunctionValue
  | FunctionValue | ClassValue | InstanceValue | PyModuleValue;

/** nn.Module bookkeeping, in registration order (like PyTorch's _parameters/_buffers/_modules). */
export interface ModuleState {
  params: Map<string, TensorValue | NoneValue>;
  buffers: Map<string, TensorValue | NoneValue>;
  children: Map<string, InstanceValue | NoneValue>;
  training: boolean;
  /** Where the module was constructed. */
  createdAt: SourceLocation | undefined;
  /**
   * Constructor arguments of a catalog layer written as integer literals (or arithmetic of
   * them) in the analyzed file, by parameter name: only their text can be replaced by a
   * computed number with certainty (a quick fix).
   */
  literalArguments: Map<string, SourceLocation> | undefined;
}

/**
 * A leaf nn layer implemented by the catalog (Conv2d, ReLU, LSTM, ...).
 * The interpreter binds constructor args with `signature`, calls `init`, and on a call of
 * the instance calls `forward` and records a layer call (path, type, outputs, own params, macs).
 */
export interface ModuleSpec {
  /** Class name as PyTorch spells it, e.g. "Conv2d". */
  name: string;
  /** Constructor parameters after `self`, in order, with PyTorch's defaults. */
  signature: ParamSpec[];
  /** Fill parameters/buffers (in PyTorch's registration order) and attributes. */
  init(self: InstanceValue, args: BoundArgs, ctx: CallContext): void;
  /** Forward parameters after `self` (e.g. input, or input, hx for RNNs). */
  forwardSignature: ParamSpec[];
  forward(self: InstanceValue, args: BoundArgs, ctx: CallContext): Value;
  /** Multiply-accumulates of one call, from the bound inputs and the output. */
  macs?(self: InstanceValue, args: BoundArgs, output: Value): Dim;
  /**
   * Optional: the output-size arithmetic of one call written out for hovers, one line per
   * computed dimension, e.g. "H: (224 − 11 + 2·2)/4 + 1 = 55" (fills LayerReport.arithmetic).
   */
  arithmetic?(self: InstanceValue, args: BoundArgs, output: Value): string[];
}

export interface ParamSpec {
  name: string;
  /** Absent = required. */
  default?: Value;
  kind?: 'positional' | 'varargs' | 'keyword-only' | 'varkw';
}

/** Arguments bound to a signature by name. varargs → tuple, varkw → dict. */
export type BoundArgs = Map<string, Value>;

export type Severity = 'error' | 'warning' | 'info';

/** A fix a catalog rule proposes: write `newText` in place of a constructor argument of `module`. */
export interface ArgumentFix {
  module: InstanceValue;
  /** Parameter name in the layer's signature, e.g. "in_features". */
  argument: string;
  newText: string;
  title: string;
}

/** Optional detail of a diagnostic: a machine-readable code, and a fix that the interpreter keeps only when it is certain. */
export interface DiagnosticExtra {
  code?: string;
  fix?: ArgumentFix;
}

/** What a builtin may ask of the interpreter. */
export interface CallContext {
  /** The source location of the call being evaluated. */
  location: SourceLocation;
  diagnostic(severity: Severity, message: string, location?: SourceLocation, extra?: DiagnosticExtra): void;
  /** Call any callable value (user function, module instance, builtin). */
  callValue(fn: Value, args: Value[], kwargs?: Map<string, Value>): Value;
  /** Add MACs of a functional op (F.conv2d, matmul, ...) to the current model's total. */
  addMacs(macs: Dim): void;
  /** Fresh tensor id. */
  newTensor(shape: Shape | null, dtype?: DType): TensorValue;
  /** Is the model in training mode (self.training). */
  training: boolean;
  /**
   * Optional: tell the interpreter that a symbolic dimension must equal a concrete size
   * (e.g. the flattened features reaching `Linear(400)`). When the input was not given,
   * the interpreter solves its free sizes from these and traces again with them.
   */
  requireSize?(got: Dim, expected: number): void;
}
