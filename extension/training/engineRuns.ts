// The engine-process side of training and benchmarking: builds engines from lowered specs, feeds
// them batches from the add-on's loaders (or synthetic data for bench) and times the steps. It
// runs inside the engine process (host.ts) only, so a fault in native code never reaches the
// editor; the CLI and the extension drive it through EngineClient requests.
import type { NativeAddon, NativeBatchLoader, NativeDataset, NativeEngine, NativeTensor } from '../engine/addon';
import type {
  TrainingDataSpec,
  BenchParams,
  BenchResult,
  EngineRequest,
  EngineRequestMap,
  TrainEvaluation,
  TrainOpened,
  TrainOpenParams,
  TrainStepsParams,
  TrainStepsResult,
} from '../engine/protocol';
import { TARGET_INPUT, type EngineGraphSpec } from './lower';
import { trainingMessages } from './messages';

type RunRequestKind =
  | 'bench' | 'trainOpen' | 'trainSteps' | 'trainEvaluate' | 'trainState' | 'trainLoadState'
  | 'trainOptimizerState' | 'trainLoadOptimizerState' | 'trainClose';

interface TrainingRun {
  engine: NativeEngine;
  inputName: string;
  dataset: NativeDataset;
  train: NativeBatchLoader;
  validation: NativeBatchLoader | undefined;
  /** Eval-mode accuracy on training data is measured on this many samples (the validation size). */
  trainEvaluation: NativeBatchLoader;
  epoch: number;
}

export class EngineRuns {
  private readonly runs = new Map<number, TrainingRun>();
  private nextRun = 1;

  constructor(private readonly addon: NativeAddon) {}

  answer(request: EngineRequest): EngineRequestMap[RunRequestKind]['result'] {
    switch (request.kind) {
      case 'bench': return this.bench(request.params as BenchParams);
      case 'trainOpen': return this.open(request.params as TrainOpenParams);
      case 'trainSteps': return this.steps(request.params as TrainStepsParams);
      case 'trainEvaluate': {
        const params = request.params as EngineRequestMap['trainEvaluate']['params'];
        return this.evaluate(this.run(params.run), params.train ?? true);
      }
      case 'trainState': return this.state(this.run((request.params as { run: number }).run));
      case 'trainLoadState': return this.loadState(request.params as EngineRequestMap['trainLoadState']['params']);
      case 'trainOptimizerState': return this.run((request.params as { run: number }).run).engine.optimizerState();
      case 'trainLoadOptimizerState': {
        const params = request.params as EngineRequestMap['trainLoadOptimizerState']['params'];
        try {
          this.run(params.run).engine.setOptimizerState(params.state);
        } catch (error) {
          throw new Error(`${params.source}: ${error instanceof Error ? error.message : String(error)}`);
        }
        return {};
      }
      case 'trainClose': return this.close((request.params as { run: number }).run);
      default: throw new Error(`'${request.kind}' is not a training request`);
    }
  }

  private bench(params: BenchParams): BenchResult {
    const spec = JSON.parse(params.spec) as EngineGraphSpec;
    const input = spec.inputs.find((i) => i.name !== TARGET_INPUT);
    if (!input) throw new Error('the spec has no model input');
    const engine = this.addon.createEngine(params.spec, params.seed, params.session);
    const random = seededRandom(params.seed);
    const shape = [params.batch, ...input.shape.slice(1)];
    const makeBatch = (): Record<string, NativeTensor> => ({
      [input.name]: { shape, data: Float32Array.from({ length: product(shape) }, () => random() * 2 - 1) },
      [TARGET_INPUT]: { shape: [params.batch], data: Float32Array.from({ length: params.batch }, () => Math.floor(random() * params.classes)) },
    });
    // Data is made before timing: the numbers are the engine's step, not the random generator.
    const batches = Array.from({ length: Math.min(params.steps, 4) }, makeBatch);
    for (let i = 0; i < params.warmupSteps; i++) engine.trainSteps([batches[i % batches.length]!]);
    const stepMs: number[] = [];
    for (let i = 0; i < params.steps; i++) {
      const batch = batches[i % batches.length]!;
      const start = process.hrtime.bigint();
      engine.trainSteps([batch]);
      stepMs.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return { stepMs, session: engine.sessionInfo() };
  }

  private open(params: TrainOpenParams): TrainOpened {
    const spec = JSON.parse(params.spec) as EngineGraphSpec;
    const input = spec.inputs.find((i) => i.name !== TARGET_INPUT);
    if (!input) throw new Error('the spec has no model input');
    const dataset = this.addon.openDataset(params.data);
    const info = dataset.info();
    const need = input.shape.slice(1);
    if (need.length !== info.shape.length || need.some((extent, i) => extent !== info.shape[i])) {
      throw new Error(trainingMessages.dataDoesNotFit(`N, ${need.join(', ')}`, info.name, `${info.shape.join('×')} samples`));
    }
    const outputClasses = spec.loss ? outputWidth(spec) : undefined;
    if (outputClasses !== undefined && outputClasses < info.classes) {
      throw new Error(`the model scores ${outputClasses} classes but '${info.name}' has ${info.classes}; make the last layer ${info.classes} wide.`);
    }
    const split = params.validationFraction > 0 ? dataset.validationSplit({ fraction: params.validationFraction, seed: params.seed, stratified: true }) : undefined;
    const augment = params.augment ? { cropPadding: 4, horizontalFlip: true } : {};
    const train = dataset.loader({ batchSize: params.batch, shuffle: true, dropLast: true, seed: params.seed, normalize: true, ...augment, ...(split ? { indices: split.train } : {}) });
    const validation = split ? dataset.loader({ batchSize: params.batch, shuffle: false, normalize: true, indices: split.validation }) : undefined;
    const evaluationCount = split ? split.validation.length : Math.min(info.count, 1000);
    const trainIndices = split ? split.train.subarray(0, evaluationCount) : Int32Array.from({ length: evaluationCount }, (_, i) => i);
    const trainEvaluation = dataset.loader({ batchSize: params.batch, shuffle: false, normalize: true, indices: trainIndices });
    // On cuda the memory plan is made for this batch: the training loader drops the last, smaller
    // batch, and the binding pads a smaller evaluation batch (eval mode only).
    const engine = this.addon.createEngine(params.spec, params.seed, params.session);
    engine.setTraining(true);
    const run = this.nextRun++;
    this.runs.set(run, { engine, inputName: input.name, dataset, train, validation, trainEvaluation, epoch: 0 });
    train.startEpoch(0);
    return {
      run,
      dataName: info.name,
      sampleShape: info.shape,
      classes: info.classes,
      trainSamples: train.sampleCount,
      validationSamples: validation?.sampleCount ?? 0,
      batchesPerEpoch: train.batchesPerEpoch,
      session: engine.sessionInfo(),
    };
  }

  private steps(params: TrainStepsParams): TrainStepsResult {
    const run = this.run(params.run);
    if (params.epoch !== run.epoch) {
      run.train.startEpoch(params.epoch);
      run.epoch = params.epoch;
    }
    const result: TrainStepsResult = { losses: [], learningRates: [], stepMs: [], batchSizes: [], corrects: [], epochDone: false };
    for (let i = 0; i < (params.skip ?? 0); i++) {
      if (!run.train.next()) {
        result.epochDone = true;
        return result;
      }
    }
    // The batches go from the loader to the engine inside the add-on (no copies through JS); on cuda
    // the next batch is staged while the GPU runs the current step.
    const steps = run.engine.trainFromLoader(run.train, params.steps);
    return steps;
  }

  private evaluate(run: TrainingRun, includeTrain: boolean): TrainEvaluation {
    run.engine.setTraining(false);
    try {
      const train = includeTrain ? this.score(run, run.trainEvaluation) : { loss: null, accuracy: null };
      const validation = run.validation ? this.score(run, run.validation) : undefined;
      return {
        trainLoss: train.loss,
        trainAccuracy: train.accuracy,
        validationLoss: validation ? validation.loss : null,
        validationAccuracy: validation ? validation.accuracy : null,
      };
    } finally {
      run.engine.setTraining(true);
    }
  }

  /** Mean cross-entropy and accuracy of the model's class scores over one pass of a loader. */
  private score(run: TrainingRun, loader: NativeBatchLoader): { loss: number; accuracy: number } {
    loader.startEpoch(0);
    let lossSum = 0;
    let correct = 0;
    let count = 0;
    for (let batch = loader.next(); batch; batch = loader.next()) {
      const outputs = run.engine.forward({ [run.inputName]: { shape: batch.shape, data: batch.images } });
      const logits = Object.values(outputs)[0];
      if (!logits || logits.shape.length !== 2) throw new Error('evaluation needs class scores of shape (N, classes)');
      const classes = logits.shape[1]!;
      for (let row = 0; row < batch.labels.length; row++) {
        const scores = logits.data.subarray(row * classes, (row + 1) * classes);
        let best = 0;
        let max = -Infinity;
        for (let c = 0; c < classes; c++) if (scores[c]! > max) { max = scores[c]!; best = c; }
        let sum = 0;
        for (let c = 0; c < classes; c++) sum += Math.exp(scores[c]! - max);
        const label = batch.labels[row]!;
        lossSum += Math.log(sum) + max - scores[label]!;
        if (best === label) correct++;
        count++;
      }
    }
    return { loss: count ? lossSum / count : NaN, accuracy: count ? correct / count : NaN };
  }

  private state(run: TrainingRun): { name: string; shape: number[]; data: Float32Array }[] {
    return run.engine.stateNames().map((name) => ({ name, ...run.engine.getState(name) }));
  }

  /** Checked whole before anything is set, so a checkpoint of another model leaves the run as it was. */
  private loadState(params: EngineRequestMap['trainLoadState']['params']): Record<string, never> {
    const run = this.run(params.run);
    checkStateFits(run.engine, params.tensors, params.source);
    const given = new Map(params.tensors.map((tensor) => [tensor.name, tensor]));
    for (const name of run.engine.stateNames()) {
      const tensor = given.get(name)!;
      run.engine.setState(name, { shape: tensor.shape, data: tensor.data });
    }
    return {};
  }

  private close(id: number): Record<string, never> {
    const run = this.runs.get(id);
    if (run) {
      run.train.close();
      run.validation?.close();
      run.trainEvaluation.close();
      this.runs.delete(id);
    }
    return {};
  }

  private run(id: number): TrainingRun {
    const run = this.runs.get(id);
    if (!run) throw new Error(`no training run ${id} in this engine process`);
    return run;
  }
}

/** Throws, naming `source`, unless `tensors` hold every parameter and buffer of the engine with its shape. */
export function checkStateFits(engine: NativeEngine, tensors: readonly { name: string; shape: number[] }[], source: string): void {
  const given = new Map(tensors.map((tensor) => [tensor.name, tensor]));
  for (const name of engine.stateNames()) {
    const tensor = given.get(name);
    const expected = engine.getState(name).shape;
    if (!tensor) throw new Error(`${source}: it has no '${name}', which the model needs; it is a checkpoint of another model`);
    if (tensor.shape.length !== expected.length || tensor.shape.some((extent, i) => extent !== expected[i])) {
      throw new Error(`${source}: '${name}' is ${tensor.shape.join('×')} but the model's is ${expected.join('×')}; it is a checkpoint of another model`);
    }
  }
}

/**
 * The built-in data set that fits a model's per-sample input shape (C, H, W), or undefined: 3×32×32
 * colour shapes, 1×28×28 gray shapes, or either padded with a zero border of up to 4 pixels a side
 * (1×32×32 for LeNet-5, which was made for 28×28 digits padded to 32×32).
 */
export function defaultDataFor(sampleShape: readonly number[], split: 'train' | 'test'): TrainingDataSpec | undefined {
  const [channels, height, width] = sampleShape;
  if (sampleShape.length !== 3 || height === undefined || width === undefined) return undefined;
  const base = channels === 3 ? { variant: 'shapes32', side: 32 } : channels === 1 ? { variant: 'shapes28', side: 28 } : undefined;
  if (!base || height < base.side || width < base.side || height > base.side + 8 || width > base.side + 8) return undefined;
  const size = height === base.side && width === base.side ? {} : { size: [height, width] };
  return { kind: 'default', options: { variant: base.variant, split, ...size } };
}

/** Width of the loss input (class count), from the spec's recorded node shapes when it is known. */
function outputWidth(spec: EngineGraphSpec): number | undefined {
  const node = spec.nodes.find((n) => n.id === spec.loss?.input);
  const width = node?.op === 'linear' ? node.attrs['out_features'] : undefined;
  return typeof width === 'number' ? width : undefined;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A small deterministic generator (mulberry32): bench data is the same for the same seed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
