// Owns the command line grammar of `netlens`: turns argv into a typed command or a
// UsageError whose message names the bad flag and how to fix it. No I/O here.
import type { AnalyzeOptions, InputSpec, ReportDim } from '../analysis/reportTypes';
import { parseBench, parseTrain, type BenchCliOptions, type TrainCliOptions } from './trainArgs';

export type InputDtype = NonNullable<InputSpec['dtype']>;
export type TrainingDtype = NonNullable<AnalyzeOptions['dtype']>;
export type OptimizerName = NonNullable<AnalyzeOptions['optimizer']>;

export const inputDtypes: readonly InputDtype[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'bool'];
export const trainingDtypes: readonly TrainingDtype[] = ['float32', 'bfloat16', 'float16'];
export const optimizerNames: readonly OptimizerName[] = ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop'];

export interface AnalyzeCliOptions {
  file: string;
  entry?: string;
  inputs: InputSpec[];
  batch?: number;
  dtype?: TrainingDtype;
  optimizer?: OptimizerName;
  pythonPath: string[];
  json: boolean;
  /** --detail: the JSON keeps the editor's detail (statements, layer inputs, parameters, arithmetic). */
  detail: boolean;
}

export type CliCommand =
  | { kind: 'help'; topic: 'main' | 'analyze' | 'train' | 'bench' }
  | { kind: 'version' }
  | { kind: 'analyze'; options: AnalyzeCliOptions }
  | { kind: 'train'; options: TrainCliOptions }
  | { kind: 'bench'; options: BenchCliOptions };

/** A mistake on the command line: exit code 2, message printed as is. */
export class UsageError extends Error {
  constructor(message: string, readonly topic: 'main' | 'analyze' = 'main') {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseCommandLine(argv: readonly string[]): CliCommand {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    const topic = rest[0];
    return { kind: 'help', topic: topic === 'analyze' || topic === 'train' || topic === 'bench' ? topic : 'main' };
  }
  if (command === '--version' || command === '-V') return { kind: 'version' };
  if (command === 'analyze') return parseAnalyze(rest);
  if (command === 'train') {
    const options = parseTrain(rest);
    return options === 'help' ? { kind: 'help', topic: 'train' } : { kind: 'train', options };
  }
  if (command === 'bench') {
    const options = parseBench(rest);
    return options === 'help' ? { kind: 'help', topic: 'bench' } : { kind: 'bench', options };
  }
  if (command.startsWith('-')) {
    throw new UsageError(`unknown option ${command}; put options after a command, e.g. 'netlens analyze model.py --json'.`);
  }
  throw new UsageError(`unknown command '${command}'; the commands are: analyze, train, bench, infer, export-torchrun. Run 'netlens --help'.`);
}

/** Splits `--flag=value` and `--flag value`; the flag's value is taken from the next argument. */
function takeValue(flag: string, inlineValue: string | undefined, rest: readonly string[], index: number): { value: string; next: number } {
  if (inlineValue !== undefined) return { value: inlineValue, next: index };
  const value = rest[index + 1];
  if (value === undefined || (value.startsWith('--') && value.length > 2)) {
    throw new UsageError(`${flag} needs a value, e.g. ${exampleFor(flag)}.`, 'analyze');
  }
  return { value, next: index + 1 };
}

function exampleFor(flag: string): string {
  switch (flag) {
    case '--entry': return "--entry 'resnet18()'";
    case '--input': return '--input 1,3,224,224 (or --input 8,128:int64 for token ids)';
    case '--batch': return '--batch 32';
    case '--dtype': return `--dtype ${trainingDtypes.join('|')}`;
    case '--optimizer': return `--optimizer ${optimizerNames.join('|')}`;
    case '--python-path': return '--python-path ./src';
    default: return flag;
  }
}

function parseAnalyze(args: readonly string[]): CliCommand {
  const files: string[] = [];
  const options: Omit<AnalyzeCliOptions, 'file'> = { inputs: [], pythonPath: [], json: false, detail: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--help' || arg === '-h') return { kind: 'help', topic: 'analyze' };
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
    const inlineValue = eq > 0 ? arg.slice(eq + 1) : undefined;
    switch (flag) {
      case '--json':
        if (inlineValue !== undefined) throw new UsageError('--json takes no value; write just --json.', 'analyze');
        options.json = true;
        break;
      case '--detail':
        if (inlineValue !== undefined) throw new UsageError('--detail takes no value; write just --detail.', 'analyze');
        options.detail = true;
        break;
      case '--entry': {
        const { value, next } = takeValue(flag, inlineValue, args, i);
        if (value.trim() === '') throw new UsageError(`--entry is empty; give a Python expression, e.g. ${exampleFor(flag)}.`, 'analyze');
        options.entry = value;
        i = next;
        break;
      }
      case '--input': {
        const { value, next } = takeValue(flag, inlineValue, args, i);
        options.inputs.push(parseInputSpec(value));
        i = next;
        break;
      }
      case '--batch': {
        const { value, next } = takeValue(flag, inlineValue, args, i);
        if (!/^[1-9][0-9]*$/.test(value)) {
          throw new UsageError(`--batch '${value}' is not a positive whole number; e.g. ${exampleFor(flag)}.`, 'analyze');
        }
        options.batch = Number(value);
        i = next;
        break;
      }
      case '--dtype': {
        const { value, next } = takeValue(flag, inlineValue, args, i);
        options.dtype = oneOf(flag, value, trainingDtypes);
        i = next;
        break;
      }
      case '--optimizer': {
        const { value, next } = takeValue(flag, inlineValue, args, i);
        options.optimizer = oneOf(flag, value, optimizerNames);
        i = next;
        break;
      }
      case '--python-path': {
        const { value, next } = takeValue(flag, inlineValue, args, i);
        options.pythonPath.push(value);
        i = next;
        break;
      }
      default:
        throw new UsageError(`unknown option ${flag} for 'netlens analyze'; run 'netlens analyze --help' for the options.`, 'analyze');
    }
  }
  if (files.length === 0) {
    throw new UsageError("missing FILE: 'netlens analyze' needs the Python file to analyze, e.g. 'netlens analyze model.py'.", 'analyze');
  }
  if (files.length > 1) {
    throw new UsageError(`'netlens analyze' takes one FILE, got ${files.length}: ${files.join(' ')}; ` +
      'quote an --entry expression that contains spaces.', 'analyze');
  }
  if (options.detail && !options.json) {
    throw new UsageError('--detail adds fields to the JSON document; use it together with --json.', 'analyze');
  }
  return { kind: 'analyze', options: { file: files[0], ...options } };
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  const match = allowed.find((candidate) => candidate === value.toLowerCase());
  if (!match) throw new UsageError(`${flag} '${value}' is not one of ${allowed.join(', ')}.`, 'analyze');
  return match;
}

/**
 * `D0,D1,...[:dtype]`: whole numbers, or names for symbolic dimensions (`N,3,H,W`).
 * Brackets and spaces are tolerated so a shape pasted from Python (`(1, 3, 224, 224)`) works.
 */
export function parseInputSpec(text: string): InputSpec {
  const colon = text.lastIndexOf(':');
  const shapeText = (colon >= 0 ? text.slice(0, colon) : text).replace(/[()[\]\s]/g, '');
  const dtypeText = colon >= 0 ? text.slice(colon + 1).trim() : undefined;
  const usage = 'e.g. --input 1,3,224,224 or --input 8,128:int64';
  if (shapeText === '') throw new UsageError(`--input '${text}' has no dimensions; ${usage}.`, 'analyze');
  const shape: ReportDim[] = shapeText.split(',').filter((part, i, all) => part !== '' || i < all.length - 1).map((part) => {
    if (/^[0-9]+$/.test(part)) {
      const size = Number(part);
      if (size <= 0) throw new UsageError(`--input '${text}': dimension ${part} must be positive; ${usage}.`, 'analyze');
      return size;
    }
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) return part;
    throw new UsageError(`--input '${text}': '${part}' is not a positive whole number or a dimension name; ${usage}.`, 'analyze');
  });
  if (dtypeText === undefined) return { shape };
  const dtype = inputDtypes.find((candidate) => candidate === dtypeText.toLowerCase());
  if (!dtype) {
    throw new UsageError(`--input '${text}': dtype '${dtypeText}' is not one of ${inputDtypes.join(', ')}.`, 'analyze');
  }
  return { shape, dtype };
}

export const mainUsage = `netlens — shapes, parameters, MACs and memory of PyTorch models, without running them

Usage:
  netlens analyze FILE [options]   analyze a model file (run 'netlens analyze --help')
  netlens train FILE [options]     train a model with the native engine (run 'netlens train --help')
  netlens bench FILE [options]     time training steps with the native engine (run 'netlens bench --help')
  netlens infer FILE --image IMG   classify an image with the native engine (run 'netlens infer --help')
  netlens export-torchrun FILE [options]  write a PyTorch DDP training script for torchrun (run 'netlens export-torchrun --help')
  netlens --help | --version
`;

export const analyzeUsage = `Usage: netlens analyze FILE [--entry EXPR] [--input D0,D1,...[:dtype]]... [--batch N]
                       [--dtype float32|bfloat16|float16] [--optimizer sgd|momentum|adam|adamw|rmsprop]
                       [--python-path DIR]... [--json [--detail]]

Analyzes FILE statically (no Python, no PyTorch needed) and prints every leaf layer's
output shape, parameters and MACs, the totals and the training memory.

Options:
  --entry EXPR         Python expression evaluated in FILE's namespace, e.g. 'resnet18()',
                       'Net(num_classes=10)', 'model'. Default: every model the file defines.
  --input SHAPE[:DT]   Full input shape including the batch, one per forward argument
                       (repeat for several): --input 1,3,224,224  --input 8,128:int64.
                       Names make a dimension symbolic: --input N,3,H,W. Default: the
                       '# netlens: input=(...)' comment or a tensor passed to the model in FILE.
  --batch N            Replace the first dimension of every input with N.
  --dtype DT           Training dtype for the memory estimate (default float32).
  --optimizer NAME     Optimizer for the memory estimate.
  --python-path DIR    Extra import root (repeatable). The active Python environment's
                       site-packages are searched too when one is found.
  --json               Print one JSON document instead of the table: the fields of the
                       documented contract, per-layer saved_bytes, and diagnostics with
                       their code, range and quick fix.
  --detail             With --json, also print what the editor uses: the values of forward
                       statements, each layer's input shapes, parameter shapes, column and
                       output-size arithmetic (a larger document).

Environment:
  NETLENS_PYTHON       Interpreter whose site-packages are searched (default: $VIRTUAL_ENV,
                       $CONDA_PREFIX, then python3 on PATH); 'none' searches no environment.

Exit status: 0 when the analysis ran (problems in the model are reported as diagnostics),
2 for usage errors.
`;
