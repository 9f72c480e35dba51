// Running an exported script under torchrun on this machine: finds a Python that imports torch,
// builds the `python -m torch.distributed.run` command (the module form needs no `torchrun` on
// PATH), and starts it into a run store the dashboard follows. No vscode here: the editor command
// (editor/torchrunCommands.ts) and tests use it alike.
import { execFile, spawn, type ChildProcess } from 'node:child_process';

import { pythonInterpreterCandidates } from '../cli/pythonEnvironment';

export interface TorchPython {
  interpreter: string;
  torchVersion: string;
  /** CUDA devices torch sees (0 on a CPU-only install or machine). */
  cudaDevices: number;
}

const probeScript = 'import json, torch, torch.distributed as d; print(json.dumps({"v": torch.__version__, "cuda": torch.cuda.device_count() if torch.cuda.is_available() else 0, "ok": d.is_available()}))';

/** The first interpreter (VIRTUAL_ENV, CONDA_PREFIX, NETLENS_PYTHON, python3, python) whose torch has torch.distributed. */
export async function findTorchPython(env: NodeJS.ProcessEnv = process.env, timeoutMs = 60_000): Promise<{ found?: TorchPython; tried: string[] }> {
  const tried: string[] = [];
  for (const interpreter of pythonInterpreterCandidates(env)) {
    // Asynchronous: importing torch takes seconds, and the extension host must not wait on it.
    const result = await new Promise<{ ok: boolean; stdout: string; reason: string }>((resolve) => {
      execFile(interpreter, ['-c', probeScript], { encoding: 'utf8', env, timeout: timeoutMs }, (error, stdout, stderr) => {
        const reason = error ? ((error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : stderr.trim().split('\n').pop() || error.message) : '';
        resolve({ ok: !error, stdout, reason });
      });
    });
    if (!result.ok) {
      tried.push(`${interpreter} (${result.reason})`);
      continue;
    }
    try {
      const answer = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as { v: string; cuda: number; ok: boolean };
      if (!answer.ok) {
        tried.push(`${interpreter} (torch ${answer.v} without torch.distributed)`);
        continue;
      }
      return { found: { interpreter, torchVersion: answer.v, cudaDevices: answer.cuda }, tried };
    } catch {
      tried.push(`${interpreter} (unexpected answer: ${result.stdout.trim().slice(0, 80)})`);
    }
  }
  return { tried };
}

export interface TorchrunLaunch {
  script: string;
  /** Processes on this machine: one per GPU, or CPU processes (gloo). */
  processes: number;
  /** Folder that gets `.netlens/runs/<id>/` (the workspace, so the dashboard finds the run). */
  runsRoot: string;
  device: 'cpu' | 'cuda';
  epochs?: number;
  maxSteps?: number;
}

/** The arguments after the interpreter. */
export function torchrunArguments(launch: TorchrunLaunch): string[] {
  return [
    '-m', 'torch.distributed.run', '--standalone', `--nproc_per_node=${launch.processes}`,
    launch.script, '--runs-root', launch.runsRoot, '--device', launch.device,
    ...(launch.epochs !== undefined ? ['--epochs', String(launch.epochs)] : []),
    ...(launch.maxSteps !== undefined ? ['--max-steps', String(launch.maxSteps)] : []),
  ];
}

/**
 * Starts torchrun in its own process group, so a stop reaches the agent and its workers: the script
 * finishes the step in flight, writes a checkpoint and exits (SIGTERM, which torchrun forwards).
 */
export function startTorchrun(python: string, launch: TorchrunLaunch, env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(python, torchrunArguments(launch), {
    cwd: launch.runsRoot,
    env: { ...env, PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: process.platform !== 'win32',
  });
}

/** Asks a started torchrun to stop cleanly (the whole group: agent and workers). */
export function stopTorchrun(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    if (process.platform !== 'win32') process.kill(-child.pid, 'SIGTERM');
    else child.kill('SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
}

/** The run folder the script announced on its last line ("completed: N steps; run in DIR"). */
export function runDirFromOutput(output: string): string | undefined {
  const match = /(?:completed|cancelled): \d+ steps; run in (.+)$/m.exec(output);
  return match?.[1]?.trim();
}
