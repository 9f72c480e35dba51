// Types for code-server.mjs (plain JS so `npm start` runs without a TypeScript loader).

export const WORKBENCH_SETTINGS: Readonly<Record<string, unknown>>;

export interface ProfilePaths {
  profileDir: string;
  userDataDir: string;
  extensionsDir: string;
  homeDir: string;
  configFile: string;
  logFile: string;
}

export interface RunningCodeServer {
  pid: number;
  port: number;
  baseUrl: string;
  /** The workbench URL with the folder opened. */
  url: string;
  /** Resolves with the exit code (or signal) when code-server itself exits. */
  exited: Promise<number | string | null>;
  /** Kills code-server's whole process group. */
  stop(): Promise<void>;
}

export function findVsix(repoRoot: string): string | undefined;
export function profilePaths(profileDir: string): ProfilePaths;
export function prepareProfile(profileDir: string, extraSettings?: Record<string, unknown>): ProfilePaths;
export function installVsix(codeServerBin: string, paths: ProfilePaths, vsixPath: string): string;
export function freePort(): Promise<number>;
export function isPortFree(port: number): Promise<boolean>;
export function launchCodeServer(options: {
  codeServerBin: string;
  paths: ProfilePaths;
  folder: string;
  port?: number;
  /** Extra environment for code-server, its extension host and the processes they start. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}): Promise<RunningCodeServer>;
