// Compares two `netlens train --json-events` logs of the same model, data and seed on two devices
// (device-check.sh's cli stage: cuda against cpu). Prints one summary line and exits 1 when the
// first step's losses differ by more than the tolerance (relative) or a run did not complete.
// Both runs start from the same initial weights (the CUDA executor takes the CPU initialization)
// and the same first batch, so the first loss differs only by the kernels' rounding.
// Usage: node compare-runs.mjs GPU.jsonl CPU.jsonl [tolerance=1e-4] [label='cuda vs cpu']
import * as fs from 'node:fs';
import * as path from 'node:path';

const [gpuLog, cpuLog, toleranceText = '1e-4', label = 'cuda vs cpu'] = process.argv.slice(2);
if (!gpuLog || !cpuLog) {
  console.error('usage: node compare-runs.mjs GPU.jsonl CPU.jsonl [tolerance] [label]');
  process.exit(2);
}
const tolerance = Number(toleranceText);

function summarize(file) {
  const events = fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));
  const start = events.find((e) => e.type === 'start');
  const steps = events.filter((e) => e.type === 'step');
  const epoch = events.filter((e) => e.type === 'epoch').at(-1);
  const done = events.find((e) => e.type === 'done');
  const error = events.find((e) => e.type === 'error');
  const config = start ? JSON.parse(fs.readFileSync(path.join(start.run_dir, 'config.json'), 'utf8')) : {};
  const batch = typeof config.batch === 'number' ? config.batch : NaN;
  // Step times from the events' images/s; the first step (eager, then the graph capture) is left out.
  const stepMs = steps.slice(2).map((e) => (batch * 1000) / e.images_per_s).sort((a, b) => a - b);
  return {
    firstLoss: steps[0]?.loss,
    steps: steps.length,
    medianMs: stepMs.length > 0 ? stepMs[Math.floor(stepMs.length / 2)] : NaN,
    valAcc: epoch?.val_acc ?? null,
    completed: done?.status === 'completed',
    error: error?.message,
    gpu: start?.gpu,
  };
}

const gpu = summarize(gpuLog);
const cpu = summarize(cpuLog);
const percent = (value) => (value === null ? 'n/a' : `${(value * 100).toFixed(1)}%`);
if (!gpu.completed || !cpu.completed || gpu.firstLoss === undefined || cpu.firstLoss === undefined) {
  console.log(`FAIL cli train ${label}: a run did not complete (cuda: ${gpu.error ?? `${gpu.steps} steps`}; cpu: ${cpu.error ?? `${cpu.steps} steps`})`);
  process.exit(1);
}
const relative = Math.abs(gpu.firstLoss - cpu.firstLoss) / Math.max(Math.abs(cpu.firstLoss), 1e-12);
const verdict = relative < tolerance ? 'PASS' : 'FAIL';
console.log(`${verdict} cli train ${label}: first-step loss ${gpu.firstLoss.toFixed(7)} vs ${cpu.firstLoss.toFixed(7)} ` +
  `(relative ${relative.toExponential(2)}, tolerance ${tolerance}); median step ${gpu.medianMs.toFixed(3)} ms (cuda` +
  `${gpu.gpu ? `, ${gpu.gpu.precision}, plan ${(gpu.gpu.memory_plan_bytes / 2 ** 20).toFixed(1)} MiB` : ''}) vs ${cpu.medianMs.toFixed(3)} ms (cpu); ` +
  `${gpu.steps} steps each; validation accuracy ${percent(gpu.valAcc)} vs ${percent(cpu.valAcc)}`);
process.exit(verdict === 'PASS' ? 0 : 1);
