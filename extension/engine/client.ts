// EngineClient: starts the engine process (host.ts) with child_process.fork, matches responses to
// requests by id, times requests out, turns a crash into one clear error, and restarts on demand.
// It does not import vscode, so the CLI and the tests use it as the extension does.
import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

import {
  ADDON_PATH_ENV,
  isHostToClientMessage,
  type EngineHello,
  type EngineRequest,
  type EngineRequestKind,
  type EngineRequestMap,
  type HostToClientMessage,
} from './protocol';

/** The bundled engine host under an extension (or repository) root, as scripts/build.mjs writes it. */
export function bundledHostModule(root: string): string {
  return path.join(root, 'dist', 'engineHost.js');
}

export type EngineState = 'stopped' | 'starting' | 'running' | 'crashed' | 'disposed';

export type EngineErrorCode = 'startFailed' | 'crashed' | 'timeout' | 'notRunning' | 'disposed' | 'remote';

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export interface EngineCrash {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** The last lines the process wrote to stderr, for the log and the error text. */
  stderrTail: string[];
  /** One line for people. */
  message: string;
}

export interface EngineClientOptions {
  /** The host script: dist/engineHost.js when bundled, extension/engine/host.ts under tsx. */
  hostModule: string;
  addonPath: string;
  /** Node flags for the child (e.g. ['--import', 'tsx'] to run host.ts directly). Default: none. */
  execArgv?: string[];
  /** Extra environment for the child, on top of this process's environment. */
  env?: NodeJS.ProcessEnv;
  startTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Receives the engine's stdout/stderr lines and lifecycle notes. */
  log?: (line: string) => void;
}

interface PendingRequest {
  kind: EngineRequestKind;
  resolve: (result: unknown) => void;
  reject: (error: EngineError) => void;
  timer: NodeJS.Timeout;
}

const STDERR_TAIL_LINES = 20;
const STOP_GRACE_MS = 2000;

export class EngineClient {
  private child: ChildProcess | undefined;
  private currentState: EngineState = 'stopped';
  private starting: Promise<EngineHello> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private stderrTail: string[] = [];
  private crash: EngineCrash | undefined;
  private readonly crashListeners = new Set<(crash: EngineCrash) => void>();
  private readonly options: Required<Omit<EngineClientOptions, 'env' | 'log'>> &
    Pick<EngineClientOptions, 'env' | 'log'>;

  constructor(options: EngineClientOptions) {
    this.options = {
      execArgv: [],
      startTimeoutMs: 15_000,
      requestTimeoutMs: 30_000,
      ...options,
    };
  }

  get state(): EngineState {
    return this.currentState;
  }

  /** Why the engine last stopped unexpectedly; cleared by a successful (re)start. */
  get lastCrash(): EngineCrash | undefined {
    return this.crash;
  }

  onDidCrash(listener: (crash: EngineCrash) => void): { dispose(): void } {
    this.crashListeners.add(listener);
    return { dispose: () => this.crashListeners.delete(listener) };
  }

  /** Starts the process if needed and returns its hello. Concurrent calls share one start. */
  start(): Promise<EngineHello> {
    if (this.currentState === 'disposed') return Promise.reject(this.disposedError());
    if (this.currentState === 'running') return this.hello();
    if (!this.starting) {
      this.starting = this.launch().finally(() => {
        this.starting = undefined;
      });
    }
    return this.starting;
  }

  /** Stops the current process (whatever its state) and starts a new one. */
  async restart(): Promise<EngineHello> {
    await this.stop();
    return this.start();
  }

  hello(): Promise<EngineHello> {
    return this.request('hello', {});
  }

  request<K extends EngineRequestKind>(
    kind: K,
    params: EngineRequestMap[K]['params'],
    timeoutMs: number = this.options.requestTimeoutMs,
  ): Promise<EngineRequestMap[K]['result']> {
    const child = this.child;
    if (this.currentState !== 'running' || !child || !child.connected) {
      return Promise.reject(this.notRunningError());
    }
    const id = this.nextId++;
    const request: EngineRequest<K> = { type: 'request', id, kind, params };
    return new Promise<EngineRequestMap[K]['result']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new EngineError('timeout', `the engine did not answer '${kind}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        kind,
        // The host answers request `id` with the result type of `kind`; the id ties the two together.
        resolve: (result) => resolve(result as EngineRequestMap[K]['result']),
        reject,
        timer,
      });
      child.send(request, (error) => {
        if (error) this.settle(id, new EngineError('notRunning', `could not send '${kind}' to the engine: ${error.message}`));
      });
    });
  }

  /** Ends the process; pending requests fail. The client can be started again. */
  async stop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const child = this.child;
    if (this.currentState !== 'disposed') this.currentState = 'stopped';
    if (!child) return;
    this.child = undefined;
    this.rejectAll(new EngineError('notRunning', 'the engine was stopped'));
    await terminate(child);
  }

  async dispose(): Promise<void> {
    if (this.currentState === 'disposed') return;
    await this.stop();
    this.currentState = 'disposed';
    this.rejectAll(this.disposedError());
    this.crashListeners.clear();
  }

  private launch(): Promise<EngineHello> {
    this.currentState = 'starting';
    this.stderrTail = [];
    const { hostModule, addonPath, execArgv, env, startTimeoutMs } = this.options;
    this.log(`starting engine: ${hostModule} with add-on ${addonPath}`);

    return new Promise<EngineHello>((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = fork(hostModule, [addonPath], {
          execArgv,
          env: { ...process.env, ...env, [ADDON_PATH_ENV]: addonPath },
          serialization: 'advanced',
          stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        });
      } catch (error) {
        this.currentState = 'crashed';
        reject(new EngineError('startFailed', `could not start the engine process: ${errorText(error)}`));
        return;
      }
      this.child = child;
      let settled = false;
      const fail = (error: EngineError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(() => {
        fail(new EngineError('startFailed', `the engine process did not start within ${startTimeoutMs} ms`));
        this.child = undefined;
        this.currentState = 'crashed';
        void terminate(child);
      }, startTimeoutMs);

      this.forwardLines(child);
      child.on('error', (error) => {
        // Spawn failures arrive here (and also an 'exit' may never come).
        if (this.child === child) {
          this.child = undefined;
          this.currentState = 'crashed';
        }
        fail(new EngineError('startFailed', `could not start the engine process: ${error.message}`));
      });
      child.on('exit', (exitCode, signal) => {
        const expected = this.child !== child;
        if (!expected) this.child = undefined;
        const crash = this.describeExit(exitCode, signal);
        this.log(`engine process ${child.pid ?? '?'} exited (${exitSummary(exitCode, signal)})`);
        if (!settled) {
          if (!expected) this.currentState = 'crashed';
          this.crash = crash;
          fail(new EngineError('startFailed', `the engine process exited during start-up: ${crash.message}`));
          return;
        }
        if (expected) return;
        this.currentState = 'crashed';
        this.crash = crash;
        this.rejectAll(new EngineError('crashed', crash.message));
        for (const listener of [...this.crashListeners]) listener(crash);
      });
      child.on('message', (message: unknown) => {
        if (!isHostToClientMessage(message)) {
          this.log('engine sent a malformed message; ignored');
          return;
        }
        if (message.type === 'startupFailed') {
          this.child = undefined;
          this.currentState = 'crashed';
          this.crash = undefined;
          // dlopen errors start with the path themselves ("<path>: file too short"): say it once.
          const reason = message.error.startsWith(`${message.addonPath}: `) ? message.error.slice(message.addonPath.length + 2) : message.error;
          fail(new EngineError('startFailed', `the native add-on could not be loaded from ${message.addonPath}: ${reason}`));
          void terminate(child);
          return;
        }
        if (message.type === 'ready') {
          if (settled) return;
          this.currentState = 'running';
          this.crash = undefined;
          this.log(`engine process ${message.pid} ready`);
          this.hello().then(
            (hello) => {
              if (settled) return;
              settled = true;
              clearTimeout(timer);
              resolve(hello);
            },
            (error: unknown) => {
              // A process that loads but cannot answer is not usable; do not leave it running.
              if (this.child === child) {
                this.child = undefined;
                this.currentState = 'crashed';
                void terminate(child);
              }
              fail(error instanceof EngineError ? error : new EngineError('startFailed', errorText(error)));
            },
          );
          return;
        }
        this.handleResponse(message);
      });
    });
  }

  private handleResponse(message: HostToClientMessage): void {
    if (message.type !== 'response') return;
    if (message.ok) {
      const entry = this.pending.get(message.id);
      if (!entry) return;
      this.pending.delete(message.id);
      clearTimeout(entry.timer);
      entry.resolve(message.result);
    } else {
      this.settle(message.id, new EngineError('remote', message.error));
    }
  }

  private settle(id: number, error: EngineError): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    entry.reject(new EngineError(error.code, `${entry.kind}: ${error.message}`));
  }

  private rejectAll(error: EngineError): void {
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      clearTimeout(entry.timer);
      entry.reject(error);
    }
  }

  private describeExit(exitCode: number | null, signal: NodeJS.Signals | null): EngineCrash {
    const stderrTail = [...this.stderrTail];
    const lastLine = stderrTail.filter((line) => line.trim() !== '').at(-1);
    const message =
      `the engine process exited unexpectedly (${exitSummary(exitCode, signal)})` + (lastLine ? `: ${lastLine}` : '');
    return { exitCode, signal, stderrTail, message };
  }

  private forwardLines(child: ChildProcess): void {
    const forward = (stream: NodeJS.ReadableStream | null, keepTail: boolean): void => {
      if (!stream) return;
      let buffered = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) this.childLine(line, keepTail);
      });
      stream.on('end', () => {
        if (buffered !== '') this.childLine(buffered, keepTail);
      });
    };
    forward(child.stdout, false);
    forward(child.stderr, true);
  }

  private childLine(line: string, keepTail: boolean): void {
    if (keepTail) {
      this.stderrTail.push(line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    }
    this.log(`[engine] ${line}`);
  }

  private notRunningError(): EngineError {
    if (this.currentState === 'disposed') return this.disposedError();
    if (this.currentState === 'crashed') {
      const why = this.crash ? this.crash.message : 'it failed to start';
      return new EngineError('notRunning', `the engine is not running: ${why}. Restart it to continue.`);
    }
    return new EngineError('notRunning', `the engine is not running (${this.currentState})`);
  }

  private disposedError(): EngineError {
    return new EngineError('disposed', 'the engine client was disposed');
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}

function exitSummary(exitCode: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `signal ${signal}`;
  return `exit code ${exitCode ?? 'unknown'}`;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killTimer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(killTimer);
      resolve();
    });
    if (child.connected) child.disconnect();
    child.kill('SIGTERM');
  });
}
