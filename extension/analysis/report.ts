// Turns interpreter results (a constructed model, its traced leaf-layer calls, the
// diagnostics) into the ModelReport of the `netlens analyze --json` contract, including
// the simple memory fields.
import * as dim from './shape/dim';
import type { Dim, Shape } from './shape/dim';
import type { DiagnosticRecord, Interpreter, LayerCallRecord, StatementRecord } from './interp/interpreter';
import { nnHelpersOf } from './interp/nn';
import type { DType, InstanceValue, TensorValue, Value } from './interp/values';
import { reportDims, type GraphRecorder } from './interp/graphRecorder';
import type { AnalyzeOptions, DiagnosticReport, GraphNodeReport, GraphReport, GraphTensorRef, LayerReport, ModelReport, ReportDim } from './reportTypes';
import { messages } from './messages';
import { modelMemory, type MemoryModelInput, type MemoryRuntime, type ParameterTensor } from './memory/index';

export function reportDim(d: Dim): ReportDim {
  return typeof d === 'number' ? d : dim.dimToString(d);
}

export function reportShape(s: Shape): ReportDim[] {
  return s.map(reportDim);
}

/** Every tensor in a value, in order: tuples, lists, dicts and NamedTuple-like instances flattened. */
export function flattenTensors(interp: Interpreter, v: Value, out: TensorValue[] = [], depth = 0): TensorValue[] {
  if (depth > 8) return out;
  switch (v.kind) {
    case 'tensor': out.push(v); break;
    case 'tuple': case 'list': for (let i = 0; i < v.items.length; i++) flattenTensors(interp, v.items[i], out, depth + 1); break;
    case 'dict': for (const e of v.entries.values()) flattenTensors(interp, e.value, out, depth + 1); break;
    case 'instance': {
      const fields = interp.namedTupleFields(v.cls);
      if (fields) for (const f of fields) flattenTensors(interp, v.attrs.get(f) ?? { kind: 'none' }, out, depth + 1);
      // A dict subclass (HF-style ModelOutput): its items, like forward hooks' dict flattening.
      else if (!v.module) { const items = interp.dictOfInstance(v); if (items) flattenTensors(interp, items, out, depth + 1); }
      break;
    }
    default: break;
  }
  return out;
}

export function outputShapes(interp: Interpreter, v: Value): ReportDim[][] {
  return flattenTensors(interp, v).map((t) => (t.shape ? reportShape(t.shape) : []));
}

export function numel(t: TensorValue): number | undefined {
  if (!t.shape) return undefined;
  return dim.knownProduct(t.shape);
}

// Report building runs once per analysis, mostly before V8 optimizes it: indexed loops and
// Map.forEach instead of for-of and destructuring, which allocate per item in unoptimized code.
function ownParameters(m: InstanceValue): { name: string; shape: ReportDim[] }[] {
  const out: { name: string; shape: ReportDim[] }[] = [];
  m.module?.params.forEach((p, name) => {
    if (p.kind === 'tensor' && p.shape) out.push({ name, shape: reportShape(p.shape) });
  });
  return out;
}

export function ownParamCount(m: InstanceValue): number {
  let n = 0;
  m.module?.params.forEach((p) => {
    if (p.kind === 'tensor') n += numel(p) ?? 0;
  });
  return n;
}

const DTYPE_BYTES: Record<DType, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1, complex64: 8, complex128: 16 };

export function tensorBytes(t: TensorValue, activationDType?: DType): number {
  const n = numel(t);
  if (n === undefined) return 0;
  const isFloat = t.dtype === 'float32' || t.dtype === 'float16' || t.dtype === 'bfloat16' || t.dtype === 'float64';
  return n * DTYPE_BYTES[isFloat && activationDType ? activationDType : t.dtype];
}

export function diagnosticReport(d: DiagnosticRecord): DiagnosticReport {
  const r: DiagnosticReport = { severity: d.severity, message: d.message, file: d.location.file, line: d.location.line, col: d.location.col };
  if (d.location.endLine !== undefined) r.endLine = d.location.endLine;
  if (d.location.endCol !== undefined) r.endCol = d.location.endCol;
  if (d.code) r.code = d.code;
  if (d.fix) {
    const at = d.fix.location;
    r.fix = { title: d.fix.title, file: at.file, line: at.line, col: at.col, endLine: at.endLine ?? at.line, endCol: at.endCol ?? at.col, newText: d.fix.newText };
  }
  return r;
}

export interface TraceResult {
  model: InstanceValue;
  name: string;
  entry: string;
  inputs: TensorValue[];
  output: Value;
  layerCalls: LayerCallRecord[];
  statements: StatementRecord[];
  paths: Map<InstanceValue, string>;
  functionalMacs: Dim;
  diagnostics: DiagnosticRecord[];
  line?: number;
  /** File of the model's class when it is not the analyzed file. */
  definedIn?: string;
  /** The analyzed file. */
  entryFile?: string;
  /** The recorded forward graph, when the options asked for it. */
  graph?: { recorder: GraphRecorder; outputs: GraphTensorRef[] };
}

export function buildModelReport(interp: Interpreter, r: TraceResult, options: AnalyzeOptions): ModelReport {
  const activationDType: DType = options.dtype ?? 'float32';
  const layers: LayerReport[] = [];
  // Each call's tensors are flattened once and shared by the layer rows and the layer graph.
  const flattened: FlattenedCall[] = [];
  let leafMacs: Dim = 0;
  for (let index = 0; index < r.layerCalls.length; index++) {
    const call = r.layerCalls[index];
    const created = call.module.module?.createdAt;
    leafMacs = dim.add(leafMacs, call.macs);
    const outputTensors = flattenTensors(interp, call.output);
    const inputTensors: TensorValue[] = [];
    for (let i = 0; i < call.inputs.length; i++) flattenTensors(interp, call.inputs[i], inputTensors);
    const outputs = outputTensors.map(tensorShape);
    const layer: LayerReport = {
      path: r.paths.get(call.module) ?? '',
      type: call.module.cls.name,
      file: created?.file ?? '',
      line: created?.line ?? 0,
      output: outputs,
      params: ownParamCount(call.module),
      macs: reportDim(call.macs),
      inputs: inputTensors.map(tensorShape),
      parameters: ownParameters(call.module),
    };
    if (created) layer.col = created.col;
    if (call.arithmetic) lazyArithmetic(layer, call.arithmetic);
    layers.push(layer);
    flattened.push({ inputTensors, outputTensors, outputs });
  }
  // One walk of the module tree after the trace serves the parameter and buffer lists.
  const helpers = nnHelpersOf(interp);
  const modules = helpers.namedModules(r.model);
  const parameters = helpers.namedParameters(r.model, modules);
  let total = 0;
  let trainable = 0;
  const unsized: string[] = [];
  for (let i = 0; i < parameters.length; i++) {
    const p = parameters[i][1];
    const n = numel(p);
    if (n === undefined) unsized.push(parameters[i][0]);
    total += n ?? 0;
    if (p.requiresGrad !== false) trainable += n ?? 0;
  }
  const graph = r.graph ? graphReport(r.graph.recorder, r.graph.outputs, r.paths) : undefined;
  const modeled = modelMemory(memoryModelInput(r, parameters, helpers.namedBuffers(r.model, modules), graph ?? layerGraph(interp, r, flattened)), layers, activationDType === 'float32' || activationDType === 'bfloat16' || activationDType === 'float16' ? activationDType : 'float32', options.optimizer ?? 'sgd', (options.gpuMemoryGB ?? 80) * 1e9, memoryRuntime(options), options.maxBatchTable ?? false);
  layers.forEach((layer, i) => (layer.saved_bytes = modeled.layerSaved[i]));
  const memory = modeled.memory;
  const report: ModelReport = {
    name: r.model.cls.name,
    entry: r.entry,
    inputs: r.inputs.map(tensorShape),
    output: outputShapes(interp, r.output),
    params: { total, trainable },
    macs: reportDim(dim.add(leafMacs, r.functionalMacs)),
    layers,
    memory,
    diagnostics: r.diagnostics.map(diagnosticReport),
  };
  // Counts that leave out tensors of unknown size must not pass for exact ones.
  if (unsized.length > 0) {
    report.diagnostics.push({ severity: 'info', message: messages.parametersUnsized(unsized.length, unsized[0]), file: r.entryFile ?? '', line: r.line ?? 1, col: 0, code: 'params-unsized' });
  }
  // A model whose class this file defines is shown at its `class` line (CodeLens, tree), not at
  // the statement that instantiates it further down.
  const classLocation = r.model.cls.location;
  const line = classLocation && classLocation.file === r.entryFile ? classLocation.line : r.line;
  if (line !== undefined) report.line = line;
  if (r.definedIn !== undefined && r.definedIn !== r.entryFile) report.definedIn = r.definedIn;
  report.statements = r.statements.map((st) => ({ file: st.file, line: st.line, output: outputShapes(interp, st.value) }));
  if (graph) report.graph = graph;
  return report;
}

/**
 * The layer's output-size arithmetic, worked out when first read: only a hover (or the CLI's
 * --detail JSON) shows it. Printing all 248 formulas of torchvision's densenet.py (symbolic in
 * discovery) took 14 ms of a process's first analysis and about 1 ms of every later one.
 */
function lazyArithmetic(layer: LayerReport, lines: () => string[]): void {
  Object.defineProperty(layer, 'arithmetic', {
    enumerable: true,
    configurable: true,
    get(): string[] | undefined {
      const made = lines();
      const value = made.length > 0 ? made : undefined;
      Object.defineProperty(layer, 'arithmetic', { value, enumerable: value !== undefined, writable: true, configurable: true });
      return value;
    },
    set(value: string[] | undefined): void {
      Object.defineProperty(layer, 'arithmetic', { value, enumerable: value !== undefined, writable: true, configurable: true });
    },
  });
}

function tensorShape(t: TensorValue): ReportDim[] {
  return t.shape ? reportShape(t.shape) : [];
}

/** One leaf-layer call's tensors, flattened in order, and its output shapes as reported. */
interface FlattenedCall {
  inputTensors: TensorValue[];
  outputTensors: TensorValue[];
  outputs: ReportDim[][];
}

/** What the memory model needs from a trace: the data flow, parameter and buffer sizes. */
function memoryRuntime(options: AnalyzeOptions): MemoryRuntime {
  const runtime: MemoryRuntime = { device: options.memoryDevice ?? 'cuda' };
  if (options.optimizerForeach !== undefined) runtime.foreach = options.optimizerForeach;
  if (options.gpu) runtime.gpu = options.gpu;
  return runtime;
}

function memoryModelInput(r: TraceResult, parameters: readonly [string, TensorValue][], buffers: readonly [string, TensorValue][], graph: GraphReport): MemoryModelInput {
  const paramsByPath = new Map<string, number>();
  const parameterTensors: ParameterTensor[] = new Array<ParameterTensor>(parameters.length);
  let totalParams = 0;
  let trainableParams = 0;
  let largestParam = 0;
  for (let i = 0; i < parameters.length; i++) {
    const name = parameters[i][0];
    const p = parameters[i][1];
    const n = numel(p) ?? 0;
    totalParams += n;
    const dot = name.lastIndexOf('.');
    const path = dot >= 0 ? name.slice(0, dot) : '';
    const trainable = p.requiresGrad !== false;
    parameterTensors[i] = { path, name: dot >= 0 ? name.slice(dot + 1) : name, numel: n, trainable };
    if (!trainable) continue;
    trainableParams += n;
    largestParam = Math.max(largestParam, n);
    paramsByPath.set(path, (paramsByPath.get(path) ?? 0) + n);
  }
  const bufferTensorBytes = buffers.map(([, b]) => tensorBytes(b));
  const buffersBytes = bufferTensorBytes.reduce((sum, bytes) => sum + bytes, 0);
  const inputs = r.inputs.map((t) => ({ shape: tensorShape(t), bytesPerElement: DTYPE_BYTES[t.dtype] }));
  return { graph, inputs, paramsByPath, totalParams, trainableParams, largestParam, buffersBytes, parameterTensors, bufferTensorBytes };
}

/**
 * Without a recorded graph, the leaf-layer calls linked by tensor identity. Tensors made
 * between layers by functional calls (F.relu, +) get a producer node the model does not know,
 * so their bytes count but what those calls save does not: less exact than the graph.
 * The graph only feeds the memory model (it is not part of the report), so its output shape
 * arrays are the layer rows' own.
 */
function layerGraph(interp: Interpreter, r: TraceResult, calls: readonly FlattenedCall[]): GraphReport {
  const nodes: GraphNodeReport[] = [];
  const sources = new Map<number, GraphTensorRef>();
  r.inputs.forEach((t, input) => sources.set(t.id, { input }));
  let lastLayerOutput: GraphTensorRef | undefined;
  const refOf = (t: TensorValue): GraphTensorRef => {
    const known = sources.get(t.id);
    if (known) return known;
    // Most often an activation applied to the previous layer's output (F.relu(self.conv(x))).
    const args = lastLayerOutput ? [{ tensor: lastLayerOutput }] : [];
    nodes.push({ op: 'untraced', kind: 'function', attrs: {}, args, kwargs: {}, outputs: [tensorShape(t)], file: '', line: 0, col: 0 });
    const made = { node: nodes.length - 1, output: 0 };
    sources.set(t.id, made);
    return made;
  };
  r.layerCalls.forEach((call, index) => {
    const { inputTensors, outputTensors, outputs } = calls[index];
    const args = inputTensors.map((t) => ({ tensor: refOf(t) }));
    const inplace = call.module.attrs.get('inplace');
    nodes.push({
      op: call.module.cls.name, kind: 'module', path: r.paths.get(call.module) ?? '',
      attrs: { inplace: inplace?.kind === 'bool' ? inplace.value : false }, args, kwargs: {},
      outputs, file: '', line: 0, col: 0,
    });
    const node = nodes.length - 1;
    outputTensors.forEach((t, output) => sources.set(t.id, { node, output }));
    if (outputTensors.length > 0) lastLayerOutput = { node, output: 0 };
  });
  return { nodes, outputs: flattenTensors(interp, r.output).map(refOf) };
}

function graphReport(recorder: GraphRecorder, outputs: GraphTensorRef[], paths: Map<InstanceValue, string>): GraphReport {
  const nodes: GraphNodeReport[] = recorder.nodes.map(({ module, outputs: tensors, ...node }) => {
    const report: GraphNodeReport = { ...node, outputs: tensors.map(reportDims) };
    if (module) report.path = paths.get(module) ?? '';
    return report;
  });
  return { nodes, outputs };
}
