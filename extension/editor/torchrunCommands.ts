// "Netlens: Export Training Script (torchrun)" and "Netlens: Launch with torchrun".
// Export runs the bundled CLI (`netlens export-torchrun`) in a child process, because exporting the
// built-in data set loads the native add-on, which never runs inside the extension host; then it
// opens the script and shows the torchrun command lines with Copy buttons. Launch finds a Python
// with torch and runs the script under torchrun on this machine into the workspace's run store,
// with the dashboard following the run and a cancellable notification that stops it cleanly.
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';

import { analyzeFile } from '../analysis/index';
import type { TorchrunExport } from '../cli/exportTorchrun';
import { TORCHRUN_SCRIPT_MARKER } from '../training/torchrun';
import { findTorchPython, runDirFromOutput, startTorchrun, stopTorchrun } from '../training/torchrunLaunch';
import { readAnalysisSettings } from './config';
import { DashboardPanel, runsDirOf } from './dashboardPanel';
import type { Feature, FeatureContext } from './feature';
import { torchrunMessages as messages } from './torchrunMessages';

export const EXPORT_TORCHRUN_COMMAND = 'netlens.exportTorchrun';
export const LAUNCH_TORCHRUN_COMMAND = 'netlens.launchTorchrun';

function workspaceRoot(uri: vscode.Uri | undefined): string {
  const folder = (uri && vscode.workspace.getWorkspaceFolder(uri)) ?? vscode.workspace.workspaceFolders?.[0];
  if (folder) return folder.uri.fsPath;
  return uri ? path.dirname(uri.fsPath) : os.homedir();
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function asUri(value: unknown): vscode.Uri | undefined {
  if (value instanceof vscode.Uri) return value;
  if (typeof value === 'string' && value !== '') return vscode.Uri.file(value);
  return undefined;
}

/** Runs `node dist/cli.js ARGS` in a child process; resolves with its exit code and output. */
function runCli(extensionPath: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(extensionPath, 'dist', 'cli.js'), args, { cwd, silent: true, execArgv: [] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8'); });
    child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function pickModelEntry(file: string): Promise<{ name: string; entry: string } | undefined> {
  const report = await analyzeFile(file, fs.readFileSync(file, 'utf8'), { pythonPath: readAnalysisSettings().pythonPath });
  if (report.models.length === 0) {
    const why = report.diagnostics.find((d) => d.severity === 'error')?.message;
    void vscode.window.showErrorMessage(messages.noModels(path.basename(file), why));
    return undefined;
  }
  if (report.models.length === 1) return { name: report.models[0]!.name, entry: report.models[0]!.entry };
  const picked = await vscode.window.showQuickPick(report.models.map((model) => ({ label: model.name, description: model.entry, model })), { placeHolder: messages.pickModel });
  return picked ? { name: picked.model.name, entry: picked.model.entry } : undefined;
}

async function pickData(root: string): Promise<string | undefined> {
  const choice = await vscode.window.showQuickPick([
    { label: messages.builtInData, detail: messages.builtInDataDetail, value: 'default' },
    { label: messages.fileData, detail: messages.fileDataDetail, value: 'file' },
  ], { placeHolder: messages.pickData });
  if (!choice) return undefined;
  if (choice.value === 'default') return 'default';
  const picked = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: true, canSelectMany: true, defaultUri: vscode.Uri.file(root) });
  return picked && picked.length > 0 ? picked.map((uri) => uri.fsPath).join(',') : undefined;
}

async function exportScript(context: FeatureContext, target: unknown): Promise<void> {
  const uri = asUri(target) ?? vscode.window.activeTextEditor?.document.uri;
  if (!uri || uri.scheme !== 'file' || !uri.fsPath.endsWith('.py')) {
    void vscode.window.showErrorMessage(messages.noModelFile);
    return;
  }
  const open = vscode.workspace.textDocuments.find((document) => document.uri.fsPath === uri.fsPath);
  if (open?.isDirty) await open.save();
  const file = uri.fsPath;
  const root = workspaceRoot(uri);
  const model = await pickModelEntry(file);
  if (!model) return;
  const data = await pickData(root);
  if (!data) return;
  const destination = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(path.join(path.dirname(file), `train_${path.basename(file, '.py')}_torchrun.py`)),
    filters: { Python: ['py'] },
  });
  if (!destination) return;
  const settings = vscode.workspace.getConfiguration('netlens');
  const batch = settings.get<number>('batch', 0);
  const args = [
    'export-torchrun', file, '--entry', model.entry, '--data', data, '--out', destination.fsPath, '--json',
    '--optimizer', settings.get<string>('optimizer', 'momentum'),
    ...(batch > 0 ? ['--batch', String(batch)] : []),
    ...readAnalysisSettings().pythonPath.flatMap((root) => ['--python-path', root]),
  ];
  context.output.info(`[export torchrun] netlens ${args.join(' ')}`);
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: messages.exporting(model.name) },
    () => runCli(context.extension.extensionPath, args, root));
  if (result.code !== 0) {
    const why = result.stderr.trim().replace(/^netlens: /, '') || `exit code ${String(result.code)}`;
    context.output.error(`[export torchrun] ${result.stderr.trim()}`);
    void vscode.window.showErrorMessage(messages.exportFailed(why));
    return;
  }
  let exported: TorchrunExport;
  try {
    exported = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as TorchrunExport;
  } catch (error) {
    void vscode.window.showErrorMessage(messages.exportFailed(`unexpected CLI output (${errorText(error)})`));
    return;
  }
  context.output.info(`[export torchrun] wrote ${exported.script}${exported.dataFile ? ` and ${exported.dataFile}` : ''}`);
  context.output.info(`[export torchrun] one machine, several GPUs: ${exported.singleMachine}`);
  context.output.info(`[export torchrun] several machines (NODE_RANK 0, 1, ...; HOST:PORT on the first): ${exported.multiMachine}`);
  context.output.info(`[export torchrun] quick check on this machine's CPU: ${exported.localCheck}`);
  await vscode.window.showTextDocument(vscode.Uri.file(exported.script), { preview: false });
  const action = await vscode.window.showInformationMessage(messages.exported(path.basename(exported.script)), messages.copySingle, messages.copyMulti, messages.launch);
  if (action === messages.copySingle || action === messages.copyMulti) {
    await vscode.env.clipboard.writeText(action === messages.copySingle ? exported.singleMachine : exported.multiMachine);
    void vscode.window.showInformationMessage(messages.copied);
  } else if (action === messages.launch) {
    await launch(context, vscode.Uri.file(exported.script));
  }
}

async function pickScript(target: unknown): Promise<vscode.Uri | undefined> {
  const given = asUri(target);
  if (given) return given;
  const active = vscode.window.activeTextEditor?.document;
  if (active?.uri.scheme === 'file' && active.getText().includes(TORCHRUN_SCRIPT_MARKER)) return active.uri;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Python: ['py'] }, title: messages.noScript, defaultUri: active ? vscode.Uri.file(path.dirname(active.uri.fsPath)) : undefined });
  return picked?.[0];
}

async function launch(context: FeatureContext, target: unknown): Promise<void> {
  const script = await pickScript(target);
  if (!script) return;
  if (!fs.readFileSync(script.fsPath, 'utf8').includes(TORCHRUN_SCRIPT_MARKER)) {
    void vscode.window.showErrorMessage(messages.notExported(path.basename(script.fsPath)));
    return;
  }
  const python = await findTorchPython(process.env);
  if (!python.found) {
    void vscode.window.showErrorMessage(messages.noTorch(python.tried.join(', ') || 'no interpreter'));
    return;
  }
  const { interpreter, torchVersion, cudaDevices } = python.found;
  const answer = await vscode.window.showInputBox({
    title: messages.processes(cudaDevices), value: String(cudaDevices > 0 ? cudaDevices : 2),
    validateInput: (text) => (/^[1-9][0-9]*$/.test(text.trim()) ? undefined : messages.notPositive),
  });
  if (!answer) return;
  const root = workspaceRoot(script);
  const request = { script: script.fsPath, processes: Number(answer.trim()), runsRoot: root, device: cudaDevices > 0 ? 'cuda' as const : 'cpu' as const };
  context.output.info(`[torchrun] ${interpreter} (torch ${torchVersion}) -m torch.distributed.run --standalone --nproc_per_node=${request.processes} ${request.script} --runs-root ${root}`);
  context.output.show(true);
  const child = startTorchrun(interpreter, request, process.env);
  let output = '';
  const log = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    output += text;
    for (const line of text.split('\n')) if (line.trim() !== '') context.output.info(`[torchrun] ${line}`);
  };
  child.stdout?.on('data', log);
  child.stderr?.on('data', log);
  DashboardPanel.show(context.extension, context.output, runsDirOf(root), { mode: 'follow' });
  let cancelled = false;
  const ended = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: messages.running(path.basename(script.fsPath), request.processes), cancellable: true },
    (_progress, token) => new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      token.onCancellationRequested(() => {
        cancelled = true;
        stopTorchrun(child);
      });
      child.on('error', (error) => {
        context.output.error(`[torchrun] ${errorText(error)}`);
        resolve({ code: null, signal: 'error' });
      });
      child.on('exit', (code, signal) => resolve({ code, signal }));
    }),
  );
  const runDir = runDirFromOutput(output);
  if (ended.code === 0 && !cancelled) void vscode.window.showInformationMessage(messages.finished(runDir));
  else if (cancelled) void vscode.window.showInformationMessage(messages.cancelled(runDir));
  else {
    const action = await vscode.window.showErrorMessage(messages.failed(ended.code, ended.signal), messages.showOutput);
    if (action) context.output.show();
  }
}

export const torchrunFeature: Feature = (context) => {
  context.extension.subscriptions.push(
    vscode.commands.registerCommand(EXPORT_TORCHRUN_COMMAND, (target?: unknown) => exportScript(context, target).catch((error: unknown) => {
      context.output.error(`[export torchrun] ${errorText(error)}`);
      void vscode.window.showErrorMessage(messages.exportFailed(errorText(error)));
    })),
    vscode.commands.registerCommand(LAUNCH_TORCHRUN_COMMAND, (target?: unknown) => launch(context, target).catch((error: unknown) => {
      context.output.error(`[torchrun] ${errorText(error)}`);
      void vscode.window.showErrorMessage(errorText(error));
    })),
  );
};
