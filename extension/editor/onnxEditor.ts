// The read-only editor of .onnx files and "Netlens: Export to ONNX". The editor shows the layer
// table at once from the file (pure TypeScript decoding), then asks the engine process for the
// shapes the model lacks (onnxruntime runs there, never in the extension host). "Run on an
// image…" shows the top predictions on the page and the activations (and occlusion map) in the
// Activations panel. The export lowers the active Python file's model, and the engine process
// writes and checks the ONNX file.
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';

import { buildLayerTable, valuesWithoutShape } from '../onnx/layers';
import { OnnxFileError, readOnnxFile } from '../onnx/model';
import { topPredictions } from '../onnx/runtime';
import { prepareModel } from '../training/modelSpec';
import { onnxBodyHtml } from '../../webviews/onnx/body';
import { isFromOnnxView, type FromOnnxView, type ToOnnxView } from '../../webviews/onnx/protocol';
import { webviewPageHtml } from '../../webviews/shared/html';
import type { EngineService } from './engineService';
import type { Feature } from './feature';
import { InspectorPanel } from './inspectorPanel';
import { OnnxInspectorSource } from './onnxInspectorSource';
import { onnxMarkdown, onnxViewTable } from './onnxView';

export const ONNX_EDITOR_VIEW_TYPE = 'netlens.onnxModel';
export const EXPORT_ONNX_COMMAND = 'netlens.exportOnnx';

class OnnxDocument implements vscode.CustomDocument {
  constructor(readonly uri: vscode.Uri) {}
  dispose(): void {}
}

/** One open .onnx editor: its page, the latest messages to replay, and its prediction session. */
class OnnxEditorSession {
  private pageReady = false;
  private readonly latest = new Map<ToOnnxView['type'], ToOnnxView>();
  private predictions: OnnxInspectorSource | undefined;
  private markdown = '';

  constructor(
    private readonly extension: vscode.ExtensionContext,
    private readonly panel: vscode.WebviewPanel,
    private readonly file: string,
    private readonly engine: EngineService,
    private readonly output: vscode.LogOutputChannel,
  ) {
    const webviewRoot = vscode.Uri.joinPath(extension.extensionUri, 'dist', 'webviews');
    panel.webview.options = { enableScripts: true, localResourceRoots: [webviewRoot] };
    const resource = (name: string): string => panel.webview.asWebviewUri(vscode.Uri.joinPath(webviewRoot, name)).toString();
    panel.webview.html = webviewPageHtml({
      title: path.basename(file), cspSource: panel.webview.cspSource, nonce: randomBytes(16).toString('base64'),
      scriptUri: resource('onnx.js'), styleUri: resource('onnx.css'), bodyHtml: onnxBodyHtml,
    });
    panel.webview.onDidReceiveMessage((message: unknown) => {
      if (isFromOnnxView(message)) void this.handle(message);
    });
    panel.onDidDispose(() => void this.predictions?.close());
    void this.load();
  }

  private post(message: ToOnnxView): void {
    this.latest.set(message.type, message);
    if (this.pageReady) void this.panel.webview.postMessage(message);
  }

  private status(kind: 'busy' | 'info' | 'error', message: string): void {
    this.post({ type: 'status', kind, message });
  }

  private async load(): Promise<void> {
    let missing: string[];
    try {
      const model = readOnnxFile(this.file);
      missing = valuesWithoutShape(model);
      this.showTable(buildLayerTable(model, this.file));
    } catch (error) {
      const text = error instanceof OnnxFileError ? error.message : `${this.file}: ${error instanceof Error ? error.message : String(error)}`;
      this.output.error(`onnx: ${text}`);
      this.status('error', text);
      return;
    }
    if (missing.length === 0) {
      this.status('info', '');
      return;
    }
    this.status('busy', `Measuring ${missing.length} shapes the model lacks with onnxruntime…`);
    try {
      const client = await this.engine.runningClient();
      this.showTable(await client.request('onnxTable', { path: this.file }, 120_000));
      this.status('info', '');
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.output.warn(`onnx: shapes from onnxruntime unavailable for ${this.file}: ${text}`);
      this.status('info', `Shapes the model lacks stay unknown: the engine process could not measure them (${text}).`);
    }
  }

  private showTable(table: Parameters<typeof onnxViewTable>[0]): void {
    const view = onnxViewTable({ ...table, file: vscode.workspace.asRelativePath(this.file) });
    this.markdown = onnxMarkdown(view);
    this.post({ type: 'table', table: view });
  }

  private async handle(message: FromOnnxView): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.pageReady = true;
        for (const kind of ['table', 'prediction', 'status'] as const) {
          const latest = this.latest.get(kind);
          if (latest) void this.panel.webview.postMessage(latest);
        }
        return;
      case 'copyMarkdown':
        await vscode.env.clipboard.writeText(this.markdown);
        return;
      case 'runImage': {
        const picked = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Run', filters: { Images: ['png', 'jpg', 'jpeg'] } });
        const image = picked?.[0]?.fsPath;
        if (image) await this.runImage(image);
        return;
      }
    }
  }

  /** Top predictions here; activations and the occlusion map in the Activations panel (its own session). */
  async runImage(image: string): Promise<void> {
    try {
      this.status('busy', `Running ${path.basename(image)} through the model…`);
      const client = await this.engine.runningClient();
      this.predictions ??= await OnnxInspectorSource.open(client, this.file);
      const opened = this.predictions.opened;
      if (opened.notice) this.output.warn(`onnx: ${opened.notice}`);
      const started = performance.now();
      const prepared = await client.request('onnxImageFile', { session: opened.session, path: image }, 120_000);
      const result = await client.request('onnxRun', { session: opened.session, image: prepared.image, layers: [] }, 120_000);
      this.post({
        type: 'prediction',
        prediction: {
          source: path.basename(image), provider: `onnxruntime ${opened.provider.toUpperCase()}`, normalization: opened.normalization,
          elapsedMs: performance.now() - started,
          top: topPredictions(result.probabilities, 5).map((entry) => ({ label: `class ${entry.classIndex}`, probability: entry.probability })),
        },
      });
      this.status('info', opened.notice ?? '');
      const inspector = InspectorPanel.show(this.extension, this.output, path.basename(this.file));
      inspector.attach(await OnnxInspectorSource.open(client, this.file), { file: image });
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      this.output.error(`onnx: ${text}`);
      this.status('error', text);
    }
  }
}

class OnnxEditorProvider implements vscode.CustomReadonlyEditorProvider<OnnxDocument> {
  constructor(
    private readonly extension: vscode.ExtensionContext,
    private readonly engine: EngineService,
    private readonly output: vscode.LogOutputChannel,
  ) {}

  openCustomDocument(uri: vscode.Uri): OnnxDocument {
    return new OnnxDocument(uri);
  }

  resolveCustomEditor(document: OnnxDocument, panel: vscode.WebviewPanel): void {
    new OnnxEditorSession(this.extension, panel, document.uri.fsPath, this.engine, this.output);
  }
}

interface ExportArgs {
  file?: string;
  entry?: string;
  checkpoint?: string;
  out?: string;
}

function exportArgs(value: unknown): ExportArgs {
  if (typeof value !== 'object' || value === null || value instanceof vscode.Uri) return value instanceof vscode.Uri ? { file: value.fsPath } : {};
  const record = value as Record<string, unknown>;
  const text = (key: string): string | undefined => (typeof record[key] === 'string' ? record[key] : undefined);
  const args: ExportArgs = {};
  for (const key of ['file', 'entry', 'checkpoint', 'out'] as const) {
    const given = text(key);
    if (given !== undefined) args[key] = given;
  }
  return args;
}

async function exportOnnx(rawArgs: unknown, engine: EngineService, output: vscode.LogOutputChannel): Promise<void> {
  const args = exportArgs(rawArgs);
  const file = args.file ?? (vscode.window.activeTextEditor?.document.languageId === 'python' ? vscode.window.activeTextEditor.document.uri.fsPath : undefined);
  if (!file) {
    void vscode.window.showWarningMessage('Netlens: open the Python file of a model to export it to ONNX.');
    return;
  }
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri ?? vscode.Uri.file(path.dirname(file));
  let checkpoint = args.checkpoint;
  if (checkpoint === undefined) {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false, openLabel: 'Export with these weights', filters: { Checkpoints: ['safetensors'] },
      defaultUri: vscode.Uri.joinPath(folder, '.netlens', 'runs'), title: 'Checkpoint of a Netlens run',
    });
    checkpoint = picked?.[0]?.fsPath;
    if (!checkpoint) return;
  }
  let out = args.out;
  if (out === undefined) {
    const picked = await vscode.window.showSaveDialog({ defaultUri: vscode.Uri.file(file.replace(/\.py$/, '.onnx')), filters: { ONNX: ['onnx'] } });
    out = picked?.fsPath;
    if (!out) return;
  }
  try {
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Netlens: exporting ${path.basename(file)} to ONNX` }, async () => {
      const client = await engine.runningClient();
      const prepared = await prepareModel({
        file, analyze: { ...(args.entry ? { entry: args.entry } : {}), pythonPath: [path.dirname(file)] },
        engineOps: await client.request('engineOps', {}), optimizer: { type: 'sgd', lr: 0 },
      });
      return client.request('onnxExport', { spec: JSON.stringify(prepared.spec), seed: 0, checkpoint, out }, 600_000);
    });
    const note = `exported ${path.basename(file)} to ${result.out} (opset ${result.opset}, ${result.nodes} nodes); onnxruntime matches the engine (relative error ${result.maxRelativeError.toExponential(2)})`;
    output.info(`onnx: ${note}`);
    const open = 'Open';
    if ((await vscode.window.showInformationMessage(`Netlens: ${note}.`, open)) === open) {
      await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(result.out), ONNX_EDITOR_VIEW_TYPE);
    }
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    output.error(`onnx: export failed: ${text}`);
    void vscode.window.showErrorMessage(`Netlens: cannot export to ONNX: ${text}`);
  }
}

export const onnxFeature: Feature = ({ extension, engine, output }) => {
  extension.subscriptions.push(
    vscode.window.registerCustomEditorProvider(ONNX_EDITOR_VIEW_TYPE, new OnnxEditorProvider(extension, engine, output), {
      // The page is cheap to rebuild from the replayed messages; no need to keep it alive hidden.
      supportsMultipleEditorsPerDocument: true,
    }),
    vscode.commands.registerCommand(EXPORT_ONNX_COMMAND, (args?: unknown) => exportOnnx(args, engine, output)),
  );
};
