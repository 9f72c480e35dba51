// Cancel and pause for one training run. The run loop (train.ts) asks between chunks of steps, so
// a cancel or a pause takes effect once the chunk in flight returns: the engine is never stopped
// mid-step and the weights it hands back are always those of a whole step.

export type RunControlState = 'running' | 'paused' | 'cancelled';

export class RunControl {
  private current: RunControlState = 'running';
  private wakeWaiters: (() => void)[] = [];
  private readonly listeners = new Set<(state: RunControlState) => void>();

  /** Cancels the run when `signal` aborts (one way for callers that already hold an AbortSignal). */
  constructor(signal?: AbortSignal) {
    if (signal?.aborted) this.current = 'cancelled';
    else signal?.addEventListener('abort', () => this.cancel(), { once: true });
  }

  get state(): RunControlState {
    return this.current;
  }

  get cancelled(): boolean {
    return this.current === 'cancelled';
  }

  /** Stops issuing steps after the chunk in flight; a cancelled run stays cancelled. */
  pause(): void {
    if (this.current === 'running') this.set('paused');
  }

  resume(): void {
    if (this.current === 'paused') this.set('running');
  }

  cancel(): void {
    if (this.current !== 'cancelled') this.set('cancelled');
  }

  onDidChange(listener: (state: RunControlState) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Resolves at once unless paused; then when resumed or cancelled. */
  waitUntilNotPaused(): Promise<void> {
    if (this.current !== 'paused') return Promise.resolve();
    return new Promise((resolve) => this.wakeWaiters.push(resolve));
  }

  private set(state: RunControlState): void {
    this.current = state;
    if (state !== 'paused') {
      const waiters = this.wakeWaiters;
      this.wakeWaiters = [];
      for (const wake of waiters) wake();
    }
    for (const listener of [...this.listeners]) listener(state);
  }
}
