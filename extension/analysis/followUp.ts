// Idle-time follow-up analyses of a file just opened. The start-up warm-up (warmUp.ts) compiles
// the interpreter on a built-in model, but a real file reaches code paths the warm-up did not
// (its library's helpers, other layers, longer symbolic sums), and V8 compiles those only after
// they have run a few times: measured on torchvision's densenet.py, the first re-analyses after
// opening took 35-45 ms, and only the fifth or sixth came down to the steady 10-15 ms. The
// analysis worker therefore re-runs the first analysis of each opened file while the user reads
// it, a few times, one analysis per step, so that the first edit is analyzed at the steady speed.
// A keystroke does not cancel them at once: the editor sends its job only after a debounce, so
// follow-ups go on while one more surely ends before the job is due (`finishBy`); a job cancels
// them. The results are discarded, nothing the editor shows changes.

/** When to stop: the analysis is already fast, or enough runs were spent. */
export interface FollowUpPolicy {
  /** At most this many follow-up analyses per opened file. */
  maxRuns: number;
  /** An analysis this fast needs no follow-up (half the 30 ms re-analysis target of issue 3). */
  fastEnoughMs: number;
  /** Kept free before a job is due: the next follow-up may take this much longer than the last. */
  marginMs: number;
}

export const FOLLOW_UP_POLICY: FollowUpPolicy = { maxRuns: 6, fastEnoughMs: 15, marginMs: 15 };

/** The follow-ups of one opened file; `step` runs one analysis and says whether another is wanted. */
export class FollowUpAnalyses {
  private runs = 0;
  private cancelled = false;
  private lastMs: number;
  private deadline = Infinity;
  /** Milliseconds of each follow-up analysis so far. */
  readonly timesMs: number[] = [];

  constructor(
    private readonly analyzeAgain: () => unknown,
    firstAnalysisMs: number,
    private readonly policy: FollowUpPolicy = FOLLOW_UP_POLICY,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastMs = firstAnalysisMs;
  }

  /** Whether one more follow-up analysis would still help. */
  get wanted(): boolean {
    return !this.cancelled && this.runs < this.policy.maxRuns && this.lastMs >= this.policy.fastEnoughMs &&
      this.now() + this.lastMs + this.policy.marginMs <= this.deadline;
  }

  /** A job is due at `deadline` (a keystroke and the editor's debounce): only follow-ups that end before it. */
  finishBy(deadline: number): void {
    this.deadline = Math.min(this.deadline, deadline);
  }

  /** Runs one follow-up analysis when wanted (awaiting an asynchronous one); true when another is wanted after it. */
  async step(): Promise<boolean> {
    if (!this.wanted) return false;
    const started = this.now();
    this.runs++;
    try {
      await this.analyzeAgain();
    } catch {
      // A failing analysis only loses the speed-up; the editor's own job reports the failure.
      this.cancelled = true;
      return false;
    }
    this.lastMs = this.now() - started;
    this.timesMs.push(this.lastMs);
    return this.wanted;
  }

  /** A job came: no more follow-ups. */
  cancel(): void {
    this.cancelled = true;
  }
}
