// Finds the site-packages of the Python environment the user works in, so imports such as
// `from torchvision.models import resnet18` resolve to real source files. Never required:
// when nothing is found the analyzer simply treats those imports as unknown.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const probeTimeoutMs = 3000;

export interface PythonEnvironment {
  /** How it was found, for messages: "VIRTUAL_ENV", "CONDA_PREFIX" or the interpreter name. */
  source: string;
  sitePackages: string[];
}

/** site-packages folders under an environment prefix (POSIX lib/pythonX.Y/, Windows Lib/). */
function sitePackagesUnder(prefix: string): string[] {
  const found: string[] = [];
  const windows = path.join(prefix, 'Lib', 'site-packages');
  if (fs.existsSync(windows)) found.push(windows);
  for (const lib of ['lib', 'lib64']) {
    const libDir = path.join(prefix, lib);
    let entries: string[];
    try {
      entries = fs.readdirSync(libDir);
    } catch {
      continue;
    }
    for (const entry of entries.filter((name) => /^python\d+(\.\d+)?t?$/.test(name)).sort().reverse()) {
      const candidate = path.join(libDir, entry, 'site-packages');
      if (fs.existsSync(candidate) && !found.includes(fs.realpathSync(candidate))) found.push(fs.realpathSync(candidate));
    }
  }
  return found;
}

/** Asks an interpreter on PATH where its pure and platform libraries live. */
function probeInterpreter(interpreter: string): string[] {
  const result = spawnSync(interpreter,
    ['-c', "import sysconfig; p = sysconfig.get_paths(); print(p['purelib']); print(p['platlib'])"],
    { encoding: 'utf8', timeout: probeTimeoutMs, stdio: ['ignore', 'pipe', 'ignore'] });
  if (result.status !== 0 || typeof result.stdout !== 'string') return [];
  const dirs = result.stdout.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '' && fs.existsSync(line));
  return [...new Set(dirs)];
}

export function findPythonEnvironment(env: NodeJS.ProcessEnv = process.env): PythonEnvironment | undefined {
  if (env.NETLENS_PYTHON === 'none') return undefined;
  for (const variable of ['VIRTUAL_ENV', 'CONDA_PREFIX']) {
    const prefix = env[variable];
    if (prefix) {
      const sitePackages = sitePackagesUnder(prefix);
      if (sitePackages.length > 0) return { source: variable, sitePackages };
    }
  }
  const interpreters = env.NETLENS_PYTHON ? [env.NETLENS_PYTHON] : ['python3', 'python'];
  for (const interpreter of interpreters) {
    const sitePackages = probeInterpreter(interpreter);
    if (sitePackages.length > 0) return { source: interpreter, sitePackages };
  }
  return undefined;
}

/** Interpreters to try for running Python (not only reading it), in the order findPythonEnvironment looks. */
export function pythonInterpreterCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.NETLENS_PYTHON === 'none') return [];
  const found: string[] = [];
  for (const variable of ['VIRTUAL_ENV', 'CONDA_PREFIX']) {
    const prefix = env[variable];
    if (!prefix) continue;
    for (const candidate of [path.join(prefix, 'bin', 'python3'), path.join(prefix, 'bin', 'python'), path.join(prefix, 'python.exe')]) {
      if (fs.existsSync(candidate)) {
        found.push(candidate);
        break;
      }
    }
  }
  return [...found, ...(env.NETLENS_PYTHON ? [env.NETLENS_PYTHON] : ['python3', 'python'])];
}
