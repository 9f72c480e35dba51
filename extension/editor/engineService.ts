// The extension's one engine process: starts it when enabled, logs it to the "Netlens" output
// channel, says once and clearly why it could not start, restarts it on demand after a crash.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

import { findAddon } from '../engine/addon';
import { bundledHostModule, EngineClient, type EngineCrash } from '../engine/client';
import type { EngineInfoViewState } from '../../webviews/engineInfo/messages';

const ENABLED_SETTING = 'netlens.engine.enabled';

export class EngineService implements vscode.Disposable {
  private client: EngineClient | undefined;
  private state: EngineInfoViewState = { status: 'starting' };
  private startup: Promise<EngineInfoViewState> | undefined;
  private failureShown = false;
  private readonly changed = new vscode.EventEmitter<EngineInfoViewState>();
  private readonly disposables: vscode.Disposable[] = [this.changed];

  /** Fires on every state change (starting, ready, failed, disabled). */
  readonly onDidChangeState = this.changed.event;

  constructor(
    private readonly extensionRoot: string,
    private readonly output: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration(ENABLED_SETTING)) void this.applyEnabledSetting();
      }),
    );
  }

  get current(): EngineInfoViewState {
    return this.state;
  }

  /** Starts the engine unless the setting turns it off. Never throws: failures become state. */
  async start(): Promise<EngineInfoViewState> {
    if (!this.enabled()) return this.setState({ status: 'disabled', reason: `Turned off by the setting ${ENABLED_SETTING}.` });
    if (this.state.status === 'ready' && this.client?.state === 'running') return this.state;
    if (!this.startup) {
      this.startup = this.launch().finally(() => {
        this.startup = undefined;
      });
    }
    return this.startup;
  }

  /** The latest hello: restarts a crashed or stopped engine first (restart on demand). */
  async hello(): Promise<EngineInfoViewState> {
    // A start in progress (e.g. the one activation began) answers; restarting it would waste it.
    if (this.startup) return this.startup;
    if (this.client?.state === 'running') {
      try {
        const hello = await this.client.hello();
        return this.setState({ status: 'ready', hello });
      } catch (error) {
        this.output.warn(`engine hello failed: ${errorText(error)}`);
      }
    }
    return this.restart();
  }

  /**
   * The running engine client for requests (training, inference), started or restarted on
   * demand; throws with the reason when the engine cannot run.
   */
  async runningClient(): Promise<EngineClient> {
    const state = await this.hello();
    if (state.status !== 'ready' || !this.client) {
      throw new Error(state.status === 'failed' ? state.error : state.status === 'disabled' ? state.reason : 'the engine is still starting');
    }
    return this.client;
  }

  async restart(): Promise<EngineInfoViewState> {
    if (this.startup) await this.startup;
    await this.client?.dispose();
    this.client = undefined;
    return this.start();
  }

  dispose(): void {
    void this.client?.dispose();
    this.client = undefined;
    for (const disposable of this.disposables) disposable.dispose();
  }

  private async launch(): Promise<EngineInfoViewState> {
    this.setState({ status: 'starting' });
    const addon = findAddon(this.extensionRoot);
    if (!addon.path) {
      // A checkout builds the add-on with `npm install`; an installed package ships it in dist/native.
      const remedy = fs.existsSync(path.join(this.extensionRoot, 'CMakeLists.txt'))
        ? 'Build it with `npm install` in the extension folder.'
        : `This Netlens package has no add-on for ${process.platform}-${process.arch}; install the linux-x64 package.`;
      return this.fail(`the native add-on netlens.node was not found (looked in ${addon.tried.join(', ')}). ${remedy}`);
    }
    if (!this.client) {
      this.client = new EngineClient({
        hostModule: bundledHostModule(this.extensionRoot),
        addonPath: addon.path,
        log: (line) => this.output.info(line),
      });
      this.client.onDidCrash((crash) => this.crashed(crash));
    }
    try {
      const hello = await this.client.start();
      this.output.info(`engine ready: ${JSON.stringify(hello)}`);
      return this.setState({ status: 'ready', hello });
    } catch (error) {
      return this.fail(errorText(error));
    }
  }

  private crashed(crash: EngineCrash): void {
    this.output.error(`${crash.message}${crash.stderrTail.length ? `\n${crash.stderrTail.join('\n')}` : ''}`);
    this.setState({ status: 'failed', error: `${crash.message}. It restarts the next time it is needed.` });
    void vscode.window.showWarningMessage(`Netlens: ${crash.message}. It restarts the next time it is needed.`);
  }

  private fail(reason: string): EngineInfoViewState {
    this.output.error(`engine could not start: ${reason}`);
    // One message per session: the user learns why once; details stay in the output channel.
    if (!this.failureShown) {
      this.failureShown = true;
      void vscode.window
        .showWarningMessage(`Netlens engine could not start: ${sentence(reason)} Analysis still works.`, 'Show Log')
        .then((choice) => {
          if (choice === 'Show Log') this.output.show(true);
        });
    }
    return this.setState({ status: 'failed', error: reason });
  }

  private async applyEnabledSetting(): Promise<void> {
    if (this.enabled()) {
      await this.start();
    } else {
      await this.client?.dispose();
      this.client = undefined;
      this.setState({ status: 'disabled', reason: `Turned off by the setting ${ENABLED_SETTING}.` });
    }
  }

  private enabled(): boolean {
    return vscode.workspace.getConfiguration().get<boolean>(ENABLED_SETTING, true);
  }

  private setState(state: EngineInfoViewState): EngineInfoViewState {
    this.state = state;
    this.changed.fire(state);
    return state;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}
