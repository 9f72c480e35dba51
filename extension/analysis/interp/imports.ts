// Import resolution: which file a dotted module name lives in, given the import roots
// (the file's package root found by walking up __init__.py, its own folder, --python-path
// roots, site-packages), and how a file's own module name is derived.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface FileSystemAccess {
  /** File content, undefined when it does not exist. */
  readFile(file: string): string | undefined;
  isFile(file: string): boolean;
  isDirectory(dir: string): boolean;
}

export function defaultFileSystem(readFile?: (file: string) => string | undefined): FileSystemAccess {
  // Missing paths are the common answer of import probing: ask stat not to throw for them
  // (an exception with its stack trace per probe cost more than the stat itself).
  const stat = (file: string): fs.Stats | undefined => fs.statSync(file, { throwIfNoEntry: false });
  return {
    readFile: readFile ?? ((file) => { try { return fs.readFileSync(file, 'utf8'); } catch { return undefined; } }),
    isFile: (file) => {
      try {
        const st = stat(file);
        if (st) return st.isFile();
      } catch { /* not a readable path: same as a missing one */ }
      return readFile ? readFile(file) !== undefined : false;
    },
    isDirectory: (dir) => { try { return stat(dir)?.isDirectory() ?? false; } catch { return false; } },
  };
}

/**
 * `inner` with isFile/isDirectory answers remembered: one analysis asks the same questions
 * several times (the file's package root, import roots probed per module name). Use one per
 * analysis, so that files created or removed later are seen.
 */
export function memoizedFileSystem(inner: FileSystemAccess): FileSystemAccess {
  const files = new Map<string, boolean>();
  const dirs = new Map<string, boolean>();
  return {
    readFile: (file) => inner.readFile(file),
    isFile: (file) => {
      let known = files.get(file);
      if (known === undefined) {
        known = inner.isFile(file);
        files.set(file, known);
      }
      return known;
    },
    isDirectory: (dir) => {
      let known = dirs.get(dir);
      if (known === undefined) {
        known = inner.isDirectory(dir);
        dirs.set(dir, known);
      }
      return known;
    },
  };
}

/**
 * The import root of a file and its dotted module name: walk up while the folder has an
 * __init__.py. `/a/pkg/sub/m.py` with pkg/ and sub/ packages → root `/a`, name `pkg.sub.m`.
 */
export function moduleNameOfFile(file: string, fsa: FileSystemAccess): { root: string; name: string; isPackage: boolean } {
  const base = path.basename(file).replace(/\.py$/, '');
  const isPackage = base === '__init__';
  const parts: string[] = isPackage ? [] : [base];
  let dir = path.dirname(file);
  for (;;) {
    if (!fsa.isFile(path.join(dir, '__init__.py'))) break;
    parts.unshift(path.basename(dir));
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (parts.length === 0) parts.push(path.basename(path.dirname(file)));
  return { root: dir, name: parts.join('.'), isPackage };
}

/** The file of a dotted module name under one of the roots (package __init__.py or module .py). */
export function findModuleFile(name: string, roots: readonly string[], fsa: FileSystemAccess): { file: string; isPackage: boolean } | undefined {
  const rel = name.split('.');
  for (const root of roots) {
    const base = path.join(root, ...rel);
    const init = path.join(base, '__init__.py');
    if (fsa.isFile(init)) return { file: init, isPackage: true };
    if (fsa.isFile(base + '.py')) return { file: base + '.py', isPackage: false };
  }
  return undefined;
}

/** Absolute dotted name of a relative import (`from ..a import b` in package `p.q`). */
export function resolveRelative(currentPackage: string, level: number, module: string): string | undefined {
  const parts = currentPackage ? currentPackage.split('.') : [];
  if (level - 1 > parts.length) return undefined;
  const base = parts.slice(0, parts.length - (level - 1));
  if (module) base.push(...module.split('.'));
  return base.join('.');
}
