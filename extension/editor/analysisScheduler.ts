// Decides when each document is analyzed and which results may be shown: requests are debounced
// per document, a newer version supersedes an older one (its waiters get `undefined`, never an
// old report), and a result is kept only when it belongs to the version last asked for.
// No `vscode`: the service feeds it document keys and version tags.

export interface SchedulerOptions<Job, Result> {
  run: (job: Job) => Promise<Result>;
  debounceMs: number;
  onResult?: (key: string, version: string, result: Result) => void;
  onError?: (key: string, version: string, error: unknown) => void;
}

interface Entry<Job, Result> {
  version: string;
  makeJob: () => Job;
  timer: NodeJS.Timeout | undefined;
  /** Settles with the result of `version`, or undefined once superseded. */
  promise: Promise<Result | undefined>;
  settle: (result: Result | undefined) => void;
  result: Result | undefined;
  done: boolean;
}

export class AnalysisScheduler<Job, Result> {
  private readonly entries = new Map<string, Entry<Job, Result>>();

  constructor(private readonly options: SchedulerOptions<Job, Result>) {}

  /**
   * The result for `version` of `key`. The same version asked twice shares one run; a new
   * version restarts the debounce. `makeJob` is called when the run starts (after the debounce),
   * so a burst of keystrokes copies the document once.
   */
  request(key: string, version: string, makeJob: () => Job, immediate = false): Promise<Result | undefined> {
    const current = this.entries.get(key);
    if (current && current.version === version) return current.promise;
    if (current && !current.done) {
      if (current.timer) clearTimeout(current.timer);
      current.settle(undefined);
    }
    let settle!: (result: Result | undefined) => void;
    const promise = new Promise<Result | undefined>((resolve) => {
      settle = resolve;
    });
    const entry: Entry<Job, Result> = { version, makeJob, timer: undefined, promise, settle, result: undefined, done: false };
    entry.timer = setTimeout(() => this.start(key, entry), immediate ? 0 : this.options.debounceMs);
    this.entries.set(key, entry);
    return promise;
  }

  /** The finished result for exactly this version, if there is one. */
  latest(key: string, version: string): Result | undefined {
    const entry = this.entries.get(key);
    return entry && entry.version === version && entry.done ? entry.result : undefined;
  }

  forget(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    if (entry.timer) clearTimeout(entry.timer);
    if (!entry.done) entry.settle(undefined);
    this.entries.delete(key);
  }

  dispose(): void {
    for (const key of [...this.entries.keys()]) this.forget(key);
  }

  private start(key: string, entry: Entry<Job, Result>): void {
    entry.timer = undefined;
    let job: Job;
    try {
      job = entry.makeJob();
    } catch (error) {
      entry.done = true;
      entry.settle(undefined);
      this.options.onError?.(key, entry.version, error);
      return;
    }
    this.options.run(job).then(
      (result) => {
        if (this.entries.get(key) !== entry) return;
        entry.result = result;
        entry.done = true;
        entry.settle(result);
        this.options.onResult?.(key, entry.version, result);
      },
      (error: unknown) => {
        if (this.entries.get(key) !== entry) return;
        entry.done = true;
        entry.settle(undefined);
        this.options.onError?.(key, entry.version, error);
      },
    );
  }
}
