// No engine at all (no meshtrayd, nothing hosted): the window says so with the reason, instead of
// a sign-in form that could not work; once the engine answers the window recovers on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chromiumUnavailable, launchChromium, loopbackOnlyPage, type LaunchedBrowser } from './browser.js';
import { RendererBridge } from './bridge-server.js';
import { shot, TestLogger } from './support.js';
import { unavailableEngine } from '../../../main/app/engine-host/unavailable-engine.js';
import type { EngineConnection } from '../../../main/app/engine-host/engine-connection.js';
import { FakeLocalApiBackend } from '../../doubles/fake-localapi-backend.js';
import { backendConnection } from '../../../main/app/engine-host/in-process-engine.js';

test('engine unavailable: the window explains why, then recovers when the engine appears', { timeout: 60_000 }, async (t) => {
  const why = chromiumUnavailable();
  if (why) {
    if (process.env.CI === 'true') throw new Error(why);
    process.stderr.write(`\n!!! SKIPPING: ${why}\n\n`);
    return t.skip(why);
  }
  const reason = 'No running meshtrayd was found; this build needs an installed meshtrayd.';
  // An engine that is missing at first and appears later (like a daemon started after the app).
  let current: EngineConnection = unavailableEngine(reason);
  const engine: EngineConnection = { call: (n, r) => current.call(n, r), watch: (s) => current.watch(s) };
  let chromium: LaunchedBrowser | undefined;
  const bridge = new RendererBridge({ engine, opener: { openExternal: async () => undefined }, log: new TestLogger(), host: { mode: 'unavailable', detail: reason } });
  try {
    await bridge.start();
    chromium = await launchChromium();
    const page = await loopbackOnlyPage(chromium.browser);
    await page.goto(bridge.url);
    await page.getByRole('heading', { name: 'Waiting for the Meshtray engine' }).waitFor();
    await page.getByText(reason).waitFor();
    assert.equal(await page.getByTestId('connection-state').innerText(), 'Not connected to the engine');
    await shot(page, '15-engine-unavailable');
    current = backendConnection(new FakeLocalApiBackend());
    // The forwarder retries the watch; the engine's first snapshot brings the sign-in screen.
    await page.getByRole('heading', { name: 'Sign in to your tailnet' }).waitFor({ timeout: 15_000 });
  } finally {
    await bridge.stop();
    await chromium?.close();
  }
});
