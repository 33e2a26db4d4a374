// Debian's Chromium driven by playwright-core (no browser download), flags per dependencies.md §2.
import { chromium, type Browser } from 'playwright-core';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.MESHTRAY_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumUnavailable(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `Chromium not found at ${CHROMIUM} (apt-get install chromium)`;
}

export interface LaunchedBrowser {
  browser: Browser;
  close(): Promise<void>;
}

// chromium.launch() gives every run a fresh temporary profile (it refuses --user-data-dir).
export async function launchChromium(executablePath = CHROMIUM): Promise<LaunchedBrowser> {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => undefined);
    },
  };
}

/**
 * A page whose requests may only go to loopback (the IdP's page links Google Fonts, for one):
 * anything else is aborted, so tests never send traffic off the machine.
 */
export async function loopbackOnlyPage(browser: Browser, viewport = { width: 520, height: 760 }, alsoAllow: readonly string[] = []) {
  const context = await browser.newContext({ viewport });
  await context.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (host === '127.0.0.1' || host === 'localhost' || host === '[::1]' || alsoAllow.includes(host)) return route.continue();
    return route.abort('blockedbyclient');
  });
  return context.newPage();
}
