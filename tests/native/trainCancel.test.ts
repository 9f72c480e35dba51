// `netlens train` under Ctrl-C, as a user meets it: SIGINT goes to the whole process group (the
// CLI and the engine process it forked); the CLI finishes the chunk in flight, writes a checkpoint
// and a `done` event with status cancelled, and exits 130. `--resume RUN_DIR` then goes on from
// that checkpoint in the same run folder.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';

import { main } from '../../extension/cli/main';
import { repoRoot } from './support';

const model = `import torch
import torch.nn as nn
import torch.nn.functional as F

# netlens: input=(16, 1, 28, 28)
class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 5, stride=2)
        self.fc = nn.Linear(4 * 12 * 12, 10)

    def forward(self, x):
        return self.fc(torch.flatten(F.relu(self.conv(x)), 1))
`;

const env = { ...process.env, NETLENS_PYTHON: 'none', VIRTUAL_ENV: '', CONDA_PREFIX: '' };

type Event = Record<string, unknown> & { type: string };

function parseEvents(text: string): Event[] {
  return text.trim().split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Event);
}

test('Ctrl-C (SIGINT to the process group) cancels cleanly with exit 130; --resume RUN_DIR continues the run', { timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'netlens-cancel-'));
  fs.writeFileSync(path.join(dir, 'small.py'), model);
  // Its own process group, so the signal can reach the CLI and the engine together as a terminal's would.
  const cli = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'extension', 'cli', 'main.ts'),
    'train', path.join(dir, 'small.py'), '--runs-root', dir, '--data', 'default', '--batch', '16', '--epochs', '50', '--json-events'],
  // From the repository, where `--import tsx` resolves (for the CLI and the engine process it forks).
  { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let signalled = false;
  cli.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  cli.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (!signalled && /"type":"step"/.test(stdout)) {
      signalled = true;
      process.kill(-cli.pid!, 'SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => cli.on('exit', (exitCode) => resolve(exitCode)));
  assert.equal(code, 130, stderr);

  const events = parseEvents(stdout);
  const done = events.at(-1)!;
  assert.equal(done.type, 'done');
  assert.equal(done['status'], 'cancelled');
  const steps = done['steps'] as number;
  assert.ok(steps > 0 && steps % 8 === 0, `stopped at the end of a chunk of 8 steps: ${steps}`);
  const checkpoint = events.at(-2)!;
  assert.equal(checkpoint.type, 'checkpoint');
  assert.equal(checkpoint['step'], steps);
  const runDir = events[0]!['run_dir'] as string;
  assert.equal(JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8')).status, 'cancelled');
  assert.deepEqual(parseEvents(fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')), events);

  let resumedOut = '';
  let resumedErr = '';
  const resumedCode = await main(['train', 'small.py', '--data', 'default', '--batch', '16', '--epochs', '50', '--max-steps', String(steps + 8), '--resume', runDir, '--json-events'], {
    stdout: (text) => { resumedOut += text; }, stderr: (text) => { resumedErr += text; }, cwd: dir, env,
  });
  assert.equal(resumedCode, 0, resumedErr);
  const resumed = parseEvents(resumedOut);
  assert.deepEqual(resumed[0]!['resumed_from'], { checkpoint: checkpoint['path'], epoch: 0, step: steps });
  assert.equal(resumed[0]!['run_dir'], runDir);
  assert.deepEqual(resumed.filter((e) => e.type === 'step').map((e) => e['step']), Array.from({ length: 8 }, (_, i) => steps + 1 + i));
  assert.deepEqual(parseEvents(fs.readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')), [...events, ...resumed], 'metrics.jsonl continues');
  assert.equal(JSON.parse(fs.readFileSync(path.join(runDir, 'status.json'), 'utf8')).status, 'completed');
  assert.equal(fs.readdirSync(path.join(dir, '.netlens', 'runs')).length, 1, 'no second run folder');

  const missing = await main(['train', 'small.py', '--resume', path.join(dir, 'nope')], { stdout: () => undefined, stderr: (text) => { resumedErr = text; }, cwd: dir, env });
  assert.equal(missing, 1);
  assert.match(resumedErr, /--resume .*nope: no such run folder or checkpoint/);
});
