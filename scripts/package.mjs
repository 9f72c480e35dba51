#!/usr/bin/env node
// `npm run package`: build, then `vsce package --target linux-x64` into
// dist/netlens-<version>-linux-x64.vsix, then check the VSIX holds what the extension needs at run
// time (bundles, the native add-on, the wasm files) and none of the sources or node_modules.
//
// Flags: --no-typecheck (passed to the build), --allow-missing-addon (package without netlens.node;
// the engine then reports that it cannot start).

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const known = new Set(['--no-typecheck', '--allow-missing-addon']);
for (const arg of args) {
  if (!known.has(arg)) {
    console.error(`package: unknown flag ${arg} (flags: ${[...known].join(' ')})`);
    process.exit(2);
  }
}

const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const target = 'linux-x64';
const vsixPath = path.join(repoRoot, 'dist', `${manifest.name}-${manifest.version}-${target}.vsix`);

function run(command, commandArgs) {
  console.log(`package: $ ${[path.basename(command), ...commandArgs.map((arg) => path.relative(repoRoot, arg).startsWith('..') ? arg : path.relative(repoRoot, arg) || arg)].join(' ')}`);
  const result = spawnSync(command, commandArgs, { cwd: repoRoot, stdio: 'inherit' });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${path.basename(command)} failed (${result.status ?? result.signal})`);
}

/** Entry names of a zip file, read from its central directory (no unzip tool needed). */
export function zipEntryNames(zipPath) {
  const data = fs.readFileSync(zipPath);
  const endSignature = 0x06054b50;
  let end = -1;
  // The end-of-central-directory record sits in the last 64 KiB + 22 bytes (comment at most 64 KiB).
  for (let offset = data.length - 22; offset >= Math.max(0, data.length - 22 - 0xffff); offset--) {
    if (data.readUInt32LE(offset) === endSignature) {
      end = offset;
      break;
    }
  }
  if (end < 0) throw new Error(`${zipPath} is not a zip file (no end of central directory)`);
  const count = data.readUInt16LE(end + 10);
  let offset = data.readUInt32LE(end + 16);
  const names = [];
  for (let index = 0; index < count; index++) {
    if (data.readUInt32LE(offset) !== 0x02014b50) throw new Error(`${zipPath}: bad central directory entry ${index}`);
    const nameLength = data.readUInt16LE(offset + 28);
    const extraLength = data.readUInt16LE(offset + 30);
    const commentLength = data.readUInt16LE(offset + 32);
    names.push(data.toString('utf8', offset + 46, offset + 46 + nameLength));
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return names;
}

function verify(names) {
  const required = [
    'extension/package.json',
    'extension/LICENSE.txt',
    'extension/dist/extension.js',
    'extension/dist/engineHost.js',
    'extension/dist/tree-sitter.wasm',
    'extension/dist/tree-sitter-python.wasm',
    'extension/dist/webviews/engineInfo.js',
    'extension/dist/webviews/engineInfo.css',
    'extension/dist/analysisWorker.js',
    'extension/dist/webviews/summary.js',
    'extension/dist/webviews/summary.css',
    'extension/dist/webviews/onnx.js',
    'extension/dist/webviews/onnx.css',
    // onnxruntime-node (scripts/build.mjs copyOnnxRuntime): the JS, its dependency, the linux-x64 binaries.
    'extension/dist/node_modules/onnxruntime-node/package.json',
    'extension/dist/node_modules/onnxruntime-node/dist/index.js',
    'extension/dist/node_modules/onnxruntime-node/dist/binding.js',
    'extension/dist/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
    'extension/dist/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
    'extension/dist/node_modules/onnxruntime-common/package.json',
    'extension/dist/node_modules/onnxruntime-common/dist/cjs/index.js',
    'extension/dist/node_modules/onnxruntime-common/dist/cjs/package.json',
  ];
  if (!args.has('--allow-missing-addon')) required.push('extension/dist/native/netlens.node');
  if (fs.existsSync(path.join(repoRoot, 'extension', 'cli', 'main.ts'))) required.push('extension/dist/cli.js');
  const missing = required.filter((name) => !names.includes(name));
  const forbidden = names.filter((name) =>
    /^extension\/(node_modules|native|extension|webviews|tests|scripts|examples|\.cache)\//.test(name) || /\.(ts|map|vsix)$/.test(name) ||
    // Only onnxruntime's linux-x64 binaries belong in a linux-x64 VSIX.
    (/^extension\/dist\/node_modules\/onnxruntime-node\/bin\//.test(name) && !name.includes('/bin/napi-v6/linux/x64/')),
  );
  const problems = [
    ...missing.map((name) => `missing ${name}`),
    ...forbidden.map((name) => `should not ship ${name}`),
  ];
  if (problems.length > 0) throw new Error(`the VSIX is wrong:\n  ${problems.join('\n  ')}`);
}

function main() {
  run(process.execPath, [path.join(repoRoot, 'scripts', 'build.mjs'), ...(args.has('--no-typecheck') ? ['--no-typecheck'] : [])]);
  const addon = path.join(repoRoot, 'dist', 'native', 'netlens.node');
  if (!fs.existsSync(addon) && !args.has('--allow-missing-addon')) {
    throw new Error('dist/native/netlens.node is missing: build the add-on with `npm install` first');
  }
  fs.rmSync(vsixPath, { force: true });
  const vsce = path.join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce');
  // --no-rewrite-relative-links: packaging must not depend on the README's links or the repository URL.
  run(process.execPath, [vsce, 'package', '--target', target, '--no-dependencies', '--no-rewrite-relative-links', '--out', vsixPath]);

  const names = zipEntryNames(vsixPath);
  verify(names);
  const shipped = names.filter((name) => name.startsWith('extension/')).sort();
  console.log(`package: ${shipped.length} files in the VSIX:`);
  for (const name of shipped) console.log(`  ${name}`);
  const size = fs.statSync(vsixPath).size;
  console.log(`package: wrote ${path.relative(repoRoot, vsixPath)} (${(size / 1024 / 1024).toFixed(2)} MiB)`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main();
  } catch (error) {
    console.error(`package: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
