// The dashboard's data, without the DOM: a run's metrics events folded into columns (steps,
// losses, learning rates, throughput, and one row per finished epoch), smoothing, the tables
// the charts draw from (one x column shared by every run) and the CSV export.
import type { TrainingEvent } from '../../extension/training/train';

export interface EpochRow {
  epoch: number;
  /** The last optimizer step of the epoch: where the epoch's point sits on the step axis. */
  step: number;
  trainLoss: number;
  trainAcc: number;
  valLoss: number | null;
  valAcc: number | null;
}

export interface RunSeries {
  steps: number[];
  /** Steps are exactly 1, 2, 3, …: columns can be the arrays themselves (no copy onto a shared x). */
  dense: boolean;
  epochOfStep: number[];
  loss: number[];
  lr: number[];
  imagesPerS: number[];
  epochs: EpochRow[];
  dataName?: string;
  trainSamples?: number;
  batchesPerEpoch?: number;
  /** Set by a `done` event. */
  finished?: { status: 'completed' | 'cancelled'; seconds: number };
  error?: string;
}

export function emptySeries(): RunSeries {
  return { steps: [], dense: true, epochOfStep: [], loss: [], lr: [], imagesPerS: [], epochs: [] };
}

export function applyEvents(series: RunSeries, events: readonly TrainingEvent[]): void {
  for (const event of events) {
    switch (event.type) {
      case 'start':
        series.dataName = event.data;
        series.trainSamples = event.train_samples;
        series.batchesPerEpoch = event.batches_per_epoch;
        break;
      case 'step':
        series.steps.push(event.step);
        if (event.step !== series.steps.length) series.dense = false;
        series.epochOfStep.push(event.epoch);
        series.loss.push(event.loss);
        series.lr.push(event.lr);
        series.imagesPerS.push(event.images_per_s);
        break;
      case 'epoch':
        series.epochs.push({
          epoch: event.epoch, step: series.steps.at(-1) ?? 0,
          trainLoss: event.train_loss, trainAcc: event.train_acc, valLoss: event.val_loss, valAcc: event.val_acc,
        });
        break;
      case 'done':
        series.finished = { status: event.status, seconds: event.seconds };
        break;
      case 'error':
        series.error = event.message;
        break;
      default:
        break;
    }
  }
}

/**
 * Exponential moving average with TensorBoard's debiasing (the first points are not pulled toward
 * 0), kept up to date as points arrive: only new points are folded in, unless the weight changed
 * or the source got shorter (then it starts over). Weight 0 is the raw line; non-finite values
 * pass through without entering the average.
 */
export class SmoothedColumn {
  readonly values: number[] = [];
  private weight = NaN;
  private average = 0;
  private count = 0;

  update(source: readonly number[], weight: number): number[] {
    if (weight !== this.weight || source.length < this.values.length) {
      this.weight = weight;
      this.values.length = 0;
      this.average = 0;
      this.count = 0;
    }
    for (let i = this.values.length; i < source.length; i++) {
      const value = source[i]!;
      if (!Number.isFinite(value)) {
        this.values.push(value);
        continue;
      }
      this.count++;
      this.average = this.average * weight + (1 - weight) * value;
      this.values.push(weight === 0 ? value : this.average / (1 - weight ** this.count));
    }
    return this.values;
  }
}

/** Median of the last `count` values (steady-state throughput; the first steps are warm-up). */
export function recentMedian(values: readonly number[], count = 20): number | undefined {
  const recent = values.slice(-count).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (recent.length === 0) return undefined;
  const middle = recent.length >> 1;
  return recent.length % 2 ? recent[middle] : (recent[middle - 1]! + recent[middle]!) / 2;
}

export type Column = (number | null)[];

/**
 * Columns over one shared x: every step from 1 to the largest step of `runs` (run-store steps
 * are whole numbers from 1, so the x column is dense and no join is needed). A step seen twice
 * (a run resumed from an earlier checkpoint) keeps its last value.
 */
export function stepTable(runs: readonly RunSeries[], pick: (run: RunSeries) => readonly number[]): { x: number[]; columns: Column[] } {
  let last = 0;
  for (const run of runs) for (const step of run.steps) if (step > last) last = step;
  const x = new Array<number>(last);
  for (let i = 0; i < last; i++) x[i] = i + 1;
  const columns = runs.map((run) => {
    const column: Column = new Array<number | null>(last).fill(null);
    const values = pick(run);
    for (let i = 0; i < run.steps.length; i++) {
      const step = run.steps[i]!;
      if (step >= 1) column[step - 1] = values[i] ?? null;
    }
    return column;
  });
  return { x, columns };
}

/** The same over the steps where epochs ended (the accuracy chart's x), one column per run and value. */
export function epochTable(runs: readonly RunSeries[], picks: ((row: EpochRow) => number | null)[]): { x: number[]; columns: Column[][] } {
  const x = [...new Set(runs.flatMap((run) => run.epochs.map((row) => row.step)))].sort((a, b) => a - b);
  const index = new Map(x.map((step, i) => [step, i]));
  const columns = runs.map((run) => picks.map((pick) => {
    const column: Column = new Array<number | null>(x.length).fill(null);
    for (const row of run.epochs) column[index.get(row.step)!] = pick(row);
    return column;
  }));
  return { x, columns };
}

/** Every step and epoch row of the given runs, one CSV table (RFC 4180 quoting for the run ids). */
export function toCsv(runs: readonly { id: string; series: RunSeries }[]): string {
  const lines = ['run,kind,epoch,step,loss,lr,images_per_s,train_loss,train_acc,val_loss,val_acc'];
  const cell = (value: number | null | undefined): string => (value === null || value === undefined ? '' : String(value));
  const quote = (text: string): string => (/[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);
  for (const { id, series } of runs) {
    const run = quote(id);
    for (let i = 0; i < series.steps.length; i++) {
      lines.push([run, 'step', series.epochOfStep[i], series.steps[i], series.loss[i], series.lr[i], series.imagesPerS[i], '', '', '', ''].map((v) => (typeof v === 'string' ? v : cell(v))).join(','));
    }
    for (const row of series.epochs) {
      lines.push([run, 'epoch', cell(row.epoch), cell(row.step), '', '', '', cell(row.trainLoss), cell(row.trainAcc), cell(row.valLoss), cell(row.valAcc)].join(','));
    }
  }
  return lines.join('\n') + '\n';
}
