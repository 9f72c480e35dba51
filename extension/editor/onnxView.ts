// The ONNX layer table as the ONNX page shows it (text cells), and as Markdown for the clipboard.
// No vscode here: the page tests and the fixture log use the same conversion.
import { formatShape, type OnnxLayerTable } from '../onnx/layers';
import type { OnnxViewTable } from '../../webviews/onnx/protocol';

const count = (n: number): string => (n === 0 ? '' : n.toLocaleString('en-US'));

export function onnxViewTable(table: OnnxLayerTable): OnnxViewTable {
  const t = table.totals;
  const totals = [
    { label: 'Total params', value: t.params.toLocaleString('en-US') },
    { label: 'Weights', value: t.weightParams.toLocaleString('en-US') },
    { label: 'Biases', value: t.biasParams.toLocaleString('en-US') },
  ];
  if (t.bufferElements > 0) totals.push({ label: 'Buffers (running statistics)', value: t.bufferElements.toLocaleString('en-US') });
  totals.push({ label: 'Nodes', value: String(t.nodes) }, { label: 'Initializer size', value: `${(t.initializerBytes / 1024).toFixed(1)} KiB` });
  return {
    file: table.file,
    about: [`ONNX IR ${table.irVersion}`, `opset ${table.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}`, table.producer ? `from ${table.producer}` : '']
      .filter((s) => s !== '').join(' · '),
    inputs: table.inputs.map((i) => `${i.name} ${i.type} ${formatShape(i.shape)}`).join(', '),
    outputs: table.outputs.map((o) => `${o.name} ${o.type} ${formatShape(o.shape)}`).join(', '),
    rows: table.layers.map((layer) => ({
      index: layer.index,
      name: layer.name,
      op: layer.domain ? `${layer.domain}.${layer.opType}` : layer.opType,
      output: layer.outputs.map((o) => formatShape(o.shape)).join(' '),
      shapeSource: layer.outputs.some((o) => o.source === 'unknown') ? 'unknown' : layer.outputs.some((o) => o.source === 'runtime') ? 'runtime' : 'model',
      weights: count(layer.weightParams),
      bias: count(layer.biasParams),
      initializers: layer.initializers.map((i) => `${i.name} ${formatShape(i.shape)} ${i.role}${i.counted ? '' : ' (shared)'}`).join('\n'),
    })),
    totals,
    shapeNote: table.shapeNote + (table.layers.some((l) => l.outputs.some((o) => o.source === 'runtime')) ? ' * = measured by onnxruntime.' : ''),
  };
}

export function onnxMarkdown(view: OnnxViewTable): string {
  const lines = [`### ${view.file}`, '', view.about, '', '| # | Node | Op | Output shape | Weights | Bias |', '|---:|---|---|---|---:|---:|'];
  for (const row of view.rows) lines.push(`| ${row.index} | ${row.name} | ${row.op} | ${row.output}${row.shapeSource === 'runtime' ? ' *' : ''} | ${row.weights} | ${row.bias} |`);
  lines.push('');
  for (const total of view.totals) lines.push(`- ${total.label}: ${total.value}`);
  lines.push('', view.shapeNote, '');
  return lines.join('\n');
}
