// Every user-facing message of "Netlens: Train Model…", the dashboard and "Compare Runs", in one
// place so they read the same way and tests can check them.
export const trainingCommandMessages = {
  openModelFile: 'Netlens: open a Python model file to train it.',
  noModels: (file: string, why: string | undefined) => `Netlens: no model to train in ${file}${why ? ` (${why})` : ''}.`,
  pickModel: 'Which model to train?',
  noWorkspace: 'Netlens: open a folder first; training runs are kept in its .netlens/runs.',
  doesNotFit: (model: string, batch: number, optimizer: string, peak: string, device: string, capacity: string, largestBatch: number) =>
    `Netlens: ${model} needs about ${peak} to train with batch ${batch} (float32, ${optimizer}), but ${device} has ${capacity}. ` +
    (largestBatch > 0 ? `The largest batch that fits is ${largestBatch}.` : 'Not even a batch of 1 fits.'),
  trainWithBatch: (batch: number) => `Train with batch ${batch}`,
  cudaNotReported: 'the engine reports no CUDA GPU',
  engineUnavailable: (why: string) => `Netlens: training needs the native engine, which is not running: ${why}`,
  cannotTrain: (why: string) => `Netlens: cannot train this model: ${why}`,
  progressTitle: (model: string) => `Netlens: training ${model}`,
  finished: (model: string, epochs: number, steps: number, seconds: number, accuracy: string) =>
    `Netlens: ${model} trained for ${epochs} epoch${epochs === 1 ? '' : 's'} (${steps} steps, ${seconds.toFixed(1)} s)${accuracy}.`,
  cancelled: (model: string, steps: number) => `Netlens: training of ${model} cancelled after ${steps} steps; a checkpoint was kept.`,
  failed: (model: string, why: string) => `Netlens: training of ${model} failed: ${why}`,
  noRuns: 'Netlens: no training runs in this workspace yet. Run “Netlens: Train Model…” first.',
  pickRuns: 'Runs to compare (the dashboard overlays them)',
  saved: (file: string) => `Netlens: saved ${file}.`,
  badNumber: (what: string) => `${what} must be a positive number.`,
  badWholeNumber: (what: string) => `${what} must be a positive whole number.`,
} as const;
