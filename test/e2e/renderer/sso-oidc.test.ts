// Real SSO (issue 7, lab.md §7): Headscale v0.29.2 configured for OIDC against a real OpenID
// Provider (test/lab/oidc/idp.mjs, the oidc-provider package), and Chromium going through the
// provider's login page, its consent page and Headscale's "Confirm node registration" page.
// A) a tailscaled node started with the interactive flow joins as alice (register method OIDC);
// B) Meshtray's own node: the window's "Log in" opens the AuthURL in the (test) system browser,
//    the same three pages are passed, and the window finishes on its own when the engine says Running.
// Everything runs on loopback (Headscale, IdP, meshtrayd, tailscaled in userspace mode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { launchChromium, loopbackOnlyPage, type LaunchedBrowser } from './browser.js';
import { RendererBridge } from './bridge-server.js';
import { enableHeadscaleOidc, IdpProcess } from './idp-process.js';
import { RealEngine, TailscaledPeer, TS_DIR, waitFor } from './real-engine.js';
import { shot, skipUnlessRendererE2E, TestLogger } from './support.js';
import { completeSso } from './sso-steps.js';

test('SSO through a real OIDC provider and Headscale: tailscaled node, then Meshtray from its window', { timeout: 240_000 }, async (t) => {
  if (skipUnlessRendererE2E(t)) return;
  let engine: RealEngine | undefined;
  let idp: IdpProcess | undefined;
  let chromium: LaunchedBrowser | undefined;
  let bridge: RendererBridge | undefined;
  const log = new TestLogger();
  try {
    engine = await RealEngine.start({
      createUser: false,
      configureHeadscale: async (hs) => {
        idp = await IdpProcess.start([`${hs.serverURL}/oidc/callback`]);
        await enableHeadscaleOidc(hs, idp, ['alice@example.com']);
      },
    });
    const e = engine;
    chromium = await launchChromium();
    const browser = chromium.browser;

    // A) tailscaled, interactive: `tailscale up --json` prints the AuthURL, the browser does the rest.
    const peer = new TailscaledPeer('sso1', join(e.dir, 'sso1'));
    e.peers.push(peer);
    await peer.start();
    const up = spawn(join(TS_DIR, 'tailscale'), [`--socket=${peer.socket}`, 'up', `--login-server=${e.hs.serverURL}`, '--hostname=sso1', '--accept-dns=false', '--timeout=120s', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let upOut = '';
    up.stdout.on('data', (d: Buffer) => (upOut += d.toString()));
    up.stderr.on('data', (d: Buffer) => (upOut += d.toString()));
    const upExit = new Promise<number | null>((r) => up.once('exit', (c) => r(c)));
    const authURL = await waitFor('tailscale up AuthURL', () => /"AuthURL":\s*"([^"]+)"/.exec(upOut)?.[1], 30_000);
    assert.match(authURL, new RegExp(`^${e.hs.serverURL}/register/`));
    const ssoPage = await loopbackOnlyPage(browser);
    await ssoPage.goto(authURL);
    await completeSso(ssoPage, 'alice', 'sso-a');
    assert.equal(await upExit, 0, `tailscale up failed:\n${upOut}`);
    const nodes = (await e.hs.cliJson(['nodes', 'list'])) as { name: string; user?: { name?: string; email?: string }; register_method?: number | string }[];
    const sso1 = nodes.find((n) => n.name === 'sso1');
    assert.ok(sso1, 'sso1 registered');
    assert.equal(sso1.user?.name, 'alice');
    assert.ok(sso1.register_method === 3 || sso1.register_method === 'REGISTER_METHOD_OIDC', `register_method ${String(sso1.register_method)}`);

    // B) Meshtray's own node, from its window.
    const opened: string[] = [];
    const systemBrowser = { openExternal: async (u: string) => void opened.push(u) };
    bridge = new RendererBridge({ engine: e.client, opener: systemBrowser, log });
    await bridge.start();
    const app = await loopbackOnlyPage(browser);
    await app.goto(bridge.url);
    await app.getByLabel('Login server').fill(e.hs.serverURL);
    await app.getByRole('button', { name: 'Log in' }).click();
    const meshtrayAuthURL = await waitFor('Meshtray AuthURL opened', () => opened[0], 30_000);
    await app.getByTestId('login-progress').getByText('Waiting for you to finish signing in').waitFor();
    const browserPage = await loopbackOnlyPage(browser);
    await browserPage.goto(meshtrayAuthURL);
    await completeSso(browserPage, 'alice', 'sso-b');
    // The window finishes on its own: Running from the engine, the SSO user, the tailscaled peer.
    await waitFor('Connected in the window', async () => ((await app.getByTestId('connection-state').innerText()) === 'Connected' ? true : undefined), 45_000);
    await app.locator('[data-peer-name="sso1"]').waitFor({ timeout: 30_000 });
    await shot(app, 'sso-b-5-meshtray-connected');
    const st = await e.client.call('status', {});
    assert.equal(st.BackendState, 'Running');
    const me = st.Self ? st.User?.[String(st.Self.UserID)] : undefined;
    assert.equal(me?.LoginName, 'alice@example.com');
    const after = (await e.hs.cliJson(['nodes', 'list'])) as { name: string; user?: { name?: string } }[];
    assert.equal(after.length, 2);
    assert.ok(after.every((n) => n.user?.name === 'alice'));
  } catch (err) {
    process.stderr.write(`--- idp ---\n${idp?.output.join('').slice(-2000) ?? ''}\n--- headscale ---\n${engine?.hs?.logTail(40) ?? ''}\n--- meshtrayd ---\n${engine?.daemonLog() ?? ''}\n--- bridge ---\n${log.lines.slice(-30).join('\n')}\n`);
    throw err;
  } finally {
    await bridge?.stop();
    await chromium?.close();
    await engine?.stop();
    idp?.stop();
  }
});
