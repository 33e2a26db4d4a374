// The device list against Meshtray's engine with a real data plane (the namespace lab): meshtrayd
// on m1 behind an easy NAT, tailscaled on a1 (easy NAT: a direct path can be punched) and b1 (a NAT
// that drops all UDP: DERP only). The window (Chromium in the test's namespace) talks to m1's
// meshtrayd over its LocalAPI socket through the same IpcRouter + AppController as Electron main.
// What the user must see on each row: direct or relayed, and a latency the engine measured with a
// disco ping; the same path the engine's own ping reports (LocalAPI, as `meshtray ping` uses).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { withLab } from '../../lab/with-lab.js';
import { launchChromium, skipWithoutChromium, loopbackOnlyPage, type LaunchedBrowser } from './browser.js';
import { RendererBridge } from './bridge-server.js';
import { checkAccessibility } from './a11y.js';
import { waitFor } from './real-engine.js';
import { shot, TestLogger } from './support.js';
import { LocalClient } from '../../../main/client/localapi-client.js';

const PATH_LINE = /^(direct|relayed) · [\d.]+ ms$/;

/** Presses the row's Ping (what a user does to measure again) and returns the row's path line once answered. */
async function pingRow(page: Page, name: string): Promise<{ text: string; title: string }> {
  const row = page.locator(`[data-peer-name="${name}"]`);
  await row.getByRole('button', { name: `Ping ${name}` }).click();
  await waitFor(`${name} ping answered`, async () => ((await row.getByRole('button', { name: `Ping ${name}` }).getAttribute('aria-busy')) === 'false' ? true : undefined), 15_000, 100);
  const path = row.getByTestId('peer-path');
  return { text: await path.innerText(), title: (await path.getAttribute('title')) ?? '' };
}

test('lab: device list on m1 (meshtrayd, real data plane): a1 direct with its latency, b1 (UDP blocked) relayed, as the engine\'s ping says', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t, 'lab device-list test')) return;
  await withLab(
    t,
    {
      name: 'renderer-paths-lab',
      derpRegions: 1,
      hosts: [
        { name: 'a1', nat: 'easy' },
        { name: 'b1', nat: 'udp-blocked' },
        { name: 'm1', nat: 'easy', peer: 'meshtrayd' },
      ],
    },
    async (lab) => {
      const m1 = lab.peer('m1');
      const log = new TestLogger();
      // The LocalAPI socket is a file: reachable from the test's namespace, like the CLI reaches it.
      const engine = new LocalClient({ socketPath: m1.socket, timeoutMs: 20_000 });
      const bridge = new RendererBridge({ engine, opener: { openExternal: async () => undefined }, log });
      let chromium: LaunchedBrowser | undefined;
      let page: Page | undefined;
      try {
        await bridge.start();
        chromium = await launchChromium();
        const pg = await loopbackOnlyPage(chromium.browser);
        page = pg;
        const pageErrors: string[] = [];
        pg.on('pageerror', (e) => pageErrors.push(e.message));
        await pg.goto(bridge.url);
        await waitFor('Connected', async () => ((await pg.getByTestId('connection-state').innerText()) === 'Connected' ? true : undefined), 60_000);
        for (const n of ['a1', 'b1']) await pg.locator(`[data-peer-name="${n}"]`).waitFor({ timeout: 30_000 });
        // b1 (UDP blocked) is reachable only through its home DERP, which it reports to Headscale
        // after its first netcheck; Headscale passes it on to m1 in a later delta (slow under load).
        // Until m1's engine knows it (Status Relay), nothing can reach b1 (tailscale behaves the same).
        const t0 = Date.now();
        await waitFor('m1 knows b1\'s home DERP', async () => (Object.values((await engine.call('status', {})).Peer ?? {}).find((p) => p.HostName === 'b1')?.Relay ? true : undefined), 60_000, 500);
        t.diagnostic(`m1 learned b1's home DERP ${Date.now() - t0} ms after the window showed it`);

        // The rows in view are measured on their own: each shows a path and a latency.
        for (const n of ['a1', 'b1']) {
          await waitFor(`${n} path + latency`, async () => (PATH_LINE.test(await pg.locator(`[data-peer-name="${n}"]`).getByTestId('peer-path').innerText()) ? true : undefined), 45_000, 250);
        }
        await shot(pg, 'lab-paths-1-measured');

        // a1: the first pongs may come over DERP while the NATs are punched; pressing Ping again (as
        // a user would) soon shows the direct path, with the endpoint the engine's own ping reports.
        const st = await m1.status();
        const a1ip = Object.values(st.Peer ?? {}).find((p) => p.HostName === 'a1')!.TailscaleIPs.find((x) => !x.includes(':'))!;
        const b1ip = Object.values(st.Peer ?? {}).find((p) => p.HostName === 'b1')!.TailscaleIPs.find((x) => !x.includes(':'))!;
        const a1 = await waitFor('a1 direct in the window', async () => {
          const r = await pingRow(pg, 'a1');
          return r.text.startsWith('direct · ') ? r : undefined;
        }, 60_000, 1_000);
        assert.match(a1.text, PATH_LINE);
        const shownEndpoint = /last ping: direct (\S+)$/.exec(a1.title)?.[1];
        assert.ok(shownEndpoint, `the row's detail names the endpoint: ${a1.title}`);
        const engineA1 = await engine.call('ping', { Target: a1ip, TimeoutMs: 5_000 });
        assert.equal(engineA1.Endpoint, shownEndpoint, 'the window shows the path the engine pings over');

        // b1 drops all UDP: only DERP carries it, and the window says relayed (region lab1).
        const b1 = await pingRow(pg, 'b1');
        assert.match(b1.text, /^relayed · [\d.]+ ms$/);
        assert.match(b1.title, /last ping: DERP \S+$/);
        const engineB1 = await engine.call('ping', { Target: b1ip, TimeoutMs: 5_000 });
        assert.equal(engineB1.Endpoint, undefined, 'the engine has no direct path to b1 either');
        assert.equal(b1.title.endsWith(`DERP ${engineB1.DERPRegionCode}`), true, `${b1.title} vs ${engineB1.DERPRegionCode}`);
        await shot(pg, 'lab-paths-2-direct-and-relayed');

        const a11y = await checkAccessibility(pg);
        assert.deepEqual([a11y.unnamed, a11y.unreachable, a11y.violations], [[], [], []], 'device list with measured paths: a11y');
        assert.deepEqual(pageErrors, []);
        t.diagnostic(`a1: ${a1.text} (${a1.title}); b1: ${b1.text} (${b1.title})`);
      } catch (e) {
        if (page) await shot(page, 'FAILED-lab-paths').catch(() => undefined);
        process.stderr.write(`--- bridge log ---\n${log.lines.slice(-30).join('\n')}\n`);
        throw e;
      } finally {
        await bridge.stop();
        await chromium?.close();
      }
    },
  );
});
