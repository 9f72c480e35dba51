// The model summary as torchinfo prints it (module hierarchy, output shapes, parameters, MACs,
// totals), built from the report as rows of text for the summary webview and as Markdown for
// "Copy as Markdown". Pure (no `vscode`).
import * as path from 'node:path';

import type { FileReport, ModelReport } from '../analysis/reportTypes';
import { formatBytes, formatShape } from '../cli/table';
import type { SummaryModel, SummaryRow, SummaryTotal } from '../../webviews/summary/messages';
import { groupDigits, moduleTree, sameFile, type MemoryContext, type ModuleNode } from './presentation';

const countText = (value: number | string): string => (typeof value === 'number' ? groupDigits(value) : value);

function rowsOf(nodes: ModuleNode[], depth: number, file: string, macsByPath: Map<string, number | string>): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const node of nodes) {
    const leaf = node.type !== undefined;
    rows.push({
      depth,
      layer: leaf ? `${node.name} (${node.type})` : node.name,
      output: leaf ? `${node.output ?? ''}${node.calls > 1 ? ` ×${node.calls}` : ''}` : '',
      params: node.params > 0 ? groupDigits(node.params) : leaf ? '—' : '',
      macs: leaf ? countText(macsByPath.get(node.path) ?? 0) : '',
      line: leaf && node.file && node.line && sameFile(node.file, file) ? node.line : undefined,
    });
    rows.push(...rowsOf(node.children, depth + 1, file, macsByPath));
  }
  return rows;
}

/** MACs of every call of a module, summed (symbolic counts stay as text). */
function macsByModule(model: ModelReport): Map<string, number | string> {
  const totals = new Map<string, number | string>();
  for (const layer of model.layers) {
    const previous = totals.get(layer.path);
    if (previous === undefined) totals.set(layer.path, layer.macs);
    else if (typeof previous === 'number' && typeof layer.macs === 'number') totals.set(layer.path, previous + layer.macs);
    else totals.set(layer.path, `${String(previous)} + ${String(layer.macs)}`);
  }
  return totals;
}

export function summaryModel(model: ModelReport, file: string, context: MemoryContext): SummaryModel {
  const memory = model.memory;
  const totals: SummaryTotal[] = [
    { label: 'Total params', value: groupDigits(model.params.total) },
    { label: 'Trainable params', value: groupDigits(model.params.trainable) },
    { label: 'Non-trainable params', value: groupDigits(model.params.total - model.params.trainable) },
    { label: 'Total MACs', value: countText(model.macs) },
  ];
  if (memory.training_peak_bytes > 0) {
    totals.push(
      { label: 'Parameters', value: formatBytes(memory.params_bytes) },
      { label: 'Gradients', value: formatBytes(memory.grads_bytes) },
      { label: `Optimizer state (${context.optimizer})`, value: formatBytes(memory.optimizer_bytes) },
      { label: 'Activations kept for backward', value: formatBytes(memory.activations_bytes) },
      { label: `Training peak (${context.dtype})`, value: formatBytes(memory.training_peak_bytes) },
      { label: 'Inference peak', value: formatBytes(memory.inference_peak_bytes) },
    );
    if (context.gpuMemoryBytes !== undefined) totals.push({ label: 'GPU memory', value: formatBytes(context.gpuMemoryBytes) });
  }
  return {
    name: model.name,
    entry: model.entry,
    inputs: model.inputs.length > 0 ? model.inputs.map(formatShape).join(', ') : 'none found (symbolic)',
    rows: rowsOf(moduleTree(model), 0, file, macsByModule(model)),
    totals,
    diagnostics: model.diagnostics.map((diagnostic) => `${diagnostic.severity}: line ${diagnostic.line}: ${diagnostic.message}`),
  };
}

export function summaryModels(report: FileReport, context: MemoryContext): SummaryModel[] {
  return report.models.map((model) => summaryModel(model, report.file, context));
}

const cell = (text: string): string => text.replace(/\|/g, '\\|');

export function summaryMarkdown(file: string, models: SummaryModel[]): string {
  const sections: string[] = [];
  for (const model of models) {
    const lines = [
      `### ${model.name} (\`${model.entry}\`, ${path.basename(file)})`,
      '',
      `Input: ${model.inputs}`,
      '',
      '| Layer | Output shape | Params | MACs |',
      '| --- | --- | ---: | ---: |',
      ...model.rows.map((row) => `| ${'\u00a0\u00a0'.repeat(row.depth)}${cell(row.layer)} | ${cell(row.output)} | ${row.params} | ${row.macs} |`),
      '',
      '| Total | Value |',
      '| --- | ---: |',
      ...model.totals.map((total) => `| ${cell(total.label)} | ${total.value} |`),
    ];
    if (model.diagnostics.length > 0) lines.push('', ...model.diagnostics.map((diagnostic) => `- ${diagnostic}`));
    sections.push(lines.join('\n'));
  }
  return sections.join('\n\n') + '\n';
}
