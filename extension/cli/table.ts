// Renders a FileReport as the human-readable table `netlens analyze` prints without --json,
// in the spirit of torchinfo's summary: one row per leaf-layer call, then totals, memory
// and diagnostics. Pure string building, so tests can check it without a terminal.
import * as path from 'node:path';

import type { DiagnosticReport, FileReport, ModelReport, ReportDim } from '../analysis/reportTypes';

export interface TableContext {
  /** Paths in the table are shown relative to this folder. */
  cwd: string;
  dtype?: string;
  optimizer?: string;
}

const groupDigits = (value: number): string => value.toLocaleString('en-US');

/** Long numbers inside symbolic expressions get digit groups too: 884736*N → 884,736*N. */
function groupDigitsInExpression(expression: string): string {
  return expression.replace(/\d{4,}/g, (digits) => groupDigits(Number(digits)));
}

export function formatDim(dim: ReportDim): string {
  return typeof dim === 'number' ? String(dim) : dim;
}

export function formatShape(shape: ReportDim[]): string {
  return `[${shape.map(formatDim).join(', ')}]`;
}

export function formatShapes(shapes: ReportDim[][]): string {
  if (shapes.length === 0) return '—';
  return shapes.map(formatShape).join(', ');
}

/** 1814083944 → "1.81 G"; symbolic counts are shown as the expression they are. */
export function formatCount(value: ReportDim): string {
  if (typeof value === 'string') return value;
  const units: [number, string][] = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [scale, unit] of units) {
    if (Math.abs(value) >= scale) return `${(value / scale).toFixed(2)} ${unit}`;
  }
  return String(value);
}

export function formatBytes(bytes: number): string {
  const units: [number, string][] = [[2 ** 40, 'TiB'], [2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']];
  for (const [scale, unit] of units) {
    if (bytes >= scale) return `${(bytes / scale).toFixed(2)} ${unit}`;
  }
  return `${bytes} B`;
}

function formatMacs(macs: ReportDim): string {
  return typeof macs === 'number' ? groupDigits(macs) : groupDigitsInExpression(macs);
}

function relativeFile(file: string, cwd: string): string {
  if (!path.isAbsolute(file)) return file;
  const rel = path.relative(cwd, file);
  // Files outside the working folder (site-packages) read better as absolute paths.
  return rel.startsWith('..') ? file : rel;
}

function formatDiagnostic(diagnostic: DiagnosticReport, cwd: string): string {
  const where = diagnostic.file ? `${relativeFile(diagnostic.file, cwd)}:${diagnostic.line}:${diagnostic.col + 1}` : '';
  return `  ${diagnostic.severity.padEnd(7)} ${where}${where ? '  ' : ''}${diagnostic.message}`;
}

function renderModel(model: ModelReport, context: TableContext): string[] {
  const header = ['Layer (type)', 'Output Shape', 'Param #', 'MACs'];
  const rows = model.layers.map((layer) => [
    `${layer.path || '(root)'} (${layer.type})`,
    formatShapes(layer.output),
    groupDigits(layer.params),
    formatMacs(layer.macs),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const formatRow = (row: string[]): string =>
    row.map((cell, column) => (column >= 2 ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('   ').trimEnd();
  const totalWidth = widths.reduce((sum, width) => sum + width, 0) + 3 * (widths.length - 1);
  const heavyRule = '='.repeat(Math.max(totalWidth, 60));
  const lightRule = '-'.repeat(Math.max(totalWidth, 60));

  const inputs = model.inputs.length > 0 ? formatShapes(model.inputs) : 'none found (symbolic)';
  const lines = [
    heavyRule,
    `Model: ${model.name}    entry: ${model.entry}`,
    `Input: ${inputs}`,
    heavyRule,
    formatRow(header),
    heavyRule,
    ...(rows.length > 0 ? rows.map(formatRow) : ['(no layer calls were traced)']),
    heavyRule,
    `Output: ${formatShapes(model.output)}`,
    `Total params: ${groupDigits(model.params.total)}`,
    `Trainable params: ${groupDigits(model.params.trainable)}`,
    `Non-trainable params: ${groupDigits(model.params.total - model.params.trainable)}`,
    `Total MACs: ${typeof model.macs === 'number' ? `${formatCount(model.macs)} (${groupDigits(model.macs)})` : groupDigitsInExpression(model.macs)}`,
    lightRule,
  ];

  const memory = model.memory;
  const setting = [context.dtype ? `dtype ${context.dtype}` : 'default dtype', context.optimizer ? `optimizer ${context.optimizer}` : 'default optimizer'];
  lines.push(
    `Memory (${setting.join(', ')}):`,
    `  Parameters:       ${formatBytes(memory.params_bytes)}`,
    `  Gradients:        ${formatBytes(memory.grads_bytes)}`,
    `  Optimizer state:  ${formatBytes(memory.optimizer_bytes)}`,
    `  Activations:      ${formatBytes(memory.activations_bytes)}`,
    `  Training peak:    ${formatBytes(memory.training_peak_bytes)}`,
    `  Inference peak:   ${formatBytes(memory.inference_peak_bytes)}`,
  );
  if (model.diagnostics.length > 0) {
    lines.push(lightRule, `Diagnostics (${model.diagnostics.length}):`, ...model.diagnostics.map((d) => formatDiagnostic(d, context.cwd)));
  }
  lines.push(heavyRule);
  return lines;
}

export function renderReportTable(report: FileReport, context: TableContext): string {
  const lines: string[] = [`File: ${relativeFile(report.file, context.cwd)}`];
  if (report.diagnostics.length > 0) {
    lines.push(`Diagnostics (${report.diagnostics.length}):`, ...report.diagnostics.map((d) => formatDiagnostic(d, context.cwd)));
  }
  if (report.models.length === 0) {
    lines.push('No models found: give one with --entry, e.g. --entry \'Net()\'.');
  }
  for (const model of report.models) {
    lines.push('', ...renderModel(model, context));
  }
  return lines.join('\n') + '\n';
}
