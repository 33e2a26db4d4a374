// The other engine host: no meshtrayd, the engine runs inside the app process (in-process-engine.ts,
// the same LocalBackend with the real ts2021 client) and keeps its state through the keychain-backed
// StateStore. Against a real Headscale on loopback with a real tailscaled peer, the window behaves
// exactly as when attached to meshtrayd. A locked keychain shows a clear message and costs nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, loopbackOnlyPage, type LaunchedBrowser } from './browser.js';
import { RendererBridge } from './bridge-server.js';
import { RealEngine, waitFor } from './real-engine.js';
import { shot, skipUnlessRendererE2E, TestLogger } from './support.js';
import { startInProcessEngine, type InProcessEngine } from '../../../main/app/engine-host/in-process-engine.js';
import { KeychainStateStore, type SafeStorageLike } from '../../../main/app/secrets/keychain-store.js';
import { FileBlobStore } from '../../../main/app/secrets/file-blob-store.js';
import { MeshtrayError } from '../../../common/errors/errors.js';

/** safeStorage stand-in (Electron is not available here): AES-free XOR with a per-run key, lockable. */
class TestSafeStorage implements SafeStorageLike {
  locked = false;
  private readonly key = 0xa5;
  async isAsyncEncryptionAvailable() { return !this.locked; }
  async encryptStringAsync(s: string) { return new Uint8Array([...new TextEncoder().encode(s)].map((b) => b ^ this.key)); }
  async decryptStringAsync(b: Uint8Array) { return { result: new TextDecoder().decode(b.map((x) => x ^ this.key)), shouldReEncrypt: false }; }
  getSelectedStorageBackend() { return 'gnome_libsecret'; }
}

test('in-process engine host: sign in, peers, exit node, state kept encrypted through the keychain store', { timeout: 180_000 }, async (t) => {
  if (skipUnlessRendererE2E(t)) return;
  let lab: RealEngine | undefined;
  let inproc: InProcessEngine | undefined;
  let chromium: LaunchedBrowser | undefined;
  let bridge: RendererBridge | undefined;
  const log = new TestLogger();
  try {
    lab = await RealEngine.start({ daemon: false });
    const l = lab;
    await l.addPeer('exit1', { exitNode: true });
    const safe = new TestSafeStorage();
    const stateDir = join(l.dir, 'app-state');
    const store = new KeychainStateStore(safe, new FileBlobStore(stateDir));
    await store.assertUsable();
    inproc = await startInProcessEngine({ store, log, version: '0.1.0' });
    const engine = inproc.engine;
    const opened: string[] = [];
    bridge = new RendererBridge({ engine, opener: { openExternal: async (u) => void opened.push(u) }, log, host: { mode: 'in-process', detail: 'test: no meshtrayd' } });
    await bridge.start();
    chromium = await launchChromium();
    const page = await loopbackOnlyPage(chromium.browser);
    await page.goto(bridge.url);
    await page.getByLabel('Login server').fill(l.hs.serverURL);
    await page.getByRole('button', { name: 'Log in' }).click();
    const authURL = await waitFor('AuthURL', () => opened[0], 30_000);
    await l.approveAuthURL(authURL);
    await waitFor('Connected', async () => ((await page.getByTestId('connection-state').innerText()) === 'Connected' ? true : undefined), 45_000);
    await page.locator('[data-peer-name="exit1"]').waitFor();
    await page.getByRole('button', { name: 'Exit node' }).click();
    await page.getByRole('radio', { name: /^exit1/ }).click();
    const exit1 = Object.values((await engine.call('status', {})).Peer ?? {}).find((p) => p.HostName === 'exit1');
    await waitFor('engine ExitNodeID', async () => ((await engine.call('getPrefs', {})).ExitNodeID === exit1?.ID ? true : undefined));
    await waitFor('UI exit node', async () => ((await page.getByTestId('connection-state').innerText()).includes('using an exit node') ? true : undefined));
    await shot(page, '12-in-process-exit-node');

    // The engine's state went through the keychain store: files exist, and no key is readable in them.
    const files = readdirSync(stateDir);
    assert.ok(files.length > 0, 'state written');
    for (const f of files) assert.ok(!/privkey:|nodekey:|mkey:/.test(readFileSync(join(stateDir, f), 'latin1')), `${f} holds plaintext key material`);

    // Locked keychain: writes fail with the clear message; what is stored stays as it was.
    const before = files.map((f) => readFileSync(join(stateDir, f)).toString('hex'));
    safe.locked = true;
    await assert.rejects(store.set('probe', 'x'), (e) => MeshtrayError.is(e) && /locked or not available/.test(e.message));
    assert.deepEqual(readdirSync(stateDir).map((f) => readFileSync(join(stateDir, f)).toString('hex')), before);
  } catch (err) {
    process.stderr.write(`--- log ---\n${log.lines.slice(-40).join('\n')}\n--- headscale ---\n${lab?.hs?.logTail(30) ?? ''}\n`);
    throw err;
  } finally {
    await bridge?.stop();
    await chromium?.close();
    await inproc?.stop();
    await lab?.stop();
  }
});

test('in-process host with a locked keychain: the window says so; the engine runs on memory-only state', { timeout: 120_000 }, async (t) => {
  if (skipUnlessRendererE2E(t)) return;
  let chromium: LaunchedBrowser | undefined;
  let bridge: RendererBridge | undefined;
  let lab: RealEngine | undefined;
  let inproc: InProcessEngine | undefined;
  const log = new TestLogger();
  try {
    lab = await RealEngine.start({ daemon: false });
    const safe = new TestSafeStorage();
    safe.locked = true;
    const keychain = new KeychainStateStore(safe, new FileBlobStore(join(lab.dir, 'app-state')));
    // What electron-main does: the keychain refuses, so the session runs on memory and says why.
    const why = await keychain.assertUsable().then(() => undefined, (e: unknown) => (e instanceof Error ? e.message : String(e)));
    assert.ok(why);
    const { MemoryStateStore } = await import('../../../main/engine/state/memory-state-store.js');
    inproc = await startInProcessEngine({ store: new MemoryStateStore(), log, version: '0.1.0' });
    bridge = new RendererBridge({ engine: inproc.engine, opener: { openExternal: async () => undefined }, log, host: { mode: 'in-process', detail: 'test' }, secretsWarning: `${why} Until then Meshtray will not remember this login.` });
    await bridge.start();
    chromium = await launchChromium();
    const page = await loopbackOnlyPage(chromium.browser);
    await page.goto(bridge.url);
    await page.getByText('The system keychain is locked or not available.').waitFor();
    await page.getByRole('heading', { name: 'Sign in to your tailnet' }).waitFor();
    await shot(page, '13-keychain-locked');
  } finally {
    await bridge?.stop();
    await chromium?.close();
    await inproc?.stop();
    await lab?.stop();
  }
});
