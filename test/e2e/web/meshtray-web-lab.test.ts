// `meshtray web` as a user runs it: the real CLI (bin/meshtray.js) in the foreground against a lab
// meshtrayd (m1, joined to the lab's Headscale next to tailscaled a1 and b1), in this machine's
// namespace (the LocalAPI socket is a file). Chromium opens the URL the CLI printed and sees the
// tailscaled peers; the same endpoints without the token are refused; Ctrl-C stops it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { withLab } from '../../lab/with-lab.js';
import { launchChromium, launchChromiumInNamespace, loopbackOnlyPage, skipWithoutChromium, type LaunchedBrowser } from '../renderer/browser.js';
import { checkAccessibility } from '../renderer/a11y.js';
import { repoRoot } from '../renderer/paths.js';
import { waitFor } from '../renderer/real-engine.js';
import { shot } from '../renderer/support.js';

test('lab: `meshtray web` against m1 (meshtrayd): Chromium opens the printed URL and sees a1 and b1; no token, no answer; Ctrl-C stops it', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t, 'meshtray web lab test')) return;
  await withLab(
    t,
    {
      name: 'meshtray-web-lab',
      derpRegions: 1,
      hosts: [
        { name: 'a1', nat: 'easy' },
        { name: 'b1', nat: 'easy' },
        { name: 'm1', nat: 'easy', peer: 'meshtrayd' },
      ],
    },
    async (lab) => {
      const m1 = lab.peer('m1');
      let cli: ChildProcess | undefined;
      let chromium: LaunchedBrowser | undefined;
      let page: Page | undefined;
      let out = '';
      try {
        cli = spawn(process.execPath, [join(repoRoot(), 'bin', 'meshtray.js'), `--socket=${m1.socket}`, 'web', '--listen=127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
        cli.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        cli.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        const exited = new Promise<number | null>((r) => cli!.once('exit', (c) => r(c)));
        const url = await waitFor('the URL meshtray web prints', () => /^\t(http:\/\/127\.0\.0\.1:\d+\/#token=[A-Za-z0-9_-]{43})$/m.exec(out)?.[1], 30_000);
        assert.match(out, /Press Ctrl-C to stop\./);
        const origin = new URL(url).origin;

        // Without the token: the page itself loads (it holds no secret), but no call and no stream answers.
        const noToken = await fetch(`${origin}/ipc/${encodeURIComponent('meshtray:engine:status')}`, { method: 'POST', headers: { 'content-type': 'application/json', origin }, body: '{}' });
        assert.equal(noToken.status, 403);
        assert.equal(((await noToken.json()) as { ok: boolean }).ok, false);
        assert.equal((await fetch(`${origin}/events?stream=notify`)).status, 403);
        const wrongToken = await fetch(`${origin}/ipc/${encodeURIComponent('meshtray:engine:status')}`, { method: 'POST', headers: { 'content-type': 'application/json', origin, 'x-meshtray-token': 'guess' }, body: '{}' });
        assert.equal(wrongToken.status, 403);

        chromium = await launchChromium();
        const pg = await loopbackOnlyPage(chromium.browser);
        page = pg;
        const pageErrors: string[] = [];
        pg.on('pageerror', (e) => pageErrors.push(e.message));
        await pg.goto(url);
        await waitFor('Connected', async () => ((await pg.getByTestId('connection-state').innerText().catch(() => '')) === 'Connected' ? true : undefined), 60_000);
        for (const n of ['a1', 'b1']) await pg.locator(`[data-peer-name="${n}"]`).waitFor({ timeout: 30_000 });
        // Each row shows the address the engine has for that peer.
        const st = await m1.status();
        for (const n of ['a1', 'b1']) {
          const ip = Object.values(st.Peer).find((p) => p.HostName === n)!.TailscaleIPs[0]!;
          assert.match(await pg.locator(`[data-peer-name="${n}"]`).innerText(), new RegExp(ip.replace(/\./g, '\\.')));
        }
        // The token left the address bar (it is kept for this tab only).
        assert.doesNotMatch(pg.url(), /token=/);
        // A reload without the fragment still works (sessionStorage + the HttpOnly cookie).
        await pg.reload();
        await pg.locator('[data-peer-name="a1"]').waitFor({ timeout: 30_000 });
        const a11y = await checkAccessibility(pg);
        assert.deepEqual([a11y.unnamed, a11y.unreachable, a11y.violations], [[], [], []], 'the web window passes the same a11y check');
        await shot(pg, 'web-01-meshtray-web-peers');
        assert.deepEqual(pageErrors, []);

        // A second browser profile that never saw the URL: the page loads, the calls are refused, and it says why.
        const stranger = await loopbackOnlyPage(chromium.browser);
        await stranger.goto(`${origin}/`);
        const denied = (await stranger.evaluate(`window.meshtray.status()`)) as { ok: boolean; error: { code: string; message: string } };
        assert.deepEqual([denied.ok, denied.error.code], [false, 'ERR_FORBIDDEN']);
        assert.match(denied.error.message, /meshtray web/);
        await stranger.close();

        cli.kill('SIGINT');
        assert.equal(await exited, 0, out);
        await assert.rejects(fetch(`${origin}/`), 'the server is gone after Ctrl-C');
      } catch (e) {
        process.stderr.write(`--- meshtray web output ---\n${out.slice(-3000)}\n`);
        if (page) await shot(page, 'web-99-failure').catch(() => undefined);
        throw e;
      } finally {
        if (cli && cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
        await chromium?.close();
      }
    },
  );
});

test('lab: sign in from `meshtray web`: Log in opens the login link in a new tab by itself (no system browser), the admin approves, the window shows Connected and the peers', { timeout: 300_000 }, async (t) => {
  if (skipWithoutChromium(t, 'meshtray web lab sign-in test')) return;
  await withLab(
    t,
    { name: 'meshtray-web-login-lab', derpRegions: 1, hosts: [{ name: 'a1', nat: 'easy' }, { name: 'm2', nat: 'easy', peer: 'meshtrayd', join: false }] },
    async (lab) => {
      const m2 = lab.peer('m2');
      const ns = lab.ns('m2');
      let cli: ChildProcess | undefined;
      let chromium: LaunchedBrowser | undefined;
      let page: Page | undefined;
      let out = '';
      try {
        // On m2's machine (its namespace): the server check and the browser reach the lab's Headscale from there.
        cli = spawn('ip', ['netns', 'exec', ns, process.execPath, join(repoRoot(), 'bin', 'meshtray.js'), `--socket=${m2.socket}`, 'web', '--listen=127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
        cli.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        cli.stderr!.on('data', (d: Buffer) => (out += d.toString()));
        const exited = new Promise<number | null>((r) => cli!.once('exit', (c) => r(c)));
        const url = await waitFor('the URL meshtray web prints', () => /^\t(http:\/\/127\.0\.0\.1:\d+\/#token=\S+)$/m.exec(out)?.[1], 30_000);
        chromium = await launchChromiumInNamespace(ns);
        const pg = await loopbackOnlyPage(chromium.browser, undefined, [new URL(lab.loginServer).hostname]);
        page = pg;
        await pg.goto(url);
        await pg.getByLabel('Login server').fill(lab.loginServer);
        const popup = pg.context().waitForEvent('page', { timeout: 60_000 });
        await pg.getByRole('button', { name: 'Log in' }).click();
        const tab = await popup;
        await tab.waitForLoadState();
        const authURL = tab.url();
        assert.match(authURL, new RegExp(`^${lab.loginServer.replace(/[.]/g, '\\.')}/register/\\S+$`), 'the new tab is Headscale\'s login page');
        // The same link is in the window and in the terminal.
        assert.match(await pg.getByTestId('login-progress').innerText(), new RegExp(authURL.replace(/[.?]/g, '\\$&')));
        assert.ok(out.includes(`login link (also shown in the window): ${authURL}`), out);
        const authId = new URL(authURL).pathname.split('/').filter(Boolean).at(-1)!;
        assert.match(await tab.locator('body').innerText(), new RegExp(authId), 'Headscale\'s page names the registration');
        await shot(tab, 'web-02-login-tab');
        await lab.headscale.registerAuthId(authId, lab.user.name);
        await waitFor('Connected', async () => ((await pg.getByTestId('connection-state').innerText().catch(() => '')) === 'Connected' ? true : undefined), 60_000);
        await pg.locator('[data-peer-name="a1"]').waitFor({ timeout: 30_000 });
        assert.equal((await m2.status()).BackendState, 'Running');
        await shot(pg, 'web-03-signed-in');
        cli.kill('SIGINT');
        assert.equal(await exited, 0, out);
      } catch (e) {
        process.stderr.write(`--- meshtray web output ---\n${out.slice(-3000)}\n`);
        if (page) await shot(page, 'web-98-login-failure').catch(() => undefined);
        throw e;
      } finally {
        if (cli && cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
        await chromium?.close();
      }
    },
  );
});
