// "Netlens: Inspect Activations…": pick the model of a Python file, the weights (the newest
// checkpoint of one of its runs in the workspace run store, or the initial ones) and the image
// source (the data set's samples or a PNG/JPEG file), then open the Activations panel on them.
// Arguments (all optional) let CodeLens and tests skip the questions:
//   { uri: string | Uri, entry: string, weights: 'initial' | <run id>, image: 'samples' | <file path>, sample: number }
import * as path from 'node:path';
import * as vscode from 'vscode';

import { analyzeFile } from '../analysis/index';
import type { ModelReport } from '../analysis/reportTypes';
import { prepareModel } from '../training/modelSpec';
import type { Feature } from './feature';
import { EngineInspectorSource } from './inspectorEngineSource';
import { InspectorPanel } from './inspectorPanel';
import { initialWeightsLabel, inspectableRuns, inspectionData, runWeightsLabel, type InspectableRun } from './inspectorRuns';

export const INSPECT_ACTIVATIONS_COMMAND = 'netlens.inspectActivations';

export interface InspectActivationsArgs {
  uri?: string | vscode.Uri;
  entry?: string;
  /** 'initial', or the id of a run whose newest checkpoint to load. */
  weights?: string;
  /** 'samples' (the data set), or the path of a PNG/JPEG file. */
  image?: string;
  /** The first sample shown (default 0). */
  sample?: number;
}

const messages = {
  noPythonFile: 'Netlens: open a Python model file to inspect its activations.',
  noModel: (file: string) => `Netlens: no model found in ${file} that the engine could run.`,
  noRun: (id: string) => `Netlens: there is no run '${id}' with a checkpoint for this model in the workspace run store.`,
  pickModel: 'Model to inspect',
  pickWeights: 'Weights',
  pickImage: 'Images',
  initialDetail: 'The model as constructed, before any training: feature maps of random filters.',
  samplesLabel: '$(database) Data set samples',
  samplesDetail: 'Browse the images of the data set the run used (the built-in test images for the initial weights).',
  fileLabel: '$(file-media) Image file…',
  fileDetail: 'A PNG or JPEG file, resized and centre-cropped to the model input.',
  preparing: (name: string) => `Analyzing and lowering ${name}…`,
  opening: 'Starting the engine session…',
} as const;

type WeightsChoice = { run: InspectableRun | undefined };

function parseArgs(value: unknown): InspectActivationsArgs {
  if (typeof value !== 'object' || value === null) return {};
  const raw = value as Record<string, unknown>;
  const text = (key: string): string | undefined => (typeof raw[key] === 'string' ? (raw[key] as string) : undefined);
  const uri = raw['uri'] instanceof vscode.Uri ? raw['uri'] : text('uri');
  return {
    ...(uri !== undefined ? { uri } : {}),
    ...(text('entry') !== undefined ? { entry: text('entry') } : {}),
    ...(text('weights') !== undefined ? { weights: text('weights') } : {}),
    ...(text('image') !== undefined ? { image: text('image') } : {}),
    ...(typeof raw['sample'] === 'number' ? { sample: raw['sample'] } : {}),
  };
}

async function targetDocument(args: InspectActivationsArgs): Promise<vscode.TextDocument | undefined> {
  if (args.uri !== undefined) {
    const uri = typeof args.uri === 'string' ? (/^[a-z][a-z0-9+.-]+:/i.test(args.uri) ? vscode.Uri.parse(args.uri) : vscode.Uri.file(args.uri)) : args.uri;
    return vscode.workspace.openTextDocument(uri);
  }
  const active = vscode.window.activeTextEditor?.document;
  return active?.languageId === 'python' ? active : undefined;
}

function importRoots(document: vscode.TextDocument): string[] {
  const configured = vscode.workspace.getConfiguration('netlens').get<string[]>('pythonPath', []);
  const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
  return [...configured, ...folders, path.dirname(document.uri.fsPath)];
}

async function pickModel(document: vscode.TextDocument, entry: string | undefined): Promise<ModelReport | undefined> {
  const report = await analyzeFile(document.uri.fsPath, document.getText(), { ...(entry ? { entry } : {}), pythonPath: importRoots(document) });
  const models = report.models;
  if (models.length <= 1) return models[0];
  const picked = await vscode.window.showQuickPick(
    models.map((model) => ({ label: model.name, description: model.entry, model })),
    { title: messages.pickModel, placeHolder: 'The file defines several models' },
  );
  return picked?.model;
}

async function pickWeights(root: string | undefined, file: string, entry: string, wanted: string | undefined): Promise<WeightsChoice | undefined> {
  const runs = root ? inspectableRuns(root, file, entry) : [];
  if (wanted === 'initial') return { run: undefined };
  if (wanted !== undefined) {
    const run = runs.find((candidate) => candidate.id === wanted);
    if (!run) {
      void vscode.window.showErrorMessage(messages.noRun(wanted));
      return undefined;
    }
    return { run };
  }
  if (runs.length === 0) return { run: undefined };
  const items: (vscode.QuickPickItem & WeightsChoice)[] = [
    ...runs.map((run) => ({
      label: `$(history) Run ${run.id}`,
      description: `${path.basename(run.checkpoint)} · ${run.status}`,
      detail: `Newest checkpoint, written ${run.written.toLocaleString()}`,
      run,
    })),
    { label: `$(circle-outline) ${initialWeightsLabel(0)}`, detail: messages.initialDetail, run: undefined },
  ];
  return vscode.window.showQuickPick(items, { title: messages.pickWeights, placeHolder: 'Newest checkpoint of a run, or the untrained model' });
}

async function pickImage(wanted: string | undefined): Promise<{ sample: number } | { file: string } | undefined> {
  if (wanted === 'samples') return { sample: 0 };
  if (wanted !== undefined) return { file: wanted };
  const picked = await vscode.window.showQuickPick(
    [
      { label: messages.samplesLabel, detail: messages.samplesDetail, file: false },
      { label: messages.fileLabel, detail: messages.fileDetail, file: true },
    ],
    { title: messages.pickImage },
  );
  if (!picked) return undefined;
  if (!picked.file) return { sample: 0 };
  const files = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Inspect', filters: { Images: ['png', 'jpg', 'jpeg'] } });
  const file = files?.[0]?.fsPath;
  return file ? { file } : undefined;
}

export const inspectorFeature: Feature = ({ extension, engine, output }) => {
  extension.subscriptions.push(
    vscode.commands.registerCommand(INSPECT_ACTIVATIONS_COMMAND, async (rawArgs?: unknown) => {
      const args = parseArgs(rawArgs);
      const document = await targetDocument(args);
      if (!document) {
        void vscode.window.showWarningMessage(messages.noPythonFile);
        return;
      }
      const file = document.uri.fsPath;
      const model = await pickModel(document, args.entry);
      if (!model) {
        void vscode.window.showWarningMessage(messages.noModel(vscode.workspace.asRelativePath(document.uri)));
        return;
      }
      const root = vscode.workspace.getWorkspaceFolder(document.uri)?.uri.fsPath ?? vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
      const weights = await pickWeights(root, file, model.entry, args.weights);
      if (!weights) return;
      const image = await pickImage(args.image);
      if (!image) return;

      const title = `${model.name} — ${path.basename(file)}`;
      const panel = InspectorPanel.show(extension, output, title);
      try {
        panel.busy(messages.preparing(model.name));
        const client = await engine.runningClient();
        const prepared = await prepareModel({
          file,
          analyze: { entry: model.entry, pythonPath: importRoots(document) },
          engineOps: await client.request('engineOps', {}),
          optimizer: { type: 'sgd', lr: 0.01 },
        });
        panel.busy(messages.opening);
        const run = weights.run;
        const seed = run?.seed ?? 0;
        const data = inspectionData(run);
        const source = await EngineInspectorSource.open(client, {
          spec: prepared.spec,
          seed,
          ...(run ? { checkpoint: run.checkpoint } : {}),
          ...(data ? { data } : {}),
          title,
          weightsLabel: run ? runWeightsLabel(run) : initialWeightsLabel(seed),
        });
        output.info(`inspector: ${title} with ${run ? runWeightsLabel(run) : initialWeightsLabel(seed)}, ${source.dataSamples} samples`);
        const first = 'file' in image ? image : { sample: Math.min(Math.max(0, args.sample ?? 0), Math.max(0, source.dataSamples - 1)) };
        panel.attach(source, first);
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        output.error(`inspector: ${text}`);
        panel.fail(text);
        void vscode.window.showErrorMessage(`Netlens: cannot inspect ${model.name}: ${text}`);
      }
    }),
  );
};
