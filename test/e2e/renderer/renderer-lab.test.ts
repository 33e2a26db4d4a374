// The window against Meshtray's engine in the namespace lab (lab.md §6): meshtrayd on host m1
// behind its NAT, tailscaled on a1 (behind NAT), x1 (public, exit node with approved routes) and sr
// (a subnet router for 10.20.0.0/24 with lanhost behind it), the lab's Headscale, and the lab's
// echo host (answers with the source address it saw). The app side (renderer bridge) and Chromium
// run inside m1's namespace, next to the daemon, as on a user's machine. Sign in from the window,
// see the tailscaled peers appear, then every change made in the window is checked where it takes
// effect: the echo host sees x1's address while x1 is the exit node and m1's NAT address without,
// table 52 in m1's namespace gains/loses the LAN throw route (LAN access) and sr's subnet route (Use
// subnets), m1's resolv.conf gains/loses quad-100 and a1's name resolves or not (MagicDNS); the
// Route check view gives the engine's own `why` answer (compared with the LocalAPI's) each time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { withLab } from '../../lab/with-lab.js';
import { launchChromiumInNamespace, loopbackOnlyPage, skipWithoutChromium, type LaunchedBrowser } from './browser.js';
import { checkAccessibility } from './a11y.js';
import { startBridgeInNamespace, type BridgeProcess } from './bridge-process.js';
import { waitFor } from './real-engine.js';
import { shot } from './support.js';
import { LocalClient } from '../../../main/client/localapi-client.js';
import type { WhyAnswerWire } from '../../../common/contract/api.js';

interface CliPrefs { ExitNodeID: string; ExitNodeAllowLANAccess: boolean; RouteAll: boolean; CorpDNS: boolean }

/** What the Route check view shows for one question. */
interface UiWhy { verdict: string; node: string; cli: string; headline: string }

/** Types `dest` into the Route check, presses Check and reads the answer the window shows. */
async function askWindow(page: Page, dest: string): Promise<UiWhy> {
  await page.getByRole('button', { name: 'Route check' }).click();
  await page.getByLabel('Address or device name').fill(dest);
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  // While asking, the button reads "Checking…"; an answer or an error replaces the previous one.
  await page.getByRole('button', { name: 'Check', exact: true }).waitFor({ timeout: 20_000 });
  const ans = page.getByTestId('route-answer');
  if (!(await ans.isVisible())) throw new Error(`no answer for ${dest}: ${await page.getByTestId('route-error').innerText().catch(() => '(no error either)')}`);
  return {
    verdict: (await ans.getAttribute('data-verdict')) ?? '',
    node: (await ans.getAttribute('data-node')) ?? '',
    cli: await page.getByTestId('route-cli-line').innerText(),
    headline: await page.getByTestId('route-headline').innerText(),
  };
}

test('lab: window on m1 (meshtrayd): sign in, peers, exit node seen by the echo host, LAN/subnets/MagicDNS take effect in the OS, Route check = meshtray why', { timeout: 480_000 }, async (t) => {
  if (skipWithoutChromium(t, 'lab renderer test')) return;
  await withLab(
    t,
    {
      name: 'renderer-lab',
      derpRegions: 1,
      hosts: [
        { name: 'a1', nat: 'easy' },
        { name: 'x1', nat: 'none', ipForward: true, upArgs: ['--advertise-exit-node'] },
        { name: 'sr', nat: 'none', ipForward: true, lan: { prefix: '10.20.0', hosts: ['lanhost'] }, upArgs: ['--advertise-routes=10.20.0.0/24'] },
        { name: 'm1', nat: 'easy', peer: 'meshtrayd', join: false },
      ],
    },
    async (lab) => {
      const hs = lab.headscale;
      const x1 = await hs.nodeByName('x1');
      assert.ok(x1, 'x1 joined');
      await hs.approveRoutes(x1.id, ['0.0.0.0/0', '::/0']);
      const srNode = await hs.nodeByName('sr');
      assert.ok(srNode, 'sr joined');
      await hs.approveRoutes(srNode.id, ['10.20.0.0/24']);
      const web = await lab.addWebHost();
      const m1 = lab.peer('m1');
      const m1Host = lab.host('m1');
      const ns = lab.ns('m1');
      const inM1 = (argv: string[], ms = 15_000) => lab.exec('m1', argv, ms);
      const seen = async () => (await inM1(['curl', '-s', '--max-time', '4', `http://${web.ip}/`])).stdout.trim();
      const table52 = async () => (await inM1(['ip', 'route', 'show', 'table', '52'])).stdout;
      const resolvPath = join('/etc/netns', m1Host.ns, 'resolv.conf');
      const quad100 = () => /^nameserver 100\.100\.100\.100$/m.test(readFileSync(resolvPath, 'utf8'));
      const lanPrefix = `${m1Host.router!.lanPrefix}.0/24`;
      const lanGw = `${m1Host.router!.lanPrefix}.1`;
      const lanhost = lab.host('lanhost').ip;
      let bridge: BridgeProcess | undefined;
      let chromium: LaunchedBrowser | undefined;
      let page: Page | undefined;
      const pageErrors: string[] = [];
      try {
        bridge = await startBridgeInNamespace(ns, m1.socket);
        const url = bridge.url;
        chromium = await launchChromiumInNamespace(ns);
        const pg = await loopbackOnlyPage(chromium.browser);
        page = pg;
        pg.on('pageerror', (err) => pageErrors.push(err.message));
        await pg.goto(url);
        // The engine's own answer, over its LocalAPI socket (a file, reachable from the test's namespace).
        const engine = new LocalClient({ socketPath: m1.socket });
        const cliPrefs = async (): Promise<CliPrefs> => engine.call('getPrefs', {});
        const connState = () => pg.getByTestId('connection-state').innerText();
        /**
         * The window's Route check, the engine's `why` over the LocalAPI, and `meshtray why` as a user
         * types it in m1's namespace give the same answer. The path part of the line may change
         * between asks (relayed → direct), so a mismatch is asked again a few times before it counts.
         */
        const sameAnswer = async (dest: string): Promise<{ ui: UiWhy; eng: WhyAnswerWire }> => {
          let ui: UiWhy | undefined;
          let eng: WhyAnswerWire | undefined;
          let cliLine = '';
          for (let i = 0; i < 5; i++) {
            ui = await askWindow(pg, dest);
            eng = await engine.call('why', { Dest: dest });
            const r = await m1.cli(['why', dest], 15_000);
            assert.equal(r.code, 0, `meshtray why ${dest}: ${r.stderr}`);
            cliLine = r.stdout.trim();
            if (ui.cli === eng.text && cliLine === eng.text) break;
            await new Promise((res) => setTimeout(res, 500));
          }
          assert.equal(ui!.cli, eng!.text, `window and engine agree on ${dest}`);
          assert.equal(cliLine, ui!.cli, `window and meshtray why agree on ${dest}`);
          assert.equal(ui!.verdict, eng!.verdict);
          assert.equal(ui!.node, eng!.node?.name ?? '');
          t.diagnostic(`meshtray why ${dest}: ${cliLine} | window: ${ui!.headline}`);
          return { ui: ui!, eng: eng! };
        };
        /** Which peer the engine's status (`meshtray status --json`) marks as the exit node in use. */
        const exitInStatus = async () => Object.values((await m1.status()).Peer ?? {}).find((p) => p.ExitNode)?.HostName ?? '';

        // ---- Sign in: the server check runs from m1's namespace, then the AuthURL; the admin approves it.
        await pg.getByLabel('Login server').fill(lab.loginServer);
        await pg.getByRole('button', { name: 'Check server' }).click();
        await pg.getByTestId('server-check').getByText('is a reachable control server').waitFor({ timeout: 20_000 });
        await pg.getByRole('button', { name: 'Log in' }).click();
        const authURL = await bridge.opened(0);
        await hs.registerAuthId(new URL(authURL).pathname.split('/').filter(Boolean).at(-1)!, lab.user.name);
        await waitFor('Connected', async () => ((await connState()) === 'Connected' ? true : undefined), 60_000);
        for (const n of ['a1', 'x1', 'sr']) await pg.locator(`[data-peer-name="${n}"]`).waitFor({ timeout: 30_000 });
        await shot(pg, 'lab-1-peers');
        const st = await m1.status();
        const x1Peer = Object.values(st.Peer ?? {}).find((p) => p.HostName === 'x1');
        const a1Peer = Object.values(st.Peer ?? {}).find((p) => p.HostName === 'a1');
        assert.ok(x1Peer?.ExitNodeOption, 'engine sees x1 as an exit-node option');
        assert.ok(a1Peer, 'engine sees a1');
        const a1ip = a1Peer.TailscaleIPs.find((x) => !x.includes(':'))!;

        // ---- Before any exit node: the echo host sees m1's NAT; the Route check says so.
        await waitFor('echo host sees m1 NAT', async () => ((await seen()) === m1Host.publicIp ? true : undefined), 20_000);
        // The engine says Running once it has a netmap and installs its routes right after; the
        // route check answers from the installed table, so wait until the engine can answer.
        await waitFor('engine route table installed', async () => ((await engine.call('why', { Dest: a1ip })).verdict === 'peer' ? true : undefined), 30_000, 300);
        const peerAns = await sameAnswer(a1ip);
        assert.equal(peerAns.ui.verdict, 'peer');
        assert.equal(peerAns.ui.headline, 'Through the tunnel to a1.');
        assert.ok(peerAns.eng.path && peerAns.eng.path.kind !== 'unknown', `a path from the data plane: ${JSON.stringify(peerAns.eng.path)}`);
        assert.match(await pg.getByTestId('route-path').innerText(), /^(Direct connection to a1 at \S+|Relayed through DERP region \S+)/);
        // The latency comes from a disco ping the engine sends to a1.
        const latency = await waitFor('latency line', async () => {
          const l = await pg.getByTestId('route-latency').innerText();
          return l === 'Measuring…' ? undefined : l;
        }, 10_000);
        assert.match(latency, /^[\d.]+ ms \((direct, \S+|via DERP \S+)\)$/);
        await shot(pg, 'lab-2-route-check-peer');
        const a11y = await checkAccessibility(pg);
        assert.deepEqual(a11y.unnamed, [], 'route check: controls without an accessible name');
        assert.deepEqual(a11y.unreachable, [], 'route check: controls Tab never reaches');
        const webBefore = await sameAnswer(web.ip);
        assert.equal(webBefore.ui.verdict, 'not-routed');
        assert.equal(webBefore.ui.headline, "Not through the tailnet: out through this device's own network (the default route).");
        // Bad input: the engine's refusal, said plainly; nothing else on screen pretends to answer.
        // (Keyboard only, as a keyboard user would: focus the field, type, Enter.)
        await pg.getByLabel('Address or device name').focus();
        await pg.keyboard.press('Control+A');
        await pg.keyboard.type('no-such-device');
        await pg.keyboard.press('Enter');
        await pg.getByTestId('route-error').getByText('"no-such-device" is not an IP address or a device in your tailnet.').waitFor({ timeout: 10_000 });
        assert.match(await pg.getByTestId('route-error').innerText(), /The engine said: "no-such-device" is neither an IP address nor a tailnet name/);
        assert.equal(await pg.getByTestId('route-answer').count(), 0);
        await assert.rejects(engine.call('why', { Dest: 'no-such-device' }), (e: unknown) => (e as { code?: string }).code === 'ERR_NO_SUCH_PEER');
        await shot(pg, 'lab-3-route-check-bad-input');

        // ---- Exit node x1: the engine's prefs, the status line, and the echo host sees x1.
        await pg.getByRole('button', { name: 'Exit node' }).click();
        // The picker measures each online exit node's latency through the engine (a disco ping).
        await pg.getByRole('radio', { name: /^x1 · \d+ ms$/ }).waitFor({ timeout: 15_000 });
        await pg.getByRole('radio', { name: /^x1/ }).click();
        await waitFor('engine ExitNodeID', async () => ((await cliPrefs()).ExitNodeID === x1Peer.ID ? true : undefined), 20_000);
        await waitFor('status line: exit node x1', async () => ((await connState()) === 'Connected · using an exit node (x1)' ? true : undefined), 20_000);
        assert.equal(await exitInStatus(), 'x1', 'the engine status marks x1 as the exit node');
        await waitFor(`echo host sees x1 (${lab.host('x1').publicIp})`, async () => ((await seen()) === lab.host('x1').publicIp ? true : undefined), 30_000, 500);
        await shot(pg, 'lab-4-exit-node-x1');
        const webExit = await sameAnswer(web.ip);
        assert.equal(webExit.ui.verdict, 'exit-node');
        assert.equal(webExit.ui.node, 'x1');
        assert.equal(webExit.ui.headline, 'Through exit node x1.');
        await shot(pg, 'lab-5-route-check-exit-node');

        // ---- Allow LAN access: table 52 gains the throw route for m1's own LAN; why changes with it.
        assert.doesNotMatch(await table52(), new RegExp(`^throw ${lanPrefix.replace(/\./g, '\\.')}`, 'm'));
        assert.equal((await sameAnswer(lanGw)).ui.verdict, 'exit-node', 'own LAN goes to the exit node without LAN access');
        await pg.getByRole('button', { name: 'Exit node' }).click();
        await pg.getByLabel('Allow LAN access').click();
        await waitFor('engine LAN access on', async () => ((await cliPrefs()).ExitNodeAllowLANAccess ? true : undefined), 20_000);
        await waitFor('table 52 throw for the LAN', async () => (new RegExp(`^throw ${lanPrefix.replace(/\./g, '\\.')}`, 'm').test(await table52()) ? true : undefined), 20_000);
        await waitFor('LAN box checked', async () => ((await pg.getByLabel('Allow LAN access').isChecked()) ? true : undefined), 10_000);
        await shot(pg, 'lab-6-lan-access-on');
        const lanOn = await sameAnswer(lanGw);
        assert.equal(lanOn.ui.verdict, 'local-lan');
        assert.match(lanOn.ui.headline, /^On your local network/);
        await shot(pg, 'lab-7-route-check-lan');
        await pg.getByRole('button', { name: 'Exit node' }).click();
        await pg.getByLabel('Allow LAN access').click();
        await waitFor('engine LAN access off', async () => (!(await cliPrefs()).ExitNodeAllowLANAccess ? true : undefined), 20_000);
        await waitFor('table 52 throw gone', async () => (!new RegExp(`^throw ${lanPrefix.replace(/\./g, '\\.')}`, 'm').test(await table52()) ? true : undefined), 20_000);
        assert.equal((await sameAnswer(lanGw)).ui.verdict, 'exit-node');

        // ---- Exit node None: the echo host sees m1's own NAT again, the status line drops the exit node.
        await pg.getByRole('button', { name: 'Exit node' }).click();
        await pg.getByRole('radio', { name: /^None/ }).click();
        await waitFor('engine ExitNodeID cleared', async () => ((await cliPrefs()).ExitNodeID === '' ? true : undefined), 20_000);
        await waitFor('status line: no exit node', async () => ((await connState()) === 'Connected' ? true : undefined), 20_000);
        assert.equal(await exitInStatus(), '', 'no peer is the exit node in the engine status');
        await waitFor('echo host sees m1 NAT again', async () => ((await seen()) === m1Host.publicIp ? true : undefined), 30_000, 500);
        await shot(pg, 'lab-8-exit-node-none');
        assert.equal((await sameAnswer(web.ip)).ui.verdict, 'not-routed');

        // ---- Use subnets: sr's approved 10.20.0.0/24 appears in table 52 and lanhost answers through sr.
        await pg.getByRole('button', { name: 'Settings' }).click();
        const before = await cliPrefs();
        assert.equal(before.RouteAll, false, 'accept-routes starts off (the default on Linux)');
        assert.doesNotMatch(await table52(), /^10\.20\.0\.0\/24 /m);
        const srOff = await sameAnswer(lanhost);
        assert.equal(srOff.ui.verdict, 'not-routed');
        assert.match(srOff.eng.reason, /sr offers 10\.20\.0\.0\/24 but accept-routes is off/);
        await pg.getByRole('button', { name: 'Settings' }).click();
        await pg.getByLabel('Use subnets').click();
        await waitFor('engine RouteAll on', async () => ((await cliPrefs()).RouteAll ? true : undefined), 20_000);
        await waitFor('table 52 has sr\'s subnet', async () => (/^10\.20\.0\.0\/24 dev /m.test(await table52()) ? true : undefined), 30_000);
        await waitFor('lanhost answers through sr', async () => ((await inM1(['ping', '-c', '1', '-W', '2', lanhost])).code === 0 ? true : undefined), 45_000, 500);
        await shot(pg, 'lab-9-subnets-on');
        const srOn = await sameAnswer(lanhost);
        assert.equal(srOn.ui.verdict, 'subnet-router');
        assert.equal(srOn.ui.headline, 'Through sr, the subnet router for 10.20.0.0/24.');
        await shot(pg, 'lab-10-route-check-subnet');
        await pg.getByRole('button', { name: 'Settings' }).click();
        await pg.getByLabel('Use subnets').click();
        await waitFor('engine RouteAll off', async () => (!(await cliPrefs()).RouteAll ? true : undefined), 20_000);
        await waitFor('table 52 lost sr\'s subnet', async () => (!/^10\.20\.0\.0\/24 /m.test(await table52()) ? true : undefined), 20_000);
        assert.equal((await sameAnswer(lanhost)).ui.verdict, 'not-routed');
        // A change made elsewhere (here the LocalAPI, as the CLI or tray would) while an answer is on
        // screen: the window says the answer may be out of date instead of keeping a stale truth.
        assert.equal(await pg.getByTestId('route-stale').count(), 0);
        await engine.call('editPrefs', { RouteAll: true });
        await pg.getByTestId('route-stale').waitFor({ timeout: 10_000 });
        await shot(pg, 'lab-10b-route-check-stale');
        await waitFor('table 52 has sr\'s subnet again', async () => (/^10\.20\.0\.0\/24 dev /m.test(await table52()) ? true : undefined), 30_000);
        assert.equal((await sameAnswer(lanhost)).ui.verdict, 'subnet-router');
        assert.equal(await pg.getByTestId('route-stale').count(), 0, 'a fresh answer is not stale');
        await engine.call('editPrefs', { RouteAll: false });
        await waitFor('RouteAll off again', async () => (!(await cliPrefs()).RouteAll ? true : undefined), 20_000);

        // ---- Use MagicDNS: m1's resolv.conf points at quad-100 and a1's short name resolves; off: neither.
        const dnsOn = (await cliPrefs()).CorpDNS;
        assert.equal(dnsOn, true, 'MagicDNS is on after a login from the window (the default)');
        await waitFor('resolv.conf has quad-100', () => (quad100() ? true : undefined), 20_000);
        const getentA1 = async () => (await inM1(['getent', 'hosts', 'a1'], 10_000)).stdout;
        await waitFor('a1 resolves', async () => (new RegExp(`^${a1ip.replace(/\./g, '\\.')}\\s+a1\\.`).test(await getentA1()) ? true : undefined), 20_000);
        await pg.getByRole('button', { name: 'Settings' }).click();
        await pg.getByLabel('Use MagicDNS').click();
        await waitFor('engine CorpDNS off', async () => (!(await cliPrefs()).CorpDNS ? true : undefined), 20_000);
        await waitFor('resolv.conf without quad-100', () => (!quad100() ? true : undefined), 20_000);
        assert.equal((await inM1(['getent', 'hosts', 'a1'], 10_000)).code !== 0, true, 'a1 no longer resolves');
        await waitFor('MagicDNS box unchecked', async () => (!(await pg.getByLabel('Use MagicDNS').isChecked()) ? true : undefined), 10_000);
        await shot(pg, 'lab-11-magicdns-off');
        await pg.getByLabel('Use MagicDNS').click();
        await waitFor('engine CorpDNS on', async () => ((await cliPrefs()).CorpDNS ? true : undefined), 20_000);
        await waitFor('resolv.conf has quad-100 again', () => (quad100() ? true : undefined), 20_000);
        await waitFor('a1 resolves again', async () => (new RegExp(`^${a1ip.replace(/\./g, '\\.')}\\s+a1\\.`).test(await getentA1()) ? true : undefined), 20_000);
        await shot(pg, 'lab-12-settings');
        assert.deepEqual(pageErrors, []);
      } catch (e) {
        if (page) await shot(page, 'FAILED-lab').catch(() => undefined);
        process.stderr.write(`--- bridge (m1) ---\n${bridge?.output().slice(-3000) ?? ''}\n`);
        throw e;
      } finally {
        await chromium?.close();
        bridge?.stop();
      }
    },
  );
});
