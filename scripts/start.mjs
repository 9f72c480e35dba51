#!/usr/bin/env node
// `npm start`: a VS Code in the browser (code-server) with Netlens installed and examples/
// opened, to try the extension on real model files. Builds and packages the extension when the
// VSIX is missing or older than its sources, provisions code-server, then runs until Ctrl-C.
//
// Usage: node scripts/start.mjs [--port N] [--folder DIR]      (NETLENS_VSIX=path: use that VSIX)
// The profile (settings, installed extension, logs) persists in <e2e cache>/start-profile.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findVsix, freePort, installVsix, isPortFree, launchCodeServer, prepareProfile } from './code-server.mjs';
import { provisionE2e } from './provision-e2e.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEFAULT_PORT = 8080;

/** What goes into the VSIX; a change to any of it makes the package stale. */
const PACKAGE_INPUTS = ['package.json', 'extension', 'webviews', 'native/build/Release', 'scripts/build.mjs', 'scripts/package.mjs'];

function parseArgs(argv) {
  const options = { port: undefined, folder: path.join(repoRoot, 'examples') };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--port' && argv[i + 1]) options.port = Number(argv[++i]);
    else if (arg === '--folder' && argv[i + 1]) options.folder = path.resolve(argv[++i]);
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: npm start [-- --port N] [-- --folder DIR]');
      process.exit(0);
    } else {
      console.error(`unknown argument: ${arg}`);
      process.exit(2);
    }
  }
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port > 0 && options.port < 65536)) {
    console.error('--port needs a number between 1 and 65535');
    process.exit(2);
  }
  return options;
}

function newestMtime(target) {
  if (!fs.existsSync(target)) return 0;
  const stat = fs.statSync(target);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of fs.readdirSync(target, { recursive: true, encoding: 'utf8' })) {
    const entryStat = fs.statSync(path.join(target, entry));
    if (entryStat.isFile() && entryStat.mtimeMs > newest) newest = entryStat.mtimeMs;
  }
  return newest;
}

function ensurePackage() {
  // A VSIX named explicitly is used as it is.
  if (process.env.NETLENS_VSIX) return path.resolve(process.env.NETLENS_VSIX);
  const existing = findVsix(repoRoot);
  const sourcesChanged = Math.max(...PACKAGE_INPUTS.map((input) => newestMtime(path.join(repoRoot, input))));
  if (existing && fs.existsSync(existing) && fs.statSync(existing).mtimeMs >= sourcesChanged) return existing;
  console.log(existing ? '[start] the VSIX is older than its sources: rebuilding' : '[start] no VSIX yet: building');
  // `npm run package` builds (typecheck and bundles) before it packages.
  const result = spawnSync('npm', ['run', 'package'], { cwd: repoRoot, stdio: 'inherit' });
  if (result.status !== 0) throw new Error('npm run package failed');
  const built = findVsix(repoRoot);
  if (!built) throw new Error('npm run package did not produce a netlens*.vsix');
  return built;
}

async function choosePort(requested) {
  if (requested !== undefined) return requested;
  return (await isPortFree(DEFAULT_PORT)) ? DEFAULT_PORT : freePort();
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const vsix = ensurePackage();
  const e2e = provisionE2e();
  const profile = prepareProfile(path.join(e2e.cacheDir, 'start-profile'));
  console.log(`[start] installing ${path.relative(repoRoot, vsix)}`);
  installVsix(e2e.codeServerBin, profile, vsix);
  const server = await launchCodeServer({
    codeServerBin: e2e.codeServerBin,
    paths: profile,
    folder: options.folder,
    port: await choosePort(options.port),
  });

  console.log(`\nNetlens is running in VS Code (code-server ${server.baseUrl}).`);
  console.log(`Open:  ${server.url}`);
  console.log(`Logs:  ${profile.logFile} and ${path.join(profile.userDataDir, 'logs')}`);
  console.log('Press Ctrl-C to stop.\n');

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n[start] ${signal}: stopping code-server`);
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  const exitCode = await server.exited;
  if (!stopping) {
    console.error(`[start] code-server exited on its own (${exitCode}); see ${profile.logFile}`);
    await server.stop();
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(`[start] ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
