// "Netlens: Train Model…", "Netlens: Open Training Dashboard" and "Netlens: Compare Runs".
// Train: the model of the active file (a quick pick when it has several), the plan (data,
// epochs, batch, optimizer, learning rate, device; remembered per model in workspaceState), the
// memory check against the device (refusing with numbers and offering the largest batch that
// fits), then the run in the extension's engine process with a cancellable progress
// notification, written to the workspace's run store and shown in the dashboard as it goes.
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';

import { analyzeFile } from '../analysis/index';
import type { InputSpec } from '../analysis/reportTypes';
import { dataFor, deviceRefusal, optimizerSpec } from '../cli/trainCommand';
import type { EngineClient } from '../engine/client';
import type { EngineHello, TrainingDataSpec } from '../engine/protocol';
import { defaultDataFor } from '../training/engineRuns';
import { trainingMessages } from '../training/messages';
import { prepareModel, type PreparedModel } from '../training/modelSpec';
import { RunControl } from '../training/runControl';
import { RunStore } from '../training/runStore';
import { runTraining, type TrainingEvent } from '../training/train';
import { isAnalyzable } from './analysisService';
import { configuredGpuMemoryBytes, readAnalysisSettings } from './config';
import { DashboardPanel, runsDirOf } from './dashboardPanel';
import { readDashboardRun } from './dashboardRuns';
import { listRuns } from './runsTail';
import type { Feature, FeatureContext } from './feature';
import { checkMemory, dataSummary, defaultLearningRates, planSummary, restorePlan, type TrainingPlan } from './trainingPlan';
import { trainingCommandMessages as messages } from './trainingMessages';

export const TRAIN_MODEL_COMMAND = 'netlens.trainModel';
export const OPEN_DASHBOARD_COMMAND = 'netlens.openDashboard';
export const COMPARE_RUNS_COMMAND = 'netlens.compareRuns';

/** Arguments other code (the CodeLens) may pass to netlens.trainModel; all optional. */
export interface TrainModelArgs {
  /** The model file (a Uri or its string form); default: the active editor's file. */
  uri?: string | vscode.Uri;
  /** The model's entry expression as the analyzer reports it, e.g. "LeNet5()"; skips the model pick. */
  entry?: string;
  /** Start from this batch instead of the remembered one. */
  batch?: number;
}

const VALIDATION_FRACTION = 0.1;
const SEED = 0;
const optimizerChoices: readonly TrainingPlan['optimizer'][] = ['sgd', 'momentum', 'adam', 'adamw', 'rmsprop'];

export const trainingFeature: Feature = (context) => {
  context.extension.subscriptions.push(
    // A Uri alone (an explorer or editor-title menu) names the file; an object is TrainModelArgs.
    vscode.commands.registerCommand(TRAIN_MODEL_COMMAND, (args?: TrainModelArgs | vscode.Uri) => trainModel(context, args instanceof vscode.Uri ? { uri: args } : args ?? {})),
    vscode.commands.registerCommand(OPEN_DASHBOARD_COMMAND, () => {
      DashboardPanel.show(context.extension, context.output, runsDirOf(workspaceRoot(vscode.window.activeTextEditor?.document.uri)), { mode: 'follow' });
    }),
    vscode.commands.registerCommand(COMPARE_RUNS_COMMAND, () => compareRuns(context)),
    { dispose: () => DashboardPanel.current?.dispose() },
  );
};

/** The workspace folder holding `uri` (else the first one, else the file's own folder): its .netlens/runs keeps the runs. */
function workspaceRoot(uri: vscode.Uri | undefined): string {
  const folder = (uri && vscode.workspace.getWorkspaceFolder(uri)) ?? vscode.workspace.workspaceFolders?.[0];
  if (folder) return folder.uri.fsPath;
  return uri ? path.dirname(uri.fsPath) : os.homedir();
}

async function targetDocument(args: TrainModelArgs): Promise<vscode.TextDocument | undefined> {
  if (args.uri) return vscode.workspace.openTextDocument(typeof args.uri === 'string' ? vscode.Uri.parse(args.uri) : args.uri);
  const active = vscode.window.activeTextEditor?.document;
  return active && isAnalyzable(active) ? active : undefined;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function modelInputs(shapes: Record<string, InputSpec[]>, name: string, entry: string): InputSpec[] | undefined {
  return shapes[entry] ?? shapes[name];
}

/** The model to train: the one `entry` names (from a CodeLens), else the file's only one, else the user's pick. */
async function pickModel(file: string, source: string, entry: string | undefined): Promise<{ name: string; entry: string } | undefined> {
  const settings = readAnalysisSettings();
  const report = await analyzeFile(file, source, { pythonPath: settings.pythonPath });
  const models = report.models;
  if (entry !== undefined) {
    // An entry the discovery did not list (e.g. `Net(num_classes=10)`) is still evaluated by prepareModel.
    const named = models.find((model) => model.entry === entry);
    return { name: named?.name ?? entry, entry };
  }
  if (models.length === 0) {
    const why = report.diagnostics.find((d) => d.severity === 'error')?.message;
    void vscode.window.showErrorMessage(messages.noModels(path.basename(file), why));
    return undefined;
  }
  if (models.length === 1) return { name: models[0]!.name, entry: models[0]!.entry };
  const picked = await vscode.window.showQuickPick(
    models.map((model) => ({ label: model.name, description: model.entry, model })),
    { title: 'Netlens: Train Model', placeHolder: messages.pickModel },
  );
  return picked ? { name: picked.model.name, entry: picked.model.entry } : undefined;
}

function planKey(file: string, entry: string): string {
  return `netlens.trainPlan:${file}#${entry}`;
}

async function askPositive(title: string, value: number, whole: boolean): Promise<number | undefined> {
  const text = await vscode.window.showInputBox({
    title, value: String(value),
    validateInput: (input) => {
      const number = Number(input);
      if (input.trim() === '' || !Number.isFinite(number) || number <= 0) return whole ? messages.badWholeNumber(title) : messages.badNumber(title);
      return whole && !Number.isInteger(number) ? messages.badWholeNumber(title) : undefined;
    },
  });
  return text === undefined ? undefined : Number(text);
}

async function askData(plan: TrainingPlan): Promise<TrainingPlan['data'] | undefined> {
  const choice = await vscode.window.showQuickPick([
    { label: 'Built-in shapes data', description: '10 classes of shapes, made by the engine (3×32×32 or 1×28×28)', source: 'default' as const },
    { label: 'Image folder…', description: 'one sub-folder of PNG/JPEG images per class', source: 'folder' as const },
    { label: 'Data files…', description: 'an IDX pair (images, labels), CIFAR .bin files, or a .npy/.npz file', source: 'files' as const },
  ], { title: 'Netlens: training data', placeHolder: `Now: ${dataSummary(plan.data, path.basename)}` });
  if (!choice) return undefined;
  if (choice.source === 'default') return { kind: 'default' };
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: choice.source === 'folder', canSelectFiles: choice.source === 'files', canSelectMany: choice.source === 'files',
    openLabel: 'Train on this',
    ...(choice.source === 'files' ? { filters: { 'Data sets': ['idx', 'idx1-ubyte', 'idx3-ubyte', 'ubyte', 'gz', 'bin', 'npy', 'npz'], 'All files': ['*'] } } : {}),
  });
  if (!picked || picked.length === 0) return undefined;
  return { kind: 'paths', paths: picked.map((uri) => uri.fsPath) };
}

/**
 * The plan as a menu: the first item starts with what is shown, the others change one setting
 * and come back here. Undefined when the user dismisses it.
 */
async function editPlan(model: string, start: TrainingPlan, hello: EngineHello): Promise<TrainingPlan | undefined> {
  const plan = { ...start };
  for (;;) {
    type Item = vscode.QuickPickItem & { action: 'start' | 'data' | 'epochs' | 'batch' | 'optimizer' | 'lr' | 'device' };
    const items: Item[] = [
      { label: '$(play) Start training', description: planSummary(plan, path.basename), action: 'start' },
      { label: 'Data', description: dataSummary(plan.data, path.basename), action: 'data' },
      { label: 'Epochs', description: String(plan.epochs), action: 'epochs' },
      { label: 'Batch', description: String(plan.batch), action: 'batch' },
      { label: 'Optimizer', description: plan.optimizer, action: 'optimizer' },
      { label: 'Learning rate', description: String(plan.lr), action: 'lr' },
      {
        label: 'Device', description: plan.device, action: 'device',
        detail: hello.cudaExecutorAvailable ? `GPU: ${hello.deviceName}` : `cpu only: ${hello.cudaExecutorStatus || hello.gpuError || messages.cudaNotReported}`,
      },
    ];
    const picked = await vscode.window.showQuickPick(items, { title: `Netlens: Train ${model}`, placeHolder: 'Enter starts; pick a setting to change it' });
    if (!picked) return undefined;
    switch (picked.action) {
      case 'start':
        return plan;
      case 'data': {
        const data = await askData(plan);
        if (data) plan.data = data;
        break;
      }
      case 'epochs':
        plan.epochs = (await askPositive('Epochs', plan.epochs, true)) ?? plan.epochs;
        break;
      case 'batch':
        plan.batch = (await askPositive('Batch', plan.batch, true)) ?? plan.batch;
        break;
      case 'optimizer': {
        const optimizer = await vscode.window.showQuickPick(optimizerChoices.map((name) => ({ label: name, description: `default lr ${defaultLearningRates[name]}` })), { title: 'Optimizer' });
        if (optimizer) {
          const name = optimizerChoices.find((o) => o === optimizer.label)!;
          // The learning rate follows the optimizer unless the user had set their own.
          if (plan.lr === defaultLearningRates[plan.optimizer]) plan.lr = defaultLearningRates[name];
          plan.optimizer = name;
        }
        break;
      }
      case 'lr':
        plan.lr = (await askPositive('Learning rate', plan.lr, false)) ?? plan.lr;
        break;
      case 'device': {
        // CUDA is offered only where the engine's CUDA executor can run.
        const devices = hello.cudaExecutorAvailable ? ['cpu', 'cuda'] : ['cpu'];
        const device = await vscode.window.showQuickPick(devices, { title: 'Device' });
        if (device === 'cpu' || device === 'cuda') plan.device = device;
        break;
      }
    }
  }
}

function trainingData(plan: TrainingPlan, prepared: PreparedModel, root: string): TrainingDataSpec {
  if (plan.data.kind === 'default') {
    const fitting = defaultDataFor(prepared.sampleShape, 'train');
    if (!fitting) throw new Error(trainingMessages.defaultDataDoesNotFit(`N, ${prepared.sampleShape.join(', ')}`));
    return fitting;
  }
  // The same mapping from paths to a data set as `netlens train --data PATH`.
  return dataFor(plan.data.paths.join(','), prepared.sampleShape, { cwd: root, env: process.env, stdout: () => undefined, stderr: () => undefined });
}

async function trainModel(context: FeatureContext, args: TrainModelArgs): Promise<void> {
  const document = await targetDocument(args);
  if (!document) {
    void vscode.window.showWarningMessage(messages.openModelFile);
    return;
  }
  // The engine trains the file on disk: what the user sees in the editor must be what runs.
  if (document.isDirty) await document.save();
  const file = document.uri.fsPath;
  const root = workspaceRoot(document.uri);
  const model = await pickModel(file, document.getText(), args.entry);
  if (!model) return;

  let client: EngineClient;
  let hello: EngineHello;
  try {
    client = await context.engine.runningClient();
    hello = await client.hello();
  } catch (error) {
    void vscode.window.showErrorMessage(messages.engineUnavailable(errorText(error)));
    return;
  }

  const key = planKey(file, model.entry);
  const remembered = restorePlan(context.extension.workspaceState.get(key));
  if (args.batch !== undefined && Number.isInteger(args.batch) && args.batch > 0) remembered.batch = args.batch;
  let plan = await editPlan(model.name, remembered, hello);
  if (!plan) return;
  for (;;) {
    await context.extension.workspaceState.update(key, plan);
    // A remembered cuda plan on a machine (or engine build) that cannot run it.
    const refusal = deviceRefusal(plan.device, 'fp32', hello);
    if (refusal) {
      void vscode.window.showErrorMessage(`Netlens: ${refusal}`);
      return;
    }
    const { capacityBytes, deviceLabel } = deviceMemory(plan.device, hello);
    let prepared: PreparedModel;
    try {
      const settings = readAnalysisSettings();
      prepared = await prepareModel({
        file,
        analyze: {
          entry: model.entry, inputs: modelInputs(settings.inputShapes, model.name, model.entry), batch: plan.batch,
          dtype: 'float32', optimizer: plan.optimizer, pythonPath: settings.pythonPath,
          gpuMemoryGB: capacityBytes / 1e9, memoryDevice: plan.device, maxBatchTable: true,
          // The GPU sizes the CUDA-only terms of the estimate (cuBLAS workspaces); without one an H100 is assumed.
          ...(plan.device === 'cuda' && hello.gpuPresent ? { gpu: { name: hello.deviceName, computeCapability: hello.computeCapability } } : {}),
        },
        engineOps: await client.request('engineOps', {}),
        optimizer: optimizerSpec(plan.optimizer, plan.lr),
      });
    } catch (error) {
      void vscode.window.showErrorMessage(messages.cannotTrain(errorText(error)));
      return;
    }
    const verdict = checkMemory(prepared.model.name, prepared.model.memory, plan, capacityBytes, deviceLabel);
    if (!verdict.fits) {
      const retry = verdict.largestBatch > 0 ? messages.trainWithBatch(verdict.largestBatch) : undefined;
      const choice = await vscode.window.showErrorMessage(verdict.message, ...(retry ? [retry] : []));
      if (!retry || choice !== retry) return;
      plan = { ...plan, batch: verdict.largestBatch };
      continue;
    }
    let data: TrainingDataSpec;
    try {
      data = trainingData(plan, prepared, root);
    } catch (error) {
      void vscode.window.showErrorMessage(messages.cannotTrain(errorText(error)));
      return;
    }
    await startRun(context, client, { file, root, prepared, plan, data, memoryCheck: { training_peak_bytes: verdict.peakBytes, capacity_bytes: capacityBytes, device: plan.device } });
    return;
  }
}

/**
 * What the plan's device can hold: for cpu this machine's memory; for cuda the GPU the engine
 * reports, else the netlens.gpuMemoryGB setting (the same numbers the CodeLens plans against).
 */
function deviceMemory(device: TrainingPlan['device'], hello: EngineHello): { capacityBytes: number; deviceLabel: string } {
  if (device === 'cuda') {
    const capacityBytes = hello.totalMemoryBytes > 0 ? hello.totalMemoryBytes : configuredGpuMemoryBytes() ?? 0;
    return { capacityBytes, deviceLabel: hello.gpuPresent ? hello.deviceName : 'the configured GPU (netlens.gpuMemoryGB)' };
  }
  return { capacityBytes: os.totalmem(), deviceLabel: "this machine's memory (cpu)" };
}

interface RunRequest {
  file: string;
  root: string;
  prepared: PreparedModel;
  plan: TrainingPlan;
  data: TrainingDataSpec;
  memoryCheck: { training_peak_bytes: number; capacity_bytes: number; device: string };
}

async function startRun(context: FeatureContext, client: EngineClient, request: RunRequest): Promise<void> {
  const { prepared, plan } = request;
  const optimizer = optimizerSpec(plan.optimizer, plan.lr);
  // The same config.json as `netlens train` writes, plus the memory check made here.
  const store = RunStore.create(request.root, {
    file: request.file, entry: prepared.model.entry, model: prepared.model.name, data: request.data, epochs: plan.epochs,
    batch: plan.batch, optimizer, max_steps: null, validation: VALIDATION_FRACTION, augment: false, seed: SEED,
    device: plan.device, spec: prepared.spec, resumed_from: null, memory_check: request.memoryCheck,
  });
  context.output.info(`training ${prepared.model.name} (${planSummary(plan, path.basename)}) in ${store.dir}`);
  DashboardPanel.show(context.extension, context.output, runsDirOf(request.root), { mode: 'follow', focus: store.id });
  let lastEpoch: Extract<TrainingEvent, { type: 'epoch' }> | undefined;

  const last = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: messages.progressTitle(prepared.model.name), cancellable: true },
    async (progress, token) => {
      const control = new RunControl();
      const cancel = token.onCancellationRequested(() => control.cancel());
      let totalSteps = 0;
      let reported = 0;
      const onEvent = (event: TrainingEvent): void => {
        if (event.type === 'start') totalSteps = event.batches_per_epoch * plan.epochs;
        if (event.type === 'epoch') lastEpoch = event;
        if (event.type !== 'step') return;
        // The bar moves by whole percents: a report per step would flood the notification.
        const percent = totalSteps > 0 ? Math.floor((100 * event.step) / totalSteps) : 0;
        if (percent > reported || event.step === 1) {
          progress.report({ increment: percent - reported, message: `epoch ${event.epoch}/${plan.epochs} · step ${event.step}/${totalSteps} · loss ${event.loss.toFixed(4)}` });
          reported = percent;
        }
      };
      try {
        return await runTraining(client, {
          spec: prepared.spec, data: request.data, epochs: plan.epochs, batch: plan.batch,
          validationFraction: VALIDATION_FRACTION, augment: false, seed: SEED, control,
          session: { device: plan.device, precision: 'fp32' }, estimatedPeakBytes: request.memoryCheck.training_peak_bytes,
        }, store, onEvent);
      } finally {
        cancel.dispose();
      }
    },
  );
  const name = prepared.model.name;
  if (last.type === 'error') {
    context.output.error(`training run ${store.id} failed: ${last.message}`);
    void vscode.window.showErrorMessage(messages.failed(name, last.message));
  } else if (last.type === 'done' && last.status === 'cancelled') {
    void vscode.window.showInformationMessage(messages.cancelled(name, last.steps));
  } else if (last.type === 'done') {
    const run = readDashboardRun(runsDirOf(request.root), store.id);
    context.output.info(`training run ${run.id} ${run.status}: ${last.steps} steps in ${last.seconds.toFixed(1)} s`);
    void vscode.window.showInformationMessage(messages.finished(name, last.epochs, last.steps, last.seconds, accuracyText(lastEpoch)));
  }
}

function accuracyText(epoch: Extract<TrainingEvent, { type: 'epoch' }> | undefined): string {
  if (!epoch) return '';
  const accuracy = epoch.val_acc ?? epoch.train_acc;
  return Number.isFinite(accuracy) ? `, ${epoch.val_acc === null ? 'train' : 'validation'} accuracy ${(accuracy * 100).toFixed(1)}%` : '';
}

async function compareRuns(context: FeatureContext): Promise<void> {
  const runsDir = runsDirOf(workspaceRoot(vscode.window.activeTextEditor?.document.uri));
  const runs = listRuns(runsDir).map((id) => readDashboardRun(runsDir, id)).reverse();
  if (runs.length === 0) {
    void vscode.window.showInformationMessage(messages.noRuns);
    return;
  }
  const picked = await vscode.window.showQuickPick(
    runs.map((run) => ({ label: run.model ? `${run.model} · ${run.id}` : run.id, description: run.status, detail: [run.file, run.settings].filter(Boolean).join(' · '), id: run.id })),
    { title: 'Netlens: Compare Runs', placeHolder: messages.pickRuns, canPickMany: true },
  );
  if (!picked || picked.length === 0) return;
  DashboardPanel.show(context.extension, context.output, runsDir, { mode: 'compare', runs: picked.map((item) => item.id) });
}
