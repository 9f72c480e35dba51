// Turns interpreter results (a constructed model, its traced leaf-layer calls, the
// diagnostics) into the ModelReport of the `netlens analyze --json` contract, including
// the simple memory fields.
import * as dim from './shape/dim';
import type { Dim, Shape } from './shape/dim';
import type { DiagnosticRecord, Interpreter, LayerCallRecord, StatementRecord } from './interp/interpreter';
import { nnHelpersOf } from './interp/nn';
import type { DType, InstanceValue, TensorValue, Value } from './interp/values';
import { reportDims, type GraphRecorder } from './interp/graphRecorder';
import type { AnalyzeOptions, DiagnosticReport, GraphNodeReport, GraphReport, GraphTensorRef, LayerReport, MemoryReport, ModelReport, ReportDim } from './reportTypes';

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
    case 'tuple': case 'list': for (const i of v.items) flattenTensors(interp, i, out, depth + 1); break;
    case 'dict': for (const e of v.entries.values()) flattenTensors(interp, e.value, out, depth + 1); break;
    case 'instance': {
      const fields = interp.namedTupleFields(v.cls);
      if (fields) for (const f of fields) flattenTensors(interp, v.attrs.get(f) ?? { kind: 'none' }, out, depth + 1);
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

function ownParameters(m: InstanceValue): { name: string; shape: ReportDim[] }[] {
  const out: { name: string; shape: ReportDim[] }[] = [];
  for (const [name, p] of m.module?.params ?? []) if (p.kind === 'tensor' && p.shape) out.push({ name, shape: reportShape(p.shape) });
  return out;
}

export function ownParamCount(m: InstanceValue): number {
  let n = 0;
  for (const p of m.module?.params.values() ?? []) if (p.kind === 'tensor') n += numel(p) ?? 0;
  return n;
}

const DTYPE_BYTES: Record<DType, number> = { float32: 4, float64: 8, float16: 2, bfloat16: 2, int64: 8, int32: 4, int8: 1, uint8: 1, bool: 1 };

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

const OPTIMIZER_STATE_FACTOR: Record<NonNullable<AnalyzeOptions['optimizer']>, number> = { sgd: 0, momentum: 1, adam: 2, adamw: 2, rmsprop: 1 };

export function buildModelReport(interp: Interpreter, r: TraceResult, options: AnalyzeOptions): ModelReport {
  const activationDType: DType = options.dtype ?? 'float32';
  const layers: LayerReport[] = [];
  let leafMacs: Dim = 0;
  for (const call of r.layerCalls) {
    const created = call.module.module?.createdAt;
    leafMacs = dim.add(leafMacs, call.macs);
    const layer: LayerReport = {
      path: r.paths.get(call.module) ?? '',
      type: call.module.cls.name,
      file: created?.file ?? '',
      line: created?.line ?? 0,
      output: outputShapes(interp, call.output),
      params: ownParamCount(call.module),
      macs: reportDim(call.macs),
      inputs: call.inputs.flatMap((v) => outputShapes(interp, v)),
      parameters: ownParameters(call.module),
    };
    if (created) layer.col = created.col;
    const arithmetic = call.arithmetic?.();
    if (arithmetic && arithmetic.length) layer.arithmetic = arithmetic;
    layers.push(layer);
  }
  let total = 0;
  let trainable = 0;
  for (const [, p] of nnHelpersOf(interp).namedParameters(r.model)) {
    const n = numel(p) ?? 0;
    total += n;
    if (p.requiresGrad !== false) trainable += n;
  }
  const memory = simpleMemory(interp, r, total, trainable, activationDType, options.optimizer ?? 'sgd');
  const report: ModelReport = {
    name: r.model.cls.name,
    entry: r.entry,
    inputs: r.inputs.map((t) => (t.shape ? reportShape(t.shape) : [])),
    output: outputShapes(interp, r.output),
    params: { total, trainable },
    macs: reportDim(dim.add(leafMacs, r.functionalMacs)),
    layers,
    memory,
    diagnostics: r.diagnostics.map(diagnosticReport),
  };
  if (r.line !== undefined) report.line = r.line;
  if (r.definedIn !== undefined && r.definedIn !== r.entryFile) report.definedIn = r.definedIn;
  report.statements = r.statements.map((st) => ({ file: st.file, line: st.line, output: outputShapes(interp, st.value) }));
  if (r.graph) report.graph = graphReport(r.graph.recorder, r.graph.outputs, r.paths);
  return report;
}

/** First-order memory numbers; the memory model (analysis/memory) replaces them with exact ones. */
function simpleMemory(interp: Interpreter, r: TraceResult, total: number, trainable: number, dtype: DType, optimizer: NonNullable<AnalyzeOptions['optimizer']>): MemoryReport {
  const paramsBytes = total * 4;
  const gradsBytes = trainable * 4;
  const optimizerBytes = trainable * 4 * OPTIMIZER_STATE_FACTOR[optimizer];
  const outputs = r.layerCalls.map((c) => flattenTensors(interp, c.output).reduce((s, t) => s + tensorBytes(t, dtype), 0));
  const activationsBytes = outputs.reduce((a, b) => a + b, 0);
  const inputBytes = r.inputs.reduce((s, t) => s + tensorBytes(t, dtype), 0);
  let largestPair = inputBytes + (outputs[0] ?? 0);
  for (let i = 1; i < outputs.length; i++) largestPair = Math.max(largestPair, outputs[i - 1] + outputs[i]);
  return {
    params_bytes: paramsBytes,
    grads_bytes: gradsBytes,
    optimizer_bytes: optimizerBytes,
    activations_bytes: activationsBytes,
    training_peak_bytes: paramsBytes + gradsBytes + optimizerBytes + 2 * activationsBytes + inputBytes,
    inference_peak_bytes: paramsBytes + largestPair,
  };
}

function graphReport(recorder: GraphRecorder, outputs: GraphTensorRef[], paths: Map<InstanceValue, string>): GraphReport {
  const nodes: GraphNodeReport[] = recorder.nodes.map(({ module, outputs: tensors, ...node }) => {
    const report: GraphNodeReport = { ...node, outputs: tensors.map(reportDims) };
    if (module) report.path = paths.get(module) ?? '';
    return report;
  });
  return { nodes, outputs };
}
