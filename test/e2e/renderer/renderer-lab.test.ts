// The window against Meshtray's engine in the namespace lab (lab.md §6): meshtrayd on host m1
// behind its NAT, tailscaled on a1 (behind NAT) and x1 (public, exit node with approved routes),
// the lab's Headscale. The app side (renderer bridge) and Chromium run inside m1's namespace, next
// to the daemon, as on a user's machine. Sign in from the window, see the tailscaled peers appear,
// pick the exit node, toggle LAN access / subnets / MagicDNS, and read each change back from the
// engine's LocalAPI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLab } from '../../lab/with-lab.js';
import { CHROMIUM, chromiumUnavailable, launchChromium, loopbackOnlyPage, type LaunchedBrowser } from './browser.js';
import { repoRoot, runningCompiled } from './paths.js';
import { waitFor } from './real-engine.js';
import { shot } from './support.js';
import { LocalClient } from '../../../main/client/localapi-client.js';

interface CliPrefs { ExitNodeID: string; ExitNodeAllowLANAccess: boolean; RouteAll: boolean; CorpDNS: boolean }

test('lab: window on m1 (meshtrayd) signs in, sees tailscaled peers, picks the exit node, toggles prefs', { timeout: 300_000 }, async (t) => {
  const noBrowser = chromiumUnavailable();
  if (noBrowser) {
    if (process.env.CI === 'true') throw new Error(noBrowser);
    process.stderr.write(`\n!!! SKIPPING lab renderer test: ${noBrowser}\n\n`);
    return t.skip(noBrowser);
  }
  await withLab(
    t,
    {
      name: 'renderer-lab',
      derpRegions: 1,
      hosts: [
        { name: 'a1', nat: 'easy' },
        { name: 'x1', nat: 'none', ipForward: true, upArgs: ['--advertise-exit-node'] },
        { name: 'm1', nat: 'easy', peer: 'meshtrayd', join: false },
      ],
    },
    async (lab) => {
      const hs = lab.headscale;
      const x1 = await hs.nodeByName('x1');
      assert.ok(x1, 'x1 joined');
      await hs.approveRoutes(x1.id, ['0.0.0.0/0', '::/0']);
      const m1 = lab.peer('m1');
      const ns = lab.ns('m1');
      const wrapDir = mkdtempSync(join(tmpdir(), 'mt-chromium-ns-'));
      let bridge: ChildProcess | undefined;
      let chromium: LaunchedBrowser | undefined;
      let out = '';
      try {
        const root = repoRoot();
        const script = runningCompiled() ? [join(root, 'dist', 'test', 'e2e', 'renderer', 'bridge-main.js')] : ['--import', 'tsx', join(root, 'test', 'e2e', 'renderer', 'bridge-main.ts')];
        bridge = spawn('ip', ['netns', 'exec', ns, process.execPath, ...script, '--socket', m1.socket], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
        bridge.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        bridge.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        const url = await waitFor('bridge URL', () => /^bridge (\S+)$/m.exec(out)?.[1], 60_000);
        const wrapper = join(wrapDir, 'chromium-m1');
        writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`);
        chmodSync(wrapper, 0o755);
        chromium = await launchChromium(wrapper);
        const page = await loopbackOnlyPage(chromium.browser);
        await page.goto(url);
        // The engine's own answer, over its LocalAPI socket (a file, reachable from the test's namespace).
        const engine = new LocalClient({ socketPath: m1.socket });
        const cliPrefs = async (): Promise<CliPrefs> => engine.call('getPrefs', {});

        // Sign in: the server check runs from m1's namespace, then the AuthURL; the admin approves it.
        await page.getByLabel('Login server').fill(lab.loginServer);
        await page.getByRole('button', { name: 'Check server' }).click();
        await page.getByTestId('server-check').getByText('is a reachable control server').waitFor({ timeout: 20_000 });
        await page.getByRole('button', { name: 'Log in' }).click();
        const authURL = await waitFor('AuthURL', () => /^open (\S+)$/m.exec(out)?.[1], 60_000);
        await hs.registerAuthId(new URL(authURL).pathname.split('/').filter(Boolean).at(-1)!, lab.user.name);
        await waitFor('Connected', async () => ((await page.getByTestId('connection-state').innerText()) === 'Connected' ? true : undefined), 60_000);
        await page.locator('[data-peer-name="a1"]').waitFor({ timeout: 30_000 });
        await page.locator('[data-peer-name="x1"]').waitFor({ timeout: 30_000 });
        await shot(page, 'lab-1-peers');

        // Exit node x1, then LAN access; read back from the engine with the CLI.
        await page.getByRole('button', { name: 'Exit node' }).click();
        await page.getByRole('radio', { name: /^x1/ }).click();
        const st = await m1.status();
        const x1Peer = Object.values(st.Peer ?? {}).find((p) => p.HostName === 'x1');
        assert.ok(x1Peer?.ExitNodeOption, 'engine sees x1 as an exit-node option');
        await waitFor('engine ExitNodeID', async () => ((await cliPrefs()).ExitNodeID === x1Peer.ID ? true : undefined), 20_000);
        await waitFor('UI exit node', async () => ((await page.getByTestId('connection-state').innerText()).includes('using an exit node') ? true : undefined), 20_000);
        await page.getByLabel('Allow LAN access').click();
        await waitFor('engine LAN access', async () => ((await cliPrefs()).ExitNodeAllowLANAccess ? true : undefined), 20_000);
        await shot(page, 'lab-2-exit-node');
        await page.getByRole('button', { name: 'Settings' }).click();
        const before = await cliPrefs();
        await page.getByLabel('Use subnets').click();
        await waitFor('engine RouteAll', async () => ((await cliPrefs()).RouteAll === !before.RouteAll ? true : undefined), 20_000);
        await page.getByLabel('Use MagicDNS').click();
        await waitFor('engine CorpDNS', async () => ((await cliPrefs()).CorpDNS === !before.CorpDNS ? true : undefined), 20_000);
        await shot(page, 'lab-3-settings');
      } catch (e) {
        process.stderr.write(`--- bridge (m1) ---\n${out.slice(-3000)}\n`);
        throw e;
      } finally {
        await chromium?.close();
        bridge?.kill('SIGTERM');
        rmSync(wrapDir, { recursive: true, force: true });
      }
    },
  );
});
