// What the editor shows, as text: the analyzer's report turned into hint, hover, CodeLens,
// status bar and tree wording. Pure (no `vscode`), so every string the user reads is unit-tested;
// the adapters next to this file only place these strings into VS Code objects.
import * as path from 'node:path';

import type { DiagnosticReport, FileReport, LayerReport, ModelReport, ReportDim, StatementReport } from '../analysis/reportTypes';
import { formatBytes, formatCount, formatShape } from '../cli/table';

/** A text to show at the end of a 1-based line. */
export interface LineHint {
  line: number;
  text: string;
}

/**
 * A model as the host-side adapters (CodeLens, status bar, tree roots, input shapes) need it: the
 * report without its per-layer and per-statement lists, which stay in the analysis worker.
 */
export type ModelHeadline = Omit<ModelReport, 'layers' | 'statements' | 'graph'>;

export interface MemoryContext {
  dtype: string;
  optimizer: string;
  /** Memory of the GPU to plan for; undefined when none is known. */
  gpuMemoryBytes?: number;
}

/**
 * 1234567 → "1,234,567". Not toLocaleString: Intl formatting costs microseconds per call, and a
 * summary of a large file formats thousands of numbers on the extension host's thread.
 */
export function groupDigits(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const [whole = '', fraction] = String(Math.abs(value)).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${value < 0 ? '-' : ''}${grouped}${fraction !== undefined ? `.${fraction}` : ''}`;
}

export function sameFile(a: string, b: string): boolean {
  return a === b || path.resolve(a) === path.resolve(b);
}

/** A test for "is this path `file`" that resolves each distinct path once (reports repeat them). */
function fileMatcher(file: string): (other: string) => boolean {
  const answers = new Map<string, boolean>();
  return (other) => {
    let answer = answers.get(other);
    if (answer === undefined) {
      answer = sameFile(other, file);
      answers.set(other, answer);
    }
    return answer;
  };
}

function shapesText(shapes: ReportDim[][]): string {
  return shapes.length === 0 ? '—' : shapes.map(formatShape).join(', ');
}

function paramsText(count: number): string {
  return `${formatCount(count)} params`;
}

/**
 * Items of one model grouped by the 1-based line they belong to in `file`, with the model they
 * come from. When several models of the file reach the same line (two configurations of one
 * class), the first model's view is kept so a line never mixes shapes from different models.
 */
function byLineWithModel<T extends { file: string; line: number }>(report: FileReport, file: string, items: (model: ModelReport) => T[] | undefined): Map<number, { model: ModelReport; items: T[] }> {
  const lines = new Map<number, { model: ModelReport; items: T[] }>();
  const inFile = fileMatcher(file);
  for (const model of report.models) {
    const own = new Map<number, T[]>();
    for (const item of items(model) ?? []) {
      if (lines.has(item.line) || !inFile(item.file)) continue;
      const list = own.get(item.line) ?? [];
      list.push(item);
      own.set(item.line, list);
    }
    for (const [line, list] of own) lines.set(line, { model, items: list });
  }
  return lines;
}

function byLine<T extends { file: string; line: number }>(report: FileReport, file: string, items: (model: ModelReport) => T[] | undefined): Map<number, T[]> {
  const lines = new Map<number, T[]>();
  for (const [line, entry] of byLineWithModel(report, file, items)) lines.set(line, entry.items);
  return lines;
}

/** Distinct output texts in call order, and how many calls produced them. */
function outputsText(outputs: ReportDim[][][]): string {
  const distinct = [...new Set(outputs.map(shapesText))];
  if (distinct.length === 1) return outputs.length > 1 ? `${distinct[0]} ×${outputs.length}` : distinct[0] ?? '—';
  return `${distinct[0]} … ${distinct[distinct.length - 1]} (${outputs.length} calls)`;
}

/** Modules built on the line (each once, however often it is called) and their parameter total. */
function distinctModules(layers: LayerReport[]): LayerReport[] {
  const seen = new Map<string, LayerReport>();
  for (const layer of layers) if (!seen.has(layer.path)) seen.set(layer.path, layer);
  return [...seen.values()];
}

/** A layer hint in its two parts: the shapes, and the parameter suffix ('' when the layers have none). */
export interface LayerHintParts {
  line: number;
  text: string;
  params: string;
}

/** The parts of the hint after each line that constructs layers, in line order. */
export function layerHintParts(report: FileReport, file: string): LayerHintParts[] {
  const hints: LayerHintParts[] = [];
  for (const [line, layers] of byLine(report, file, (model) => model.layers)) {
    const params = distinctModules(layers).reduce((sum, layer) => sum + layer.params, 0);
    hints.push({ line, text: `→ ${outputsText(layers.map((layer) => layer.output))}`, params: params > 0 ? ` · ${paramsText(params)}` : '' });
  }
  return hints.sort((a, b) => a.line - b.line);
}

/** `→ [N, 64, 112, 112] · 9.41 k params` after each line that constructs layers. */
export function layerHints(report: FileReport, file: string, showParams: boolean): LineHint[] {
  return layerHintParts(report, file).map((hint) => ({ line: hint.line, text: showParams ? hint.text + hint.params : hint.text }));
}

/** `→ [N, 16, 5, 5]` after each tensor statement of forward(), when the report has them. */
export function statementHints(report: FileReport, file: string, skipLines: ReadonlySet<number> = new Set()): LineHint[] {
  const hints: LineHint[] = [];
  for (const [line, statements] of byLine<StatementReport>(report, file, (model) => model.statements)) {
    if (skipLines.has(line)) continue;
    hints.push({ line, text: `→ ${outputsText(statements.map((statement) => statement.output))}` });
  }
  return hints.sort((a, b) => a.line - b.line);
}

function parameterSplit(layer: LayerReport): string {
  const parts = (layer.parameters ?? []).map((parameter) => {
    const count = parameter.shape.every((dim): dim is number => typeof dim === 'number')
      ? ` = ${groupDigits(parameter.shape.reduce((product, dim) => product * dim, 1))}`
      : '';
    return `${parameter.name} ${formatShape(parameter.shape)}${count}`;
  });
  return parts.length > 0 ? ` (${parts.join(' + ')})` : '';
}

function layerHoverLines(layer: LayerReport, calls: LayerReport[], model: ModelReport | undefined): string[] {
  const lines = [`**${layer.path}**: \`${layer.type}\``];
  const outputs = calls.map((call) => call.output);
  const input = layer.inputs ? `${shapesText(layer.inputs)} → ` : '';
  lines.push(`Output: \`${input}${outputsText(outputs)}\``);
  if (layer.arithmetic && layer.arithmetic.length > 0) lines.push('```text\n' + layer.arithmetic.join('\n') + '\n```');
  lines.push(`Params: ${groupDigits(layer.params)}${parameterSplit(layer)}`);
  const macs = calls.map((call) => call.macs);
  const macsText = (value: ReportDim) => (typeof value === 'number' ? groupDigits(value) : value);
  const allNumbers = macs.every((value): value is number => typeof value === 'number');
  lines.push(calls.length > 1 && allNumbers
    ? `MACs: ${groupDigits(macs.reduce((sum, value) => sum + value, 0))} over ${calls.length} calls`
    : `MACs: ${macsText(layer.macs)}`);
  const kept = keptForBackwardText(calls, model);
  if (kept) lines.push(kept);
  return lines;
}

/**
 * What the memory model says the layer keeps for backward. It counts each kept tensor once, at
 * the first layer that keeps it, and the batch under the input: 0 bytes means "nothing new", not
 * "nothing", and the first layer reading the batch is the common case worth naming.
 */
function keptForBackwardText(calls: LayerReport[], model: ModelReport | undefined): string | undefined {
  const saved = calls.map((call) => call.saved_bytes).filter((bytes): bytes is number => bytes !== undefined);
  if (saved.length === 0) return undefined;
  const total = saved.reduce((sum, bytes) => sum + bytes, 0);
  if (total > 0) return `Kept for backward: ${formatBytes(total)}`;
  const first = calls[0];
  const readsBatch = model !== undefined && first !== undefined && model.layers[0] === first && first.inputs !== undefined &&
    first.inputs.length > 0 && shapesText(first.inputs) === shapesText(model.inputs.slice(0, first.inputs.length));
  if (readsBatch) {
    const batch = model.memory.input_bytes;
    return `Kept for backward: its input, the batch itself (counted once, as the input batch${batch !== undefined && batch > 0 ? `: ${formatBytes(batch)}` : ''})`;
  }
  return 'Kept for backward: nothing new (what it needs is already counted: the input batch, or a tensor an earlier layer keeps)';
}

const MAX_HOVER_MODULES = 4;

/** Between the sections of a hover (each module built on a line, the summary link). */
export const HOVER_SECTION_SEPARATOR = '\n\n---\n\n';

/**
 * Markdown for a hover on a 1-based line: the layers built there, or the shape a forward
 * statement produces. `summaryLink` is appended as given (the adapter builds the command URI).
 */
export function hoverMarkdown(report: FileReport, file: string, line: number, summaryLink?: string): string | undefined {
  const built = byLineWithModel(report, file, (model) => model.layers).get(line);
  const sections: string[] = [];
  if (built) {
    const layers = built.items;
    const modules = distinctModules(layers);
    for (const module of modules.slice(0, MAX_HOVER_MODULES)) {
      sections.push(layerHoverLines(module, layers.filter((layer) => layer.path === module.path), built.model).join('  \n'));
    }
    if (modules.length > MAX_HOVER_MODULES) sections.push(`… and ${modules.length - MAX_HOVER_MODULES} more modules built on this line`);
  } else {
    const statements = byLine<StatementReport>(report, file, (model) => model.statements).get(line);
    const models = report.models.filter((model) => model.line === line && (!model.definedIn || sameFile(model.definedIn, file)));
    if (statements) sections.push(`Shape: \`${outputsText(statements.map((statement) => statement.output))}\``);
    else if (models.length > 0) sections.push(...models.map(modelHoverText));
    else return undefined;
  }
  if (summaryLink) sections.push(summaryLink);
  return sections.join(HOVER_SECTION_SEPARATOR);
}

/** The hover on a model's line: what goes in and out, its size and its training memory. */
function modelHoverText(model: ModelReport): string {
  const memory = model.memory;
  const lines = [
    `**${model.name}** \`${model.entry}\``,
    `Input: \`${model.inputs.length > 0 ? shapesText(model.inputs) : 'symbolic'}\` → output \`${shapesText(model.output)}\``,
    `Params: ${groupDigits(model.params.total)} (${groupDigits(model.params.trainable)} trainable)`,
    `MACs: ${typeof model.macs === 'number' ? groupDigits(model.macs) : model.macs}`,
  ];
  if (memory.training_peak_bytes > 0) {
    lines.push(
      `Training peak: ${formatBytes(memory.training_peak_bytes)} (parameters ${formatBytes(memory.params_bytes)}, gradients ${formatBytes(memory.grads_bytes)},` +
        ` optimizer state ${formatBytes(memory.optimizer_bytes)}, activations ${formatBytes(memory.activations_bytes)}` +
        `${memory.input_bytes !== undefined && memory.input_bytes > 0 ? `, input batch ${formatBytes(memory.input_bytes)}` : ''})`,
      `Inference peak: ${formatBytes(memory.inference_peak_bytes)}`,
    );
  }
  return lines.join('  \n');
}

/** The model whose definition is nearest above a 1-based line of `file`, else the first model. */
export function modelAt<M extends ModelHeadline>(report: { models: readonly M[] }, file: string, line: number): M | undefined {
  let best: M | undefined;
  for (const model of report.models) {
    if (model.line === undefined || model.line > line || (model.definedIn && !sameFile(model.definedIn, file))) continue;
    if (!best || (best.line ?? 0) < model.line) best = model;
  }
  return best ?? report.models[0];
}

/** The batch the memory numbers are for: the first dimension of the first input. */
function batchOf(model: ModelHeadline): string | undefined {
  const first = model.inputs[0]?.[0];
  return first === undefined ? undefined : String(first);
}

/** Whether the training peak is over the known GPU memory (false when either is unknown). */
export function overGpuBudget(model: ModelHeadline, context: MemoryContext): boolean {
  const peak = model.memory.training_peak_bytes;
  return peak > 0 && context.gpuMemoryBytes !== undefined && peak > context.gpuMemoryBytes;
}

/** Training memory and whether it fits; undefined when the analyzer has not computed memory. */
function trainingMemory(model: ModelHeadline, context: MemoryContext): { text: string; fits?: boolean } | undefined {
  const peak = model.memory.training_peak_bytes;
  if (!(peak > 0)) return undefined;
  const batch = batchOf(model);
  const text = `training ${formatBytes(peak)}${batch === undefined ? '' : ` at batch ${batch}`}, ${context.dtype}, ${context.optimizer}`;
  if (context.gpuMemoryBytes === undefined) return { text };
  return { text, fits: !overGpuBudget(model, context) };
}

/** `largest batch that fits: 12`, or that not even one sample does; '' when unknown. */
function largestBatchText(maxBatch: number | undefined): string {
  if (maxBatch === undefined) return '';
  return maxBatch > 0 ? `largest batch that fits: ${maxBatch}` : 'not even batch 1 fits';
}

function macsText(macs: ReportDim): string {
  return typeof macs === 'number' ? `${formatCount(macs)} MACs` : `${macs} MACs`;
}

/** The CodeLens line above a model. */
export interface ModelLens<M extends ModelHeadline = ModelHeadline> {
  /** 1-based line the lens sits above. */
  line: number;
  model: M;
  /** The model's index in the report's (or view's) models. */
  index: number;
  /** The model's name, with its entry when another model shares the line. */
  label: string;
  text: string;
  /** The training peak is over the GPU's memory: the adapter may add the largest batch that fits. */
  overBudget: boolean;
}

/**
 * One lens per model of `file`, above the line the report gives (the model's class when this
 * file defines it). Models that share a line, such as two instances of one class, are told
 * apart by their entry.
 */
export function modelLenses<M extends ModelHeadline>(report: { models: readonly M[] }, file: string, lineCount: number, context: MemoryContext): ModelLens<M>[] {
  const shown: { model: M & { line: number }; index: number }[] = [];
  report.models.forEach((model, index) => {
    if (model.line !== undefined && model.line >= 1 && model.line <= lineCount && (!model.definedIn || sameFile(model.definedIn, file))) {
      shown.push({ model: model as M & { line: number }, index });
    }
  });
  const perLine = new Map<number, number>();
  for (const { model } of shown) perLine.set(model.line, (perLine.get(model.line) ?? 0) + 1);
  return shown.map(({ model, index }) => {
    const label = (perLine.get(model.line) ?? 0) > 1 ? `${model.name} (${model.entry})` : model.name;
    return { line: model.line, model, index, label, text: modelLensText(model, context, label), overBudget: overGpuBudget(model, context) };
  });
}

/** `maxBatch`: the analyzer's largest batch that fits the GPU at this dtype and optimizer, when known. */
export function modelLensText(model: ModelHeadline, context: MemoryContext, label = model.name, maxBatch?: number): string {
  const parts = [paramsText(model.params.total), macsText(model.macs)];
  const memory = trainingMemory(model, context);
  if (memory) {
    parts.push(memory.text);
    if (memory.fits !== undefined && context.gpuMemoryBytes !== undefined) {
      const gpu = `${formatBytes(context.gpuMemoryBytes)} GPU`;
      const largest = largestBatchText(maxBatch);
      // A warning leads the lens: a long lens is cut off at the editor's edge.
      if (memory.fits) parts.push(`fits the ${gpu}`);
      else parts.unshift(`⚠ does not fit the ${gpu}${largest ? ` — ${largest}` : ''}`);
    }
  }
  const errors = model.diagnostics.filter((diagnostic) => diagnostic.severity === 'error').length;
  if (errors > 0) parts.push(errors === 1 ? '1 shape error' : `${errors} shape errors`);
  return `${label}: ${parts.join(' · ')}`;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** True when the training peak exceeds the known GPU memory. */
  overBudget: boolean;
}

/** The status bar item for the active model; `maxBatch` as for the CodeLens. */
export function statusView(model: ModelHeadline, context: MemoryContext, maxBatch?: number): StatusView {
  const memory = model.memory;
  const peak = memory.training_peak_bytes;
  const gpu = context.gpuMemoryBytes;
  const overBudget = overGpuBudget(model, context);
  const text = !(peak > 0)
    ? `${model.name}: ${paramsText(model.params.total)}`
    : gpu !== undefined
      ? `${model.name}: ${formatBytes(peak)} / ${formatBytes(gpu)}${overBudget ? ' — does not fit' : ''}`
      : `${model.name}: ${formatBytes(peak)}`;
  const tooltip = [
    `${model.name} — training step at batch ${batchOf(model) ?? '(unknown)'}, ${context.dtype}, ${context.optimizer}`,
    `parameters ${formatBytes(memory.params_bytes)}, gradients ${formatBytes(memory.grads_bytes)}, optimizer state ${formatBytes(memory.optimizer_bytes)}`,
    `activations ${formatBytes(memory.activations_bytes)}; training peak ${formatBytes(peak)}, inference peak ${formatBytes(memory.inference_peak_bytes)}`,
    gpu !== undefined ? `GPU memory ${formatBytes(gpu)}` : 'GPU memory unknown (no GPU reported; set netlens.gpuMemoryGB)',
  ];
  if (overBudget && gpu !== undefined) {
    const largest = largestBatchText(maxBatch);
    tooltip.push(`Does not fit the ${formatBytes(gpu)} GPU${largest ? `: ${largest}` : ''} (netlens.batch, netlens.dtype and netlens.optimizer change it)`);
  }
  return { text, tooltip: tooltip.join('\n'), overBudget };
}

/** Diagnostics that belong to `file`, each once even when several models report it. */
export function fileDiagnostics(report: FileReport, file: string): DiagnosticReport[] {
  const seen = new Set<string>();
  const result: DiagnosticReport[] = [];
  const inFile = fileMatcher(file);
  for (const diagnostic of [...report.diagnostics, ...report.models.flatMap((model) => model.diagnostics)]) {
    if (diagnostic.file && !inFile(diagnostic.file)) continue;
    const key = `${diagnostic.line}:${diagnostic.col}:${diagnostic.severity}:${diagnostic.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(diagnostic);
  }
  return result;
}

/** One node of the module hierarchy (a path segment), built from the leaf-layer paths. */
export interface ModuleNode {
  name: string;
  path: string;
  /** Leaf modules only: the class and its first output. */
  type?: string;
  output?: string;
  /** Own parameters for a leaf, the sum of its leaves for a container. */
  params: number;
  calls: number;
  file?: string;
  line?: number;
  children: ModuleNode[];
}

export function moduleTree(model: Pick<ModelReport, 'name' | 'layers'>): ModuleNode[] {
  const root: ModuleNode = { name: model.name, path: '', params: 0, calls: 0, children: [] };
  const nodes = new Map<string, ModuleNode>([['', root]]);
  const counted = new Set<string>();
  for (const layer of model.layers) {
    const segments = layer.path === '' ? [] : layer.path.split('.');
    let parent = root;
    for (let depth = 1; depth <= segments.length; depth++) {
      const nodePath = segments.slice(0, depth).join('.');
      let node = nodes.get(nodePath);
      if (!node) {
        node = { name: segments[depth - 1] ?? '', path: nodePath, params: 0, calls: 0, children: [] };
        nodes.set(nodePath, node);
        parent.children.push(node);
      }
      parent = node;
    }
    const leaf = parent;
    leaf.calls++;
    if (leaf.type === undefined) {
      leaf.type = layer.type;
      leaf.output = shapesText(layer.output);
      leaf.file = layer.file;
      leaf.line = layer.line;
    }
    if (counted.has(layer.path)) continue;
    counted.add(layer.path);
    // A module's parameters count once towards every container above it.
    for (let depth = 0; depth <= segments.length; depth++) {
      const node = nodes.get(segments.slice(0, depth).join('.'));
      if (node) node.params += layer.params;
    }
  }
  // A model whose forward calls only itself (a bare leaf) still shows as one node.
  return root.children.length > 0 ? root.children : root.calls > 0 ? [root] : [];
}

/** The tree item's description: `Conv2d [1, 6, 28, 28] · 156 params`, or the container's total. */
export function moduleDescription(node: ModuleNode): string {
  const params = node.params > 0 ? paramsText(node.params) : '';
  if (node.type === undefined) return params;
  const calls = node.calls > 1 ? ` ×${node.calls}` : '';
  return [`${node.type} ${node.output ?? ''}${calls}`.trim(), params].filter(Boolean).join(' · ');
}

/** Input shapes as the user types them in "Set Input Shape…": `[1, 3, 224, 224]`, or "symbolic". */
export function inputShapeText(inputs: ReportDim[][]): string {
  return inputs.length === 0 ? 'symbolic' : shapesText(inputs);
}

/**
 * Where a hint goes on a line of Python: after the code, before a trailing `# comment` (a `#`
 * inside a string literal is not one). Returns the 0-based column and whether a comment follows.
 */
export function hintColumn(lineText: string): { column: number; beforeComment: boolean } {
  let quote: string | undefined;
  for (let index = 0; index < lineText.length; index++) {
    const character = lineText[index];
    if (quote) {
      if (character === '\\') index++;
      else if (lineText.startsWith(quote, index)) {
        index += quote.length - 1;
        quote = undefined;
      }
    } else if (character === '"' || character === "'") {
      quote = lineText.startsWith(character.repeat(3), index) ? character.repeat(3) : character;
      index += quote.length - 1;
    } else if (character === '#') {
      const code = lineText.slice(0, index).trimEnd();
      // A line that is only a comment keeps its hint at the end.
      if (code.trim() === '') break;
      return { column: code.length, beforeComment: true };
    }
  }
  return { column: lineText.length, beforeComment: false };
}
