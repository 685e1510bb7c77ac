/**
 * Headless Debian chromium for page tests (reports, trend pages): a fresh profile in
 * `profileRoot`, no sandbox, no GPU, and none of chromium's background network traffic
 * (this machine's network is closed; a page test must see only what the page asks for).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Launches chromium with a new profile under `profileRoot`; throws with the fix if missing. */
export async function launchChromium(profileRoot: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: run scripts/setup.sh (installs Debian's chromium)`);
  return chromium.launchPersistentContext(mkdtempSync(join(profileRoot, 'chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** What loading a local file showed: the page, console errors/warnings, page errors and
 * failed requests (`problems`), every URL requested, and whether the load answered ok. */
export interface LoadedPage {
  page: Page;
  url: string;
  ok: boolean;
  problems: string[];
  requests: string[];
}

/** Opens the file `path` in a new page of `browser`, recording what a self-contained page
 * must not do (errors, warnings, requests other than itself). */
export async function openFile(browser: BrowserContext, path: string): Promise<LoadedPage> {
  const page = await browser.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  page.on('request', (r) => requests.push(r.url()));
  const url = pathToFileURL(path).href;
  const response = await page.goto(url, { waitUntil: 'load' });
  return { page, url, ok: response?.ok() ?? false, problems, requests };
}
