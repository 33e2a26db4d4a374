// Bad input at the app boundary, against the real engine (meshtrayd + loopback Headscale): a renderer
// message that fails the schema, a caller that is not our window, a browser that never returns from
// login (then cancel, retry, sign in), an update feed that cannot be reached, one that serves a
// damaged update (real electron-updater DebUpdater). Each gives a clear message in the window (or
// a refusal with a reason), nothing is lost, and the engine is unaffected — still connected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, loopbackOnlyPage, type LaunchedBrowser } from './browser.js';
import { RendererBridge } from './bridge-server.js';
import { freeLoopbackPort as closedPort } from '../support/free-port.js';
import { RealEngine, waitFor } from './real-engine.js';
import { shot, skipUnlessRendererE2E, TestLogger } from './support.js';
import { describeUpdateError, type Updater } from '../../../main/app/updater/update-policy.js';
import { adaptElectronUpdater } from '../../../main/app/updater/electron-updater-adapter.js';
import { realUpdater, sha512, UpdateFeed, type RealUpdater } from '../../unit/app/updater-feed-harness.js';
import { randomBytes } from 'node:crypto';

/** The app's one updater; the test swaps what is behind it (feed down, then a damaged update). */
function switchableUpdater(first: Updater): { updater: Updater; use: (u: Updater) => void } {
  let current = first;
  return {
    updater: { check: () => current.check(), download: (p) => current.download(p), quitAndInstall: () => current.quitAndInstall() },
    use: (u) => (current = u),
  };
}

/** An updater whose feed is a real URL on a closed loopback port, so the failure is a real ECONNREFUSED. */
function unreachableFeed(port: number): Updater {
  return {
    async check() {
      const res = await fetch(`http://127.0.0.1:${port}/latest-linux.yml`);
      throw new Error(`unexpected answer ${res.status}`);
    },
    download: async () => undefined,
    quitAndInstall: () => {
      throw new Error('must not install');
    },
  };
}

test('bad input: schema-failing call, foreign caller, browser never returns (cancel, retry), update feed down or damaged, daemon stopped', { timeout: 240_000 }, async (t) => {
  if (skipUnlessRendererE2E(t)) return;
  let engine: RealEngine | undefined;
  let chromium: LaunchedBrowser | undefined;
  let bridge: RendererBridge | undefined;
  let feed: UpdateFeed | undefined;
  let real: RealUpdater | undefined;
  const log = new TestLogger();
  try {
    engine = await RealEngine.start();
    const e = engine;
    const opened: string[] = [];
    const feedPort = await closedPort();
    const updates = switchableUpdater(unreachableFeed(feedPort));
    bridge = new RendererBridge({ engine: e.client, opener: { openExternal: async (u) => { opened.push(u); } }, log, loginTimeoutMs: 4_000, updater: updates.updater });
    await bridge.start();
    chromium = await launchChromium();
    const page = await loopbackOnlyPage(chromium.browser);
    await page.goto(bridge.url);
    await page.getByRole('heading', { name: 'Sign in to your tailnet' }).waitFor();
    const prefsBefore = await e.client.call('getPrefs', {});

    // 1. A message that fails the schema, sent from the page through the real bridge.
    const bad = (await page.evaluate(`window.meshtray.editPrefs({ RouteAll: 'yes', NotAPref: 1 })`)) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(bad.ok, false);
    assert.equal(bad.error.code, 'ERR_BAD_REQUEST');
    assert.match(bad.error.message, /RouteAll/);
    const bad2 = (await page.evaluate(`window.meshtray.app.login({ ControlURL: 42 })`)) as { ok: boolean; error: { code: string } };
    assert.equal(bad2.error.code, 'ERR_BAD_REQUEST');
    assert.deepEqual(await e.client.call('getPrefs', {}), prefsBefore, 'engine prefs unchanged');

    // 2. A caller that is not our window (no window token, foreign page) is refused with a reason.
    const foreign = await fetch(`http://127.0.0.1:${bridge.port}/ipc/${encodeURIComponent('meshtray:engine:logout')}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', referer: 'http://evil.example/index.html' },
      body: '{}',
    });
    const env = (await foreign.json()) as { ok: boolean; error: { code: string; message: string } };
    assert.deepEqual([env.ok, env.error.code], [false, 'ERR_FORBIDDEN']);
    assert.match(env.error.message, /IPC refused: unknown webContents/);
    assert.equal(bridge.router.stats.refusedSender, 1);
    assert.equal(bridge.router.stats.badRequest, 2);

    // 3. The browser never comes back: a timeout message, the link kept, the engine still answers.
    await page.getByLabel('Login server').fill(e.hs.serverURL);
    await page.getByRole('button', { name: 'Log in' }).click();
    await waitFor('AuthURL handed to the browser', () => opened[0], 30_000);
    await page.getByTestId('login-progress').getByText('Sign-in timed out.').waitFor({ timeout: 20_000 });
    assert.match(await page.getByTestId('login-progress').innerText(), /browser did not come back/);
    assert.match(await page.getByTestId('login-progress').innerText(), /\/register\//);
    await shot(page, '10-login-timed-out');
    const st = await e.client.call('status', {});
    assert.equal(st.BackendState, 'NeedsLogin', 'engine unaffected, still waiting for a login');
    // Nothing the user typed is lost: the login server is still in the field.
    assert.equal(await page.getByLabel('Login server').inputValue(), e.hs.serverURL);
    assert.equal(await page.getByRole('button', { name: 'Log in' }).isEnabled(), true, 'retry is one click');

    // 3b. Retry, then change your mind: Cancel while the browser is out. The engine stays logged out.
    await page.getByRole('button', { name: 'Log in' }).click();
    await waitFor('second AuthURL handed to the browser', () => opened[1], 30_000);
    await page.getByRole('button', { name: 'Cancel' }).click();
    // The window goes back to the sign-in form: no progress, no Cancel, "Log in" ready again.
    // (The flow's "Login cancelled." sentence comes with phase idle, which the renderer does not show.)
    await page.getByTestId('login-progress').waitFor({ state: 'hidden' });
    await page.getByRole('button', { name: 'Cancel' }).waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('button', { name: 'Log in' }).isEnabled(), true);
    assert.equal((await e.client.call('status', {})).BackendState, 'NeedsLogin');
    assert.equal(await page.getByLabel('Login server').inputValue(), e.hs.serverURL);
    await shot(page, '10b-login-cancelled');

    // 3c. Retry once more and finish in the "browser": signed in, connected.
    await page.getByRole('button', { name: 'Log in' }).click();
    const third = await waitFor('third AuthURL handed to the browser', () => opened[2], 30_000);
    await e.approveAuthURL(third);
    await waitFor('Connected in the window', async () => ((await page.getByTestId('connection-state').innerText().catch(() => '')) === 'Connected' ? true : undefined), 45_000);
    const connected = await e.client.call('status', {});
    assert.equal(connected.BackendState, 'Running');

    // 4. The update feed is down: a clear sentence, the running version kept.
    const update = (await page.evaluate(`window.meshtray.app.checkForUpdates({})`)) as { ok: boolean; value: { phase: string; message: string } };
    assert.equal(update.ok, true);
    assert.equal(update.value.phase, 'error');
    assert.equal(update.value.message, describeUpdateError(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), '0.1.0'));
    assert.equal(update.value.message, 'The update server could not be reached. You are still on 0.1.0; nothing was changed. Meshtray will try again later.');
    await page.getByTestId('update-banner').getByText('The update server could not be reached.').waitFor();
    await shot(page, '11-update-feed-unreachable');
    assert.equal((await e.client.call('status', {})).BackendState, 'Running', 'the engine is still connected');

    // 4b. The feed serves an update whose bytes do not match its sha512 (real electron-updater
    // DebUpdater downloads it): discarded, the running version kept, the engine still connected.
    feed = new UpdateFeed({ kind: 'deb', version: '0.2.0', body: randomBytes(256 * 1024), claimedSha512: sha512(randomBytes(8)) });
    await feed.start();
    real = realUpdater('deb', `http://127.0.0.1:${feed.port}/`);
    updates.use(adaptElectronUpdater(real.updater));
    const damaged = (await page.evaluate(`window.meshtray.app.checkForUpdates({})`)) as { ok: boolean; value: { phase: string; message: string; availableVersion?: string } };
    assert.equal(damaged.ok, true);
    assert.equal(damaged.value.phase, 'error');
    assert.equal(damaged.value.availableVersion, '0.2.0');
    assert.equal(damaged.value.message, 'The downloaded update was damaged (checksum mismatch) and was discarded. You are still on 0.1.0; nothing was changed.');
    assert.ok(feed.fetched.includes(`/${feed.file}`), 'the update was really downloaded');
    await page.getByTestId('update-banner').getByText('The downloaded update was damaged (checksum mismatch) and was discarded.').waitFor();
    await shot(page, '11b-update-damaged');
    assert.deepEqual(real.cachedFiles(), [], 'nothing kept to install');
    assert.deepEqual(real.installs, []);
    const after = await e.client.call('status', {});
    assert.equal(after.BackendState, 'Running', 'the engine is still connected');
    assert.deepEqual(after.Self?.TailscaleIPs, connected.Self?.TailscaleIPs);

    // 5. The daemon goes away under the running app: the window says so instead of showing stale state.
    await e.killDaemon();
    await page.getByRole('heading', { name: 'Waiting for the Meshtray engine' }).waitFor({ timeout: 20_000 });
    assert.equal(await page.getByTestId('connection-state').innerText(), 'Not connected to the engine');
    await shot(page, '16-daemon-stopped');
  } catch (err) {
    process.stderr.write(`--- bridge log ---\n${log.lines.slice(-40).join('\n')}\n--- meshtrayd log ---\n${engine?.daemonLog() ?? ''}\n`);
    throw err;
  } finally {
    await feed?.stop();
    real?.cleanup();
    await bridge?.stop();
    await chromium?.close();
    await engine?.stop();
  }
});
