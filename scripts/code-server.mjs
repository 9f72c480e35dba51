// Starts a code-server (a real VS Code in the browser) with the Netlens VSIX installed and a
// folder opened. Shared by `npm start` and the e2e harness so both run VS Code the same way.
//
// Everything code-server writes (profile, extensions, logs, XDG folders, HOME) lives under one
// profile folder, so runs never touch the user's own VS Code state or each other. code-server
// runs in its own process group: it forks an extension host, file watchers and our engine
// process, and killing the group is the only way to be sure none of them outlives the run.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

/** Settings that keep the workbench quiet and deterministic (no welcome page, tips, updates). */
export const WORKBENCH_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'editor.inlayHints.enabled': 'on',
  'window.restoreWindows': 'none',
  'files.hotExit': 'off',
  'git.enabled': false,
};

/**
 * The packaged extension: NETLENS_VSIX when set, else the newest netlens*.vsix that
 * `npm run package` left in the repo root or dist/; undefined when there is none.
 */
export function findVsix(repoRoot) {
  if (process.env.NETLENS_VSIX) return path.resolve(process.env.NETLENS_VSIX);
  const candidates = [repoRoot, path.join(repoRoot, 'dist')]
    .filter((dir) => fs.existsSync(dir))
    .flatMap((dir) => fs.readdirSync(dir).filter((name) => /^netlens.*\.vsix$/.test(name)).map((name) => path.join(dir, name)))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs);
  return candidates[0];
}

/** Folder layout of one profile. */
export function profilePaths(profileDir) {
  return {
    profileDir,
    userDataDir: path.join(profileDir, 'user-data'),
    extensionsDir: path.join(profileDir, 'extensions'),
    homeDir: path.join(profileDir, 'home'),
    configFile: path.join(profileDir, 'config.yaml'),
    logFile: path.join(profileDir, 'code-server.log'),
  };
}

function profileEnv(paths) {
  return {
    ...process.env,
    HOME: paths.homeDir,
    XDG_CONFIG_HOME: path.join(paths.homeDir, '.config'),
    XDG_DATA_HOME: path.join(paths.homeDir, '.local', 'share'),
    XDG_CACHE_HOME: path.join(paths.homeDir, '.cache'),
  };
}

function commonArgs(paths) {
  return ['--config', paths.configFile, '--user-data-dir', paths.userDataDir, '--extensions-dir', paths.extensionsDir];
}

/**
 * Creates the profile folders, the config and the user settings. Settings the profile already has
 * (a persistent `npm start` profile the user changed) win over the defaults; `extraSettings` win
 * over both.
 */
export function prepareProfile(profileDir, extraSettings = {}) {
  const paths = profilePaths(profileDir);
  for (const dir of [path.join(paths.userDataDir, 'User'), paths.extensionsDir, paths.homeDir]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  fs.writeFileSync(paths.configFile, 'auth: none\ncert: false\n');
  const settingsFile = path.join(paths.userDataDir, 'User', 'settings.json');
  let existing = {};
  if (fs.existsSync(settingsFile)) {
    try {
      existing = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
    } catch {
      // Hand-edited JSON with comments: leave the user's file alone.
      return paths;
    }
  }
  fs.writeFileSync(settingsFile, JSON.stringify({ ...WORKBENCH_SETTINGS, ...existing, ...extraSettings }, null, 2) + '\n');
  return paths;
}

/** Installs a VSIX into the profile's extensions folder (replacing an older copy). */
export function installVsix(codeServerBin, paths, vsixPath) {
  const result = spawnSync(codeServerBin, [...commonArgs(paths), '--force', '--install-extension', vsixPath], {
    env: profileEnv(paths),
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    throw new Error(`code-server --install-extension ${vsixPath} failed (${result.status ?? result.signal}):\n${result.stdout}${result.stderr}`);
  }
  return result.stdout.trim();
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function isPortFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function httpStatus(url) {
  return new Promise((resolve) => {
    const request = http.get(url, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', () => resolve(0));
    request.setTimeout(2000, () => request.destroy());
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts code-server on 127.0.0.1:port with `folder` opened and waits until /healthz answers;
 * `env` adds variables for code-server and everything it starts.
 * Returns the URL to open and a stop() that kills the whole process group.
 */
export async function launchCodeServer({ codeServerBin, paths, folder, port, env = {}, readyTimeoutMs = 60_000 }) {
  const listenPort = port ?? (await freePort());
  const logFd = fs.openSync(paths.logFile, 'a');
  const child = spawn(
    codeServerBin,
    [
      ...commonArgs(paths),
      '--bind-addr', `127.0.0.1:${listenPort}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      folder,
    ],
    // The extension host and the engine process inherit this environment.
    { env: { ...profileEnv(paths), ...env }, detached: true, stdio: ['ignore', logFd, logFd] },
  );
  fs.closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${codeServerBin}`);

  let exited = false;
  const exitedPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = true;
      resolve(code ?? signal);
    });
  });
  // A test runner or Ctrl-C that ends this process must not leave code-server behind.
  const killOnExit = () => killGroup(pid, 'SIGKILL');
  process.on('exit', killOnExit);

  const stop = async () => {
    process.off('exit', killOnExit);
    if (!killGroup(pid, 'SIGTERM')) return;
    for (let i = 0; i < 30 && !exited; i++) await sleep(100);
    // The group may still hold the extension host or the engine even when the leader is gone.
    killGroup(pid, 'SIGKILL');
  };

  const baseUrl = `http://127.0.0.1:${listenPort}`;
  const deadline = Date.now() + readyTimeoutMs;
  while ((await httpStatus(`${baseUrl}/healthz`)) !== 200) {
    if (exited || Date.now() > deadline) {
      await stop();
      const log = fs.existsSync(paths.logFile) ? fs.readFileSync(paths.logFile, 'utf8').slice(-4000) : '';
      throw new Error(`code-server did not become ready on ${baseUrl} (${exited ? 'it exited' : 'timeout'}); log:\n${log}`);
    }
    await sleep(250);
  }
  return { pid, port: listenPort, baseUrl, url: `${baseUrl}/?folder=${encodeURIComponent(folder).replace(/%2F/g, '/')}`, exited: exitedPromise, stop };
}
