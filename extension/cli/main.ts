// The `netlens` command line: parses argv, runs the command, maps outcomes to exit codes
// (0 ran, 1 failure: a bug, or a model the engine cannot run, 2 usage error). bin/netlens.js calls main() from the
// bundle dist/cli.js; `tsx extension/cli/main.ts ...` runs it from source.
import { runAnalyze, type CommandIo } from './analyzeCommand';
import { runExportTorchrun } from './exportTorchrun';
import { runInferCommand } from './inferCommand';
import { runExportOnnxCommand, runOnnxCommand } from './onnxCommand';
import { analyzeUsage, mainUsage, parseCommandLine, UsageError } from './args';
import { runBenchCommand, runTrainCommand } from './trainCommand';
import { benchUsage, trainUsage } from './trainArgs';
import { version } from '../../package.json';

export const exitCodes = { ok: 0, failure: 1, usage: 2 } as const;

export async function main(argv: readonly string[], io: CommandIo = processIo()): Promise<number> {
  try {
    if (argv[0] === 'export-torchrun') return await runExportTorchrun(argv.slice(1), io);
    if (argv[0] === 'infer') return await runInferCommand(argv.slice(1), io);
    if (argv[0] === 'onnx') return await runOnnxCommand(argv.slice(1), io);
    if (argv[0] === 'export-onnx') return await runExportOnnxCommand(argv.slice(1), io);
    const command = parseCommandLine(argv);
    switch (command.kind) {
      case 'help':
        io.stdout(command.topic === 'analyze' ? analyzeUsage : command.topic === 'train' ? trainUsage : command.topic === 'bench' ? benchUsage : mainUsage);
        return exitCodes.ok;
      case 'version':
        io.stdout(`netlens ${version}\n`);
        return exitCodes.ok;
      case 'analyze':
        return await runAnalyze(command.options, io);
      case 'train':
        return await runTrainCommand(command.options, io);
      case 'bench':
        return await runBenchCommand(command.options, io);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`netlens: ${error.message}\n`);
      return exitCodes.usage;
    }
    const detail = error instanceof Error ? error.stack ?? error.message : String(error);
    io.stderr(`netlens: internal error (this is a bug in Netlens, please report it):\n${detail}\n`);
    return exitCodes.failure;
  }
}

function processIo(): CommandIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    cwd: process.cwd(),
    env: process.env,
  };
}

/** Runs main() and sets the exit code without cutting off piped output. */
export function runFromCommandLine(argv: readonly string[] = process.argv.slice(2)): void {
  main(argv).then((code) => {
    process.exitCode = code;
  }, (error: unknown) => {
    process.stderr.write(`netlens: ${String(error)}\n`);
    process.exitCode = exitCodes.failure;
  });
}

// Started directly (tsx extension/cli/main.ts); inside the bundle, bin/netlens.js starts it.
if (require.main === module) runFromCommandLine();
