// A persistent cache of the converted ASTs of imported library files (torchvision's helper
// modules, site-packages), so that a fresh process — the editor's worker after a restart, each
// CLI run — does not pay for parsing and converting them again. Reading the JSON back is
// native code and needs no JIT warm-up; parsing and converting them was the largest cost of a
// cold analysis of torchvision's resnet.py (see docs/PERFORMANCE.md).
//
// Entries are keyed by the file's content and a fingerprint of the converter's code, so an
// edited library file or a new analyzer build can never be served a stale tree. Entries are
// written after the analysis that needed them (a miss costs nothing extra while analyzing),
// to a temporary name and then renamed, so concurrent processes never read half a file.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ModuleAst, Stmt } from './ast';
import { converterSourceFiles } from './convert';

/** Bump when the cached form changes without the converter's code changing. */
const CACHE_FORMAT = 'netlens-ast-1';

/** Keys the interpreter attaches to AST nodes (not part of the syntax). */
const INTERPRETER_KEYS = new Set(['location', 'cached']);

let fingerprint: string | null | undefined;

/** A hash of the code that produces ASTs; null when it cannot be read (the cache is then off). */
function converterFingerprint(): string | null {
  if (fingerprint !== undefined) return fingerprint;
  try {
    const files = converterSourceFiles();
    const hash = crypto.createHash('sha1').update(CACHE_FORMAT);
    for (const file of files) hash.update('\0').update(fs.readFileSync(file));
    fingerprint = files.length > 0 ? hash.digest('hex') : null;
  } catch {
    fingerprint = null;
  }
  return fingerprint;
}

/**
 * Where the cache lives unless configured: NETLENS_AST_CACHE_DIR, else the OS's per-user cache
 * folder. `NETLENS_AST_CACHE=off` turns it off (undefined).
 */
export function defaultAstCacheDir(): string | undefined {
  const env = process.env;
  if (env.NETLENS_AST_CACHE === 'off' || env.NETLENS_AST_CACHE === '0') return undefined;
  if (env.NETLENS_AST_CACHE_DIR) return env.NETLENS_AST_CACHE_DIR;
  const home = os.homedir();
  if (!home) return undefined;
  if (process.platform === 'win32') return path.join(env.LOCALAPPDATA ?? path.join(home, 'AppData', 'Local'), 'netlens', 'Cache', 'ast');
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'netlens', 'ast');
  return path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'netlens', 'ast');
}

const pendingWrites = new Map<string, { cache: PersistentAstCache; ast: ModuleAst }>();
let flushTimer: ReturnType<typeof setTimeout> | undefined;

/** Writes the entries queued by `scheduleWrite` now (tests, and a process about to exit). */
export function flushAstCacheWrites(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  const writes = [...pendingWrites];
  pendingWrites.clear();
  for (const [entryPath, { cache, ast }] of writes) cache.writeNow(entryPath, ast);
}

export class PersistentAstCache {
  constructor(readonly dir: string) {}

  private entryPath(source: string): string | undefined {
    const version = converterFingerprint();
    if (!version) return undefined;
    const key = crypto.createHash('sha1').update(source).digest('hex');
    return path.join(this.dir, version.slice(0, 16), `${key}.json`);
  }

  /** The AST of `source` when cached; undefined on a miss or an unreadable entry. */
  read(source: string): ModuleAst | undefined {
    const entryPath = this.entryPath(source);
    if (!entryPath) return undefined;
    let text: string;
    try {
      text = fs.readFileSync(entryPath, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const ast = JSON.parse(text) as ModuleAst;
      if (!Array.isArray(ast.body) || !Array.isArray(ast.syntaxErrors) || !Array.isArray(ast.inputComments)) return undefined;
      reviveScopes(ast.body);
      return ast;
    } catch {
      return undefined;
    }
  }

  /**
   * Stores `ast` after the current task: serializing converts every lazily converted function
   * body, which the analysis that parsed the file should not wait for.
   */
  scheduleWrite(source: string, ast: ModuleAst): void {
    const entryPath = this.entryPath(source);
    if (!entryPath) return;
    pendingWrites.set(entryPath, { cache: this, ast });
    flushTimer ??= setTimeout(flushAstCacheWrites, 0);
  }

  /**
   * Entries live in one folder per converter version; when a new version starts its folder,
   * the folders of versions not written for a day go (an older build still running only
   * loses its cache hits), so the cache does not grow with every build.
   */
  private pruneOtherVersions(current: string): void {
    let folders: string[];
    try {
      folders = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    for (const folder of folders) {
      if (folder === current || !/^[0-9a-f]{16}$/.test(folder)) continue;
      const full = path.join(this.dir, folder);
      try {
        if (Date.now() - fs.statSync(full).mtimeMs > STALE_VERSION_MS) fs.rmSync(full, { recursive: true, force: true });
      } catch {
        // Another process pruned it first.
      }
    }
  }

  /** Serializes and stores one entry; failures (read-only disk, a value JSON cannot hold) skip it. */
  writeNow(entryPath: string, ast: ModuleAst): void {
    let exact = true;
    const text = JSON.stringify(ast, (key, value: unknown) => {
      if (INTERPRETER_KEYS.has(key)) return undefined;
      if (value instanceof Set) return [...value];
      // JSON has no Infinity or NaN (`1e999` in source); such a file is simply not cached.
      if (typeof value === 'number' && !Number.isFinite(value)) exact = false;
      return value;
    });
    if (!exact) return;
    const temp = `${entryPath}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    try {
      if (!fs.existsSync(path.dirname(entryPath))) this.pruneOtherVersions(path.basename(path.dirname(entryPath)));
      fs.mkdirSync(path.dirname(entryPath), { recursive: true });
      fs.writeFileSync(temp, text);
      fs.renameSync(temp, entryPath);
    } catch {
      try { fs.unlinkSync(temp); } catch { /* it was never written */ }
    }
  }
}

const STALE_VERSION_MS = 24 * 60 * 60 * 1000;

/**
 * Function definitions keep their scope names as Sets, stored as arrays. They occur only as
 * statements, so a walk over statement lists finds them all (cheaper than a JSON reviver,
 * which would run for every value of the tree).
 */
function reviveScopes(stmts: Stmt[]): void {
  for (const s of stmts) {
    switch (s.t) {
      case 'def':
        s.locals = new Set(s.locals as unknown as string[]);
        s.globals = new Set(s.globals as unknown as string[]);
        s.nonlocals = new Set(s.nonlocals as unknown as string[]);
        reviveScopes(s.body);
        break;
      case 'class': case 'with':
        reviveScopes(s.body);
        break;
      case 'if': case 'for': case 'while':
        reviveScopes(s.body);
        reviveScopes(s.orelse);
        break;
      case 'match':
        for (const c of s.cases) reviveScopes(c.body);
        break;
      case 'try':
        reviveScopes(s.body);
        for (const h of s.handlers) reviveScopes(h.body);
        reviveScopes(s.orelse);
        reviveScopes(s.finalbody);
        break;
      default:
        break;
    }
  }
}
