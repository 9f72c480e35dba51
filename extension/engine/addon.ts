// Loading the native add-on (netlens.node) and checking what it returns, so nothing untyped
// leaves this module. Used by the engine process; tests use it to check the add-on directly.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { NativeEngineInfo } from './protocol';

export interface NativeAddon {
  engineInfo(): NativeEngineInfo;
}

/** Add-on locations under an extension (or repository) root, in the order they are tried. */
export function addonCandidates(root: string): string[] {
  return [
    // A fresh `npm install` / cmake-js build in a checkout wins over a possibly stale copy in dist/.
    path.join(root, 'native', 'build', 'Release', 'netlens.node'),
    // Where scripts/build.mjs copies it, and so where it lives inside the VSIX.
    path.join(root, 'dist', 'native', 'netlens.node'),
  ];
}

export interface AddonLocation {
  /** The first candidate that exists, if any. */
  path: string | undefined;
  tried: string[];
}

/** NETLENS_ADDON_PATH (when set) overrides the search. */
export function findAddon(root: string, env: NodeJS.ProcessEnv = process.env): AddonLocation {
  const override = env['NETLENS_ADDON_PATH'];
  const tried = override ? [override] : addonCandidates(root);
  return { path: tried.find((candidate) => fs.existsSync(candidate)), tried };
}

const stringFields = [
  'version', 'deviceName', 'computeCapability', 'gpuError', 'cudnnVersion', 'cudnnStatus', 'cpuModel', 'cpuFeatures',
] as const;
const numberFields = [
  'deviceCount', 'totalMemoryBytes', 'freeMemoryBytes', 'driverVersion', 'runtimeVersion', 'cpuThreads',
] as const;
const booleanFields = ['cudaCompiled', 'gpuPresent', 'cudnnCompiled', 'cudnnAvailable'] as const;

/** Checks the binding's object field by field; an add-on from another build fails loudly here. */
export function parseNativeEngineInfo(value: unknown): NativeEngineInfo {
  if (typeof value !== 'object' || value === null) {
    throw new Error(`engineInfo() returned ${value === null ? 'null' : typeof value}, expected an object`);
  }
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of stringFields) if (typeof record[field] !== 'string') problems.push(`${field} is not a string`);
  for (const field of numberFields) if (typeof record[field] !== 'number') problems.push(`${field} is not a number`);
  for (const field of booleanFields) if (typeof record[field] !== 'boolean') problems.push(`${field} is not a boolean`);
  if (problems.length > 0) throw new Error(`engineInfo() returned an unexpected object: ${problems.join(', ')}`);
  return {
    version: record['version'] as string,
    cudaCompiled: record['cudaCompiled'] as boolean,
    gpuPresent: record['gpuPresent'] as boolean,
    deviceCount: record['deviceCount'] as number,
    deviceName: record['deviceName'] as string,
    computeCapability: record['computeCapability'] as string,
    totalMemoryBytes: record['totalMemoryBytes'] as number,
    freeMemoryBytes: record['freeMemoryBytes'] as number,
    driverVersion: record['driverVersion'] as number,
    runtimeVersion: record['runtimeVersion'] as number,
    gpuError: record['gpuError'] as string,
    cudnnCompiled: record['cudnnCompiled'] as boolean,
    cudnnAvailable: record['cudnnAvailable'] as boolean,
    cudnnVersion: record['cudnnVersion'] as string,
    cudnnStatus: record['cudnnStatus'] as string,
    cpuThreads: record['cpuThreads'] as number,
    cpuModel: record['cpuModel'] as string,
    cpuFeatures: record['cpuFeatures'] as string,
  };
}

/** Loads the add-on; throws with the loader's own message (missing file, bad ELF, undefined symbol). */
export function loadAddon(addonPath: string): NativeAddon {
  const module: { exports: unknown } = { exports: {} };
  // process.dlopen rather than require(): a bundler must not try to resolve a runtime path.
  process.dlopen(module, path.resolve(addonPath));
  const exported = module.exports as { engineInfo?: unknown };
  const engineInfo = exported.engineInfo;
  if (typeof engineInfo !== 'function') {
    throw new Error(`${addonPath} does not export engineInfo(); it is not a Netlens engine add-on`);
  }
  return { engineInfo: () => parseNativeEngineInfo((engineInfo as () => unknown)()) };
}
