// The training dashboard page: the run list (toggle a run, its readouts) and two uPlot charts —
// loss over steps (raw line faint, EMA-smoothed line, validation loss at epoch ends, learning
// rate on a second axis) and accuracy at epoch ends (train and validation). Messages may come
// many per second while a run trains: they only update the data, one animation frame redraws.
//
// Hide/restore: the panel does not keep its page alive while hidden (retainContextWhenHidden
// would hold every canvas and point in memory for each hidden panel). The view settings are
// saved with setState; the extension keeps the events it tailed and sends them again when the
// page says `ready`, so a restored page draws the same curves.
import uPlot from 'uplot';

import { cell, element } from '../shared/dom';
import { connect } from '../shared/vscodeApi';
import { dashboardBodyHtml } from './body';
import { isToDashboard, type DashboardRun, type FromDashboard } from './protocol';
import { applyEvents, emptySeries, epochTable, recentMedian, SmoothedColumn, stepTable, toCsv, type Column, type RunSeries } from './series';

if (!document.getElementById('dash-runs')) document.body.insertAdjacentHTML('afterbegin', dashboardBodyHtml);

const channel = connect<FromDashboard>();

interface ViewSettings {
  smoothing: number;
  logX: boolean;
  logY: boolean;
  showLr: boolean;
  /** Runs toggled off in the run list. */
  hidden: string[];
}

function savedSettings(): ViewSettings {
  const defaults: ViewSettings = { smoothing: 0.6, logX: false, logY: false, showLr: true, hidden: [] };
  const saved = channel.getState();
  if (typeof saved !== 'object' || saved === null) return defaults;
  const s = saved as Partial<ViewSettings>;
  return {
    smoothing: typeof s.smoothing === 'number' && s.smoothing >= 0 && s.smoothing < 1 ? s.smoothing : defaults.smoothing,
    logX: s.logX === true,
    logY: s.logY === true,
    showLr: s.showLr !== false,
    hidden: Array.isArray(s.hidden) ? s.hidden.filter((id): id is string => typeof id === 'string') : [],
  };
}

const settings = savedSettings();
let runs: DashboardRun[] = [];
const seriesByRun = new Map<string, RunSeries>();
let lossChart: uPlot | undefined;
let accuracyChart: uPlot | undefined;
/** What the charts were built for; a different key means new series or scales, so new charts. */
let chartKey = '';
let redrawQueued = false;
let lastFrameMs = 0;
const RUN_LIST_INTERVAL_MS = 250;
let lastListRender = -Infinity;
let listRenderQueued = false;
/** The run list last rendered (a new `runs` message always renders at once). */
let listedRuns: DashboardRun[] | undefined;
let redraws = 0;

// ---- colours: VS Code's chart palette when the page runs inside it, fixed fallbacks otherwise.

const paletteVariables = ['--vscode-charts-blue', '--vscode-charts-orange', '--vscode-charts-green', '--vscode-charts-purple', '--vscode-charts-red', '--vscode-charts-yellow'];
const paletteFallbacks = ['#3794ff', '#d18616', '#89d185', '#b180d7', '#f14c4c', '#cca700'];

function cssVariable(name: string, fallback: string): string {
  const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim() || getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

interface Theme {
  runColors: string[];
  foreground: string;
  grid: string;
  background: string;
}

function readTheme(): Theme {
  return {
    runColors: paletteVariables.map((name, i) => cssVariable(name, paletteFallbacks[i]!)),
    foreground: cssVariable('--vscode-foreground', getComputedStyle(document.body).color || '#cccccc'),
    grid: cssVariable('--vscode-editorWidget-border', 'rgba(128, 128, 128, 0.35)'),
    background: cssVariable('--vscode-editor-background', getComputedStyle(document.body).backgroundColor || '#1e1e1e'),
  };
}

/** The same colour with an alpha, for the faint raw line: works for #rgb, #rrggbb and rgb(). */
function withAlpha(color: string, alpha: number): string {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})([0-9a-f]{2})?$/i.exec(color);
  if (hex) {
    const digits = hex[1]!.length === 3 ? hex[1]!.split('').map((d) => d + d).join('') : hex[1]!;
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(digits.slice(i, i + 2), 16));
    return `rgba(${r}, ${g}, ${b}, ${alpha})`;
  }
  const rgb = /^rgba?\(([^,]+),([^,]+),([^,)]+)/.exec(color);
  return rgb ? `rgba(${rgb[1]!.trim()}, ${rgb[2]!.trim()}, ${rgb[3]!.trim()}, ${alpha})` : color;
}

let theme = readTheme();

function runColor(id: string): string {
  const index = runs.findIndex((run) => run.id === id);
  return theme.runColors[(index < 0 ? 0 : index) % theme.runColors.length]!;
}

// ---- formatting

/** Binary units with two decimals, as the editor's hovers and the CLI table write memory. */
function formatBytes(bytes: number): string {
  const units: [number, string][] = [[2 ** 40, 'TiB'], [2 ** 30, 'GiB'], [2 ** 20, 'MiB'], [2 ** 10, 'KiB']];
  for (const [scale, unit] of units) if (bytes >= scale) return `${(bytes / scale).toFixed(2)} ${unit}`;
  return `${bytes} B`;
}

function formatNumber(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

function statusText(run: DashboardRun, series: RunSeries): string {
  if (run.status === 'running' && series.batchesPerEpoch && series.epochOfStep.length > 0) {
    return `running · epoch ${series.epochOfStep.at(-1)}`;
  }
  return run.status;
}

// ---- run list

function visibleRuns(): DashboardRun[] {
  return runs.filter((run) => !settings.hidden.includes(run.id));
}

function seriesOf(id: string): RunSeries {
  let series = seriesByRun.get(id);
  if (!series) {
    series = emptySeries();
    seriesByRun.set(id, series);
  }
  return series;
}

function renderRunList(): void {
  const body = element<HTMLTableElement>('dash-runs').tBodies[0]!;
  const rows = runs.map((run) => {
    const series = seriesOf(run.id);
    const row = document.createElement('tr');
    const shown = !settings.hidden.includes(run.id);
    row.className = shown ? 'run' : 'run hidden-run';
    row.dataset['run'] = run.id;
    row.dataset['points'] = String(series.steps.length);
    row.dataset['epochs'] = String(series.epochs.length);
    row.dataset['status'] = run.status;

    const name = row.insertCell();
    name.className = 'run';
    const label = document.createElement('label');
    const toggle = document.createElement('input');
    toggle.type = 'checkbox';
    toggle.checked = shown;
    toggle.title = shown ? 'Hide this run' : 'Show this run';
    toggle.addEventListener('change', () => {
      settings.hidden = toggle.checked ? settings.hidden.filter((id) => id !== run.id) : [...settings.hidden, run.id];
      saveSettings();
      renderRunList();
      queueRedraw();
    });
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = runColor(run.id);
    const title = document.createElement('span');
    title.textContent = run.model ? `${run.model} · ${run.id}` : run.id;
    label.append(toggle, swatch, title);
    const detail = document.createElement('div');
    detail.className = 'run-detail';
    detail.textContent = [run.file, run.settings, series.dataName && !run.settings.includes(series.dataName) ? series.dataName : ''].filter(Boolean).join(' · ');
    name.append(label, detail);

    const status = cell(row, statusText(run, series), `status status-${run.status}`);
    const why = run.message ?? series.error;
    if (why) status.title = why;
    cell(row, String(series.steps.length), 'number steps');
    cell(row, formatNumber(smoothedLoss(series).at(-1), 4), 'number loss');
    const lastEpoch = series.epochs.at(-1);
    cell(row, lastEpoch?.valAcc == null ? (lastEpoch ? `${(lastEpoch.trainAcc * 100).toFixed(1)}% (train)` : '—') : `${(lastEpoch.valAcc * 100).toFixed(1)}%`, 'number accuracy');
    cell(row, formatNumber(recentMedian(series.imagesPerS), 1), 'number throughput');
    const memory = cell(row, run.predictedPeakBytes === undefined ? '—' : formatBytes(run.predictedPeakBytes), 'number memory');
    if (run.predictedPeakBytes !== undefined) {
      memory.title = `Predicted training peak (Netlens memory model)${run.capacityBytes ? ` of ${formatBytes(run.capacityBytes)} on ${run.device ?? 'the device'}` : ''}`;
      if (run.capacityBytes) memory.textContent = `${formatBytes(run.predictedPeakBytes)} / ${formatBytes(run.capacityBytes)}`;
    }
    return row;
  });
  body.replaceChildren(...rows);
  const state = element('dash-state');
  state.hidden = runs.length > 0;
  state.textContent = runs.length > 0 ? '' : 'No training runs yet. Run “Netlens: Train Model…” or `netlens train FILE` in this workspace.';
  document.body.dataset['runs'] = String(runs.length);
  const anyData = runs.some((run) => seriesOf(run.id).steps.length > 0);
  element<HTMLButtonElement>('dash-csv').disabled = !anyData;
  element<HTMLButtonElement>('dash-png').disabled = !anyData;
}

// ---- charts

function axisStyle(): Pick<uPlot.Axis, 'stroke' | 'grid' | 'ticks'> {
  return { stroke: theme.foreground, grid: { stroke: theme.grid, width: 1 }, ticks: { stroke: theme.grid, width: 1 } };
}

function chartWidth(container: HTMLElement): number {
  return Math.max(320, Math.floor(container.clientWidth || document.body.clientWidth - 32));
}

function lossOptions(shown: DashboardRun[], width: number): uPlot.Options {
  const series: uPlot.Series[] = [{ label: 'step' }];
  for (const run of shown) {
    const color = runColor(run.id);
    series.push(
      { label: `${run.id} loss (raw)`, stroke: withAlpha(color, 0.25), width: 1, points: { show: false } },
      { label: `${run.id} loss`, stroke: color, width: 2, points: { show: false } },
      { label: `${run.id} val loss`, stroke: color, width: 1.5, dash: [6, 4], spanGaps: true, points: { show: true, size: 6, fill: color } },
    );
    if (settings.showLr) series.push({ label: `${run.id} lr`, scale: 'lr', stroke: withAlpha(color, 0.7), width: 1, dash: [2, 3], points: { show: false } });
  }
  const axes: uPlot.Axis[] = [
    { ...axisStyle(), label: 'step' },
    { ...axisStyle(), label: 'loss' },
  ];
  if (settings.showLr) axes.push({ ...axisStyle(), scale: 'lr', side: 1, label: 'learning rate', grid: { show: false } });
  return {
    width, height: 280,
    legend: { show: false },
    cursor: { drag: { x: true, y: false } },
    scales: {
      x: { time: false, distr: settings.logX ? 3 : 1, log: 10 },
      y: { distr: settings.logY ? 3 : 1, log: 10 },
      lr: { distr: 1 },
    },
    axes,
    series,
  };
}

function accuracyOptions(shown: DashboardRun[], width: number): uPlot.Options {
  const series: uPlot.Series[] = [{ label: 'step' }];
  for (const run of shown) {
    const color = runColor(run.id);
    series.push(
      { label: `${run.id} train acc`, stroke: color, width: 2, spanGaps: true, points: { show: true, size: 6, fill: color } },
      { label: `${run.id} val acc`, stroke: color, width: 1.5, dash: [6, 4], spanGaps: true, points: { show: true, size: 6, fill: color } },
    );
  }
  return {
    width, height: 220,
    legend: { show: false },
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: false, distr: settings.logX ? 3 : 1, log: 10 }, y: { range: [0, 1] } },
    axes: [{ ...axisStyle(), label: 'step' }, { ...axisStyle(), label: 'accuracy', values: (_u, ticks) => ticks.map((t) => `${Math.round(t * 100)}%`) }],
    series,
  };
}

/** Each run's EMA of its loss, extended as steps arrive (a reset run gets a new series, so a new column). */
const smoothedColumns = new WeakMap<RunSeries, SmoothedColumn>();

function smoothedLoss(series: RunSeries): number[] {
  let column = smoothedColumns.get(series);
  if (!column) {
    column = new SmoothedColumn();
    smoothedColumns.set(series, column);
  }
  return column.update(series.loss, settings.smoothing);
}

/** 1..n, grown (or cut) in place: the loss chart's x when every run's steps are dense. */
const denseX: number[] = [];

function lossData(shown: DashboardRun[]): uPlot.AlignedData {
  const all = shown.map((run) => seriesOf(run.id));
  const last = all.reduce((max, s) => Math.max(max, s.steps.length > 0 ? s.steps[s.steps.length - 1]! : 0), 0);
  const columns: Column[] = [];
  const validationColumn = (s: RunSeries, length: number): Column => {
    // Sparse on purpose: a few points over many steps; uPlot spans the holes.
    const column: Column = new Array<number | null>(length);
    for (const row of s.epochs) if (row.step >= 1 && row.step <= length && row.valLoss !== null && Number.isFinite(row.valLoss)) column[row.step - 1] = row.valLoss;
    return column;
  };
  if (all.every((s) => s.dense)) {
    // The fast path, every frame of a live run: no column is copied; shorter runs end early
    // (uPlot reads past their end as gaps).
    for (let i = denseX.length; i < last; i++) denseX.push(i + 1);
    denseX.length = last;
    for (const s of all) {
      columns.push(s.loss, smoothedLoss(s), validationColumn(s, last));
      if (settings.showLr) columns.push(s.lr);
    }
    return [denseX, ...columns] as uPlot.AlignedData;
  }
  const raw = stepTable(all, (s) => s.loss);
  const smoothed = stepTable(all, (s) => smoothedLoss(s));
  const lr = settings.showLr ? stepTable(all, (s) => s.lr) : undefined;
  all.forEach((s, i) => {
    columns.push(raw.columns[i]!, smoothed.columns[i]!, validationColumn(s, raw.x.length));
    if (lr) columns.push(lr.columns[i]!);
  });
  return [raw.x, ...columns] as uPlot.AlignedData;
}

function lastStep(shown: DashboardRun[]): number {
  return shown.reduce((last, run) => Math.max(last, seriesOf(run.id).steps.at(-1) ?? 0), 1);
}

function accuracyData(shown: DashboardRun[]): uPlot.AlignedData {
  const table = epochTable(shown.map((run) => seriesOf(run.id)), [(row) => row.trainAcc, (row) => row.valAcc]);
  const x = table.x;
  const columns = table.columns.flat();
  // Empty rows at step 1 and at the last step give this chart the loss chart's x span, so an
  // epoch's point sits under the steps that made it.
  const last = lastStep(shown);
  if (x[0] !== 1) {
    x.unshift(1);
    for (const column of columns) column.unshift(null);
  }
  if ((x.at(-1) ?? 0) < last) {
    x.push(last);
    for (const column of columns) column.push(null);
  }
  return [x, ...columns] as uPlot.AlignedData;
}

function redraw(): void {
  redrawQueued = false;
  const started = performance.now();
  const shown = visibleRuns().filter((run) => seriesOf(run.id).steps.length > 0 || seriesOf(run.id).epochs.length > 0);
  const lossBox = element('dash-loss');
  const accuracyBox = element('dash-acc');
  const key = JSON.stringify([shown.map((run) => run.id), settings.logX, settings.logY, settings.showLr, theme, chartWidth(lossBox)]);
  const structureChanged = key !== chartKey || listedRuns !== runs;
  listedRuns = runs;
  if (key !== chartKey) {
    lossChart?.destroy();
    accuracyChart?.destroy();
    lossChart = accuracyChart = undefined;
    chartKey = key;
    if (shown.length > 0) {
      lossChart = new uPlot(lossOptions(shown, chartWidth(lossBox)), lossData(shown), lossBox);
      accuracyChart = new uPlot(accuracyOptions(shown, chartWidth(accuracyBox)), accuracyData(shown), accuracyBox);
    }
  } else if (lossChart && accuracyChart) {
    lossChart.setData(lossData(shown));
    accuracyChart.setData(accuracyData(shown));
  }
  const points = shown.reduce((sum, run) => sum + seriesOf(run.id).steps.length, 0);
  lossBox.dataset['points'] = String(points);
  accuracyBox.dataset['points'] = String(shown.reduce((sum, run) => sum + seriesOf(run.id).epochs.length, 0));
  element('dash-loss').parentElement!.hidden = shown.length === 0;
  element('dash-acc').parentElement!.hidden = shown.length === 0;
  // The run list's readouts change every frame while a run streams, but nobody reads them at
  // 60 Hz: rebuilding its rows a few times a second spares the page a layout per frame.
  const now = performance.now();
  if (structureChanged || now - lastListRender >= RUN_LIST_INTERVAL_MS) {
    lastListRender = now;
    renderRunList();
  } else if (!listRenderQueued) {
    listRenderQueued = true;
    setTimeout(() => {
      listRenderQueued = false;
      lastListRender = performance.now();
      renderRunList();
    }, RUN_LIST_INTERVAL_MS);
  }
  // uPlot draws in a microtask queued by setData; this one runs after it, so the time includes drawing.
  queueMicrotask(() => {
    lastFrameMs = performance.now() - started;
    document.body.dataset['frameMs'] = lastFrameMs.toFixed(2);
    redraws++;
    document.body.dataset['redraws'] = String(redraws);
  });
  document.body.dataset['status'] = runs.length === 0 ? 'empty' : 'ready';
}

function queueRedraw(): void {
  if (redrawQueued) return;
  redrawQueued = true;
  requestAnimationFrame(redraw);
}

// ---- controls and exports

function saveSettings(): void {
  channel.setState(settings);
}

function applyControls(): void {
  element<HTMLInputElement>('dash-smoothing').value = String(settings.smoothing);
  element('dash-smoothing-value').textContent = settings.smoothing.toFixed(2);
  element<HTMLInputElement>('dash-logx').checked = settings.logX;
  element<HTMLInputElement>('dash-logy').checked = settings.logY;
  element<HTMLInputElement>('dash-lr').checked = settings.showLr;
}

element<HTMLInputElement>('dash-smoothing').addEventListener('input', (event) => {
  settings.smoothing = Number((event.target as HTMLInputElement).value);
  element('dash-smoothing-value').textContent = settings.smoothing.toFixed(2);
  saveSettings();
  queueRedraw();
});
for (const [id, field] of [['dash-logx', 'logX'], ['dash-logy', 'logY'], ['dash-lr', 'showLr']] as const) {
  element<HTMLInputElement>(id).addEventListener('change', (event) => {
    settings[field] = (event.target as HTMLInputElement).checked;
    saveSettings();
    queueRedraw();
  });
}

function exportStamp(): string {
  return visibleRuns().map((run) => run.id).join('_') || 'runs';
}

element('dash-csv').addEventListener('click', () => {
  const text = toCsv(visibleRuns().map((run) => ({ id: run.id, series: seriesOf(run.id) })));
  channel.post({ type: 'save', format: 'csv', suggestedName: `netlens-${exportStamp()}.csv`, text });
});

/** Both charts (their canvases, axes included) on the theme's background, with titles and a run key. */
function chartsPng(): string | undefined {
  const canvases = [lossChart, accuracyChart].flatMap((chart) => (chart ? [chart.ctx.canvas] : []));
  if (canvases.length === 0) return undefined;
  const scale = window.devicePixelRatio || 1;
  const titleHeight = Math.round(24 * scale);
  const keyHeight = Math.round(20 * scale) * visibleRuns().length;
  const width = Math.max(...canvases.map((c) => c.width));
  const height = canvases.reduce((sum, c) => sum + c.height + titleHeight, 0) + keyHeight;
  const out = document.createElement('canvas');
  out.width = width;
  out.height = height;
  const context = out.getContext('2d')!;
  context.fillStyle = theme.background;
  context.fillRect(0, 0, width, height);
  context.fillStyle = theme.foreground;
  context.font = `${Math.round(13 * scale)}px sans-serif`;
  let y = 0;
  ['Loss', 'Accuracy'].slice(0, canvases.length).forEach((title, i) => {
    context.fillStyle = theme.foreground;
    context.fillText(title, 8 * scale, y + titleHeight * 0.75);
    y += titleHeight;
    context.drawImage(canvases[i]!, 0, y);
    y += canvases[i]!.height;
  });
  for (const run of visibleRuns()) {
    context.fillStyle = runColor(run.id);
    context.fillRect(8 * scale, y + 8 * scale, 14 * scale, 3 * scale);
    context.fillStyle = theme.foreground;
    context.fillText(`${run.model ? `${run.model} · ` : ''}${run.id}`, 28 * scale, y + 14 * scale);
    y += Math.round(20 * scale);
  }
  return out.toDataURL('image/png');
}

element('dash-png').addEventListener('click', () => {
  const dataUrl = chartsPng();
  if (dataUrl) channel.post({ type: 'save', format: 'png', suggestedName: `netlens-${exportStamp()}.png`, dataUrl });
});

// ---- messages, theme and size changes

channel.listen((message) => {
  if (!isToDashboard(message)) return;
  if (message.type === 'runs') {
    runs = message.runs;
    const ids = new Set(runs.map((run) => run.id));
    for (const id of [...seriesByRun.keys()]) if (!ids.has(id)) seriesByRun.delete(id);
  } else {
    if (message.reset) seriesByRun.set(message.run, emptySeries());
    applyEvents(seriesOf(message.run), message.events);
  }
  queueRedraw();
});

// VS Code swaps the theme by rewriting the CSS variables on <html> and the body's class.
const themeObserver = new MutationObserver(() => {
  const next = readTheme();
  if (JSON.stringify(next) === JSON.stringify(theme)) return;
  theme = next;
  queueRedraw();
});
themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['style', 'class'] });
themeObserver.observe(document.body, { attributes: true, attributeFilter: ['class'] });
new ResizeObserver(() => queueRedraw()).observe(element('dash-loss'));

applyControls();
document.body.dataset['status'] = 'waiting';
channel.post({ type: 'ready' });
