// `netlens onnx FILE.onnx [--json]`: the layer table of an ONNX model (onnxruntime measures the
// shapes the model lacks; the CLI is its own process, so it runs onnxruntime itself).
// `netlens export-onnx FILE --entry E --checkpoint C --out model.onnx`: a Netlens model with a
// run's weights exported to ONNX in the engine process and checked there against the engine.
import * as path from 'node:path';

import type { OnnxLayerTable } from '../onnx/layers';
import { formatLayerTable } from '../onnx/layers';
import { OnnxFileError } from '../onnx/model';
import { layerTableOf, loadOnnxRuntime, type Ort } from '../onnx/runtime';
import type { CommandIo } from './analyzeCommand';
import { parseInputSpec, UsageError } from './args';
import { prepareEvalModel, readableFile, reportFailure, withEngine } from './trainCommand';
import type { InputSpec } from '../analysis/reportTypes';

export const onnxUsage = `Usage: netlens onnx FILE.onnx [--json]

Prints the layer table of an ONNX model: every node with its op, output shapes (from the model's
shape information; the ones it lacks measured by onnxruntime on a zeros input, marked *) and the
parameters it reads from the initializers (weights and biases), with totals.
`;

export const exportOnnxUsage = `Usage: netlens export-onnx FILE --out MODEL.onnx [--entry EXPR] [--checkpoint RUN.safetensors]
                          [--input D0,D1,...] [--seed N] [--python-path DIR]... [--json]

Exports a model Netlens can train (FILE analyzed as for 'netlens train') with the weights of a
checkpoint (the seed's initial weights without one) to ONNX opset 17, after checking that
onnxruntime on the exported model gives the engine's own outputs (relative error < 1e-4).
`;

export async function runOnnxCommand(args: readonly string[], io: CommandIo): Promise<number> {
  let file: string | undefined;
  let json = false;
  for (const arg of args) {
    if (arg === '--help' || arg === '-h') {
      io.stdout(onnxUsage);
      return 0;
    }
    if (arg === '--json') json = true;
    else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}' for 'netlens onnx'.`);
    else if (file === undefined) file = arg;
    else throw new UsageError(`'netlens onnx' takes one FILE, got '${file}' and '${arg}'.`);
  }
  if (file === undefined) throw new UsageError(`'netlens onnx' needs a FILE.onnx.\n${onnxUsage}`);
  let ort: Ort | undefined;
  let ortProblem: string | undefined;
  try {
    ort = loadOnnxRuntime();
  } catch (error) {
    ortProblem = error instanceof Error ? error.message.split('\n')[0] : String(error);
  }
  let table: OnnxLayerTable;
  try {
    table = (await layerTableOf(path.resolve(io.cwd, file), ort)).table;
  } catch (error) {
    if (error instanceof OnnxFileError) {
      io.stderr(`netlens: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  if (json) io.stdout(`${JSON.stringify(table)}\n`);
  else {
    io.stdout(formatLayerTable(table));
    if (ortProblem) io.stderr(`netlens: onnxruntime could not be loaded (${ortProblem}); shapes the model lacks are unknown.\n`);
  }
  return 0;
}

interface ExportOptions {
  file: string;
  out: string;
  entry?: string;
  checkpoint?: string;
  inputs: InputSpec[];
  seed: number;
  pythonPath: string[];
  json: boolean;
}

function parseExport(args: readonly string[]): ExportOptions | 'help' {
  const options: Partial<ExportOptions> & { inputs: InputSpec[]; pythonPath: string[] } = { inputs: [], pythonPath: [], seed: 0, json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string => {
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value.\n${exportOnnxUsage}`);
      return next;
    };
    switch (arg) {
      case '--help': case '-h': return 'help';
      case '--out': options.out = value(); break;
      case '--entry': options.entry = value(); break;
      case '--checkpoint': options.checkpoint = value(); break;
      case '--input': options.inputs.push(parseInputSpec(value())); break;
      case '--python-path': options.pythonPath.push(value()); break;
      case '--json': options.json = true; break;
      case '--seed': {
        const seed = Number(value());
        if (!Number.isInteger(seed) || seed < 0) throw new UsageError('--seed needs a whole number.');
        options.seed = seed;
        break;
      }
      default:
        if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}' for 'netlens export-onnx'.`);
        if (options.file !== undefined) throw new UsageError(`'netlens export-onnx' takes one FILE, got '${options.file}' and '${arg}'.`);
        options.file = arg;
    }
  }
  if (options.file === undefined) throw new UsageError(`'netlens export-onnx' needs a FILE.\n${exportOnnxUsage}`);
  if (options.out === undefined) throw new UsageError(`'netlens export-onnx' needs --out MODEL.onnx.`);
  return { file: options.file, out: options.out, inputs: options.inputs, pythonPath: options.pythonPath, seed: options.seed ?? 0, json: options.json ?? false,
    ...(options.entry !== undefined ? { entry: options.entry } : {}), ...(options.checkpoint !== undefined ? { checkpoint: options.checkpoint } : {}) };
}

export async function runExportOnnxCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const options = parseExport(args);
  if (options === 'help') {
    io.stdout(exportOnnxUsage);
    return 0;
  }
  const file = readableFile(io, options.file);
  const checkpoint = options.checkpoint === undefined ? undefined : readableFile(io, options.checkpoint);
  const out = path.resolve(io.cwd, options.out);
  try {
    return await withEngine(io, async (client) => {
      const prepared = await prepareEvalModel(io, client, { ...options, file });
      const result = await client.request('onnxExport', { spec: JSON.stringify(prepared.spec), seed: options.seed, ...(checkpoint ? { checkpoint } : {}), out });
      if (options.json) io.stdout(`${JSON.stringify({ model: prepared.model.name, weights: checkpoint ? 'checkpoint' : 'initial', ...result })}\n`);
      else {
        io.stdout(`${prepared.model.name} → ${result.out} (ONNX opset ${result.opset}, ${result.nodes} nodes, ${(result.bytes / 1024).toFixed(1)} KiB)\n`);
        io.stdout(`checked in onnxruntime against the engine on a batch of ${result.verifiedBatch}: relative error ${result.maxRelativeError.toExponential(2)} (limit 1e-4)\n`);
      }
      return 0;
    });
  } catch (error) {
    if (error instanceof UsageError) throw error;
    return reportFailure(io, error);
  }
}
