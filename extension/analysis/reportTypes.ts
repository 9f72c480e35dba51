// The analyzer's result, shaped exactly like the `netlens analyze --json` contract in
// ARCHITECTURE.md. Editor adapters, the CLI and the tests all consume this.
// Dimensions are numbers when known, strings (e.g. "N", "H/2") when symbolic.

export type ReportDim = number | string;

export interface LayerReport {
  /** named_modules() path, e.g. "layer1.0.conv1". */
  path: string;
  /** Class name, e.g. "Conv2d". */
  type: string;
  file: string;
  /** 1-based line of the call site that created the module (its constructor call). */
  line: number;
  /** Shapes of every tensor in the return value, flattened in order. */
  output: ReportDim[][];
  /** The module's own parameters (not its children's). */
  params: number;
  macs: ReportDim;
  // Optional detail for editor hovers; the editor shows each one only when it is filled.
  /** 0-based column of the constructor call on `line`. */
  col?: number;
  /** Shapes of the tensors passed to this call, flattened in order. */
  inputs?: ReportDim[][];
  /** The module's own parameters by state_dict name ("weight", "bias"), in registration order. */
  parameters?: { name: string; shape: ReportDim[] }[];
  /** The output-size arithmetic written out, one line per computed dimension, e.g. "H: (224 − 11 + 2·2)/4 + 1 = 55". */
  arithmetic?: string[];
  /** Bytes this call keeps alive for backward at the analyzed batch and dtype. */
  saved_bytes?: number;
}

/** The value a statement in forward() (or a helper it calls) produced, for inlay hints after it. */
export interface StatementReport {
  file: string;
  /** 1-based line where the statement ends (hints go at the end of that line). */
  line: number;
  /** Shapes of the tensors the statement assigned or returned, flattened in order. */
  output: ReportDim[][];
}

export interface MemoryReport {
  params_bytes: number;
  grads_bytes: number;
  optimizer_bytes: number;
  activations_bytes: number;
  training_peak_bytes: number;
  inference_peak_bytes: number;
  // Detail from the memory model (analysis/memory); absent when it could not run.
  buffers_bytes?: number;
  /** The batch (and the target labels) held by the training loop. */
  input_bytes?: number;
  /** Everything autograd keeps for backward at the end of forward (activations_bytes is that plus live outputs). */
  saved_bytes?: number;
  /** Where the training peak is: "forward:<graph node>", "loss", "backward:<graph node>" or "optimizer". */
  training_peak_at?: string;
  /** CUDA: the cuBLAS/cuBLASLt workspaces PyTorch keeps for the step's GEMMs (0 without one); inside training_peak_bytes. */
  cublas_workspace_bytes?: number;
  /** CUDA: the GPU the workspaces are sized for, or the one assumed ("NVIDIA H100 (sm 9.0) assumed: no GPU reported"). */
  cuda_device?: string;
  /** The largest batch whose training peak fits `capacity_bytes`, per optimizer and dtype (0: not even one sample). */
  max_batch?: { capacity_bytes: number; entries: { optimizer: 'sgd' | 'momentum' | 'adam' | 'adamw' | 'rmsprop'; dtype: 'float32' | 'bfloat16' | 'float16'; batch: number }[] };
}

export interface DiagnosticReport {
  severity: 'error' | 'warning' | 'info';
  message: string;
  file: string;
  /** 1-based line, 0-based column. */
  line: number;
  col: number;
  endLine?: number;
  endCol?: number;
  /** Machine-readable code (e.g. "linear-in-features"), and a certain fix when there is one. */
  code?: string;
  fix?: { title: string; file: string; line: number; col: number; endLine: number; endCol: number; newText: string };
}

export interface ModelReport {
  /** Class name of the model. */
  name: string;
  /** The entry expression, e.g. "resnet18()". */
  entry: string;
  inputs: ReportDim[][];
  output: ReportDim[][];
  params: { total: number; trainable: number };
  macs: ReportDim;
  layers: LayerReport[];
  memory: MemoryReport;
  diagnostics: DiagnosticReport[];
  /** Where the model's class or entry is defined (for CodeLens), 1-based line. */
  line?: number;
  /** File of `line`, when the class is defined in another file than the analyzed one. */
  definedIn?: string;
  /** Tensor-valued statements of forward() in execution order (a statement run twice appears twice). */
  statements?: StatementReport[];
  /** The forward trace as a data-flow graph; only when AnalyzeOptions.recordGraph asked for it. */
  graph?: GraphReport;
}

/**
 * Where a tensor consumed by a graph node comes from: an output of an earlier node, a model
 * input, a parameter or buffer (by state_dict name), or something the trace did not see made.
 */
export type GraphTensorRef =
  | { node: number; output: number }
  | { input: number }
  | { state: string }
  | { untracked: true };

/** An argument of a recorded call, as plain data: tensors become references. */
export type GraphArgument =
  | number
  | string
  | boolean
  | null
  | GraphArgument[]
  | { tensor: GraphTensorRef }
  | { unknown: string };

/** One recorded call of the forward trace, in execution order. */
export interface GraphNodeReport {
  /** Module calls: the class name ("Conv2d"); calls: the function or method name ("relu", "view"); operators: "add", "mul", ... */
  op: string;
  kind: 'module' | 'function' | 'method' | 'operator';
  /** named_modules() path of a module call. */
  path?: string;
  /** A module's configuration (its PyTorch attributes such as kernel_size), plus `has_bias` style facts. */
  attrs: Record<string, GraphArgument>;
  /** A call's arguments (a method's first argument is its tensor); for modules, the forward arguments. */
  args: GraphArgument[];
  kwargs: Record<string, GraphArgument>;
  /** Shapes of the node's output tensors, flattened in order. */
  outputs: ReportDim[][];
  /** The call site (for modules: where the module was constructed, as in `layers`). */
  file: string;
  line: number;
  col: number;
}

export interface GraphReport {
  nodes: GraphNodeReport[];
  /** The model's return value, its tensors flattened in order. */
  outputs: GraphTensorRef[];
}

export interface FileReport {
  file: string;
  models: ModelReport[];
  /** File-level diagnostics (syntax errors, unresolved imports, budget exhausted). */
  diagnostics: DiagnosticReport[];
}

export interface InputSpec {
  shape: ReportDim[];
  dtype?: 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'bool';
}

export interface AnalyzeOptions {
  /** Python expression evaluated in the file's namespace; default: discover models. */
  entry?: string;
  /** One per forward argument; full shape including batch. */
  inputs?: InputSpec[];
  /** Replaces the first dim of every input. */
  batch?: number;
  dtype?: 'float32' | 'bfloat16' | 'float16';
  optimizer?: 'sgd' | 'momentum' | 'adam' | 'adamw' | 'rmsprop';
  /** Extra import roots (--python-path, workspace folders). */
  pythonPath?: string[];
  /** site-packages of the active Python environment, when found. */
  sitePackages?: string[];
  /** Read another file (imports). Default: fs.readFileSync. Editors pass unsaved buffers. */
  readFile?: (path: string) => string | undefined;
  /** Interpreter step budget (default 2,000,000) and recursion limit (default 200). */
  stepBudget?: number;
  recursionLimit?: number;
  /** Record the forward trace as a graph (ModelReport.graph), for lowering to the engine. Off by default: it costs time. */
  recordGraph?: boolean;
  /** GPU memory for the "largest batch that fits" answer (the netlens.gpuMemoryGB setting); default 80 GB. */
  gpuMemoryGB?: number;
  /** Where the training step runs, for the optimizer's temporaries (CUDA: multi-tensor path); default cuda. */
  memoryDevice?: 'cuda' | 'cpu';
  /** The optimizer's multi-tensor (foreach) path; default: on cuda only, as PyTorch picks it. */
  optimizerForeach?: boolean;
  /** The GPU of the memory estimate (the engine's device info: name, compute capability "9.0"); default: an H100 is assumed. */
  gpu?: { name?: string; computeCapability?: string };
  /**
   * Fill memory.max_batch (largest batch that fits, for every optimizer and dtype). Off by default:
   * it runs the memory model 15 times, too slow for every keystroke; the CLI turns it on.
   */
  maxBatchTable?: boolean;
}
