// The accessibility check (a11y.ts: names, labels, Tab reaches every control, axe WCAG 2.1 A/AA)
// on every screen and every error state of the window, including the ones the real-engine tests
// pass through too fast to check: engine missing, login waiting for the browser, login timed out,
// logged in with health warnings + a key about to expire + a locked keychain + an update error,
// then an update ready, a refused action (error banner), waiting for an admin (NeedsMachineAuth), an exit-node list with an offline
// node, and the Route check refusing. The engine is the LocalAPI backend double behind the same
// IpcRouter and AppController as in Electron (RendererBridge); the login server is a loopback
// HTTP server answering /key like Headscale does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from 'playwright-core';
import { launchChromium, loopbackOnlyPage, skipWithoutChromium, type LaunchedBrowser } from './browser.js';
import { RendererBridge } from './bridge-server.js';
import { checkAccessibility } from './a11y.js';
import { shot, TestLogger } from './support.js';
import { waitFor } from './real-engine.js';
import { unavailableEngine } from '../../../main/app/engine-host/unavailable-engine.js';
import type { EngineConnection } from '../../../main/app/engine-host/engine-connection.js';
import { backendConnection } from '../../../main/app/engine-host/in-process-engine.js';
import type { AvailableUpdate, Updater } from '../../../main/app/updater/update-policy.js';
import { FakeLocalApiBackend } from '../../doubles/fake-localapi-backend.js';
import { peer, prefs, status } from '../../unit/app/fixtures.js';
import { MeshtrayError } from '../../../common/errors/errors.js';

const checked: string[] = [];

async function expectA11y(page: Page, screen: string): Promise<void> {
  const r = await checkAccessibility(page);
  assert.deepEqual(r.unnamed, [], `${screen}: controls without an accessible name`);
  assert.deepEqual(r.unreachable, [], `${screen}: controls Tab never reaches`);
  assert.deepEqual(r.violations, [], `${screen}: axe (WCAG 2.1 A/AA) violations`);
  assert.ok(r.controls > 0, `${screen}: no controls found`);
  checked.push(screen);
}

/** Answers GET /key like a control server (the sign-in's reachability check); nothing else. */
async function fakeControl(): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/key')) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ publicKey: `mkey:${'ab'.repeat(32)}` }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('accessibility on every screen and error state of the window', { timeout: 120_000 }, async (t) => {
  if (skipWithoutChromium(t, t.name)) return;
  const control = await fakeControl();
  const backend = new FakeLocalApiBackend();
  backend.prefs = prefs({ ControlURL: '', WantRunning: false });
  // The engine's login: loginInteractive publishes the AuthURL, as the real backend does.
  const origLogin = backend.loginInteractive.bind(backend);
  backend.loginInteractive = async () => {
    const r = await origLogin();
    setTimeout(() => backend.publish({ BrowseToURL: `${control.url}/register/a11y-test` }), 50);
    return r;
  };
  // An engine without a route table refuses `why` the way the LocalAPI does for an optional call it lacks.
  (backend as unknown as { why: () => Promise<never> }).why = async () => {
    throw new MeshtrayError('ERR_NOT_FOUND', 'this engine does not manage OS routes');
  };
  const reason = 'No running meshtrayd was found, and this build cannot host the engine itself.';
  let current: EngineConnection = unavailableEngine(reason);
  const engine: EngineConnection = { call: (n, r) => current.call(n, r), watch: (s) => current.watch(s) };
  let update: () => Promise<AvailableUpdate | null> = async () => {
    throw Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
  };
  const updater: Updater = { check: () => update(), download: async () => undefined, quitAndInstall: () => undefined };
  const opened: string[] = [];
  const bridge = new RendererBridge({ engine, opener: { openExternal: async (u) => void opened.push(u) }, log: new TestLogger(), loginTimeoutMs: 2_500, updater, host: { mode: 'unavailable', detail: reason } });
  let chromium: LaunchedBrowser | undefined;
  try {
    await bridge.start();
    chromium = await launchChromium();
    const page = await loopbackOnlyPage(chromium.browser);
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(bridge.url);

    // 1. No engine at all: the reason, and nothing that pretends to work. The window has no
    // control on this screen, so only axe and the names are checked.
    await page.getByRole('heading', { name: 'Waiting for the Meshtray engine' }).waitFor();
    await page.getByText(reason).waitFor();
    const missing = await checkAccessibility(page);
    assert.deepEqual([missing.unnamed, missing.violations], [[], []], 'engine missing');
    checked.push('engine missing');
    await shot(page, 'a11y-01-engine-missing');

    // 2. The engine appears (logged out): sign-in; then the login waits for the browser.
    current = backendConnection(backend);
    await page.getByRole('heading', { name: 'Sign in to your tailnet' }).waitFor({ timeout: 15_000 });
    await expectA11y(page, 'sign-in');
    await page.getByLabel('Login server').fill(control.url);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('login-progress').getByText('Waiting for you to finish signing in').waitFor({ timeout: 10_000 });
    assert.deepEqual(opened, [`${control.url}/register/a11y-test`]);
    await expectA11y(page, 'login waiting for the browser (Cancel)');
    await shot(page, 'a11y-02-login-waiting');

    // 3. The browser never comes back: timed out, the link kept, Log in again one click away.
    await page.getByTestId('login-progress').getByText('Sign-in timed out.').waitFor({ timeout: 10_000 });
    await expectA11y(page, 'login timed out');
    await shot(page, 'a11y-03-login-timed-out');

    // 4. Logged in, with everything the banners can say at once: health warnings, a key that
    // expires in 2 days (Re-authenticate), a locked keychain, an unreachable update feed.
    const soon = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const s = status({
      Health: ['not connected to home DERP region 900', 'Some peers are advertising routes but --accept-routes is false'],
      Self: peer({ ID: 'self', HostName: 'laptop', TailscaleIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'], KeyExpiry: soon }),
    });
    backend.statusValue = s;
    backend.prefs = prefs({ ControlURL: control.url });
    backend.publish({ State: 'Running', Prefs: backend.prefs, Status: s });
    bridge.controller.setSecretsWarning('The system keychain is locked or not available. Until it is unlocked Meshtray will not remember this login after it quits.');
    await waitFor('Connected', async () => ((await page.getByTestId('connection-state').innerText()) === 'Connected' ? true : undefined), 10_000);
    await page.getByTestId('key-expiry').getByText("This device's key expires in 2 days.").waitFor();
    await page.getByTestId('health').getByText('not connected to home DERP region 900').waitFor();
    await page.getByRole('button', { name: 'Account' }).click();
    await page.getByRole('button', { name: 'Check for updates' }).click();
    await page.getByTestId('update-banner').getByText('The update server could not be reached.').waitFor();
    await page.getByRole('button', { name: 'Devices' }).click();
    await page.locator('[data-peer-name="exit-fra"]').waitFor();
    await expectA11y(page, 'devices with health, key-expiry, keychain and update-error banners');
    await shot(page, 'a11y-04-devices-all-banners');

    // 5. The other screens, banners still up.
    await page.getByRole('button', { name: 'Exit node' }).click();
    await page.getByRole('radio', { name: /^exit-ams \(offline\)/ }).waitFor();
    assert.equal(await page.getByRole('radio', { name: /^exit-ams/ }).isDisabled(), true, 'an offline exit node cannot be chosen');
    await expectA11y(page, 'exit node (one offline)');
    await shot(page, 'a11y-05-exit-node');
    // An exit node chosen by an IP nobody offers exit routes at (CLI --exit-node=<ip>): the engine
    // keeps it and blocks internet traffic; the window must not show "None" as chosen.
    backend.prefs = { ...backend.prefs, ExitNodeID: '', ExitNodeIP: '100.64.0.99' };
    backend.publish({ Prefs: backend.prefs });
    await page.getByRole('radio', { name: /^100\.64\.0\.99 \(not available/ }).waitFor();
    assert.equal(await page.getByRole('radio', { name: /^100\.64\.0\.99/ }).isChecked(), true);
    assert.equal(await page.getByRole('radio', { name: /^None/ }).isChecked(), false);
    assert.equal(await page.getByTestId('connection-state').innerText(), 'Connected · exit node 100.64.0.99 not available: internet traffic is blocked');
    await expectA11y(page, 'exit node chosen by an unavailable IP');
    await shot(page, 'a11y-05b-exit-node-ip-unavailable');
    backend.prefs = { ...backend.prefs, ExitNodeIP: '' };
    backend.publish({ Prefs: backend.prefs });
    await waitFor('None chosen again', async () => ((await page.getByRole('radio', { name: /^None/ }).isChecked()) ? true : undefined), 5_000);
    await page.getByRole('button', { name: 'Route check' }).click();
    await page.getByLabel('Address or device name').fill('exit-fra');
    await page.getByRole('button', { name: 'Check', exact: true }).click();
    await page.getByTestId('route-error').getByText("This engine cannot answer route checks (it does not manage this device's routes).").waitFor();
    await expectA11y(page, 'route check refused');
    await shot(page, 'a11y-06-route-check-refused');
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Use MagicDNS').waitFor();
    await expectA11y(page, 'settings');

    // 6. An update is ready: the banner and the account screen offer the restart.
    update = async () => ({ version: '0.2.0' });
    await page.getByRole('button', { name: 'Account' }).click();
    await page.getByRole('button', { name: 'Check for updates' }).click();
    await page.getByRole('button', { name: 'Restart to update' }).first().waitFor();
    await expectA11y(page, 'account with an update ready');
    await shot(page, 'a11y-07-account-update-ready');

    // A failed action: the engine refuses the logout; the error banner (with Dismiss) says why.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByTestId('error-banner').getByText('not logged in').waitFor();
    await expectA11y(page, 'error banner (engine refused an action)');
    await shot(page, 'a11y-07b-error-banner');
    await page.getByRole('button', { name: 'Dismiss error' }).click();
    await page.getByTestId('error-banner').waitFor({ state: 'detached' });

    // 7. Waiting for an admin to approve this device.
    const pending = status({ BackendState: 'NeedsMachineAuth' });
    backend.statusValue = pending;
    backend.publish({ State: 'NeedsMachineAuth', Status: pending });
    await waitFor('NeedsMachineAuth shown', async () => ((await page.getByTestId('connection-state').innerText()) === 'Waiting for an admin to approve this device' ? true : undefined), 10_000);
    await expectA11y(page, 'waiting for an admin');
    await shot(page, 'a11y-08-needs-machine-auth');
    assert.deepEqual(pageErrors, []);
    t.diagnostic(`checked: ${checked.join(' | ')}`);
  } finally {
    await bridge.stop();
    await chromium?.close();
    await new Promise<void>((r) => control.server.close(() => r()));
  }
});
