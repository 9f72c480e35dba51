// Support for the webview page tests: the built pages (dist/webviews) opened in Debian's chromium
// on a fixture message log, served through request interception (nothing listens on a port).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { chromium, type Browser, type Page } from 'playwright-core';

export const webviewsDist = path.resolve(__dirname, '..', '..', 'dist', 'webviews');
export const chromiumBin = process.env['NETLENS_CHROMIUM'] ?? '/usr/bin/chromium';
/** Where the pages are served: `${pageOrigin}/summary.dev.html?fixture=…`. */
export const pageOrigin = 'http://netlens.test';
const contentTypes: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

/** Why the page tests of `devHtml` (e.g. 'summary.dev.html') cannot run here, or undefined. */
export function pageSkipReason(devHtml: string): string | undefined {
  if (!fs.existsSync(path.join(webviewsDist, devHtml))) return 'dist/webviews not built (npm run build)';
  if (!fs.existsSync(chromiumBin)) return `no chromium at ${chromiumBin} (set NETLENS_CHROMIUM)`;
  return undefined;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumBin, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
}

export interface PageOptions {
  viewport?: { width: number; height: number };
  /** Answers for paths the test serves itself (a log made in the test); undefined = from dist/webviews. */
  serve?: (pathname: string) => { body: string; contentType: string } | undefined;
}

/** A new page serving dist/webviews at pageOrigin, with the page's uncaught errors collected. */
export async function newWebviewPage(browser: Browser, options: PageOptions = {}): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage(options.viewport ? { viewport: options.viewport } : {});
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.route(`${pageOrigin}/**`, async (route) => {
    const pathname = decodeURIComponent(new URL(route.request().url()).pathname);
    const own = options.serve?.(pathname);
    if (own) return route.fulfill(own);
    const file = path.join(webviewsDist, pathname);
    if (!file.startsWith(webviewsDist) || !fs.existsSync(file)) return route.fulfill({ status: 404 });
    // A concurrent `npm run build` may remove dist/ between the check and the read: answer 404, not a crash.
    return route.fulfill({ path: file, contentType: contentTypes[path.extname(file)] ?? 'application/octet-stream' }).catch(() => route.fulfill({ status: 404 }));
  });
  return { page, errors };
}
