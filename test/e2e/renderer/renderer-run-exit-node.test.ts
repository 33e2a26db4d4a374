// "Run as exit node" from the window, against real peers in the namespace lab: meshtrayd on m1
// (behind an easy NAT, advertising its own LAN as a subnet route), tailscaled on a1, the lab's
// Headscale and echo host. The app side (renderer bridge) and Chromium run in m1's namespace. The
// window's toggle edits the engine's prefs (the subnet stays advertised), the window says "waiting
// for approval" until the admin approves the exit routes in Headscale and "approved" once control
// has put them into m1's own AllowedIPs; then a1 (`tailscale set --exit-node=<m1's IP>`) reaches
// the echo host from m1's NAT address (the engine forwards + SNATs). Toggled off: a1's internet
// traffic through m1 stops (tailscaled drops it rather than leak it), and the window says Off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { withLab } from '../../lab/with-lab.js';
import { peerByHostName } from '../../lab/peer-output.js';
import { launchChromiumInNamespace, loopbackOnlyPage, skipWithoutChromium, type LaunchedBrowser } from './browser.js';
import { checkAccessibility } from './a11y.js';
import { startBridgeInNamespace, type BridgeProcess } from './bridge-process.js';
import { waitFor } from './real-engine.js';
import { shot } from './support.js';
import { LocalClient } from '../../../main/client/localapi-client.js';

const EXIT = ['0.0.0.0/0', '::/0'];

test('lab: "Run as exit node" in the window on m1 (meshtrayd): offered, waiting, approved in Headscale, a1 exits through m1; off stops it', { timeout: 420_000 }, async (t) => {
  if (skipWithoutChromium(t, 'lab run-exit-node renderer test')) return;
  await withLab(
    t,
    {
      name: 'renderer-run-exit-node',
      derpRegions: 1,
      hosts: [
        { name: 'a1', nat: 'easy' },
        { name: 'm1', nat: 'easy', peer: 'meshtrayd' },
      ],
    },
    async (lab) => {
      const hs = lab.headscale;
      const web = await lab.addWebHost();
      const m1 = lab.peer('m1');
      const a1 = lab.peer('a1');
      const m1Host = lab.host('m1');
      const ns = lab.ns('m1');
      const lanRoute = `${m1Host.router!.lanPrefix}.0/24`;
      const seenFromA1 = async () => (await lab.exec('a1', ['curl', '-s', '--max-time', '4', `http://${web.ip}/`], 15_000)).stdout.trim();
      const engine = new LocalClient({ socketPath: m1.socket });
      /** `meshtray debug prefs` in m1's namespace, as a user would read it. */
      const debugPrefs = async (): Promise<{ AdvertiseRoutes: string[]; ExitNodeID: string }> => {
        const r = await m1.cli(['debug', 'prefs'], 15_000);
        assert.equal(r.code, 0, `meshtray debug prefs: ${r.stderr}`);
        return JSON.parse(r.stdout) as { AdvertiseRoutes: string[]; ExitNodeID: string };
      };
      let bridge: BridgeProcess | undefined;
      let chromium: LaunchedBrowser | undefined;
      let page: Page | undefined;
      const pageErrors: string[] = [];
      try {
        // m1 already offers its own LAN as a subnet (as a user might have via the CLI); the toggle must keep it.
        await engine.call('editPrefs', { AdvertiseRoutes: [lanRoute] });
        const st = await m1.status();
        const m1ip = (st.Self?.TailscaleIPs ?? []).find((x) => !x.includes(':'));
        assert.ok(m1ip, 'm1 has a tailnet IPv4');
        bridge = await startBridgeInNamespace(ns, m1.socket);
        const url = bridge.url;
        chromium = await launchChromiumInNamespace(ns);
        const pg = await loopbackOnlyPage(chromium.browser);
        page = pg;
        pg.on('pageerror', (err) => pageErrors.push(err.message));
        await pg.goto(url);
        await waitFor('Connected', async () => ((await pg.getByTestId('connection-state').innerText()) === 'Connected' ? true : undefined), 60_000);
        await pg.getByRole('button', { name: 'Exit node' }).click();
        const toggle = pg.getByRole('checkbox', { name: 'Run as exit node' });
        const stateLine = pg.getByTestId('run-exit-node-state');
        const windowSays = async (state: string, text: string, ms = 30_000) =>
          waitFor(`window says ${state}`, async () => ((await stateLine.getAttribute('data-state')) === state && (await stateLine.innerText()) === text ? true : undefined), ms, 300);

        // ---- Off: as the engine says; the box is unchecked and usable.
        await windowSays('off', 'Off: this device is not offered as an exit node.');
        assert.equal(await toggle.isChecked(), false);
        assert.equal(await toggle.isEnabled(), true);
        await shot(pg, 'run-exit-1-off');
        const a11y = await checkAccessibility(pg);
        assert.deepEqual(a11y.unnamed, [], 'exit-node screen: controls without an accessible name');
        assert.deepEqual(a11y.unreachable, [], 'exit-node screen: controls Tab never reaches');
        assert.deepEqual(a11y.violations, [], 'exit-node screen: axe (WCAG 2.1 A/AA) violations');

        // ---- On (keyboard: focus + Space): prefs advertise both /0s after the subnet; the window waits for approval.
        await toggle.focus();
        await pg.keyboard.press('Space');
        await waitFor('engine prefs advertise the exit routes', async () => ((await debugPrefs()).AdvertiseRoutes.includes('::/0') ? true : undefined), 20_000, 300);
        assert.deepEqual((await debugPrefs()).AdvertiseRoutes, [lanRoute, ...EXIT], 'meshtray debug prefs: the subnet kept, both exit routes added');
        assert.deepEqual((await engine.call('getPrefs', {})).AdvertiseRoutes, [lanRoute, ...EXIT], 'getPrefs agrees');
        await windowSays('waiting', 'Offered, waiting for approval: an admin must approve this device as an exit node on the control server.');
        assert.equal(await toggle.isChecked(), true);
        await waitFor('Headscale sees m1 offering an exit node', async () => ((await hs.nodeByName('m1'))?.available_routes ?? []).includes('0.0.0.0/0') || undefined, 30_000, 300);
        const m1Node = await hs.nodeByName('m1');
        assert.ok(m1Node, 'm1 in Headscale');
        assert.deepEqual([...(m1Node.available_routes ?? [])].sort(), [...EXIT, lanRoute].sort(), 'Headscale has exactly what the window asked for');
        // Still not approved: the state line has not moved on by itself.
        assert.equal(await stateLine.getAttribute('data-state'), 'waiting');
        await shot(pg, 'run-exit-2-waiting');

        // ---- The admin approves the exit routes: the window says approved (from m1's own AllowedIPs).
        await hs.approveRoutes(m1Node.id, EXIT);
        // Headscale v0.29.2 tells the PEERS at once (a1 sees m1 offer an exit node), but sends m1 its
        // own node only with its next self update: SetApprovedRoutes turns the change into a
        // PolicyChange without OriginNode, and policyChangeResponse adds the self node only for
        // self-updates (hscontrol/state/state.go SetApprovedRoutes, mapper/batcher.go). Seen in
        // this test both ways (arrived in 2 s when m1's own Hostinfo update was still batched; never
        // within 30 s when not). So: wait a while; if m1 has not heard, turn it off and on again
        // from the window (m1 re-announces, Headscale answers with m1's node, approval included).
        await a1.waitStatus('a1 sees m1 as an exit-node option', (s) => peerByHostName(s, 'm1')?.ExitNodeOption === true, 60_000); // Headscale's batcher is slow under load
        const heard = await windowSays('approved', 'Approved: other devices can use this one as their exit node.', 15_000).then(() => true, () => false);
        let heardAfterReoffer = false;
        if (!heard) {
          t.diagnostic('m1 was not sent its own node after approve-routes (Headscale: PolicyChange without self); re-offering from the window');
          assert.equal(await stateLine.getAttribute('data-state'), 'waiting', 'until the engine hears of the approval, the window keeps waiting');
          await shot(pg, 'run-exit-2b-approved-but-not-told');
          await toggle.click();
          await windowSays('off', 'Off: this device is not offered as an exit node.');
          await toggle.click();
          await waitFor('engine prefs advertise the exit routes again', async () => ((await debugPrefs()).AdvertiseRoutes.includes('::/0') ? true : undefined), 20_000, 300);
          heardAfterReoffer = await windowSays('approved', 'Approved: other devices can use this one as their exit node.').then(() => true, () => false);
        }
        const self = (await m1.status()).Self;
        const selfApproved = EXIT.every((r) => self?.AllowedIPs?.includes(r));
        if (heard || heardAfterReoffer) {
          assert.ok(selfApproved, `status Self.AllowedIPs holds both /0s: ${JSON.stringify(self?.AllowedIPs)}`);
        } else {
          // Headscale still has not sent m1 its own node (seen under CI load). The window must still
          // say what the engine knows, nothing more: waiting, with the /0s absent from Self.AllowedIPs.
          t.diagnostic('Headscale did not send m1 its own node even after re-offering; checking the window agrees with the engine');
          assert.equal(selfApproved, false);
          assert.equal(await stateLine.getAttribute('data-state'), 'waiting', 'the window says what the engine knows');
        }
        await shot(pg, 'run-exit-3-approved');
        const a11yOn = await checkAccessibility(pg);
        assert.deepEqual([a11yOn.unnamed, a11yOn.unreachable, a11yOn.violations], [[], [], []], 'exit-node screen (approved): a11y');

        // ---- a1 (tailscaled) uses m1: the echo host sees m1's NAT address for a1's request.
        assert.equal(await seenFromA1(), lab.host('a1').publicIp, "before: a1's own NAT");
        await a1.waitStatus('a1 sees m1 as an exit-node option (again)', (s) => peerByHostName(s, 'm1')?.ExitNodeOption === true, 60_000); // Headscale's batcher is slow under load
        const set = await a1.cli(['set', `--exit-node=${m1ip}`]);
        assert.equal(set.code, 0, `tailscale set --exit-node=${m1ip}: ${set.stderr}`);
        await waitFor(`echo host sees m1's NAT (${m1Host.publicIp}) for a1`, async () => ((await seenFromA1()) === m1Host.publicIp ? true : undefined), 45_000, 500);

        // ---- Off from the window: prefs keep the subnet only; a1's exit traffic stops; the window says Off.
        await toggle.click();
        await waitFor('engine prefs withdraw the exit routes', async () => (!(await debugPrefs()).AdvertiseRoutes.includes('0.0.0.0/0') ? true : undefined), 20_000, 300);
        assert.deepEqual((await debugPrefs()).AdvertiseRoutes, [lanRoute], 'the subnet is still advertised');
        await windowSays('off', 'Off: this device is not offered as an exit node.');
        assert.equal(await toggle.isChecked(), false);
        await a1.waitStatus('a1 no longer offered m1 as an exit node', (s) => peerByHostName(s, 'm1')?.ExitNodeOption === false, 30_000);
        // tailscaled keeps the choice and drops internet traffic instead of leaking it: the request times out.
        const after = await waitFor("a1's request no longer leaves through m1", async () => {
          const s = await seenFromA1();
          return s === m1Host.publicIp ? undefined : { seen: s };
        }, 30_000, 500);
        assert.equal(after.seen, '', `a1's request times out (seen: ${after.seen || 'nothing'})`);
        const a1Status = await a1.cli(['status'], 15_000);
        t.diagnostic(`a1 tailscale status after m1 stopped: ${a1Status.stdout.split('\n').filter((l) => /exit|m1/i.test(l)).join(' | ')}`);
        await shot(pg, 'run-exit-4-off-again');
        assert.deepEqual(pageErrors, []);
      } catch (e) {
        if (page) await shot(page, 'FAILED-run-exit-node').catch(() => undefined);
        process.stderr.write(`--- bridge (m1) ---\n${bridge?.output().slice(-3000) ?? ''}\n`);
        throw e;
      } finally {
        await chromium?.close();
        bridge?.stop();
      }
    },
  );
});
