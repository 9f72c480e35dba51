#!/usr/bin/env node
// Provisions what the e2e suite and `npm start` need outside git: code-server (a real VS Code
// that runs on the machine's Node 20) in a cache folder, plus the Debian packages it and the
// browser need. Safe to run again: when everything is in place it returns in well under a second.
//
// Why each step looks the way it does:
// - code-server 4.100.3 is the newest release whose engines allow Node 20.
// - @vscode/ripgrep's postinstall downloads rg from GitHub, which this kind of machine cannot
//   reach; it first looks in os.tmpdir()/vscode-ripgrep-cache-<version>/, so we put a tarball of
//   Debian's rg there and point TMPDIR at it for the install.
// - code-server's postinstall refuses to run as root without npm_config_unsafe_perm, and
//   node-pty's build runs `npx node-gyp`, which needs npm_config_yes without a terminal.
//
// Usage: node scripts/provision-e2e.mjs [--quiet]
// Env:   NETLENS_E2E_CACHE  cache folder (default: <repo>/.cache/e2e)

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CODE_SERVER_VERSION = '4.100.3';
// The @vscode/ripgrep version pinned by code-server 4.100.3 (lib/vscode/npm-shrinkwrap.json)
// and the ripgrep release its postinstall fetches for linux-x64.
const VSCODE_RIPGREP_VERSION = '1.15.11';
const RIPGREP_ASSET = 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz';

/** Debian packages and how to tell they are present without asking dpkg for each. */
const SYSTEM_PACKAGES = [
  { name: 'chromium', present: () => commandExists('chromium') },
  { name: 'ripgrep', present: () => commandExists('rg') },
  { name: 'pkg-config', present: () => commandExists('pkg-config') },
  // kerberos (a code-server dependency) compiles against the krb5 headers.
  { name: 'libkrb5-dev', present: () => fs.existsSync('/usr/include/krb5.h') || fs.existsSync('/usr/include/krb5/krb5.h') },
];

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Where everything lives; pure path arithmetic, no I/O. */
export function e2ePaths() {
  const cacheDir = path.resolve(process.env.NETLENS_E2E_CACHE || path.join(repoRoot, '.cache', 'e2e'));
  const installDir = path.join(cacheDir, `code-server-${CODE_SERVER_VERSION}`);
  return {
    cacheDir,
    installDir,
    codeServerBin: path.join(installDir, 'node_modules', '.bin', 'code-server'),
    // Debian's chromium package; playwright-core needs the full path.
    chromiumBin: process.env.NETLENS_CHROMIUM || '/usr/bin/chromium',
    // Written last, so a half-finished install is never mistaken for a good one.
    doneMarker: path.join(installDir, '.netlens-provisioned'),
  };
}

function commandExists(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
}

function ensureSystemPackages(log) {
  const missing = SYSTEM_PACKAGES.filter((p) => !p.present()).map((p) => p.name);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing system packages: ${missing.join(' ')}. Install them with: sudo apt-get install -y ${missing.join(' ')}`);
  }
  log(`installing system packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update'], { env });
  run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
}

function seedRipgrepCache(tmpDir) {
  const cache = path.join(tmpDir, `vscode-ripgrep-cache-${VSCODE_RIPGREP_VERSION}`);
  const tarball = path.join(cache, RIPGREP_ASSET);
  if (fs.existsSync(tarball)) return;
  const staging = fs.mkdtempSync(path.join(tmpDir, 'rg-'));
  const rg = spawnSync('sh', ['-c', 'command -v rg'], { encoding: 'utf8' }).stdout.trim();
  fs.copyFileSync(rg, path.join(staging, 'rg'));
  fs.chmodSync(path.join(staging, 'rg'), 0o755);
  fs.mkdirSync(cache, { recursive: true });
  run('tar', ['czf', tarball, '-C', staging, 'rg']);
  fs.rmSync(staging, { recursive: true, force: true });
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Runs `body` while holding a lock folder, so `npm start` and `npm test` started together do not
 * run two npm installs into the same folder. A lock older than the slowest install is stale.
 */
function withInstallLock(lockDir, log, body) {
  const staleMs = 30 * 60 * 1000;
  for (let waitedMs = 0; ; waitedMs += 1000) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const ageMs = Date.now() - fs.statSync(lockDir).mtimeMs;
      if (ageMs > staleMs) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (waitedMs === 0) log(`another provisioning holds ${lockDir}; waiting for it`);
      sleepSync(1000);
    }
  }
  try {
    return body();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

const isProvisioned = (paths) => fs.existsSync(paths.doneMarker) && fs.existsSync(paths.codeServerBin);

/** Installs whatever is missing and returns the paths. Throws with a readable message on failure. */
export function provisionE2e({ quiet = false } = {}) {
  const log = quiet ? () => {} : (msg) => console.log(`[provision-e2e] ${msg}`);
  const paths = e2ePaths();
  ensureSystemPackages(log);
  if (isProvisioned(paths)) {
    log(`code-server ${CODE_SERVER_VERSION} already in ${paths.installDir}`);
    return paths;
  }
  fs.mkdirSync(paths.cacheDir, { recursive: true });
  return withInstallLock(path.join(paths.cacheDir, '.provisioning.lock'), log, () => {
    // Whoever held the lock may have finished the job.
    if (isProvisioned(paths)) return paths;
    installCodeServer(paths, log, quiet);
    return paths;
  });
}

function installCodeServer(paths, log, quiet) {
  const started = Date.now();
  log(`installing code-server ${CODE_SERVER_VERSION} into ${paths.installDir} (takes several minutes the first time)`);
  const tmpDir = path.join(paths.cacheDir, 'tmp');
  fs.mkdirSync(tmpDir, { recursive: true });
  fs.mkdirSync(paths.installDir, { recursive: true });
  seedRipgrepCache(tmpDir);
  const manifest = path.join(paths.installDir, 'package.json');
  if (!fs.existsSync(manifest)) {
    fs.writeFileSync(manifest, JSON.stringify({ name: 'netlens-e2e-code-server', private: true }, null, 2) + '\n');
  }
  run('npm', ['install', `code-server@${CODE_SERVER_VERSION}`, '--no-audit', '--no-fund', '--foreground-scripts', '--no-save'], {
    cwd: paths.installDir,
    env: { ...process.env, TMPDIR: tmpDir, npm_config_unsafe_perm: 'true', npm_config_yes: 'true' },
    stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
  });

  const rgBin = path.join(paths.installDir, 'node_modules', 'code-server', 'lib', 'vscode', 'node_modules', '@vscode', 'ripgrep', 'bin', 'rg');
  if (!fs.existsSync(rgBin)) {
    throw new Error(`code-server installed but ${rgBin} is missing: @vscode/ripgrep's postinstall did not use the pre-seeded cache ` +
      `(is its version still ${VSCODE_RIPGREP_VERSION}? see lib/vscode/npm-shrinkwrap.json)`);
  }
  // code-server writes a default config into XDG_CONFIG_HOME on every start, even for --version.
  const versionCheck = spawnSync(paths.codeServerBin, ['--version'], {
    encoding: 'utf8',
    env: { ...process.env, XDG_CONFIG_HOME: path.join(tmpDir, 'xdg-config'), XDG_DATA_HOME: path.join(tmpDir, 'xdg-data') },
  });
  if (versionCheck.status !== 0 || !versionCheck.stdout.split('\n').some((line) => line.startsWith(`${CODE_SERVER_VERSION} `))) {
    throw new Error(`code-server --version failed: ${versionCheck.stdout}${versionCheck.stderr}`);
  }
  fs.writeFileSync(paths.doneMarker, `${CODE_SERVER_VERSION}\n`);
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const started = Date.now();
    const paths = provisionE2e({ quiet: process.argv.includes('--quiet') });
    console.log(`[provision-e2e] ready: ${paths.codeServerBin} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    console.error(`[provision-e2e] failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
