// The window with 5,000 peers and the engine's health warnings, through the real LocalAPI server
// and client (unix socket) with a backend double serving a big netmap: the list stays windowed
// (a few dozen rows in the DOM), and a search answers quickly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, loopbackOnlyPage, type LaunchedBrowser } from './browser.js';
import { RendererBridge } from './bridge-server.js';
import { shot, TestLogger } from './support.js';
import { chromiumUnavailable } from './browser.js';
import { waitFor } from './real-engine.js';
import { FakeLocalApiBackend } from '../../doubles/fake-localapi-backend.js';
import { LocalApiServer } from '../../../main/engine/localapi/server.js';
import { LocalClient } from '../../../main/client/localapi-client.js';
import { peer, prefs, status } from '../../unit/app/fixtures.js';

test('5,000 peers: windowed list, fast search, health warnings shown', { timeout: 120_000 }, async (t) => {
  const why = chromiumUnavailable();
  if (why) {
    if (process.env.CI === 'true') throw new Error(why);
    process.stderr.write(`\n!!! SKIPPING: ${why}\n\n`);
    return t.skip(why);
  }
  const dir = mkdtempSync('/tmp/mt-e2e-scale-');
  const log = new TestLogger();
  const backend = new FakeLocalApiBackend();
  const Peer: Record<string, ReturnType<typeof peer>> = {};
  for (let i = 0; i < 5000; i++) {
    Peer[`nodekey:${i}`] = peer({ ID: `n${i}`, HostName: `host-${i}`, TailscaleIPs: [`100.64.${i >> 8}.${i & 255}`], OS: i % 3 ? 'linux' : 'windows', Online: i % 7 !== 0, ExitNodeOption: i % 500 === 0 });
  }
  backend.prefs = prefs();
  backend.statusValue = status({ Peer, Health: ['not connected to home DERP region 900', 'Some peers are advertising routes but --accept-routes is false'] });
  const server = new LocalApiServer({ socketPath: join(dir, 'api.sock'), backend, logger: log });
  let chromium: LaunchedBrowser | undefined;
  let bridge: RendererBridge | undefined;
  try {
    await server.listen();
    bridge = new RendererBridge({ engine: new LocalClient({ socketPath: join(dir, 'api.sock') }), opener: { openExternal: async () => undefined }, log });
    await bridge.start();
    chromium = await launchChromium();
    const page = await loopbackOnlyPage(chromium.browser);
    await page.goto(bridge.url);
    await page.getByTestId('peer-count').getByText('5000 of 5000 devices').waitFor({ timeout: 30_000 });
    const health = page.getByTestId('health');
    assert.match(await health.innerText(), /not connected to home DERP region 900/);
    assert.match(await health.innerText(), /--accept-routes is false/);
    const rows = await page.getByTestId('peer-row').count();
    assert.ok(rows < 40, `${rows} rows in the DOM for 5000 peers`);
    await shot(page, '14-5000-peers-health');

    const search = page.getByPlaceholder('Search by name, address or OS');
    const t0 = Date.now();
    await search.fill('host-4999');
    await page.getByTestId('peer-count').getByText('1 of 5000 devices').waitFor();
    const searchMs = Date.now() - t0;
    assert.ok(searchMs < 1_500, `search took ${searchMs} ms`);
    await page.locator('[data-peer-name="host-4999"]').waitFor();
    await search.fill('windows 100.64.1.');
    await waitFor('filtered', async () => ((await page.getByTestId('peer-count').innerText()).startsWith('85 of') ? true : undefined), 5_000);
    await search.fill('');
    // Exit-node picker lists only exit-capable peers (every 500th), searchable.
    await page.getByRole('button', { name: 'Exit node' }).click();
    assert.equal(await page.getByRole('radio').count(), 1 + 10);
    await page.getByPlaceholder('Search exit nodes').fill('host-2500');
    assert.equal(await page.getByRole('radio').count(), 1 + 1);
    process.stderr.write(`scale: search answered in ${searchMs} ms with 5000 peers\n`);
  } finally {
    await bridge?.stop();
    await chromium?.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
