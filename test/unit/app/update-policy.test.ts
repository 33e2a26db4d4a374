import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, flush } from '../../doubles/fake-clock.js';
import { UpdatePolicy, describeUpdateError, type Updater } from '../../../main/app/updater/update-policy.js';
import type { UpdateState } from '../../../main/app/ipc/app-contract.js';
import { MemLogger } from './fixtures.js';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../../../main/engine/ports/system.js';
import { adaptElectronUpdater } from '../../../main/app/updater/electron-updater-adapter.js';
import { realUpdater, sha512, UpdateFeed } from './updater-feed-harness.js';

const HOUR = 3_600_000;

class FakeUpdater implements Updater {
  checks = 0;
  downloads = 0;
  installs = 0;
  next: () => Promise<{ version: string } | null> = async () => null;
  downloadImpl: (p: (n: number) => void) => Promise<void> = async (p) => { p(50); p(100); };
  check() { this.checks++; return this.next(); }
  download(p: (n: number) => void) { this.downloads++; return this.downloadImpl(p); }
  quitAndInstall() { this.installs++; }
}

function setup(busy = { v: false }) {
  const clock = new FakeClock();
  const updater = new FakeUpdater();
  const states: UpdateState[] = [];
  const policy = new UpdatePolicy({ updater, clock, log: new MemLogger(), currentVersion: '0.1.0', isBusy: () => busy.v, onChange: (s) => states.push(s), intervalMs: 4 * HOUR, startDelayMs: 10_000 });
  return { clock, updater, states, policy, busy };
}

test('checks shortly after start, then every interval', async () => {
  const { clock, updater, policy } = setup();
  policy.start();
  await clock.advance(9_999);
  assert.equal(updater.checks, 0);
  await clock.advance(1);
  assert.equal(updater.checks, 1);
  assert.equal(policy.current.phase, 'up-to-date');
  await clock.advance(4 * HOUR - 1);
  assert.equal(updater.checks, 1);
  await clock.advance(1);
  assert.equal(updater.checks, 2);
  await clock.advance(8 * HOUR);
  assert.equal(updater.checks, 4);
  policy.stop();
  await clock.advance(8 * HOUR);
  assert.equal(updater.checks, 4);
});

test('an update downloads in the background, is ready, installs on quit, never twice', async () => {
  const { updater, policy, states } = setup();
  updater.next = async () => ({ version: '0.2.0' });
  await policy.checkNow();
  assert.equal(updater.downloads, 1);
  assert.equal(policy.current.phase, 'ready');
  assert.equal(policy.current.availableVersion, '0.2.0');
  assert.ok(states.some((s) => s.phase === 'downloading' && s.percent === 50));
  assert.equal(updater.installs, 0, 'never restarts on its own');
  assert.equal(policy.shouldInstallOnQuit(), true);
  await policy.checkNow();
  assert.equal(updater.checks, 1, 'a ready update is not checked/downloaded again');
});

test('user asks to install: now when idle', async () => {
  const { updater, policy } = setup();
  updater.next = async () => ({ version: '0.2.0' });
  await policy.checkNow();
  policy.installNow();
  assert.equal(updater.installs, 1);
  assert.equal(policy.current.phase, 'installing');
});

test('never restarts while connecting: deferred until the engine settles', async () => {
  const busy = { v: true };
  const { updater, policy } = setup(busy);
  updater.next = async () => ({ version: '0.2.0' });
  await policy.checkNow();
  policy.installNow();
  assert.equal(updater.installs, 0);
  assert.match(policy.current.deferredReason ?? '', /as soon as the connection attempt finishes/);
  policy.onBusyChanged();
  assert.equal(updater.installs, 0, 'still connecting');
  busy.v = false;
  policy.onBusyChanged();
  assert.equal(updater.installs, 1);
});

test('unreachable feed: clear message, version kept, next check still scheduled', async () => {
  const { clock, updater, policy } = setup();
  updater.next = async () => { throw Object.assign(new Error('getaddrinfo ENOTFOUND updates.example'), { code: 'ENOTFOUND' }); };
  policy.start();
  await clock.advance(10_000);
  assert.equal(policy.current.phase, 'error');
  assert.equal(policy.current.message, 'The update server could not be reached. You are still on 0.1.0; nothing was changed. Meshtray will try again later.');
  updater.next = async () => null;
  await clock.advance(4 * HOUR);
  assert.equal(policy.current.phase, 'up-to-date');
});

test('bad signature: update discarded, nothing installed, clear message', async () => {
  const { updater, policy } = setup();
  updater.next = async () => ({ version: '0.2.0' });
  updater.downloadImpl = async () => {
    throw Object.assign(new Error('New version 0.2.0 is not signed by the application owner: publisherNames: Meshtray'), { code: 'ERR_UPDATER_INVALID_SIGNATURE' });
  };
  await policy.checkNow();
  assert.equal(policy.current.phase, 'error');
  assert.equal(policy.current.message, 'The downloaded update failed its signature check and was discarded. You are still on 0.1.0; nothing was changed.');
  assert.equal(policy.shouldInstallOnQuit(), false);
  policy.installNow();
  assert.equal(updater.installs, 0);
});

test('describeUpdateError: checksum and feed errors', () => {
  assert.match(describeUpdateError(Object.assign(new Error('sha512 checksum mismatch'), { code: 'ERR_CHECKSUM_MISMATCH' }), '1.0.0'), /damaged \(checksum mismatch\)/);
  assert.match(describeUpdateError(Object.assign(new Error('Cannot find channel "latest.yml"'), { code: 'ERR_UPDATER_CHANNEL_FILE_NOT_FOUND' }), '1.0.0'), /feed could not be read \(ERR_UPDATER_CHANNEL_FILE_NOT_FOUND\)/);
});

test('concurrent checks share one request', async () => {
  const { updater, policy } = setup();
  let release!: () => void;
  updater.next = () => new Promise((r) => { release = () => r(null); });
  const a = policy.checkNow();
  const b = policy.checkNow();
  await flush();
  release();
  await Promise.all([a, b]);
  assert.equal(updater.checks, 1);
});

// --- Real electron-updater against a feed on loopback (updater-feed-harness.ts) ---

async function realPolicy(kind: 'deb' | 'nsis', feed: UpdateFeed, opts: { signedBy?: string } = {}) {
  const real = realUpdater(kind, `http://127.0.0.1:${feed.port}/`, opts);
  const states: UpdateState[] = [];
  const policy = new UpdatePolicy({ updater: adaptElectronUpdater(real.updater), clock: systemClock, log: new MemLogger(), currentVersion: '0.1.0', isBusy: () => false, onChange: (s) => states.push(s) });
  return { real, policy, states };
}

test('real DebUpdater: the feed claims a sha512 the download does not have → "damaged" message, nothing kept, nothing installed on quit', async () => {
  const body = randomBytes(64 * 1024);
  const feed = new UpdateFeed({ kind: 'deb', version: '0.2.0', body, claimedSha512: sha512(randomBytes(16)) });
  await feed.start();
  const { real, policy } = await realPolicy('deb', feed);
  try {
    const s = await policy.checkNow();
    assert.deepEqual(feed.fetched, ['/latest-linux.yml', `/${feed.file}`], 'the installer was really downloaded');
    assert.equal(s.phase, 'error');
    assert.equal(s.availableVersion, '0.2.0');
    assert.equal(s.message, 'The downloaded update was damaged (checksum mismatch) and was discarded. You are still on 0.1.0; nothing was changed.');
    assert.deepEqual(real.cachedFiles(), [], 'the damaged file is not left in the cache');
    assert.equal(policy.shouldInstallOnQuit(), false);
    // What electron-updater's own quit handler would do (autoInstallOnAppQuit): nothing valid to install.
    assert.equal(real.updater.install(true, false), false);
    assert.deepEqual(real.installs, []);
  } finally {
    await feed.stop();
    real.cleanup();
  }
});

test('real DebUpdater, control: the same feed with the right sha512 downloads and becomes ready', async () => {
  const body = randomBytes(64 * 1024);
  const feed = new UpdateFeed({ kind: 'deb', version: '0.2.0', body });
  await feed.start();
  const { real, policy } = await realPolicy('deb', feed);
  try {
    const s = await policy.checkNow();
    assert.equal(s.phase, 'ready', s.message);
    assert.equal(real.cachedFiles().length, 1);
    assert.equal(policy.shouldInstallOnQuit(), true);
  } finally {
    await feed.stop();
    real.cleanup();
  }
});

test('real NsisUpdater: installer not signed by the publisher in app-update.yml → ERR_UPDATER_INVALID_SIGNATURE → "signature" message, nothing installed', async () => {
  const body = randomBytes(32 * 1024);
  const feed = new UpdateFeed({ kind: 'nsis', version: '0.3.0', body });
  await feed.start();
  const { real, policy } = await realPolicy('nsis', feed, { signedBy: 'Evil Corp' });
  try {
    let code = '';
    real.updater.on('error', (e: { code?: string }) => (code = e.code ?? ''));
    const s = await policy.checkNow();
    assert.equal(code, 'ERR_UPDATER_INVALID_SIGNATURE', 'electron-updater\'s own error code');
    assert.deepEqual(real.signatureChecks, [['Meshtray']], 'checked against electron-builder.yml\'s publisherName');
    assert.equal(s.phase, 'error');
    assert.equal(s.message, 'The downloaded update failed its signature check and was discarded. You are still on 0.1.0; nothing was changed.');
    assert.deepEqual(real.cachedFiles(), [], 'the unsigned installer is removed');
    assert.equal(real.updater.install(true, false), false);
    assert.deepEqual(real.installs, []);
  } finally {
    await feed.stop();
    real.cleanup();
  }
});

test('real NsisUpdater, control: signed by Meshtray → ready, and quit installs exactly that file', async () => {
  const body = randomBytes(32 * 1024);
  const feed = new UpdateFeed({ kind: 'nsis', version: '0.3.0', body });
  await feed.start();
  const { real, policy } = await realPolicy('nsis', feed, { signedBy: 'Meshtray' });
  try {
    const s = await policy.checkNow();
    assert.equal(s.phase, 'ready', s.message);
    real.updater.install(true, false);
    assert.equal(real.installs.length, 1);
    assert.match(real.installs[0]!, /\.exe$/);
  } finally {
    await feed.stop();
    real.cleanup();
  }
});

test('real updater, feed down: "could not be reached", nothing downloaded', async () => {
  const feed = new UpdateFeed({ kind: 'deb', version: '0.2.0', body: randomBytes(10) });
  await feed.start();
  const port = feed.port;
  await feed.stop(); // a closed loopback port: a real ECONNREFUSED
  const real = realUpdater('deb', `http://127.0.0.1:${port}/`);
  const policy = new UpdatePolicy({ updater: adaptElectronUpdater(real.updater), clock: systemClock, log: new MemLogger(), currentVersion: '0.1.0', isBusy: () => false, onChange: () => undefined });
  try {
    const s = await policy.checkNow();
    assert.equal(s.phase, 'error');
    assert.equal(s.message, 'The update server could not be reached. You are still on 0.1.0; nothing was changed. Meshtray will try again later.');
    assert.deepEqual(real.cachedFiles(), []);
  } finally {
    real.cleanup();
  }
});
