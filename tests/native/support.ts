// Shared by the native tests: where the add-on and the engine host are, and what the build configured.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { findAddon } from '../../extension/engine/addon';
import { bundledHostModule } from '../../extension/engine/client';

export const repoRoot = path.resolve(__dirname, '..', '..');
export const hostSource = path.join(repoRoot, 'extension', 'engine', 'host.ts');
export const bundledHost = bundledHostModule(repoRoot);
/** Runs the TypeScript host directly in the child. */
export const tsxExecArgv = ['--import', 'tsx'];

/** The add-on under test; a missing build is a failure, not a skip (npm install must build it). */
export function addonPath(): string {
  const location = findAddon(repoRoot);
  if (!location.path) {
    throw new Error(`netlens.node not found (tried ${location.tried.join(', ')}); build it with \`npm install\``);
  }
  return location.path;
}

/** INTERNAL entries of native/build/CMakeCache.txt, or undefined when the add-on comes from elsewhere. */
export function buildConfiguration(): { cuda: boolean; cudnn: boolean } | undefined {
  if (process.env['NETLENS_ADDON_PATH']) return undefined;
  const cachePath = path.join(repoRoot, 'native', 'build', 'CMakeCache.txt');
  if (!fs.existsSync(cachePath)) return undefined;
  const cache = fs.readFileSync(cachePath, 'utf8');
  const flag = (name: string): boolean => new RegExp(`^${name}:INTERNAL=(ON|TRUE|1)$`, 'm').test(cache);
  return { cuda: flag('NETLENS_BUILT_WITH_CUDA'), cudnn: flag('NETLENS_BUILT_WITH_CUDNN') };
}

/** Whether this machine has an NVIDIA kernel driver loaded, observed without CUDA. */
export function nvidiaDriverLoaded(): boolean {
  return fs.existsSync('/proc/driver/nvidia/version');
}

/** NETLENS_EXPECT_GPU=1|0 makes the GPU expectation explicit (set it on the GPU machine). */
export function expectedGpu(): boolean | undefined {
  const value = process.env['NETLENS_EXPECT_GPU'];
  if (value === undefined || value === '') return undefined;
  return value !== '0';
}
