// `netlens export-torchrun FILE [train's flags] --out SCRIPT`: writes the standalone PyTorch DDP
// training script (training/torchrun.ts) for the model and data `netlens train` would use, exports
// the built-in data set beside it as an .npz, and prints the torchrun command lines. The add-on is
// loaded in this (short-lived) process only to read the built-in data set and the engine's op list.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { findAddon, loadAddon, type NativeAddon } from '../engine/addon';
import { analyzeFile } from '../analysis/index';
import type { ModelReport } from '../analysis/reportTypes';
import { LoweringError, type EngineGraphSpec } from '../training/lower';
import { trainingMessages } from '../training/messages';
import { prepareModel, type ModelSpecRequest } from '../training/modelSpec';
import { torchrunCommandLines, torchrunScript, type TorchrunData } from '../training/torchrun';
import { exportDataset } from '../training/torchrunData';
import type { CommandIo } from './analyzeCommand';
import { UsageError } from './args';
import { commandLineAnalysis, dataFor, optimizerSpec } from './trainCommand';
import { parseTrain, type TrainCliOptions } from './trainArgs';

export interface ExportTorchrunCliOptions extends TrainCliOptions {
  out?: string;
  /** torchrun's --nproc_per_node: a count, or 'gpu' (every GPU), 'auto', 'cpu'. */
  processesPerNode: string;
  nodes: number;
  endpoint: string;
  json: boolean;
}

export function parseExportTorchrun(args: readonly string[]): ExportTorchrunCliOptions | 'help' {
  const mine = { processesPerNode: 'gpu', nodes: 2, endpoint: 'HOST:29500', json: false } as Omit<ExportTorchrunCliOptions, keyof TrainCliOptions>;
  const fail = (message: string): UsageError => new UsageError(`${message} Run 'netlens export-torchrun --help'.`);
  const options = parseTrain(args, 'export-torchrun', {
    switches: ['--json'],
    onSwitch: () => { mine.json = true; },
    onFlag: (flag, value) => {
      switch (flag) {
        case '--out': mine.out = value; return true;
        case '--nproc-per-node':
          if (!/^([1-9][0-9]*|gpu|auto|cpu)$/.test(value)) throw fail(`--nproc-per-node '${value}' is not a positive whole number, gpu, auto or cpu.`);
          mine.processesPerNode = value;
          return true;
        case '--nnodes':
          if (!/^[1-9][0-9]*$/.test(value)) throw fail(`--nnodes '${value}' is not a positive whole number.`);
          mine.nodes = Number(value);
          return true;
        case '--rdzv-endpoint':
          if (!/^[^\s:]+:[0-9]+$/.test(value)) throw fail(`--rdzv-endpoint '${value}' is not HOST:PORT, e.g. node0.example.com:29500.`);
          mine.endpoint = value;
          return true;
        default: return false;
      }
    },
  });
  if (options === 'help') return 'help';
  if (options.resume !== undefined) throw fail('--resume is for native runs; the script starts from the model\'s own initialization.');
  if (options.jsonEvents) throw fail('--json-events is for native runs; use --json for a JSON summary of the export.');
  return { ...options, ...mine };
}

export const exportTorchrunUsage = `Usage: netlens export-torchrun FILE [--entry EXPR] [--input D0,D1,...] [--data default|PATH] [--epochs E]
                     [--batch B] [--optimizer sgd|momentum|adam|adamw|rmsprop] [--lr LR] [--max-steps N]
                     [--validation FRACTION] [--augment] [--seed N] [--out SCRIPT.py]
                     [--nproc-per-node N|gpu|auto] [--nnodes M] [--rdzv-endpoint HOST:PORT] [--json]

Writes a standalone PyTorch training script for the model: it imports the model from FILE (the same
--entry), trains on the same data (the built-in set is exported beside it as an .npz; files and
folders are read by the script itself) with the same optimizer and hyperparameters, under
DistributedDataParallel with a DistributedSampler, and writes the run to .netlens/runs/<id>/ the way
'netlens train' does, checkpoints as safetensors with the same state_dict keys. --batch is per process.
Prints the torchrun command lines for one machine and for several (--nnodes, rendezvous endpoint).
Default --out: train_<FILE's name>_torchrun.py beside FILE.
Exit status: 0 written, 1 the model or data could not be prepared, 2 usage errors.
`;

export interface TorchrunExport {
  script: string;
  /** The .npz written for the built-in data set, if any. */
  dataFile: string | null;
  model: string;
  entry: string;
  /** Said when the entry had to be rewritten for a module import. */
  note?: string;
  singleMachine: string;
  multiMachine: string;
  /** Runs the script on this machine's CPU with two processes (gloo), for a quick check. */
  localCheck: string;
}

/** Where the add-on is: beside the bundle (dist/) or in the source tree under tsx. */
function loadEngineAddon(io: CommandIo): NativeAddon {
  const root = path.basename(__dirname) === 'dist' ? path.dirname(__dirname) : path.resolve(__dirname, '..', '..');
  const location = findAddon(root, io.env);
  if (!location.path) throw new Error(`the native engine add-on was not found (tried ${location.tried.join(', ')}); build it with 'npm run build:native'.`);
  return loadAddon(location.path);
}

function torchrunDataFor(data: ReturnType<typeof dataFor>): TorchrunData {
  const paths = data.paths ?? [];
  const first = paths[0] ?? '';
  switch (data.kind) {
    case 'idx': return { kind: 'idx', paths, name: 'mnist' };
    case 'cifar': {
      const hundred = ['train.bin', 'test.bin'].includes(path.basename(first)) ||
        (fs.statSync(first).isDirectory() && ['train.bin', 'test.bin'].some((name) => fs.existsSync(path.join(first, name))));
      return { kind: 'cifar', paths, name: hundred ? 'cifar100' : 'cifar10' };
    }
    case 'npy': return { kind: 'npy', paths, name: path.basename(first) };
    case 'folder': return { kind: 'folder', paths, name: path.basename(first), options: { channels: data.options?.channels, size: data.options?.size } };
    case 'default': throw new Error('the built-in data set is exported to an .npz first');
  }
}

interface ScriptModel {
  model: ModelReport;
  /** null when the engine cannot run the model: PyTorch still can. */
  spec: EngineGraphSpec | null;
  sampleShape: number[];
  note?: string;
}

/** prepareModel, except that an op the engine lacks does not stop the export: the script runs the model in PyTorch. */
async function prepareForScript(request: ModelSpecRequest): Promise<ScriptModel> {
  try {
    const prepared = await prepareModel(request);
    return { model: prepared.model, spec: prepared.spec, sampleShape: prepared.sampleShape };
  } catch (error) {
    // 'model' and 'input' (which model, which input) and 'return' (not class scores) are about the training setup, not the engine.
    if (!(error instanceof LoweringError) || ['model', 'input', 'return'].includes(error.op)) throw error;
    const report = await analyzeFile(request.file, fs.readFileSync(request.file, 'utf8'), request.analyze);
    // prepareModel got past choosing the model and its input, so there is exactly one of each, concrete.
    const model = report.models[0]!;
    const output = model.output[0] ?? [];
    if (output.length !== 2) throw new LoweringError(trainingMessages.outputNotClassLogits(output.join(', ')), 'return', '', 0);
    return {
      model, spec: null, sampleShape: (model.inputs[0] as number[]).slice(1),
      note: `the Netlens engine cannot run this model (${error.message.split('; the engine runs')[0]}); the script trains it in PyTorch, and its runs show their curves in Netlens but their checkpoints do not open in the engine`,
    };
  }
}

/**
 * The entry as the script can evaluate it. The analyzer runs FILE's `if __name__ == "__main__":`
 * block, so it may name a model made only there (`model`); the script imports FILE as a module,
 * where that name does not exist, so such an entry is replaced by the expression it was assigned.
 */
export function importableEntry(source: string, entry: string, file: string, modelName: string): { entry: string; note?: string } {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(entry)) return { entry };
  const name = entry;
  const topLevel = new RegExp(`^(${name}\\s*(:[^=\\n]*)?=(?!=)|(async\\s+)?def\\s+${name}\\b|class\\s+${name}\\b|(from\\s+\\S+\\s+)?import\\s.*\\b${name}\\b)`, 'm');
  if (topLevel.test(source)) return { entry };
  const mainBlock = /^if\s+(__name__\s*==\s*['"]__main__['"]|['"]__main__['"]\s*==\s*__name__)\s*:/m.exec(source);
  const assigned = mainBlock ? new RegExp(`^[ \\t]+${name}\\s*=\\s*([^#\\n]+?)\\s*(#.*)?$`, 'm').exec(source.slice(mainBlock.index)) : null;
  if (assigned?.[1]) {
    return { entry: assigned[1], note: `'${entry}' is made in ${path.basename(file)}'s __main__ block, which a module import does not run; the script builds it as ${assigned[1]}` };
  }
  throw new Error(`'${entry}' exists only when ${path.basename(file)} runs as a script; pass the constructor instead, e.g. --entry '${modelName}()'.`);
}

export async function exportTorchrun(options: ExportTorchrunCliOptions, io: CommandIo): Promise<TorchrunExport> {
  const file = path.resolve(io.cwd, options.file);
  if (!fs.existsSync(file)) throw new UsageError(`cannot read FILE '${options.file}': no such file.`);
  const addon = loadEngineAddon(io);
  const batch = options.batch ?? 32;
  const optimizer = optimizerSpec(options.optimizer, options.lr);
  const prepared = await prepareForScript({
    file,
    analyze: commandLineAnalysis(io, options, batch),
    engineOps: addon.engineOps(),
    optimizer,
  });
  const script = path.resolve(io.cwd, options.out ?? path.join(path.dirname(file), `train_${path.basename(file, '.py')}_torchrun.py`));
  const data = dataFor(options.data, prepared.sampleShape, io);
  let dataFile: string | null = null;
  let scriptData: TorchrunData;
  if (data.kind === 'default') {
    fs.mkdirSync(path.dirname(script), { recursive: true });
    // Named by what it holds: a model a little larger than the set gets it padded (e.g. shapes28 at 32×32).
    const size = data.options?.size ? `-${data.options.size.join('x')}` : '';
    const exported = exportDataset(addon, data, path.join(path.dirname(script), `netlens-${data.options?.variant ?? 'default'}-${data.options?.split ?? 'train'}${size}.npz`));
    dataFile = exported.file;
    scriptData = { kind: 'npy', paths: [exported.file], name: exported.name };
  } else {
    scriptData = torchrunDataFor(data);
  }
  const entry = importableEntry(fs.readFileSync(file, 'utf8'), prepared.model.entry, file, prepared.model.name);
  const note = [prepared.note, entry.note].filter((text): text is string => text !== undefined).join('; ');
  const text = torchrunScript({
    scriptPath: script, modelFile: file, entry: entry.entry, modelName: prepared.model.name, sampleShape: prepared.sampleShape,
    pythonPath: options.pythonPath.map((root) => path.resolve(io.cwd, root)), data: scriptData, epochs: options.epochs, batch,
    maxSteps: options.maxSteps, validation: options.validation, augment: options.augment, seed: options.seed, optimizer,
    labelSmoothing: prepared.spec?.loss?.label_smoothing ?? 0, spec: prepared.spec,
    config: { file, data, max_steps: options.maxSteps ?? null, script },
  });
  fs.mkdirSync(path.dirname(script), { recursive: true });
  fs.writeFileSync(script, text);
  const shown = path.relative(io.cwd, script) || script;
  const lines = torchrunCommandLines(shown.startsWith('..') ? script : shown, { processesPerNode: options.processesPerNode, nodes: options.nodes, endpoint: options.endpoint });
  const local = torchrunCommandLines(shown.startsWith('..') ? script : shown, { processesPerNode: '2', nodes: 1, endpoint: '', scriptArguments: ['--device', 'cpu', '--max-steps', '20'] });
  return {
    script, dataFile, model: prepared.model.name, entry: entry.entry, ...(note ? { note } : {}),
    singleMachine: lines.singleMachine, multiMachine: lines.multiMachine,
    localCheck: local.singleMachine.replace(/^torchrun /, 'python3 -m torch.distributed.run '),
  };
}

export async function runExportTorchrun(args: readonly string[], io: CommandIo): Promise<number> {
  const options = parseExportTorchrun(args);
  if (options === 'help') {
    io.stdout(exportTorchrunUsage);
    return 0;
  }
  let result: TorchrunExport;
  try {
    result = await exportTorchrun(options, io);
  } catch (error) {
    if (error instanceof UsageError || !(error instanceof Error)) throw error;
    io.stderr(`netlens: ${error.message}\n`);
    return 1;
  }
  if (options.json) {
    io.stdout(JSON.stringify(result) + '\n');
    return 0;
  }
  if (result.note) io.stdout(`note: ${result.note}\n`);
  io.stdout(`wrote ${result.script} (${result.model}, ${result.entry})${result.dataFile ? `\nwrote ${result.dataFile} (the built-in data set)` : ''}\n\n` +
    `One machine, several GPUs:\n  ${result.singleMachine}\n` +
    `Several machines (on each, NODE_RANK = 0, 1, ...; HOST:PORT on the first):\n  ${result.multiMachine}\n` +
    `Quick check on this machine's CPU (gloo, 2 processes):\n  ${result.localCheck}\n`);
  return 0;
}
