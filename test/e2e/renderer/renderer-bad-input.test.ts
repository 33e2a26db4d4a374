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
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startInProcessEngine, type InProcessEngine } from '../../../main/app/engine-host/in-process-engine.js';
import { KeychainStateStore, type SafeStorageLike } from '../../../main/app/secrets/keychain-store.js';
import { FileBlobStore } from '../../../main/app/secrets/file-blob-store.js';
import { SessionFallbackStore } from '../../../main/app/secrets/session-fallback-store.js';

/** Electron's safeStorage stand-in (no Electron here): XOR "encryption", a backend name, lockable. */
class TestSafeStorage implements SafeStorageLike {
  locked = false;
  constructor(private readonly backend: string) {}
  async isAsyncEncryptionAvailable() { return !this.locked; }
  async encryptStringAsync(s: string) { return new Uint8Array([...new TextEncoder().encode(s)].map((b) => b ^ 0x3c)); }
  async decryptStringAsync(b: Uint8Array) {
    if (this.locked) throw new Error('keychain locked');
    return { result: new TextDecoder().decode(b.map((x) => x ^ 0x3c)), shouldReEncrypt: false };
  }
  getSelectedStorageBackend() { return this.backend; }
}

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
    // The window goes back to the sign-in form: it says the login was cancelled, no Cancel, "Log in" ready again.
    await page.getByTestId('login-progress').getByText('Login cancelled.').waitFor({ timeout: 10_000 });
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

/**
 * The app hosting the engine in-process, its state behind the keychain (SessionFallbackStore over
 * KeychainStateStore, as electron-main wires it), signed in through the window.
 */
async function inProcessApp(lab: RealEngine, safe: TestSafeStorage, log: TestLogger) {
  const stateDir = join(lab.dir, 'app-state');
  let bridge: RendererBridge | undefined;
  let initial: string | undefined;
  const store = await new SessionFallbackStore(new KeychainStateStore(safe, new FileBlobStore(stateDir)), (w) => (bridge ? bridge.controller.setSecretsWarning(w) : (initial = w))).open();
  const inproc = await startInProcessEngine({ store, log, version: '0.1.0' });
  const opened: string[] = [];
  bridge = new RendererBridge({ engine: inproc.engine, opener: { openExternal: async (u) => void opened.push(u) }, log, host: { mode: 'in-process', detail: 'test: no meshtrayd' }, ...(initial ? { secretsWarning: initial } : {}) });
  await bridge.start();
  const onDisk = (): string[] => {
    try {
      return readdirSync(stateDir).sort();
    } catch {
      return [];
    }
  };
  return { store, inproc, bridge, opened, stateDir, onDisk };
}

async function signIn(page: Awaited<ReturnType<typeof loopbackOnlyPage>>, lab: RealEngine, opened: string[]): Promise<void> {
  await page.getByLabel('Login server').fill(lab.hs.serverURL);
  await page.getByRole('button', { name: 'Log in' }).click();
  await lab.approveAuthURL(await waitFor('AuthURL', () => opened[0], 30_000));
  await waitFor('Connected', async () => ((await page.getByTestId('connection-state').innerText().catch(() => '')) === 'Connected' ? true : undefined), 45_000);
}

test('bad input: no keychain (basic_text) — the window says so, the login works for this session, nothing is written to disk', { timeout: 180_000 }, async (t) => {
  if (skipUnlessRendererE2E(t)) return;
  let lab: RealEngine | undefined;
  let app: Awaited<ReturnType<typeof inProcessApp>> | undefined;
  let chromium: LaunchedBrowser | undefined;
  const log = new TestLogger();
  try {
    lab = await RealEngine.start({ daemon: false });
    app = await inProcessApp(lab, new TestSafeStorage('basic_text'), log);
    chromium = await launchChromium();
    const page = await loopbackOnlyPage(chromium.browser);
    await page.goto(app.bridge.url);
    await page.getByText('No real keychain was found').waitFor();
    assert.match(await page.getByText('No real keychain was found').innerText(), /will not remember this login after it quits/);
    await page.getByRole('heading', { name: 'Sign in to your tailnet' }).waitFor();
    await signIn(page, lab, app.opened);
    assert.equal((await app.inproc.engine.call('status', {})).BackendState, 'Running', 'the engine is unaffected');
    await page.getByText('No real keychain was found').waitFor();
    await shot(page, '13b-keychain-missing-connected');
    assert.deepEqual(app.onDisk(), [], 'nothing written in plain text (nor under a hard-coded password)');
    assert.ok(app.store.sessionOnlyKeys.length > 0, 'the login is held in memory');
  } catch (err) {
    process.stderr.write(`--- log ---\n${log.lines.slice(-40).join('\n')}\n`);
    throw err;
  } finally {
    await app?.bridge.stop();
    await chromium?.close();
    await app?.inproc.stop();
    await lab?.stop();
  }
});

test('bad input: keychain locked mid-session — a warning appears, the change still takes effect, nothing on disk changes; unlocking clears it', { timeout: 180_000 }, async (t) => {
  if (skipUnlessRendererE2E(t)) return;
  let lab: RealEngine | undefined;
  let app: Awaited<ReturnType<typeof inProcessApp>> | undefined;
  let chromium: LaunchedBrowser | undefined;
  const log = new TestLogger();
  try {
    lab = await RealEngine.start({ daemon: false });
    const safe = new TestSafeStorage('gnome_libsecret');
    app = await inProcessApp(lab, safe, log);
    chromium = await launchChromium();
    const page = await loopbackOnlyPage(chromium.browser);
    await page.goto(app.bridge.url);
    await signIn(page, lab, app.opened);
    const files = app.onDisk();
    assert.ok(files.length > 0, 'the login went to the keychain store');
    const bytes = () => app!.onDisk().map((f) => readFileSync(join(app!.stateDir, f)).toString('hex'));
    const before = bytes();
    assert.equal(await page.getByText('The system keychain is locked').count(), 0);

    safe.locked = true;
    const wanted = !(await app.inproc.engine.call('getPrefs', {})).RouteAll;
    const r = (await page.evaluate(`window.meshtray.editPrefs({ RouteAll: ${wanted} })`)) as { ok: boolean };
    assert.equal(r.ok, true, 'the edit is not refused because the keychain is locked');
    await page.getByText('The system keychain is locked or not available.').waitFor();
    assert.match(await page.getByText('The system keychain is locked or not available.').innerText(), /will not remember this login after it quits/);
    assert.equal((await app.inproc.engine.call('getPrefs', {})).RouteAll, wanted, 'the change took effect');
    assert.equal((await app.inproc.engine.call('status', {})).BackendState, 'Running', 'still connected');
    assert.deepEqual(bytes(), before, 'nothing on disk changed while locked');
    await shot(page, '13c-keychain-locked-mid-session');

    safe.locked = false;
    const r2 = (await page.evaluate(`window.meshtray.editPrefs({ RouteAll: ${!wanted} })`)) as { ok: boolean };
    assert.equal(r2.ok, true);
    await page.getByText('The system keychain is locked or not available.').waitFor({ state: 'detached' });
    assert.deepEqual(app.store.sessionOnlyKeys, [], 'everything reached the keychain');
  } catch (err) {
    process.stderr.write(`--- log ---\n${log.lines.slice(-40).join('\n')}\n`);
    throw err;
  } finally {
    await app?.bridge.stop();
    await chromium?.close();
    await app?.inproc.stop();
    await lab?.stop();
  }
});
