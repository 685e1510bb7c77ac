/**
 * Headless Debian chromium for page tests (reports, trend pages): a fresh profile in
 * `profileRoot`, no sandbox, no GPU, and none of chromium's background network traffic
 * (this machine's network is closed; a page test must see only what the page asks for).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

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
