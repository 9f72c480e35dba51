// Follows the run store (.netlens/runs/) while runs are written, by the editor or by the CLI:
// which run folders exist, the new lines of each followed run's metrics.jsonl (read from the
// last offset, a partial last line kept until its newline arrives), and status.json changes.
// fs.watch gives the prompt updates; a slow poll backs it up because watch events are not
// delivered on every file system (network shares, some container mounts) and a watch on a
// folder that does not exist yet cannot be set. No `vscode` here: the tests drive it directly.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { TrainingEvent } from '../training/train';

export interface RunsTailListener {
  /** The set of run folders changed (one appeared or went away). */
  runsChanged(runs: readonly string[]): void;
  /** New events of a followed run in file order; `reset`: the file was truncated or replaced, drop what came before. */
  events(run: string, events: TrainingEvent[], reset: boolean): void;
  /** A followed run's status.json was written. */
  statusChanged(run: string): void;
}

export interface RunsTailOptions {
  /** Fallback poll period in milliseconds (default 1000); 0 turns polling off (tests). */
  pollMs?: number;
  /** Use fs.watch (default true). */
  watch?: boolean;
}

/** One followed metrics.jsonl: where reading stopped and the bytes of an unfinished last line. */
interface MetricsCursor {
  offset: number;
  /** Identity of the file read so far, to notice it was replaced by a new one. */
  inode: number;
  pending: Buffer;
  statusMtimeMs: number;
  watcher?: fs.FSWatcher;
}

const WATCH_SETTLE_MS = 25;

export class RunsTail {
  private readonly followed = new Map<string, MetricsCursor>();
  private known: string[] = [];
  private runsWatcher: fs.FSWatcher | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  /** Complete lines that were not JSON (a writer bug or a foreign file); skipped, counted for the log. */
  skippedLines = 0;

  constructor(
    readonly runsDir: string,
    private readonly listener: RunsTailListener,
    private readonly options: RunsTailOptions = {},
  ) {
    const pollMs = options.pollMs ?? 1000;
    if (pollMs > 0) {
      this.pollTimer = setInterval(() => this.poll(), pollMs);
      this.pollTimer.unref?.();
    }
    this.known = listRuns(runsDir);
    this.watchRunsDir();
  }

  /** Run folder names, oldest first. */
  get runs(): readonly string[] {
    return this.known;
  }

  /** Starts reading `run`'s metrics; what the file already holds arrives at once (as a reset). */
  follow(run: string): void {
    if (this.followed.has(run) || this.disposed) return;
    const cursor: MetricsCursor = { offset: 0, inode: -1, pending: Buffer.alloc(0), statusMtimeMs: statusMtime(path.join(this.runsDir, run)) };
    this.followed.set(run, cursor);
    if (this.options.watch !== false) {
      cursor.watcher = watchQuietly(path.join(this.runsDir, run), () => this.settleSoon());
    }
    this.readMetrics(run, cursor, true);
  }

  unfollow(run: string): void {
    this.followed.get(run)?.watcher?.close();
    this.followed.delete(run);
  }

  get following(): readonly string[] {
    return [...this.followed.keys()];
  }

  /** Checks everything now: run folders, followed metrics and statuses. */
  poll(): void {
    if (this.disposed) return;
    const runs = listRuns(this.runsDir);
    if (!this.runsWatcher) this.watchRunsDir();
    if (runs.length !== this.known.length || runs.some((run, i) => run !== this.known[i])) {
      this.known = runs;
      this.listener.runsChanged(runs);
    }
    for (const [run, cursor] of this.followed) {
      this.readMetrics(run, cursor, false);
      const mtime = statusMtime(path.join(this.runsDir, run));
      if (mtime !== cursor.statusMtimeMs) {
        cursor.statusMtimeMs = mtime;
        this.listener.statusChanged(run);
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.runsWatcher?.close();
    for (const cursor of this.followed.values()) cursor.watcher?.close();
    this.followed.clear();
  }

  private watchRunsDir(): void {
    if (this.options.watch === false || this.runsWatcher || !fs.existsSync(this.runsDir)) return;
    this.runsWatcher = watchQuietly(this.runsDir, () => this.settleSoon(), () => {
      this.runsWatcher = undefined;
    });
  }

  /** A burst of watch events (one append fires several) becomes one poll. */
  private settleSoon(): void {
    if (this.settleTimer || this.disposed) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.poll();
    }, WATCH_SETTLE_MS);
  }

  private readMetrics(run: string, cursor: MetricsCursor, first: boolean): void {
    const file = path.join(this.runsDir, run, 'metrics.jsonl');
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      if (cursor.offset > 0 || cursor.pending.length > 0) {
        Object.assign(cursor, { offset: 0, inode: -1, pending: Buffer.alloc(0) });
        this.listener.events(run, [], true);
      }
      return;
    }
    let reset = first;
    if ((cursor.inode !== -1 && stat.ino !== cursor.inode) || stat.size < cursor.offset) {
      // Rewritten from the start (truncated, or a new file renamed over it): read it again whole.
      cursor.offset = 0;
      cursor.pending = Buffer.alloc(0);
      reset = true;
    }
    cursor.inode = stat.ino;
    if (stat.size === cursor.offset) {
      if (reset) this.listener.events(run, [], true);
      return;
    }
    const length = stat.size - cursor.offset;
    const chunk = Buffer.alloc(length);
    const fd = fs.openSync(file, 'r');
    let read = 0;
    try {
      read = fs.readSync(fd, chunk, 0, length, cursor.offset);
    } finally {
      fs.closeSync(fd);
    }
    cursor.offset += read;
    // Split on bytes, not characters: a multi-byte character may be cut at the end of the chunk.
    const bytes = cursor.pending.length > 0 ? Buffer.concat([cursor.pending, chunk.subarray(0, read)]) : chunk.subarray(0, read);
    const lastNewline = bytes.lastIndexOf(0x0a);
    cursor.pending = Buffer.from(bytes.subarray(lastNewline + 1));
    const events: TrainingEvent[] = [];
    if (lastNewline >= 0) {
      for (const line of bytes.subarray(0, lastNewline).toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        const event = parseEvent(line);
        if (event) events.push(event);
        else this.skippedLines++;
      }
    }
    if (events.length > 0 || reset) this.listener.events(run, events, reset);
  }
}

/** Run folder names under `runsDir` (folders with a metrics.jsonl), oldest first. */
export function listRuns(runsDir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(runsDir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((entry) => entry.isDirectory() && fs.existsSync(path.join(runsDir, entry.name, 'metrics.jsonl')))
    .map((entry) => entry.name)
    .sort();
}

function parseEvent(line: string): TrainingEvent | undefined {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string') return value as TrainingEvent;
  } catch {
    // Not JSON: counted by the caller.
  }
  return undefined;
}

function statusMtime(runDir: string): number {
  try {
    return fs.statSync(path.join(runDir, 'status.json')).mtimeMs;
  } catch {
    return 0;
  }
}

/** fs.watch that never throws: a folder removed or a watch limit reached leaves the poll to do the work. */
function watchQuietly(target: string, changed: () => void, closed?: () => void): fs.FSWatcher | undefined {
  try {
    const watcher = fs.watch(target, { persistent: false }, () => changed());
    watcher.on('error', () => {
      watcher.close();
      closed?.();
    });
    return watcher;
  } catch {
    closed?.();
    return undefined;
  }
}
