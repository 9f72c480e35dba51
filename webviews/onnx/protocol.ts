// Messages between the extension and the ONNX model page (the read-only editor of a .onnx file).
// The extension formats the table; the page only lays it out.

export interface OnnxViewRow {
  index: number;
  name: string;
  op: string;
  /** Output shapes as text, "[1, 8, 32, 32]"; several outputs separated by spaces. */
  output: string;
  /** Where the shapes came from: the model's own information, onnxruntime's zeros run, or nowhere. */
  shapeSource: 'model' | 'runtime' | 'unknown';
  weights: string;
  bias: string;
  /** The initializers the node reads, for the tooltip: "conv1.weight [8, 3, 3, 3] weight". */
  initializers: string;
}

export interface OnnxViewTable {
  file: string;
  /** "ONNX IR 8 · opset ai.onnx 17 · from pytorch 2.13.0". */
  about: string;
  inputs: string;
  outputs: string;
  rows: OnnxViewRow[];
  totals: { label: string; value: string }[];
  shapeNote: string;
}

export interface OnnxPrediction {
  /** The image, in words ("cat.png"). */
  source: string;
  /** "onnxruntime CPU" / "onnxruntime CUDA". */
  provider: string;
  top: { label: string; probability: number }[];
  /** How the image was normalized, said so the user can judge the predictions. */
  normalization: string;
  elapsedMs: number;
}

/** Extension → page. */
export type ToOnnxView =
  | { type: 'table'; table: OnnxViewTable }
  | { type: 'status'; kind: 'busy' | 'info' | 'error'; message: string }
  | { type: 'prediction'; prediction: OnnxPrediction };

/** Page → extension. */
export type FromOnnxView = { type: 'ready' } | { type: 'runImage' } | { type: 'copyMarkdown' };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isFromOnnxView(value: unknown): value is FromOnnxView {
  return isObject(value) && (value['type'] === 'ready' || value['type'] === 'runImage' || value['type'] === 'copyMarkdown');
}

/** Shape check only: the extension is trusted, this keeps stray window messages out. */
export function isToOnnxView(value: unknown): value is ToOnnxView {
  if (!isObject(value)) return false;
  switch (value['type']) {
    case 'table': return isObject(value['table']) && Array.isArray((value['table'] as Record<string, unknown>)['rows']);
    case 'status': return typeof value['message'] === 'string' && ['busy', 'info', 'error'].includes(String(value['kind']));
    case 'prediction': return isObject(value['prediction']) && Array.isArray((value['prediction'] as Record<string, unknown>)['top']);
    default: return false;
  }
}
