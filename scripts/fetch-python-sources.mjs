#!/usr/bin/env node
// Provisions the Python sources that analyzer tests and scripts read (torchvision, timm)
// into .cache/pysrc/ WITHOUT installing torch: wheels are downloaded with --no-deps and
// unpacked as plain zip files. The analyzer only reads .py files, so an unpacked wheel is
// as good as an installed package for it.
//
// Usage: node scripts/fetch-python-sources.mjs [--quiet]
// Exit codes: 0 sources present, 1 pip unavailable or download/unpack failed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pysrcDir = path.join(repoRoot, '.cache', 'pysrc');
const wheelsDir = path.join(repoRoot, '.cache', 'wheels');
const quiet = process.argv.includes('--quiet');

// Pinned so goldens (made with torchvision 0.28.0 and timm 1.0.29) and the sources the tests read agree.
const packages = [
  { requirement: 'torchvision==0.28.0', importName: 'torchvision', wheelPrefix: 'torchvision-0.28.0' },
  { requirement: 'timm==1.0.29', importName: 'timm', wheelPrefix: 'timm-1.0.29' },
];

function log(message) {
  if (!quiet) console.log(`[fetch-python-sources] ${message}`);
}

function fail(message) {
  console.error(`[fetch-python-sources] ${message}`);
  process.exit(1);
}

// A stamp per package records that its wheel was fully unpacked; a half-unpacked tree
// (interrupted run) has no stamp and is unpacked again.
function stampPath(importName) {
  return path.join(pysrcDir, `.${importName}.unpacked`);
}

function findPython() {
  for (const candidate of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    const probe = spawnSync(candidate, ['-m', 'pip', '--version'], { encoding: 'utf8', timeout: 30000 });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

const missing = packages.filter((pkg) => !fs.existsSync(stampPath(pkg.importName)));
if (missing.length === 0) {
  log(`sources present in ${path.relative(repoRoot, pysrcDir)}/`);
  process.exit(0);
}

const python = findPython();
if (!python) {
  fail('pip is not available (tried $PYTHON, python3, python with "-m pip"). Install Python 3 with pip, ' +
    'or unpack torchvision-0.28.0 and timm wheels into .cache/pysrc/ yourself.');
}

fs.mkdirSync(wheelsDir, { recursive: true });
fs.mkdirSync(pysrcDir, { recursive: true });

for (const pkg of missing) {
  let wheel = fs.readdirSync(wheelsDir).find((name) => name.startsWith(pkg.wheelPrefix) && name.endsWith('.whl'));
  if (!wheel) {
    log(`downloading ${pkg.requirement} (no dependencies) ...`);
    // The platform is pinned so the download never needs a matching torch/CUDA build
    // installed: the .py files are identical across platform wheels.
    const download = spawnSync(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
      '--python-version', '3.11', '--platform', 'manylinux_2_28_x86_64', '--platform', 'any',
      '--dest', wheelsDir, pkg.requirement], { encoding: 'utf8', timeout: 600000 });
    if (download.status !== 0) {
      fail(`pip download ${pkg.requirement} failed (exit ${download.status}):\n${download.stderr || download.stdout}`);
    }
    wheel = fs.readdirSync(wheelsDir).find((name) => name.startsWith(pkg.wheelPrefix) && name.endsWith('.whl'));
    if (!wheel) fail(`pip reported success but no ${pkg.wheelPrefix}*.whl is in ${wheelsDir}`);
  }
  log(`unpacking ${wheel} ...`);
  fs.rmSync(path.join(pysrcDir, pkg.importName), { recursive: true, force: true });
  const unzip = spawnSync(python, ['-m', 'zipfile', '-e', path.join(wheelsDir, wheel), pysrcDir],
    { encoding: 'utf8', timeout: 600000 });
  if (unzip.status !== 0) fail(`unpacking ${wheel} failed:\n${unzip.stderr}`);
  if (!fs.existsSync(path.join(pysrcDir, pkg.importName, '__init__.py'))) {
    fail(`${wheel} did not contain ${pkg.importName}/__init__.py`);
  }
  fs.writeFileSync(stampPath(pkg.importName), `${wheel}\n`);
}
log(`sources ready in ${path.relative(repoRoot, pysrcDir)}/`);
