// "Netlens: Export Training Script (torchrun)…" and "Launch with torchrun…" in a real VS Code, on
// examples/lenet5.py with the built-in data: the script and the exported .npz land beside the model,
// the command lines are in the Netlens output, and (when a Python with torch is found) Launch runs
// it with two gloo processes into the workspace's run store while the dashboard follows the run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';

import { UI_TIMEOUT_MS, VsCodeSession, WORKBENCH_TIMEOUT_MS } from './harness';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The interpreter with torch, resolved here (the extension host's HOME differs, which pyenv shims depend on). */
function torchPython(): string | undefined {
  const probe = spawnSync('python3', ['-c', 'import sys, torch.distributed; print(sys.executable)'], { encoding: 'utf8', timeout: 60_000 });
  return probe.status === 0 ? probe.stdout.trim().split('\n').pop() : undefined;
}

const python = torchPython();
let session: VsCodeSession;

before(async () => {
  session = await VsCodeSession.start({ name: 'torchrun', env: { ...(python ? { NETLENS_PYTHON: python } : {}), OMP_NUM_THREADS: '1' } });
}, { timeout: WORKBENCH_TIMEOUT_MS + 60_000 });

after(async () => {
  await session?.close();
});

test('Export Training Script (torchrun) writes the script and the data beside the model, then Launch trains it', { timeout: 420_000 }, async (t: TestContext) => {
  await session.step('open-lenet5', () => session.openFile('lenet5.py'));
  await session.step('export', async () => {
    await session.runCommand('Netlens: Export Training Script (torchrun)…', 60_000);
    await session.selectQuickPickItem('Built-in shapes data');
    // The save dialog (VS Code's simple dialog in the browser) proposes train_lenet5_torchrun.py beside the model.
    const input = session.page.locator('.quick-input-widget input.input');
    await session.page.waitForFunction(() => {
      const element = document.querySelector<HTMLInputElement>('.quick-input-widget input.input');
      return element !== null && element.value.endsWith('train_lenet5_torchrun.py');
    }, undefined, { timeout: UI_TIMEOUT_MS });
    await input.press('Enter');
  });
  const message = await session.step('exported-notification', () => session.waitForNotification(/Netlens wrote train_lenet5_torchrun\.py/, 180_000));
  assert.match(message, /torchrun/);
  const script = path.join(session.workspaceDir, 'train_lenet5_torchrun.py');
  assert.ok(fs.existsSync(script), 'the script is beside the model');
  assert.ok(fs.existsSync(path.join(session.workspaceDir, 'netlens-shapes28-train-32x32.npz')), 'the built-in data, padded to LeNet-5\'s 32×32, is beside it');
  const text = fs.readFileSync(script, 'utf8');
  assert.ok(text.includes('MODEL_FILE = "lenet5.py"'));
  assert.ok(text.includes('MODEL_ENTRY = "LeNet5()"'), 'the __main__ block\'s model becomes its constructor');
  const output = await session.step('command-lines', () => session.readOutputChannel('Netlens', /one machine, several GPUs: torchrun --standalone --nproc_per_node=gpu/));
  assert.match(output, /--rdzv_backend=c10d --rdzv_endpoint=HOST:29500/);
  await session.screenshot('torchrun-exported');

  if (!python) return t.skip('no python3 with torch here: the launch half did not run (pip install torch==2.13.0+cpu to run it)');
  await session.step('launch', async () => {
    const launch = session.page.locator('.notifications-toasts .monaco-button', { hasText: /^Launch with torchrun$/ });
    if (await launch.first().isVisible().catch(() => false)) await launch.first().click();
    else await session.runCommand('Netlens: Launch with torchrun…', 60_000);
    const input = session.page.locator('.quick-input-widget input.input');
    await input.waitFor({ timeout: 90_000 });
    await session.page.waitForFunction(() => document.querySelector<HTMLInputElement>('.quick-input-widget input.input')?.value === '2', undefined, { timeout: UI_TIMEOUT_MS });
    await input.press('Enter');
  });
  const runsDir = path.join(session.workspaceDir, '.netlens', 'runs');
  const run = await session.step('run-completes', async () => {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const id = fs.existsSync(runsDir) ? fs.readdirSync(runsDir)[0] : undefined;
      const status = id && fs.existsSync(path.join(runsDir, id, 'status.json')) ? (JSON.parse(fs.readFileSync(path.join(runsDir, id, 'status.json'), 'utf8')) as { status: string }).status : 'none';
      if (id && status !== 'running' && status !== 'none') return { id, status };
      if (Date.now() > deadline) throw new Error(`the torchrun run did not finish (status ${status})`);
      await sleep(500);
    }
  });
  assert.equal(run.status, 'completed');
  await session.step('finished-notification', () => session.waitForNotification(/torchrun finished; run in/, 60_000));
  const events = fs.readFileSync(path.join(runsDir, run.id, 'metrics.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const steps = events.filter((e) => e['type'] === 'step').length;
  // 9,000 training samples over 2 processes, 32 a batch each, the last partial batch dropped.
  assert.equal(steps, Math.floor(4500 / 32));
  assert.deepEqual(events.map((e) => e['type']).filter((type) => type !== 'step'), ['start', 'epoch', 'checkpoint', 'done']);
  const dashboard = await session.step('dashboard', () => session.findWebviewFrame('#dash-runs tbody tr', 60_000));
  const row = await dashboard.$eval('#dash-runs tbody tr', (element) => ({ run: (element as HTMLElement).dataset['run'], points: Number((element as HTMLElement).dataset['points']) }));
  assert.equal(row.run, run.id);
  assert.equal(row.points, steps);
  await session.screenshot('torchrun-dashboard');
});
