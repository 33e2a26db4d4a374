// Bad input at the app boundary, against the real engine (meshtrayd + loopback Headscale): a renderer
// message that fails the schema, a caller that is not our window, a browser that never returns from
// login, an update feed that cannot be reached. Each gives a clear message in the window (or a
// refusal with a reason), nothing is lost, and the engine is unaffected.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, loopbackOnlyPage, type LaunchedBrowser } from './browser.js';
import { RendererBridge } from './bridge-server.js';
import { freeLoopbackPort as closedPort } from '../support/free-port.js';
import { RealEngine, waitFor } from './real-engine.js';
import { shot, skipUnlessRendererE2E, TestLogger } from './support.js';
import { describeUpdateError, type Updater } from '../../../main/app/updater/update-policy.js';

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

test('bad input: schema-failing call, foreign caller, browser never returns, update feed down, daemon stopped', { timeout: 180_000 }, async (t) => {
  if (skipUnlessRendererE2E(t)) return;
  let engine: RealEngine | undefined;
  let chromium: LaunchedBrowser | undefined;
  let bridge: RendererBridge | undefined;
  const log = new TestLogger();
  try {
    engine = await RealEngine.start();
    const e = engine;
    const opened: string[] = [];
    const feedPort = await closedPort();
    bridge = new RendererBridge({ engine: e.client, opener: { openExternal: async (u) => { opened.push(u); } }, log, loginTimeoutMs: 4_000, updater: unreachableFeed(feedPort) });
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

    // 4. The update feed is down: a clear sentence, the running version kept.
    const update = (await page.evaluate(`window.meshtray.app.checkForUpdates({})`)) as { ok: boolean; value: { phase: string; message: string } };
    assert.equal(update.ok, true);
    assert.equal(update.value.phase, 'error');
    assert.equal(update.value.message, describeUpdateError(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } }), '0.1.0'));
    assert.equal(update.value.message, 'The update server could not be reached. You are still on 0.1.0; nothing was changed. Meshtray will try again later.');
    await page.getByTestId('update-banner').getByText('The update server could not be reached.').waitFor();
    await shot(page, '11-update-feed-unreachable');

    // 5. The daemon goes away under the running app: the window says so instead of showing stale state.
    await e.killDaemon();
    await page.getByRole('heading', { name: 'Waiting for the Meshtray engine' }).waitFor({ timeout: 20_000 });
    assert.equal(await page.getByTestId('connection-state').innerText(), 'Not connected to the engine');
    await shot(page, '16-daemon-stopped');
  } catch (err) {
    process.stderr.write(`--- bridge log ---\n${log.lines.slice(-40).join('\n')}\n--- meshtrayd log ---\n${engine?.daemonLog() ?? ''}\n`);
    throw err;
  } finally {
    await bridge?.stop();
    await chromium?.close();
    await engine?.stop();
  }
});
