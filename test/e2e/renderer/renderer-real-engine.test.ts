// The renderer in Chromium against the real engine: meshtrayd (LocalAPI on a temp socket) joined
// to a real Headscale on loopback, with real tailscaled peers (userspace mode). The page gets
// window.meshtray from the preload's own bridge builder; calls go through the same IpcRouter and
// AppController as in Electron. State flows engine -> Notify -> store -> UI; we assert what the
// user sees and what the engine reports (its LocalAPI), and save a screenshot of every state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { launchChromium, loopbackOnlyPage, type LaunchedBrowser } from './browser.js';
import { RendererBridge } from './bridge-server.js';
import { freeLoopbackPort as closedPort } from '../support/free-port.js';
import { RealEngine, waitFor } from './real-engine.js';
import { BrowserOpener, shot, skipUnlessRendererE2E, TestLogger } from './support.js';
import { checkAccessibility } from './a11y.js';
import { LAN_HELP } from '../../../renderer/features/exit-node/lan-help.js';

async function expectA11y(page: Page, screen: string): Promise<void> {
  const r = await checkAccessibility(page);
  assert.deepEqual(r.unnamed, [], `${screen}: controls without an accessible name`);
  assert.deepEqual(r.unreachable, [], `${screen}: controls Tab never reaches`);
  assert.deepEqual(r.violations, [], `${screen}: axe (WCAG 2.1 A/AA) violations`);
  assert.ok(r.controls > 0, `${screen}: no controls found`);
}

const connState = (page: Page) => page.getByTestId('connection-state').innerText();

test('sign in, see tailscaled peers, pick an exit node, toggle LAN/subnets/MagicDNS, disconnect, log out', { timeout: 240_000 }, async (t) => {
  if (skipUnlessRendererE2E(t)) return;
  let engine: RealEngine | undefined;
  let chromium: LaunchedBrowser | undefined;
  let bridge: RendererBridge | undefined;
  const log = new TestLogger();
  let failPage: Page | undefined;
  const consoleLines: string[] = [];
  try {
    engine = await RealEngine.start();
    const e = engine;
    await e.addPeer('exit1', { exitNode: true });
    await e.addPeer('peer2');
    chromium = await launchChromium();
    const opener = new BrowserOpener(() => chromium?.browser);
    bridge = new RendererBridge({ engine: e.client, opener, log });
    await bridge.start();
    const page = await loopbackOnlyPage(chromium.browser);
    failPage = page;
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    await page.goto(bridge.url);

    // 1. Sign-in screen, the login server in plain view.
    await page.getByRole('heading', { name: 'Sign in to your tailnet' }).waitFor();
    assert.equal(await connState(page), 'Logged out');
    assert.equal(await page.getByLabel('Login server').inputValue(), 'https://controlplane.tailscale.com');
    await shot(page, '01-sign-in');
    await expectA11y(page, 'sign-in');

    // 2. An unreachable server: said plainly, nothing changes in the engine, no browser.
    const closed = await closedPort();
    await page.getByLabel('Login server').fill(`http://127.0.0.1:${closed}`);
    await page.getByRole('button', { name: 'Check server' }).click();
    await page.getByTestId('server-check').getByText('connection refused').waitFor();
    await page.getByRole('button', { name: 'Log in' }).click();
    // Said once, in the login progress (not again in a banner, nor by the older Check answer).
    await page.getByTestId('login-progress').getByText('The login server is not reachable.').waitFor();
    await page.getByTestId('login-progress').getByText(`Cannot reach http://127.0.0.1:${closed}: connection refused`).waitFor();
    assert.equal(await page.getByText(`Cannot reach http://127.0.0.1:${closed}`).count(), 1, 'one message, not three');
    assert.equal(await page.getByTestId('error-banner').count(), 0);
    await shot(page, '02-server-unreachable');
    await expectA11y(page, 'sign-in with the server-unreachable error');
    assert.equal((await e.client.call('getPrefs', {})).ControlURL, '', 'engine prefs untouched');
    assert.deepEqual(opener.opened, []);

    // 3. The real Headscale: reachable, then log in; the AuthURL opens in the "system browser".
    await page.getByLabel('Login server').fill(e.hs.serverURL);
    await page.getByRole('button', { name: 'Check server' }).click();
    await page.getByTestId('server-check').getByText('is a reachable control server').waitFor();
    await page.getByRole('button', { name: 'Log in' }).click();
    const authURL = await waitFor('AuthURL opened', () => opener.opened[0], 30_000);
    assert.match(authURL, new RegExp(`^${e.hs.serverURL}/register/`));
    await page.getByTestId('login-progress').getByText('Waiting for you to finish signing in').waitFor();
    // The same page is one click away in the window (a link the system browser opens again).
    assert.equal(await page.getByTestId('login-progress').getByRole('link').getAttribute('href'), authURL);
    await shot(page, '03-login-waiting-for-browser');
    const hsPage = opener.pages[0];
    if (hsPage) await shot(hsPage, '03b-headscale-register-page');
    await e.approveAuthURL(authURL);

    // 4. Connected: the tailscaled peers appear.
    await waitFor('Connected in the UI', async () => ((await connState(page)) === 'Connected' ? true : undefined), 45_000);
    await page.locator('[data-peer-name="exit1"]').waitFor();
    await page.locator('[data-peer-name="peer2"]').waitFor();
    assert.equal(await page.getByTestId('peer-count').innerText(), '2 of 2 devices');
    const st = await e.client.call('status', {});
    const exit1 = Object.values(st.Peer ?? {}).find((p) => p.HostName === 'exit1');
    assert.ok(exit1, 'engine knows exit1');
    // Copy goes through main's clipboard (app call copyText); the button says it worked.
    await page.getByRole('button', { name: `Copy ${exit1.TailscaleIPs[0]} (exit1)` }).click();
    await page.getByRole('button', { name: `Copied ${exit1.TailscaleIPs[0]} (exit1)` }).getByText('Copied').waitFor({ timeout: 5_000 });
    await page.getByPlaceholder('Search by name, address or OS').fill('peer2');
    assert.equal(await page.getByTestId('peer-count').innerText(), '1 of 2 devices');
    await page.getByPlaceholder('Search by name, address or OS').fill('');
    await shot(page, '04-peers');
    await expectA11y(page, 'peers');

    // 5. Exit node: pick exit1; the engine's prefs change, then the UI follows.
    await page.getByRole('button', { name: 'Exit node' }).click();
    assert.ok(await page.getByText(LAN_HELP).isVisible());
    // Controls are controlled by the engine's state: a click asks, the box follows the engine's Notify
    // (so Playwright's check(), which expects an immediate change, is not used).
    await page.getByRole('radio', { name: /^exit1/ }).click();
    await waitFor('engine ExitNodeID', async () => ((await e.client.call('getPrefs', {})).ExitNodeID === exit1.ID ? true : undefined));
    await waitFor('UI shows the exit node', async () => ((await connState(page)).includes('using an exit node (exit1)') ? true : undefined));
    assert.equal(await page.getByRole('radio', { name: /^exit1/ }).isChecked(), true);
    await page.getByLabel('Allow LAN access').click();
    await waitFor('engine ExitNodeAllowLANAccess', async () => ((await e.client.call('getPrefs', {})).ExitNodeAllowLANAccess ? true : undefined));
    await waitFor('LAN box checked', async () => ((await page.getByLabel('Allow LAN access').isChecked()) ? true : undefined));
    await shot(page, '05-exit-node');
    await expectA11y(page, 'exit-node');

    // 6. Settings: Use subnets on, MagicDNS off; each reaches the engine.
    await page.getByRole('button', { name: 'Settings' }).click();
    const before = await e.client.call('getPrefs', {});
    assert.equal(await page.getByLabel('Use subnets').isChecked(), before.RouteAll);
    assert.equal(await page.getByLabel('Use MagicDNS').isChecked(), before.CorpDNS);
    await page.getByLabel('Use subnets').click();
    await waitFor('engine RouteAll', async () => ((await e.client.call('getPrefs', {})).RouteAll === !before.RouteAll ? true : undefined));
    await waitFor('subnets box follows', async () => ((await page.getByLabel('Use subnets').isChecked()) === !before.RouteAll ? true : undefined));
    await page.getByLabel('Use MagicDNS').click();
    await waitFor('engine CorpDNS', async () => ((await e.client.call('getPrefs', {})).CorpDNS === !before.CorpDNS ? true : undefined));
    await waitFor('MagicDNS box follows', async () => ((await page.getByLabel('Use MagicDNS').isChecked()) === !before.CorpDNS ? true : undefined));
    await shot(page, '06-settings');
    await expectA11y(page, 'settings');
    // One-way flow: a change made elsewhere (the CLI's LocalAPI) shows up in the window.
    await e.client.call('editPrefs', { RouteAll: before.RouteAll });
    await waitFor('UI follows the engine', async () => ((await page.getByLabel('Use subnets').isChecked()) === before.RouteAll ? true : undefined));

    // 6b. Route check: this meshtrayd runs with userspace networking, so it manages no OS routes and
    // refuses `why`; the window says so (the engine's words included) and the screen stays usable.
    await page.getByRole('button', { name: 'Route check' }).click();
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await page.getByTestId('route-error').getByText('Type an IP address or a device name to check.').waitFor();
    await page.getByLabel('Address or device name').fill('peer2');
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    const whyErr = await e.client.call('why', { Dest: 'peer2' }).then(
      () => undefined,
      (err: unknown) => err as { code?: string; message?: string },
    );
    assert.equal(whyErr?.code, 'ERR_NOT_FOUND', 'the userspace engine has no route table to answer from');
    await page.getByTestId('route-error').getByText("This engine cannot answer route checks (it does not manage this device's routes).").waitFor();
    const shownErr = await page.getByTestId('route-error').innerText();
    assert.ok(shownErr.includes(`The engine said: ${whyErr!.message}`), shownErr);
    await shot(page, '06b-route-check-unavailable');
    await expectA11y(page, 'route-check');

    // 7. Account.
    await page.getByRole('button', { name: 'Account' }).click();
    await page.getByTestId('account-login').getByText('alice').waitFor();
    assert.match(await page.getByText(e.hs.serverURL).innerText(), new RegExp(e.hs.serverURL));
    await shot(page, '07-account');
    await expectA11y(page, 'account');

    // 7b. The key is about to expire (the admin schedules it in Headscale): a warning with one-click
    // re-authentication, which goes through the login flow again and clears the warning.
    const myId = String(((await e.hs.cliJson(['nodes', 'list'])) as { id: number; name: string }[]).find((n) => !['exit1', 'peer2'].includes(n.name))!.id);
    const soon = new Date(Date.now() + 2 * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await e.hs.cli(['nodes', 'expire', '-i', myId, '-e', soon]);
    await page.getByTestId('key-expiry').getByText("This device's key expires in 2 days.").waitFor({ timeout: 30_000 });
    await shot(page, '07b-key-expiry-warning');
    await expectA11y(page, 'key-expiry warning');
    await page.getByTestId('key-expiry').getByRole('button', { name: 'Re-authenticate' }).click();
    const reauthURL = await waitFor('re-auth AuthURL', () => opener.opened[1], 30_000);
    await e.approveAuthURL(reauthURL);
    await page.getByTestId('key-expiry').waitFor({ state: 'detached', timeout: 45_000 });
    await waitFor('Connected after re-auth', async () => ((await connState(page)).startsWith('Connected') ? true : undefined), 45_000);

    // 8. Disconnect and connect again.
    await page.getByRole('button', { name: 'Disconnect' }).click();
    await waitFor('engine Stopped', async () => ((await e.client.call('status', {})).BackendState === 'Stopped' ? true : undefined));
    await waitFor('UI Disconnected', async () => ((await connState(page)) === 'Disconnected' ? true : undefined));
    await shot(page, '08-disconnected');
    await expectA11y(page, 'disconnected');
    await page.getByRole('button', { name: 'Connect' }).click();
    await waitFor('UI Connected again', async () => ((await connState(page)).startsWith('Connected') ? true : undefined), 45_000);

    // 8b. A health warning the real engine raises: Headscale goes away, the engine loses its map
    // stream and says so; the window shows the engine's line; Headscale returns and the line goes.
    await e.hs.kill();
    const healthLine = await waitFor('engine health line', async () => (await e.client.call('status', {})).Health?.find((h) => /control server/.test(h)), 30_000);
    await page.getByTestId('health').getByText(healthLine).waitFor({ timeout: 15_000 });
    await shot(page, '08b-health-control-unreachable');
    await expectA11y(page, 'health warning from the engine');
    await e.hs.restart();
    await page.getByTestId('health').waitFor({ state: 'detached', timeout: 90_000 });
    assert.equal((await e.client.call('status', {})).Health, null, 'the engine cleared its warning');

    // 9. Log out: back to sign-in.
    await page.getByRole('button', { name: 'Account' }).click();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Sign in to your tailnet' }).waitFor({ timeout: 30_000 });
    assert.equal((await e.client.call('status', {})).BackendState, 'NeedsLogin');
    await shot(page, '09-logged-out');
    assert.deepEqual(pageErrors, []);
    assert.equal(bridge.router.stats.refusedSender, 0);
  } catch (err) {
    if (failPage) await shot(failPage, 'FAILED-real-engine').catch(() => undefined);
    process.stderr.write(`--- page console ---\n${consoleLines.slice(-20).join('\n')}\n`);
    process.stderr.write(`--- bridge log ---\n${log.lines.slice(-40).join('\n')}\n--- meshtrayd log ---\n${engine?.daemonLog() ?? ''}\n`);
    throw err;
  } finally {
    await bridge?.stop();
    await chromium?.close();
    await engine?.stop();
  }
});
