import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotifyBus } from '../../../../main/engine/backend/notify-bus.js';
import { buildHostinfo, hostinfoKey } from '../../../../main/engine/backend/hostinfo.js';
import { loadOrCreateMachineKey, loadPrefs, loadProfile } from '../../../../main/engine/backend/profile.js';
import { isNodeNotFound } from '../../../../main/engine/backend/control-port.js';
import { MemoryStateStore } from '../../../../main/engine/state/memory-state-store.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import { defaultPrefs } from '../../../../common/schemas/prefs.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import type { Notify } from '../../../../common/schemas/notify.js';
import { FakeClock } from '../../../doubles/fake-clock.js';
import { emptyStatus } from '../../../doubles/fake-localapi-backend.js';

test('NotifyBus: snapshot first, changes in order, Status coalesced per interval, a throwing subscriber is isolated', async () => {
  const clock = new FakeClock();
  const { logger, lines } = memoryLogger();
  let statusBuilds = 0;
  const bus = new NotifyBus(clock, () => ({ State: 'Running' }), () => (statusBuilds++, emptyStatus({ BackendState: 'Running' })), logger, 250);
  const got: Notify[] = [];
  bus.subscribe(() => {
    throw new Error('broken UI');
  });
  const unsub = bus.subscribe((n) => got.push(n));
  assert.deepEqual(got, [{ State: 'Running' }]);
  bus.publish({ BrowseToURL: 'u' });
  for (let i = 0; i < 10; i++) bus.statusChanged();
  await clock.advance(0);
  assert.equal(statusBuilds, 1, 'first change goes out at once');
  for (let i = 0; i < 10; i++) bus.statusChanged();
  await clock.advance(100);
  assert.equal(statusBuilds, 1, 'within the interval: held back');
  await clock.advance(150);
  assert.equal(statusBuilds, 2, 'one Status at the end of the interval');
  assert.deepEqual(got.map((n) => Object.keys(n)[0]), ['State', 'BrowseToURL', 'Status', 'Status']);
  assert.ok(lines.some((l) => l.includes('notify subscriber threw')));
  unsub();
  bus.publish({ State: 'Stopped' });
  assert.equal(got.length, 4);
  bus.close();
});

test('Hostinfo: full object with OS linux, IPNVersion meshtray-<v>, hostname override, sorted routes', () => {
  const p = { ...defaultPrefs(), AdvertiseRoutes: ['10.2.0.0/24', '10.1.0.0/24', '10.1.0.0/24'] };
  const hi = buildHostinfo({ hostname: 'laptop.example.com', osVersion: '6.1.0-18-amd64', version: '0.1.0' }, p);
  assert.equal(hi.Hostname, 'laptop');
  assert.equal(hi.OS, 'linux');
  assert.equal(hi.OSVersion, '6.1.0-18-amd64');
  assert.equal(hi.IPNVersion, 'meshtray-0.1.0');
  assert.deepEqual(hi.RoutableIPs, ['10.1.0.0/24', '10.2.0.0/24']);
  assert.equal(hi.RequestTags, undefined);
  const hi2 = buildHostinfo({ hostname: 'laptop', osVersion: 'x', version: '0.1.0' }, { ...p, Hostname: 'custom' });
  assert.equal(hi2.Hostname, 'custom');
  assert.notEqual(hostinfoKey(hi), hostinfoKey(hi2));
});

test('stored state: the machine key is created once and kept; malformed entries are ignored without echoing them', async () => {
  const store = new MemoryStateStore();
  const { logger, lines } = memoryLogger();
  const rnd = { bytes: (n: number) => new Uint8Array(n).fill(9), float: () => 0.5 };
  const k1 = await loadOrCreateMachineKey(store, rnd, logger);
  const k2 = await loadOrCreateMachineKey(store, { ...rnd, bytes: (n: number) => new Uint8Array(n).fill(3) }, logger);
  assert.ok(k1.public.equals(k2.public), 'same machine key on the second start');
  await store.set('profile', '{"ControlURL":"x","PrivateNodeKey":"privkey:SECRETSECRET"}');
  assert.equal(await loadProfile(store, logger), undefined);
  await store.set('prefs', '{not json');
  assert.deepEqual(await loadPrefs(store, logger), defaultPrefs());
  await store.set('prefs', '{"Hostname":"h"}');
  assert.equal((await loadPrefs(store, logger)).Hostname, 'h', 'missing fields get defaults');
  assert.ok(!lines.join('').includes('SECRETSECRET'));
});

test('isNodeNotFound recognises control 404s only', () => {
  assert.equal(isNodeNotFound(new MeshtrayError('ERR_CONTROL_PROTOCOL', 'map: HTTP 404: node not found', { status: 404 })), true);
  assert.equal(isNodeNotFound(new MeshtrayError('ERR_CONTROL_PROTOCOL', 'map: HTTP 500', { status: 500 })), false);
  assert.equal(isNodeNotFound(new MeshtrayError('ERR_CONTROL_UNREACHABLE', 'connect ECONNREFUSED')), false);
  assert.equal(isNodeNotFound(new Error('timeout')), false);
});
