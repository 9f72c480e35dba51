// Bundles extension/analysis/ with esbuild into .cache/bench/analysis.cjs for the
// measurement scripts (bench-analyzer.mjs, robustness.mjs), so they time the same kind of
// code the extension and the CLI run, not code going through a TypeScript loader.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const analyzerBundlePath = path.join(repoRoot, '.cache', 'bench', 'analysis.cjs');

export async function bundleAnalyzer() {
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [path.join(repoRoot, 'extension', 'analysis', 'index.ts')],
    outfile: analyzerBundlePath,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Its CommonJS build loads as is and finds its .wasm through node_modules.
    external: ['web-tree-sitter'],
    logLevel: 'warning',
  });
  return analyzerBundlePath;
}
