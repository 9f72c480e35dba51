// The ONNX model page: the layer table of a .onnx file (like the model summary), its totals, and
// the top predictions after "Run on an image…". Activations go to the Activations panel.
import { cell, element } from '../shared/dom';
import { connect } from '../shared/vscodeApi';
import { onnxBodyHtml } from './body';
import { isToOnnxView, type FromOnnxView, type OnnxPrediction, type OnnxViewTable } from './protocol';

// Inside VS Code the extension serves the markup; a plain fixture page starts empty.
if (!document.getElementById('onnx-layers')) document.body.insertAdjacentHTML('afterbegin', onnxBodyHtml);

const channel = connect<FromOnnxView>();

function fileName(file: string): string {
  return file.split(/[\\/]/).pop() ?? file;
}

function renderTable(table: OnnxViewTable): void {
  document.body.dataset['status'] = 'ready';
  element('onnx-title').textContent = `ONNX: ${fileName(table.file)}`;
  element('onnx-about').textContent = `${table.about} · inputs ${table.inputs} · outputs ${table.outputs}`;
  const layers = element<HTMLTableElement>('onnx-layers');
  const body = layers.tBodies[0]!;
  body.replaceChildren();
  for (const row of table.rows) {
    const tr = body.insertRow();
    tr.dataset['node'] = row.name;
    cell(tr, String(row.index), 'number');
    cell(tr, row.name, 'layer').title = row.initializers;
    cell(tr, row.op, 'op');
    const shape = cell(tr, row.output, `shape ${row.shapeSource}`);
    shape.title = row.shapeSource === 'runtime' ? 'measured by onnxruntime on a zeros input' : row.shapeSource === 'model' ? "from the model's shape information" : 'unknown';
    cell(tr, row.weights, 'number');
    cell(tr, row.bias, 'number');
  }
  layers.hidden = false;
  const totals = element<HTMLTableElement>('onnx-totals');
  totals.replaceChildren();
  for (const total of table.totals) {
    const tr = totals.insertRow();
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = total.label;
    tr.append(th);
    cell(tr, total.value, 'number');
  }
  element('onnx-shape-note').textContent = table.shapeNote;
  element<HTMLButtonElement>('onnx-copy').disabled = !channel.insideVsCode;
}

function renderStatus(kind: 'busy' | 'info' | 'error', message: string): void {
  if (kind === 'error' && document.body.dataset['status'] !== 'ready') document.body.dataset['status'] = 'error';
  const state = element('onnx-state');
  state.textContent = message;
  state.className = kind;
  state.hidden = message === '';
}

function renderPrediction(prediction: OnnxPrediction): void {
  const section = element('onnx-prediction');
  element('onnx-prediction-source').textContent =
    `${prediction.source} · ${prediction.provider} · ${prediction.elapsedMs.toFixed(1)} ms · normalized with ${prediction.normalization}`;
  const body = element<HTMLTableElement>('onnx-top').tBodies[0]!;
  body.replaceChildren();
  for (const entry of prediction.top) {
    const tr = body.insertRow();
    cell(tr, entry.label);
    cell(tr, `${(entry.probability * 100).toFixed(1)}%`, 'number');
    const bar = cell(tr, '', 'bar');
    const fill = document.createElement('div');
    fill.className = 'fill';
    fill.style.width = `${Math.round(entry.probability * 100)}%`;
    bar.append(fill);
  }
  section.hidden = false;
  document.body.dataset['predicted'] = 'yes';
}

element<HTMLButtonElement>('onnx-run').addEventListener('click', () => channel.post({ type: 'runImage' }));
element<HTMLButtonElement>('onnx-copy').addEventListener('click', () => channel.post({ type: 'copyMarkdown' }));
element<HTMLButtonElement>('onnx-run').disabled = !channel.insideVsCode;

channel.listen((message) => {
  if (!isToOnnxView(message)) return;
  switch (message.type) {
    case 'table': renderTable(message.table); break;
    case 'status': renderStatus(message.kind, message.message); break;
    case 'prediction': renderPrediction(message.prediction); break;
  }
});
channel.post({ type: 'ready' });
