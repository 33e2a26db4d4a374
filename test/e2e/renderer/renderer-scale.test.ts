// The window with 5,000 peers and the engine's health warnings, through the real LocalAPI server
// and client (unix socket) with a backend double serving a big netmap: the list stays windowed
// (a few dozen rows in the DOM), a search answers quickly, each row in view says direct or relayed
// (the engine's CurAddr / Relay) and shows the latency of a ping the engine answered; only the rows
// in view are pinged. The screen passes the accessibility check with the health banner up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, loopbackOnlyPage, skipWithoutChromium, type LaunchedBrowser } from './browser.js';
import { RendererBridge } from './bridge-server.js';
import { shot, TestLogger } from './support.js';
import { waitFor } from './real-engine.js';
import { FakeLocalApiBackend } from '../../doubles/fake-localapi-backend.js';
import { LocalApiServer } from '../../../main/engine/localapi/server.js';
import { LocalClient } from '../../../main/client/localapi-client.js';
import { peer, prefs, status } from '../../unit/app/fixtures.js';
import { checkAccessibility } from './a11y.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { ApiRequest, PingResult } from '../../../common/contract/api.js';

test('5,000 peers: windowed list, fast search, health warnings shown', { timeout: 120_000 }, async (t) => {
  if (skipWithoutChromium(t, t.name)) return;
  const dir = mkdtempSync('/tmp/mt-e2e-scale-');
  const log = new TestLogger();
  const backend = new FakeLocalApiBackend();
  const Peer: Record<string, ReturnType<typeof peer>> = {};
  for (let i = 0; i < 5000; i++) {
    Peer[`nodekey:${i}`] = peer({ ID: `n${i}`, HostName: `host-${i}`, TailscaleIPs: [`100.64.${i >> 8}.${i & 255}`], OS: i % 3 ? 'linux' : 'windows', Online: i % 7 !== 0, ExitNodeOption: i % 500 === 0, ...(i % 2 ? {} : { CurAddr: `192.0.2.${i & 255}:41641`, Relay: 'lab1', Active: true }) });
  }
  // The engine's ping: latency from the last octet (so each row's number is known), path as status says.
  const pinged: string[] = [];
  (backend as unknown as { ping: (r: ApiRequest<'ping'>) => Promise<PingResult> }).ping = async (req) => {
    pinged.push(req.Target);
    const last = Number(req.Target.split('.').at(-1));
    if (last === 6) throw new MeshtrayError('ERR_TIMEOUT', 'no pong');
    return { IP: req.Target, LatencySeconds: (10 + (last % 50)) / 1000, ...(last % 2 ? { DERPRegionID: 900, DERPRegionCode: 'lab1' } : { Endpoint: `192.0.2.${last}:41641` }) };
  };
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
    // Each online row in view: the path and latency of the engine's ping, or, without an answer,
    // the path the engine's status gives (tailscale's reading: inactive = idle, else direct/relayed).
    // Sorted online first, then by name (numeric): host-1 (idle in status, pong via DERP, .1 → 11 ms),
    // host-2 (active + CurAddr, pong direct, .2 → 12 ms), host-6 (active + CurAddr, no pong).
    const pathOf = (name: string) => page.locator(`[data-peer-name="${name}"]`).getByTestId('peer-path');
    await waitFor('host-1 latency', async () => ((await pathOf('host-1').innerText()) === 'relayed · 11 ms' ? true : undefined), 10_000);
    await waitFor('host-2 latency', async () => ((await pathOf('host-2').innerText()) === 'direct · 12 ms' ? true : undefined), 10_000);
    await waitFor('host-6 pinged', () => (pinged.includes('100.64.0.6') ? true : undefined), 10_000);
    assert.equal(await pathOf('host-6').innerText(), 'direct');
    assert.equal(await pathOf('host-1').getAttribute('title'), 'last ping: DERP lab1');
    assert.equal(await pathOf('host-2').getAttribute('title'), 'last ping: direct 192.0.2.2:41641');
    assert.equal(await pathOf('host-6').getAttribute('title'), 'direct 192.0.2.6:41641');
    // Name, OS and addresses (with Copy) on each row.
    const row3 = page.locator('[data-peer-name="host-3"]');
    assert.match(await row3.innerText(), /^host-3\s+windows[\s\S]*100\.64\.0\.3\s*Copy/);
    assert.ok(await row3.getByRole('button', { name: 'Copy 100.64.0.3 (host-3)' }).isVisible());
    await shot(page, '14-5000-peers-health');
    const inView = Math.ceil(360 / 64);
    assert.ok(pinged.length > 0 && pinged.length <= inView, `pinged ${pinged.length} peers (only the ${inView} rows in view): ${pinged.join(' ')}`);
    const a11y = await checkAccessibility(page);
    assert.deepEqual(a11y.unnamed, [], 'peers with health warnings: controls without an accessible name');
    assert.deepEqual(a11y.unreachable, [], 'peers with health warnings: controls Tab never reaches');
    assert.deepEqual(a11y.violations, [], 'peers with health warnings: axe violations');

    const search = page.getByPlaceholder('Search by name, address or OS');
    const t0 = Date.now();
    await search.fill('host-4999');
    await page.getByTestId('peer-count').getByText('1 of 5000 devices').waitFor();
    const searchMs = Date.now() - t0;
    assert.ok(searchMs < 1_500, `search took ${searchMs} ms`);
    await page.locator('[data-peer-name="host-4999"]').waitFor();
    // An offline peer says so in words (not only the dot's colour), with no path and no latency.
    await search.fill('host-4998');
    await waitFor('host-4998 offline', async () => ((await pathOf('host-4998').innerText().catch(() => '')) === 'offline' ? true : undefined), 5_000);
    assert.ok(!pinged.includes('100.64.19.134'), 'an offline peer is not pinged');
    await search.fill('windows 100.64.1.');
    await waitFor('filtered', async () => ((await page.getByTestId('peer-count').innerText()).startsWith('85 of') ? true : undefined), 5_000);
    await search.fill('');
    // A fast scroll: rows only passed by are not pinged; the rows where it stops are.
    const beforeScroll = pinged.length;
    await page.evaluate(`(async () => { const l = document.querySelector('.virtual-list'); for (const y of [6400, 12800, 19200, 25600]) { l.scrollTop = y; await new Promise((r) => setTimeout(r, 40)); } })()`);
    await waitFor('rows in view pinged after the scroll', () => (pinged.length - beforeScroll >= inView ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(pinged.length - beforeScroll <= inView, `pinged ${pinged.length - beforeScroll} peers for one stop of a fast scroll (${inView} rows in view)`);
    // Exit-node picker lists only exit-capable peers (every 500th), searchable.
    await page.getByRole('button', { name: 'Exit node' }).click();
    assert.equal(await page.getByRole('radio').count(), 1 + 10);
    // Each online exit node shows the latency the engine measured: host-500 is 100.64.1.244 → 54 ms.
    await page.getByRole('radio', { name: 'host-500 · 54 ms' }).waitFor({ timeout: 10_000 });
    await page.getByRole('radio', { name: /^host-0 \(offline\)$/ }).waitFor();
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
