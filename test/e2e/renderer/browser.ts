// Debian's Chromium driven by playwright-core (no browser download), flags per dependencies.md §2.
import { chromium, type Browser } from 'playwright-core';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export const CHROMIUM = process.env.MESHTRAY_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumUnavailable(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `Chromium not found at ${CHROMIUM} (apt-get install chromium)`;
}

/**
 * Browser tests are real tests: under CI=true a missing Chromium fails them; elsewhere they skip
 * with a loud line. Returns true when the test was skipped (the caller returns).
 */
export function skipWithoutChromium(t: TestContext, what: string): boolean {
  const missing = chromiumUnavailable();
  if (!missing) return false;
  if (process.env.CI === 'true') throw new Error(missing);
  process.stderr.write(`\n!!! SKIPPING ${what}: ${missing}\n\n`);
  t.skip(missing);
  return true;
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

/**
 * Chromium inside a lab host's network namespace, as a browser on that machine: a two-line wrapper
 * (exec keeps Playwright's pipe descriptors), removed again on close.
 */
export async function launchChromiumInNamespace(ns: string): Promise<LaunchedBrowser> {
  const dir = mkdtempSync(join(tmpdir(), 'mt-chromium-ns-'));
  const wrapper = join(dir, `chromium-${ns}`);
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  try {
    const b = await launchChromium(wrapper);
    return {
      browser: b.browser,
      async close() {
        await b.close();
        cleanup();
      },
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}
