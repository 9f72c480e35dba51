// Types for provision-e2e.mjs (plain JS so it runs before anything is built).

export const CODE_SERVER_VERSION: string;

export interface E2ePaths {
  cacheDir: string;
  installDir: string;
  codeServerBin: string;
  chromiumBin: string;
  doneMarker: string;
}

export function e2ePaths(): E2ePaths;
export function provisionE2e(options?: { quiet?: boolean }): E2ePaths;
