// The "Netlens Training" panel: which runs of the workspace's run store it shows (following new
// runs, or a fixed set chosen by "Compare Runs"), the tail of their metrics.jsonl forwarded to
// the page as typed messages, and the CSV/PNG files the page hands back, saved through a dialog.
// The page is not kept alive while hidden: the events tailed so far are kept here and sent
// again when the page comes back (see webviews/training/main.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

import type { TrainingEvent } from '../training/train';
import { dashboardBodyHtml } from '../../webviews/training/body';
import { isFromDashboard, type DashboardRun, type FromDashboard, type ToDashboard } from '../../webviews/training/protocol';
import { readDashboardRun } from './dashboardRuns';
import { RunsTail } from './runsTail';
import { trainingCommandMessages } from './trainingMessages';
import { createNetlensPanel } from './webviewPanel';

export const DASHBOARD_VIEW_TYPE = 'netlens.trainingDashboard';

export type DashboardSelection =
  /** The newest run, every run still running, and each run that starts while the panel is open. */
  | { mode: 'follow'; focus?: string }
  /** Exactly these runs (Compare Runs). */
  | { mode: 'compare'; runs: string[] };

/** `<root>/.netlens/runs`, the run store of a workspace folder (as RunStore.create writes it). */
export function runsDirOf(root: string): string {
  return path.join(root, '.netlens', 'runs');
}

export class DashboardPanel implements vscode.Disposable {
  private static instance: DashboardPanel | undefined;
  private tail: RunsTail | undefined;
  private shown: string[] = [];
  private selection: DashboardSelection = { mode: 'follow' };
  private readonly events = new Map<string, TrainingEvent[]>();
  private pageReady = false;
  /** Run folders at the last listing: only runs new since then join a following dashboard. */
  private listed = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];

  static show(extension: vscode.ExtensionContext, output: vscode.LogOutputChannel, runsDir: string, selection: DashboardSelection): DashboardPanel {
    if (!DashboardPanel.instance) {
      const panel = createNetlensPanel(
        extension,
        DASHBOARD_VIEW_TYPE,
        { page: 'training', title: 'Netlens Training', bodyHtml: dashboardBodyHtml },
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      );
      DashboardPanel.instance = new DashboardPanel(panel, output);
    } else {
      DashboardPanel.instance.panel.reveal(undefined, true);
    }
    DashboardPanel.instance.select(runsDir, selection);
    return DashboardPanel.instance;
  }

  /** The open dashboard, if any (a run started from the palette joins it). */
  static get current(): DashboardPanel | undefined {
    return DashboardPanel.instance;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly output: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      panel.webview.onDidReceiveMessage((message: unknown) => void this.received(message)),
      // A hidden panel's page is unloaded; it says `ready` again when shown.
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.pageReady = false;
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  get runsDir(): string | undefined {
    return this.tail?.runsDir;
  }

  /** Shows `selection` of the runs under `runsDir` (a new folder replaces the tail). */
  select(runsDir: string, selection: DashboardSelection): void {
    if (this.tail?.runsDir !== runsDir) {
      this.tail?.dispose();
      this.events.clear();
      this.shown = [];
      this.tail = new RunsTail(runsDir, {
        runsChanged: (runs) => this.runsChanged(runs),
        events: (run, events, reset) => this.runEvents(run, events, reset),
        statusChanged: () => this.postRuns(),
      });
    }
    this.selection = selection;
    const tail = this.tail!;
    const runs = tail.runs;
    this.listed = new Set(runs);
    let wanted: string[];
    if (selection.mode === 'compare') {
      // Oldest first, as a following dashboard lists them: a run keeps its colour between the two.
      wanted = selection.runs.filter((id) => runs.includes(id)).sort();
    } else {
      const running = runs.filter((id) => readDashboardRun(runsDir, id).status === 'running');
      wanted = [...new Set([...running, ...runs.slice(-1), ...(selection.focus && runs.includes(selection.focus) ? [selection.focus] : [])])].sort();
    }
    this.show(wanted);
  }

  dispose(): void {
    if (DashboardPanel.instance === this) DashboardPanel.instance = undefined;
    this.tail?.dispose();
    this.tail = undefined;
    for (const disposable of this.disposables) disposable.dispose();
    this.disposables.length = 0;
    this.panel.dispose();
  }

  private show(wanted: string[]): void {
    const tail = this.tail!;
    for (const id of this.shown) {
      if (!wanted.includes(id)) {
        tail.unfollow(id);
        this.events.delete(id);
      }
    }
    this.shown = wanted;
    this.postRuns();
    // Following reads what each file holds so far; its events arrive through runEvents.
    for (const id of wanted) tail.follow(id);
  }

  private runsChanged(runs: readonly string[]): void {
    const gone = this.shown.filter((id) => !runs.includes(id));
    const added = this.selection.mode === 'follow' ? runs.filter((id) => !this.listed.has(id) && !this.shown.includes(id)) : [];
    this.listed = new Set(runs);
    if (gone.length === 0 && added.length === 0) return;
    this.show([...this.shown.filter((id) => !gone.includes(id)), ...added].sort());
  }

  private runEvents(run: string, events: TrainingEvent[], reset: boolean): void {
    if (!this.shown.includes(run)) return;
    const kept = reset ? [] : this.events.get(run) ?? [];
    for (const event of events) kept.push(event);
    this.events.set(run, kept);
    // A start or a done event changes the run's status line too.
    if (events.some((event) => event.type === 'done' || event.type === 'error' || event.type === 'start')) this.postRuns();
    this.post({ type: 'events', run, events, reset });
  }

  private dashboardRuns(): DashboardRun[] {
    const runsDir = this.tail?.runsDir;
    return runsDir ? this.shown.map((id) => readDashboardRun(runsDir, id)) : [];
  }

  private postRuns(): void {
    this.post({ type: 'runs', runs: this.dashboardRuns() });
  }

  private post(message: ToDashboard): void {
    if (!this.pageReady) return;
    void this.panel.webview.postMessage(message);
  }

  private async received(message: unknown): Promise<void> {
    if (!isFromDashboard(message)) return;
    if (message.type === 'ready') {
      this.pageReady = true;
      this.postRuns();
      for (const id of this.shown) this.post({ type: 'events', run: id, events: this.events.get(id) ?? [], reset: true });
      return;
    }
    await this.save(message);
  }

  private async save(message: Extract<FromDashboard, { type: 'save' }>): Promise<void> {
    const folder = this.tail ? path.dirname(path.dirname(this.tail.runsDir)) : undefined;
    const target = await vscode.window.showSaveDialog({
      defaultUri: folder ? vscode.Uri.file(path.join(folder, message.suggestedName)) : undefined,
      filters: message.format === 'csv' ? { 'CSV': ['csv'] } : { 'PNG image': ['png'] },
      saveLabel: message.format === 'csv' ? 'Export CSV' : 'Export PNG',
    });
    if (!target) return;
    const bytes = message.format === 'csv'
      ? Buffer.from(message.text, 'utf8')
      : Buffer.from(message.dataUrl.slice('data:image/png;base64,'.length), 'base64');
    try {
      await fs.promises.writeFile(target.fsPath, bytes);
      void vscode.window.showInformationMessage(trainingCommandMessages.saved(vscode.workspace.asRelativePath(target)));
    } catch (error) {
      this.output.error(`dashboard export to ${target.fsPath} failed: ${error instanceof Error ? error.message : String(error)}`);
      void vscode.window.showErrorMessage(`Netlens: could not save ${target.fsPath}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
