// The CLI as the native tests run it: in this process, with output captured and no Python found
// (the tests must not depend on the machine's Python environments).
import { main } from '../../extension/cli/main';
import { repoRoot } from './support';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], cwd = repoRoot): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: (text) => { stdout += text; },
    stderr: (text) => { stderr += text; },
    cwd,
    env: { ...process.env, NETLENS_PYTHON: 'none', VIRTUAL_ENV: '', CONDA_PREFIX: '' },
  });
  return { code, stdout, stderr };
}
