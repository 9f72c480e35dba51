// `netlens infer`: classify one image with a model in the engine process, through the same
// inference requests the model inspector uses (inferOpen, inferImageFile, inferRun).
import * as path from 'node:path';

import type { CommandIo } from './analyzeCommand';
import { UsageError } from './args';
import { dataFor, prepareEvalModel, readableFile, reportFailure, withEngine } from './trainCommand';
import { inferUsage, parseInfer } from './trainArgs';

const REQUEST_TIMEOUT_MS = 10 * 60_000;

export interface InferReport {
  model: string;
  image: string;
  weights: 'checkpoint' | 'initial';
  input_shape: number[];
  classes: number;
  top: { index: number; name: string | null; probability: number }[];
  probabilities: number[];
}

export async function runInferCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const options = parseInfer(args);
  if (options === 'help') {
    io.stdout(inferUsage);
    return 0;
  }
  if (options.device !== 'cpu') throw new UsageError("--device: 'netlens infer' runs on the CPU engine only in this version.");
  const file = readableFile(io, options.file);
  const image = path.resolve(io.cwd, options.image);
  const checkpoint = options.checkpoint === undefined ? undefined : path.resolve(io.cwd, options.checkpoint);
  try {
    return await withEngine(io, async (client) => {
      const prepared = await prepareEvalModel(io, client, { ...options, file });
      const data = options.data === 'default' ? undefined : dataFor(options.data, prepared.sampleShape, io, 'test');
      const opened = await client.request('inferOpen', {
        spec: JSON.stringify(prepared.spec), seed: options.seed, ...(checkpoint ? { checkpoint } : {}), ...(data ? { data } : {}),
      }, REQUEST_TIMEOUT_MS);
      try {
        const preparedImage = await client.request('inferImageFile', { session: opened.session, path: image }, REQUEST_TIMEOUT_MS);
        const result = await client.request('inferRun', { session: opened.session, image: preparedImage.image, layers: [] }, REQUEST_TIMEOUT_MS);
        const ranked = result.probabilities.map((probability, index) => ({ index, name: opened.classNames[index] ?? null, probability }))
          .sort((a, b) => b.probability - a.probability).slice(0, options.top);
        const report: InferReport = {
          model: prepared.model.name, image, weights: opened.weights, input_shape: opened.inputShape, classes: opened.classes,
          top: ranked, probabilities: result.probabilities,
        };
        if (options.json) io.stdout(JSON.stringify(report) + '\n');
        else {
          io.stdout(`${report.model} (${report.weights === 'checkpoint' ? 'checkpoint weights' : `initial weights, seed ${options.seed}`}) on ${options.image}:\n`);
          for (const entry of ranked) io.stdout(`  ${(entry.probability * 100).toFixed(1).padStart(5)}%  ${entry.name ?? `class ${entry.index}`}\n`);
        }
        return 0;
      } finally {
        await client.request('inferClose', { session: opened.session }).catch(() => undefined);
      }
    });
  } catch (error) {
    if (error instanceof UsageError) throw error;
    return reportFailure(io, error);
  }
}
