// The command line grammar of `netlens train` and `netlens bench` (the same FILE/--entry/--input
// rules as analyze): argv → typed options or a UsageError naming the bad flag. No I/O here.
import type { InputSpec } from '../analysis/reportTypes';
import { optimizerNames, parseInputSpec, UsageError, type OptimizerName } from './args';

export type DeviceName = 'cpu' | 'cuda';
export type PrecisionName = 'fp32' | 'tf32' | 'bf16';
export const precisionNames: readonly PrecisionName[] = ['fp32', 'tf32', 'bf16'];

interface ModelCliOptions {
  file: string;
  entry?: string;
  inputs: InputSpec[];
  batch?: number;
  pythonPath: string[];
  device: DeviceName;
  seed: number;
}

/** train and bench choose the arithmetic too (whether the device can do it is the engine's to say). */
interface SessionCliOptions {
  precision: PrecisionName;
  /** Time cuDNN's convolution algorithms once per shape (cached) instead of taking its heuristics' choice. */
  autotune: boolean;
  /** NHWC activations around cuDNN's convolutions (device cuda); the model's API stays NCHW. */
  channelsLast: boolean;
}

function precisionFlag(topic: Topic, value: string): PrecisionName {
  const name = precisionNames.find((candidate) => candidate === value.toLowerCase());
  if (!name) throw usage(topic, `--precision '${value}' is not one of ${precisionNames.join(', ')}.`);
  return name;
}

export interface BenchCliOptions extends ModelCliOptions, SessionCliOptions {
  steps: number;
  warmup: number;
  json: boolean;
}

export interface TrainCliOptions extends ModelCliOptions, SessionCliOptions {
  /** 'default' or a path (file, comma-separated files, or folder). */
  data: string;
  epochs: number;
  optimizer: OptimizerName;
  lr?: number;
  maxSteps?: number;
  validation: number;
  augment: boolean;
  jsonEvents: boolean;
  /** Folder that holds `.netlens/runs/` (default: the current folder). */
  runsRoot?: string;
  /** A run folder (its latest checkpoint) or a checkpoint file to continue from. */
  resume?: string;
}

type Topic = 'train' | 'bench' | 'export-torchrun' | 'infer';

function usage(topic: Topic, message: string): UsageError {
  return new UsageError(`${message} Run 'netlens ${topic} --help'.`);
}

function positiveInteger(topic: Topic, flag: string, value: string): number {
  if (!/^[1-9][0-9]*$/.test(value)) throw usage(topic, `${flag} '${value}' is not a positive whole number.`);
  return Number(value);
}

function wholeNumber(topic: Topic, flag: string, value: string): number {
  if (!/^[0-9]+$/.test(value)) throw usage(topic, `${flag} '${value}' is not a whole number.`);
  return Number(value);
}

function positiveNumber(topic: Topic, flag: string, value: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number) || number <= 0) throw usage(topic, `${flag} '${value}' is not a positive number, e.g. ${flag} 0.01.`);
  return number;
}

/** Walks argv: FILE positionals, `--flag value` / `--flag=value`, and bare switches. */
function walk(topic: Topic, args: readonly string[], switches: ReadonlySet<string>, onFlag: (flag: string, value: string) => void, onSwitch: (flag: string) => void): string[] {
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      files.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      files.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (switches.has(flag)) {
      if (eq > 0) throw usage(topic, `${flag} takes no value; write just ${flag}.`);
      onSwitch(flag);
      continue;
    }
    const value: string | undefined = eq > 0 ? arg.slice(eq + 1) : args[i + 1];
    if (eq <= 0) i++;
    if (value === undefined || (eq <= 0 && value.startsWith('--') && value.length > 2)) throw usage(topic, `${flag} needs a value.`);
    onFlag(flag, value);
  }
  if (files.length !== 1) {
    throw usage(topic, files.length === 0 ? `missing FILE: 'netlens ${topic}' needs the Python file of the model.` : `'netlens ${topic}' takes one FILE, got ${files.length}: ${files.join(' ')}.`);
  }
  return files;
}

function modelFlag(topic: Topic, options: Omit<ModelCliOptions, 'file'>, flag: string, value: string): boolean {
  switch (flag) {
    case '--entry':
      if (value.trim() === '') throw usage(topic, "--entry is empty; give a Python expression, e.g. --entry 'Net()'.");
      options.entry = value;
      return true;
    case '--input':
      options.inputs.push(parseInputSpec(value));
      return true;
    case '--batch':
      options.batch = positiveInteger(topic, flag, value);
      return true;
    case '--python-path':
      options.pythonPath.push(value);
      return true;
    case '--device':
      if (value !== 'cpu' && value !== 'cuda') throw usage(topic, `--device '${value}' is not one of cpu, cuda.`);
      options.device = value;
      return true;
    case '--seed':
      options.seed = wholeNumber(topic, flag, value);
      return true;
    case '--dtype':
      if (value !== 'float32') throw usage(topic, `--dtype '${value}': the engine trains in float32 only in this version.`);
      return true;
    default:
      return false;
  }
}

export function parseBench(args: readonly string[]): BenchCliOptions | 'help' {
  if (args.includes('--help') || args.includes('-h')) return 'help';
  const options: Omit<BenchCliOptions, 'file'> = { inputs: [], pythonPath: [], device: 'cpu', precision: 'fp32', autotune: false, channelsLast: false, seed: 0, steps: 10, warmup: 2, json: false };
  const [file] = walk('bench', args, new Set(['--json', '--autotune', '--channels-last']), (flag, value) => {
    if (modelFlag('bench', options, flag, value)) return;
    if (flag === '--steps') options.steps = positiveInteger('bench', flag, value);
    else if (flag === '--precision') options.precision = precisionFlag('bench', value);
    else if (flag === '--warmup') options.warmup = wholeNumber('bench', flag, value);
    else throw usage('bench', `unknown option ${flag} for 'netlens bench'.`);
  }, (flag) => {
    if (flag === '--autotune') options.autotune = true;
    else if (flag === '--channels-last') options.channelsLast = true;
    else options.json = true;
  });
  return { file: file!, ...options };
}

/** Flags a command built on train's grammar adds (export-torchrun): it claims them before train's switch. */
export interface ExtraTrainFlags {
  switches: readonly string[];
  onFlag(flag: string, value: string): boolean;
  onSwitch(flag: string): void;
}

export function parseTrain(args: readonly string[], topic: 'train' | 'export-torchrun' = 'train', extra?: ExtraTrainFlags): TrainCliOptions | 'help' {
  if (args.includes('--help') || args.includes('-h')) return 'help';
  const options: Omit<TrainCliOptions, 'file'> = {
    inputs: [], pythonPath: [], device: 'cpu', precision: 'fp32', autotune: false, channelsLast: false, seed: 0, data: 'default', epochs: 1, optimizer: 'momentum', validation: 0.1, augment: false, jsonEvents: false,
  };
  const [file] = walk(topic, args, new Set(['--json-events', '--augment', '--autotune', '--channels-last', ...(extra?.switches ?? [])]), (flag, value) => {
    if (modelFlag(topic, options, flag, value) || extra?.onFlag(flag, value)) return;
    switch (flag) {
      case '--data': options.data = value; break;
      case '--epochs': options.epochs = positiveInteger(topic, flag, value); break;
      case '--max-steps': options.maxSteps = positiveInteger(topic, flag, value); break;
      case '--lr': options.lr = positiveNumber(topic, flag, value); break;
      case '--validation': {
        const fraction = Number(value);
        if (!(fraction >= 0 && fraction < 1)) throw usage(topic, `--validation '${value}' must be a fraction in [0, 1), e.g. 0.1.`);
        options.validation = fraction;
        break;
      }
      case '--optimizer': {
        const name = optimizerNames.find((candidate) => candidate === value.toLowerCase());
        if (!name) throw usage(topic, `--optimizer '${value}' is not one of ${optimizerNames.join(', ')}.`);
        options.optimizer = name;
        break;
      }
      case '--runs-root': options.runsRoot = value; break;
      case '--resume': options.resume = value; break;
      case '--precision':
        // The exported torchrun script trains in PyTorch's default precision.
        if (topic !== 'train') throw usage(topic, `unknown option ${flag} for 'netlens ${topic}'.`);
        options.precision = precisionFlag(topic, value);
        break;
      default: throw usage(topic, `unknown option ${flag} for 'netlens ${topic}'.`);
    }
  }, (flag) => {
    if (extra?.switches.includes(flag)) extra.onSwitch(flag);
    else if (flag === '--json-events') options.jsonEvents = true;
    else if (flag === '--autotune') {
      // Like --precision: the exported torchrun script leaves algorithm choice to PyTorch.
      if (topic !== 'train') throw usage(topic, `unknown option ${flag} for 'netlens ${topic}'.`);
      options.autotune = true;
    }
    else if (flag === '--channels-last') {
      if (topic !== 'train') throw usage(topic, `unknown option ${flag} for 'netlens ${topic}'.`);
      options.channelsLast = true;
    }
    else options.augment = true;
  });
  return { file: file!, ...options };
}

export interface InferCliOptions extends ModelCliOptions {
  /** The PNG/JPEG file to classify. */
  image: string;
  checkpoint?: string;
  /** 'default' or a path, as for train; gives the normalization and the class names. */
  data: string;
  top: number;
  json: boolean;
}

export function parseInfer(args: readonly string[]): InferCliOptions | 'help' {
  if (args.includes('--help') || args.includes('-h')) return 'help';
  const topic = 'infer';
  let image: string | undefined;
  const options: Omit<InferCliOptions, 'file' | 'image'> = { inputs: [], pythonPath: [], device: 'cpu', seed: 0, data: 'default', top: 5, json: false };
  const [file] = walk(topic, args, new Set(['--json']), (flag, value) => {
    if (modelFlag(topic, options, flag, value)) return;
    switch (flag) {
      case '--image': image = value; break;
      case '--checkpoint': options.checkpoint = value; break;
      case '--data': options.data = value; break;
      case '--top': options.top = positiveInteger(topic, flag, value); break;
      default: throw usage(topic, `unknown option ${flag} for 'netlens infer'.`);
    }
  }, () => {
    options.json = true;
  });
  if (image === undefined) throw usage(topic, "missing --image: 'netlens infer' needs the image file to classify.");
  return { file: file!, image, ...options };
}

export const inferUsage = `Usage: netlens infer FILE --image PNG|JPEG [--entry EXPR] [--input D0,D1,...] [--checkpoint FILE]
                     [--data default|PATH] [--top K] [--seed N] [--json]

Classifies one image with the model in the native engine (eval mode): the image is scaled to
cover the model's input, centre-cropped and normalized like the data (--data: the built-in
shapes data when it fits the input, else PATH as for train, whose class names are used).
Weights come from --checkpoint (a safetensors state_dict, e.g. a run's checkpoint) or else
the --seed's initialization. Prints the K most probable classes (default 5); --json prints
{"model", "image", "weights", "input_shape", "classes", "top": [{"index", "name", "probability"}],
"probabilities"}.
Exit status: 0 ran, 1 the engine could not run it (or a bad image or checkpoint), 2 usage errors.
`;

export const benchUsage = `Usage: netlens bench FILE [--entry EXPR] [--input D0,D1,...]... [--batch B] [--steps S]
                     [--warmup W] [--device cpu|cuda] [--precision fp32|tf32|bf16] [--autotune] [--channels-last]
                     [--seed N] [--json]

Times S training steps of the model (SGD with momentum 0.9, cross-entropy, random inputs and
labels) in the native engine after W warm-up steps (default 10 and 2). With --json prints
{"device", "batch", "steps", "step_ms_median", "step_ms_min", "images_per_s"}.
--device cuda runs the CUDA executor (static memory plan, cuDNN, the step replayed as a CUDA
graph); --precision tf32 lets its convolutions and matrix products use TF32 tensor cores,
--precision bf16 runs them on bf16 copies with fp32 accumulation and fp32 master weights
(Ampere or newer; default fp32, strict; the CPU engine is fp32 only). --autotune (cuda) times
cuDNN's convolution algorithms once per shape and keeps the fastest (cached in
$XDG_CACHE_HOME/netlens/cudnn-autotune.json, or NETLENS_CUDNN_AUTOTUNE_CACHE) instead of taking
its heuristics' first choice. --channels-last (cuda) keeps 4-D activations NHWC between
convolutions, batch norm, pooling, activations, dropout and add (what cuDNN's tensor-core
convolutions read, mostly a gain in tf32 and bf16), converting where other ops meet them.
Exit status: 0 ran, 1 the engine could not run it, 2 usage errors.
`;

export const trainUsage = `Usage: netlens train FILE [--entry EXPR] [--input D0,D1,...] [--data default|PATH] [--epochs E]
                     [--batch B] [--optimizer sgd|momentum|adam|adamw|rmsprop] [--lr LR]
                     [--max-steps N] [--validation FRACTION] [--augment] [--device cpu|cuda]
                     [--precision fp32|tf32|bf16] [--autotune] [--channels-last] [--seed N] [--runs-root DIR]
                     [--resume RUN_DIR|CHECKPOINT]
                     [--json-events]

Trains the model in the native engine with cross-entropy. --data default uses the built-in
shapes data (3×32×32 or 1×28×28, 10 classes, chosen by the model's input); PATH is an IDX
file pair (images,labels), CIFAR .bin files, a .npy/.npz file or an image folder. The run is
stored in .netlens/runs/<id>/ (config.json, metrics.jsonl). --json-events prints each event
(start, step, epoch, checkpoint, done, error) as one JSON line.
--resume continues from a checkpoint (a run folder: its latest one): weights and the epoch and
step counters (--max-steps counts the earlier steps); a checkpoint of a run folder appends to
that run. The optimizer state (momentum buffers, Adam moments, step counts) is saved beside each
checkpoint as NAME.optimizer.safetensors and restored with it, so a resumed run continues exactly.
--device cuda trains with the CUDA executor (refused, before the run starts, where it cannot run
or for a model with an op it lacks); --precision tf32 uses TF32 tensor cores on the GPU, bf16
mixed precision (convolutions and linear layers in bf16 with fp32 accumulation, fp32 master
weights; Ampere or newer) with --precision bf16 (default fp32, strict); --autotune times cuDNN's
convolution algorithms once per shape (cached, as for bench); --channels-last keeps activations
NHWC on the GPU (as for bench; checkpoints and metrics are the same either way).
Ctrl-C (SIGINT) or SIGTERM finishes the steps in flight, writes a checkpoint and exits 130.
Exit status: 0 trained, 1 the run failed or the engine cannot run the model, 2 usage errors,
130 cancelled.
`;
