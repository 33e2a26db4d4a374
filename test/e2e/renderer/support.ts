// Shared setup for the renderer e2e tests: skip rules, screenshots, the "system browser".
import type { TestContext } from 'node:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { LogFields, Logger } from '../../../main/engine/ports/ports.js';
import { chromiumUnavailable, loopbackOnlyPage } from './browser.js';
import { repoRoot } from './paths.js';
import { realEngineUnavailable } from './real-engine.js';

/** Skips loudly outside CI when Chromium/Headscale/tailscaled are missing; under CI=true it fails instead. */
export function skipUnlessRendererE2E(t: TestContext): boolean {
  const why = chromiumUnavailable() ?? realEngineUnavailable();
  if (!why) return false;
  if (process.env.CI === 'true') throw new Error(`renderer e2e cannot run under CI=true: ${why}`);
  process.stderr.write(`\n!!! SKIPPING renderer e2e "${t.name}": ${why}\n\n`);
  t.skip(why);
  return true;
}

export const SCREENSHOT_DIR = join(repoRoot(), 'test-artifacts', 'screenshots');

export async function shot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A Logger that keeps lines (shown when a test fails) and never prints secrets (it only stores fields). */
export class TestLogger implements Logger {
  lines: string[] = [];
  private add(level: string, msg: string, fields?: LogFields): void {
    this.lines.push(`${level} ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}`);
  }
  debug(msg: string, f?: LogFields): void { this.add('debug', msg, f); }
  info(msg: string, f?: LogFields): void { this.add('info', msg, f); }
  warn(msg: string, f?: LogFields): void { this.add('warn', msg, f); }
  error(msg: string, f?: LogFields): void { this.add('error', msg, f); }
  child(): Logger { return this; }
}

/** Stands in for shell.openExternal: opens the URL in a fresh page of the same Chromium (the "system browser"). */
export class BrowserOpener {
  readonly opened: string[] = [];
  pages: Page[] = [];
  constructor(private readonly browser: () => Browser | undefined) {}
  async openExternal(url: string): Promise<void> {
    this.opened.push(url);
    const b = this.browser();
    if (!b) return;
    const p = await loopbackOnlyPage(b);
    this.pages.push(p);
    await p.goto(url).catch(() => undefined);
  }
}
