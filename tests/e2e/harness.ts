// The e2e harness: a real VS Code (code-server) with the packaged Netlens VSIX installed, a temp
// copy of examples/ opened, driven through Debian's chromium with playwright-core.
//
// A test gets one VsCodeSession and talks to the workbench the way a user does (keyboard,
// command palette, clicks) and asserts on the DOM. On failure `session.step` saves a screenshot,
// the code-server log and the extension host logs into tests/e2e/artifacts/<session>/.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';
// The shared launcher and provisioning are plain ES modules (npm start runs them without a
// TypeScript loader); this file is CommonJS, so they are loaded with import().
import type { ProfilePaths, RunningCodeServer } from '../../scripts/code-server.mjs' with { 'resolution-mode': 'import' };

export const repoRoot = path.resolve(__dirname, '..', '..');
export const artifactsRoot = path.join(repoRoot, 'tests', 'e2e', 'artifacts');
export const docsScreenshotsDir = path.join(repoRoot, 'docs', 'screenshots');

/** The first workbench load takes 10–50 s on two busy cores; later waits are shorter. */
export const WORKBENCH_TIMEOUT_MS = 120_000;
export const UI_TIMEOUT_MS = 30_000;

export interface SessionOptions {
  /** Names the artifacts folder; keep it file-name safe. */
  name: string;
  vsixPath?: string;
  /** Copied into a temp folder that becomes the workspace. Default: examples/. */
  workspaceSource?: string;
  settings?: Record<string, unknown>;
  /** Extra environment for code-server and so for the extension host and the engine process. */
  env?: Record<string, string>;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const normalizeSpaces = (text: string) => text.replace(/\u00a0/g, ' ');

export class VsCodeSession {
  private screenshotCount = 0;

  private constructor(
    readonly name: string,
    readonly page: Page,
    readonly workspaceDir: string,
    private readonly runDir: string,
    private readonly profile: ProfilePaths,
    private readonly server: RunningCodeServer,
    private readonly browser: BrowserContext,
  ) {}

  static async start(options: SessionOptions): Promise<VsCodeSession> {
    const { findVsix, installVsix, launchCodeServer, prepareProfile } = await import('../../scripts/code-server.mjs');
    const { e2ePaths } = await import('../../scripts/provision-e2e.mjs');
    const paths = e2ePaths();
    if (!fs.existsSync(paths.doneMarker)) {
      throw new Error(`code-server is not provisioned in ${paths.installDir}: run \`node scripts/provision-e2e.mjs\``);
    }
    const vsixPath = options.vsixPath ?? findVsix(repoRoot);
    if (!vsixPath || !fs.existsSync(vsixPath)) {
      throw new Error(`no VSIX at ${vsixPath ?? 'the repo root or dist/'}: run \`npm run package\` first (or set NETLENS_VSIX)`);
    }
    // Artifacts describe the latest run only.
    fs.rmSync(path.join(artifactsRoot, options.name), { recursive: true, force: true });
    const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `netlens-e2e-${options.name}-`));
    const workspaceDir = path.join(runDir, 'workspace');
    const profile = prepareProfile(path.join(runDir, 'profile'), options.settings);
    let server: RunningCodeServer | undefined;
    let browser: BrowserContext | undefined;
    try {
      fs.cpSync(options.workspaceSource ?? path.join(repoRoot, 'examples'), workspaceDir, { recursive: true });
      installVsix(paths.codeServerBin, profile, vsixPath);
      server = await launchCodeServer({ codeServerBin: paths.codeServerBin, paths: profile, folder: workspaceDir, env: options.env });
      const browserHome = path.join(runDir, 'browser-home');
      browser = await chromium.launchPersistentContext(path.join(runDir, 'browser-profile'), {
        executablePath: paths.chromiumBin,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
          '--disable-component-update', '--disable-sync'],
        env: { ...process.env, HOME: browserHome, XDG_CONFIG_HOME: path.join(browserHome, '.config'), XDG_CACHE_HOME: path.join(browserHome, '.cache') },
        viewport: { width: 1400, height: 900 },
      });
    } catch (error) {
      await browser?.close().catch(() => undefined);
      await server?.stop();
      const dir = path.join(artifactsRoot, options.name, 'failed-start');
      fs.mkdirSync(dir, { recursive: true });
      if (fs.existsSync(profile.logFile)) fs.copyFileSync(profile.logFile, path.join(dir, 'code-server.log'));
      fs.rmSync(runDir, { recursive: true, force: true });
      throw error;
    }

    const page = browser.pages()[0] ?? (await browser.newPage());
    const session = new VsCodeSession(options.name, page, workspaceDir, runDir, profile, server, browser);
    // The explorer lists the workspace once the workbench and its file service are up.
    await session.step('open-workbench', async () => {
      await page.goto(server.url);
      await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: WORKBENCH_TIMEOUT_MS });
    }).catch(async (error: unknown) => {
      await session.close();
      throw error;
    });
    return session;
  }

  /** Opens a workspace file by its path relative to the workspace, through Quick Open. */
  async openFile(relativePath: string): Promise<void> {
    const fileName = path.basename(relativePath);
    const input = await this.openQuickInput();
    await input.fill(relativePath);
    await this.page.locator('.quick-input-list .monaco-list-row', { hasText: fileName }).first().waitFor({ timeout: UI_TIMEOUT_MS });
    await this.page.keyboard.press('Enter');
    await this.page.locator(`.tabs-container .tab.active[aria-label^="${fileName}"]`).waitFor({ timeout: UI_TIMEOUT_MS });
    await this.page.locator('.editor-instance .monaco-editor .view-lines').first().waitFor({ timeout: UI_TIMEOUT_MS });
  }

  /**
   * Runs a command by its palette title, e.g. "Netlens: Show Engine Info". Right after the
   * workbench appears some commands are not registered yet (contributions load in phases) and
   * the palette lists what existed when it opened, so a missing command is looked up again in a
   * freshly opened palette until the timeout.
   */
  async runCommand(title: string, timeoutMs = UI_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const input = await this.openQuickInput();
      await input.fill(`>${title}`);
      const row = this.quickPickRow(title);
      const found = await row.waitFor({ timeout: 5_000 }).then(() => true, () => false);
      if (found) {
        await row.click();
        return;
      }
      if (Date.now() > deadline) throw new Error(`no command "${title}" in the command palette within ${timeoutMs} ms`);
      await this.page.keyboard.press('Escape');
      await sleep(500);
    }
  }

  /** Picks the first row of the open quick pick whose label is exactly `label`. */
  async selectQuickPickItem(label: string): Promise<void> {
    const row = this.quickPickRow(label);
    await row.waitFor({ timeout: UI_TIMEOUT_MS });
    await row.click();
  }

  private quickPickRow(label: string) {
    return this.page
      .locator('.quick-input-list .monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(label)}$`) }) })
      .first();
  }

  /** Labels of the rows the open quick pick lists (only the rendered ones; lists are virtual). */
  async quickPickLabels(): Promise<string[]> {
    await this.page.locator('.quick-input-list .monaco-list-row').first().waitFor({ timeout: UI_TIMEOUT_MS });
    return this.page.$$eval('.quick-input-list .monaco-list-row .label-name', (elements) =>
      elements.map((element) => (element.textContent ?? '').replace(/\u00a0/g, ' ')));
  }

  /**
   * Shows an output channel in the panel (through "Output: Show Output Channels...", so it fails
   * when the channel does not exist) and waits until its text matches; returns the whole text.
   * The text is read from the file VS Code writes for the channel: the panel renders only the
   * lines that fit on screen.
   */
  async readOutputChannel(name: string, match: RegExp, timeoutMs = UI_TIMEOUT_MS): Promise<string> {
    await this.runCommand('Output: Show Output Channels...');
    await this.selectQuickPickItem(name);
    await this.page.locator('.part.panel .output-view .monaco-editor .view-line').first().waitFor({ timeout: UI_TIMEOUT_MS });
    const deadline = Date.now() + timeoutMs;
    let text = '';
    while (Date.now() < deadline) {
      text = this.outputChannelFiles(name).map((file) => fs.readFileSync(file, 'utf8')).join('\n');
      if (match.test(text)) return text;
      await sleep(200);
    }
    throw new Error(`output channel "${name}" did not show ${String(match)} within ${timeoutMs} ms; it shows:\n${text}`);
  }

  /**
   * Files VS Code writes for an output channel: <ext id>/<name>.log for a log channel,
   * output_logging_<time>/<n>-<name>.log for a plain one.
   */
  private outputChannelFiles(name: string): string[] {
    const logsDir = path.join(this.profile.userDataDir, 'logs');
    if (!fs.existsSync(logsDir)) return [];
    return fs
      .readdirSync(logsDir, { recursive: true, encoding: 'utf8' })
      .filter((entry) => {
        const base = path.basename(entry);
        return base === `${name}.log` || new RegExp(`^\\d+-${escapeRegExp(name)}\\.log$`).test(base);
      })
      .map((entry) => path.join(logsDir, entry));
  }

  private async openQuickInput() {
    const widget = this.page.locator('.quick-input-widget');
    if (await widget.isVisible()) await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('F1');
    const input = this.page.locator('.quick-input-widget input.input');
    await input.waitFor({ timeout: UI_TIMEOUT_MS });
    return input;
  }

  /** Waits for a notification toast whose message matches and returns its text. */
  async waitForNotification(match: string | RegExp, timeoutMs = UI_TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let seen: string[] = [];
    while (Date.now() < deadline) {
      seen = (await this.notificationTexts()).map(normalizeSpaces);
      const found = seen.find((text) => (typeof match === 'string' ? text.includes(match) : match.test(text)));
      if (found !== undefined) return found;
      await sleep(200);
    }
    throw new Error(`no notification matching ${String(match)} within ${timeoutMs} ms; visible: ${JSON.stringify(seen)}`);
  }

  async notificationTexts(): Promise<string[]> {
    return this.page.$$eval('.notifications-toasts .notification-list-item-message', (elements) =>
      elements.map((element) => element.textContent ?? ''));
  }

  /**
   * Finds the webview content frame that contains `selector`. A webview is an iframe.webview
   * (VS Code's host page) around iframe#active-frame (the extension's HTML), so search every
   * frame of the page rather than a fixed path.
   */
  async findWebviewFrame(selector: string, timeoutMs = UI_TIMEOUT_MS): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const frame of this.page.frames()) {
        if (frame === this.page.mainFrame()) continue;
        const element = await frame.$(selector).catch(() => null);
        if (element) return frame;
      }
      await sleep(200);
    }
    throw new Error(`no webview frame contains ${selector} within ${timeoutMs} ms`);
  }

  /** Text of the lines of the active editor as rendered, inlay hints included. */
  async visibleEditorLines(): Promise<string[]> {
    const lines = await this.page.$$eval('.editor-instance .monaco-editor .view-line', (elements) =>
      elements.map((element) => element.textContent ?? ''));
    return lines.map(normalizeSpaces);
  }

  /**
   * Saves a screenshot into the session's artifacts; with `docsName` and
   * NETLENS_UPDATE_SCREENSHOTS=1 it also refreshes docs/screenshots/<docsName>.png.
   */
  async screenshot(label: string, docsName?: string): Promise<string> {
    const dir = path.join(artifactsRoot, this.name);
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${String(++this.screenshotCount).padStart(2, '0')}-${label}.png`);
    await this.page.screenshot({ path: file });
    if (docsName && process.env.NETLENS_UPDATE_SCREENSHOTS === '1') {
      fs.mkdirSync(docsScreenshotsDir, { recursive: true });
      fs.copyFileSync(file, path.join(docsScreenshotsDir, `${docsName}.png`));
    }
    return file;
  }

  /** Runs one step of a test; on failure keeps a screenshot and the logs, then rethrows. */
  async step<T>(label: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const dir = await this.saveFailureArtifacts(label);
      console.error(`[e2e] step "${label}" failed; screenshot and logs in ${path.relative(repoRoot, dir)}`);
      throw error;
    }
  }

  /** Copies a screenshot, the code-server log and every VS Code log (extension host included). */
  async saveFailureArtifacts(label: string): Promise<string> {
    const dir = path.join(artifactsRoot, this.name, `failed-${label.replace(/[^\w.-]+/g, '-')}`);
    fs.mkdirSync(dir, { recursive: true });
    await this.page.screenshot({ path: path.join(dir, 'screenshot.png') }).catch(() => undefined);
    fs.writeFileSync(path.join(dir, 'notifications.json'), JSON.stringify(await this.notificationTexts().catch(() => []), null, 2));
    if (fs.existsSync(this.profile.logFile)) fs.copyFileSync(this.profile.logFile, path.join(dir, 'code-server.log'));
    const logsDir = path.join(this.profile.userDataDir, 'logs');
    if (fs.existsSync(logsDir)) fs.cpSync(logsDir, path.join(dir, 'vscode-logs'), { recursive: true });
    return dir;
  }

  /** Where code-server unpacked an installed extension, e.g. "netlens.netlens". */
  installedExtensionDir(extensionId: string): string {
    const prefix = `${extensionId.toLowerCase()}-`;
    const found = fs.readdirSync(this.profile.extensionsDir).find((entry) => entry.toLowerCase().startsWith(prefix));
    if (!found) throw new Error(`${extensionId} is not installed in ${this.profile.extensionsDir}`);
    return path.join(this.profile.extensionsDir, found);
  }

  /** Closes the browser and kills code-server's process group; removes the temp folder unless NETLENS_E2E_KEEP=1. */
  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined);
    await this.server.stop();
    if (process.env.NETLENS_E2E_KEEP === '1') {
      console.log(`[e2e] kept ${this.runDir}`);
    } else {
      fs.rmSync(this.runDir, { recursive: true, force: true });
    }
  }
}
