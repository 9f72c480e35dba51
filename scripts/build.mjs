#!/usr/bin/env node
// `npm run build`: typecheck, then esbuild bundles into dist/:
//   dist/extension.js    the extension (cjs, node, `vscode` external)
//   dist/engineHost.js   the engine process the extension forks
//   dist/cli.js          the CLI (bin/netlens.js requires it)
//   dist/analysisWorker.js  the worker thread the extension analyzes open files in
//   dist/webviews/<name>.js + .css   one standalone page per webviews/<name>/main.ts
//   dist/*.wasm          tree-sitter runtime and the Python grammar, loaded from disk
//   dist/native/netlens.node   the add-on, when `npm install` has built it
//
// Flags: --no-typecheck (bundles only), --watch (rebuild on change; typecheck once at start).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(repoRoot, 'dist');
const args = new Set(process.argv.slice(2));
const known = new Set(['--no-typecheck', '--watch']);
for (const arg of args) {
  if (!known.has(arg)) {
    console.error(`build: unknown flag ${arg} (flags: ${[...known].join(' ')})`);
    process.exit(2);
  }
}
const watch = args.has('--watch');

const fromRoot = (...parts) => path.join(repoRoot, ...parts);
const relative = (file) => path.relative(repoRoot, file);

function typecheck() {
  const started = Date.now();
  const tsc = fromRoot('node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', repoRoot, '--noEmit'], { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error('build: typecheck failed (run with --no-typecheck to bundle anyway)');
    process.exit(1);
  }
  console.log(`build: typecheck ok (${Date.now() - started} ms)`);
}

/** Node-side bundles; the CLI is skipped with a notice until extension/cli/main.ts exists. */
function nodeBundles() {
  const bundles = [
    { name: 'extension', entry: 'extension/extension.ts', out: 'dist/extension.js' },
    { name: 'engine host', entry: 'extension/engine/host.ts', out: 'dist/engineHost.js' },
    { name: 'cli', entry: 'extension/cli/main.ts', out: 'dist/cli.js' },
    { name: 'analysis worker', entry: 'extension/editor/analysisWorker.ts', out: 'dist/analysisWorker.js' },
  ];
  return bundles.filter((bundle) => {
    if (fs.existsSync(fromRoot(bundle.entry))) return true;
    console.log(`build: skipping the ${bundle.name} bundle: ${bundle.entry} does not exist yet`);
    return false;
  });
}

/** Every webviews/<name>/main.ts is a page; webviews/shared/ holds helpers, not a page. */
function webviewPages() {
  const root = fromRoot('webviews');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(root, entry.name, 'main.ts')))
    .map((entry) => entry.name)
    .sort();
}

function buildOptions() {
  const common = { bundle: true, sourcemap: true, logLevel: 'warning', absWorkingDir: repoRoot };
  const options = nodeBundles().map((bundle) => ({
    ...common,
    entryPoints: [fromRoot(bundle.entry)],
    outfile: fromRoot(bundle.out),
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // onnxruntime-node loads its native binding by a relative path: it ships as files (copyOnnxRuntime).
    external: ['vscode', 'onnxruntime-node'],
    // web-tree-sitter is an ES module that finds itself through import.meta.url, which a CJS
    // bundle leaves empty; point it at the bundle file (the .wasm files sit next to it in dist/).
    define: { 'import.meta.url': '__netlensBundleUrl' },
    banner: { js: 'const __netlensBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
  }));
  for (const page of webviewPages()) {
    options.push({
      ...common,
      entryPoints: [fromRoot('webviews', page, 'main.ts')],
      outfile: path.join(dist, 'webviews', `${page}.js`),
      platform: 'browser',
      format: 'iife',
      target: 'es2022',
    });
    const style = fromRoot('webviews', page, 'style.css');
    if (fs.existsSync(style)) {
      options.push({ ...common, entryPoints: [style], outfile: path.join(dist, 'webviews', `${page}.css`) });
    }
  }
  return options;
}

function copyFile(from, to, what) {
  if (!fs.existsSync(from)) {
    console.log(`build: ${what} not found at ${relative(from)}: not copied`);
    return false;
  }
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
  return true;
}

/**
 * onnxruntime-node for the bundles' require('onnxruntime-node') (Node finds dist/node_modules from
 * dist/*.js): its CommonJS files, its dependency onnxruntime-common's, and only the linux-x64
 * binaries (the VSIX targets linux-x64; the other platforms' binaries would triple its size).
 */
function copyOnnxRuntime() {
  const from = fromRoot('node_modules');
  const to = path.join(dist, 'node_modules');
  const ort = path.join(from, 'onnxruntime-node');
  const binaries = path.join(ort, 'bin', 'napi-v6', 'linux', 'x64');
  if (!fs.existsSync(binaries)) {
    console.log('build: onnxruntime-node linux-x64 binaries not found: not copied (ONNX models cannot run)');
    return;
  }
  const copyJs = (source, target) => {
    for (const name of fs.readdirSync(source)) {
      if (name.endsWith('.js') || name === 'package.json') copyFile(path.join(source, name), path.join(target, name), name);
    }
  };
  copyFile(path.join(ort, 'package.json'), path.join(to, 'onnxruntime-node', 'package.json'), 'onnxruntime-node manifest');
  copyJs(path.join(ort, 'dist'), path.join(to, 'onnxruntime-node', 'dist'));
  fs.cpSync(binaries, path.join(to, 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64'), { recursive: true });
  const common = path.join(from, 'onnxruntime-common');
  copyFile(path.join(common, 'package.json'), path.join(to, 'onnxruntime-common', 'package.json'), 'onnxruntime-common manifest');
  copyJs(path.join(common, 'dist', 'cjs'), path.join(to, 'onnxruntime-common', 'dist', 'cjs'));
}

function copyAssets() {
  copyOnnxRuntime();
  copyFile(fromRoot('node_modules', 'web-tree-sitter', 'tree-sitter.wasm'), path.join(dist, 'tree-sitter.wasm'), 'tree-sitter runtime wasm');
  copyFile(
    fromRoot('node_modules', 'tree-sitter-python', 'tree-sitter-python.wasm'),
    path.join(dist, 'tree-sitter-python.wasm'),
    'tree-sitter Python grammar wasm',
  );
  const addon = fromRoot('native', 'build', 'Release', 'netlens.node');
  if (!copyFile(addon, path.join(dist, 'native', 'netlens.node'), 'native add-on (run `npm install` to build it)')) {
    fs.rmSync(path.join(dist, 'native', 'netlens.node'), { force: true });
  }
  // Fixture message logs and a plain page per webview, for working on a page in a browser:
  // open dist/webviews/<name>.dev.html?fixture=fixtures/<name>/<log>.json from a local web server.
  for (const page of webviewPages()) {
    const fixtures = fromRoot('webviews', page, 'fixtures');
    if (!fs.existsSync(fixtures)) continue;
    fs.cpSync(fixtures, path.join(dist, 'webviews', 'fixtures', page), { recursive: true });
    fs.writeFileSync(
      path.join(dist, 'webviews', `${page}.dev.html`),
      `<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8"><title>${page} (fixture)</title>` +
        `<link rel="stylesheet" href="${page}.css"></head><body><script src="${page}.js"></script></body></html>\n`,
    );
  }
}

function reportSizes(options) {
  for (const option of options) {
    const size = fs.statSync(option.outfile).size;
    console.log(`build: ${relative(option.outfile).padEnd(32)} ${(size / 1024).toFixed(1).padStart(8)} KiB`);
  }
}

async function main() {
  if (!args.has('--no-typecheck')) typecheck();
  if (!watch) fs.rmSync(dist, { recursive: true, force: true });
  const options = buildOptions();
  if (watch) {
    const contexts = await Promise.all(options.map((option) => esbuild.context(option)));
    await Promise.all(contexts.map((context) => context.watch()));
    copyAssets();
    console.log('build: watching for changes (Ctrl+C to stop)');
    return;
  }
  const started = Date.now();
  await Promise.all(options.map((option) => esbuild.build(option)));
  copyAssets();
  reportSizes(options);
  console.log(`build: bundles written to dist/ (${Date.now() - started} ms)`);
}

main().catch((error) => {
  console.error(`build: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
