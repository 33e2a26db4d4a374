import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, flush } from '../../doubles/fake-clock.js';
import { UpdatePolicy, describeUpdateError, type Updater } from '../../../main/app/updater/update-policy.js';
import type { UpdateState } from '../../../main/app/ipc/app-contract.js';
import { MemLogger } from './fixtures.js';

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
