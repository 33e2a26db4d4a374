import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalBackend } from '../../../../main/engine/backend/local-backend.js';
import { backoffDelay } from '../../../../main/engine/backend/backoff.js';
import { MemoryStateStore } from '../../../../main/engine/state/memory-state-store.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import type { Notify } from '../../../../common/schemas/notify.js';
import { FakeClock, flush } from '../../../doubles/fake-clock.js';
import { FakeControl, okRegister } from '../../../doubles/fake-control.js';
import { fullMap, keepAlive, node } from '../../../doubles/map-messages.js';

const AUTH_KEY = 'hskey-auth-Ab12Cd34-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH';

/** Deterministic Random: bytes from a counter, float from a cycling list. */
function seqRandom(floats = [0.5]) {
  let c = 1;
  let i = 0;
  return {
    bytes: (n: number) => Uint8Array.from({ length: n }, () => (c++ * 37) & 0xff),
    float: () => floats[i++ % floats.length]!,
  };
}

async function makeBackend(opts: { store?: MemoryStateStore; floats?: number[]; control?: FakeControl; clock?: FakeClock } = {}) {
  const store = opts.store ?? new MemoryStateStore();
  const clock = opts.clock ?? new FakeClock();
  const control = opts.control ?? new FakeControl();
  const { logger, lines } = memoryLogger('debug');
  const b = new LocalBackend({
    store,
    clock,
    random: seqRandom(opts.floats),
    logger,
    controlFactory: control.factory,
    hostFacts: { hostname: 'box.local', osVersion: '6.1.0', version: '0.1.0' },
    version: '0.1.0',
  });
  await b.init();
  const notes: Notify[] = [];
  const unsub = b.watch((n) => notes.push(n));
  return { b, store, clock, control, lines, notes, unsub };
}

test('pre-auth key login: register carries the key once, then the map poll makes the node Running with its peers', async () => {
  const { b, control, clock, notes, lines, store } = await makeBackend();
  assert.equal(notes[0]?.State, 'NeedsLogin', 'snapshot first');
  assert.ok(notes[0]?.Prefs && notes[0]?.Status);
  await b.start({ AuthKey: AUTH_KEY, Prefs: { ControlURL: 'http://hs.example:8080/', Hostname: 'meshy' } });
  await flush();
  assert.equal(control.serverURL, 'http://hs.example:8080', 'trailing slash trimmed');
  const reg = control.registers[0]!;
  assert.equal(reg.Auth?.AuthKey, AUTH_KEY);
  assert.match(reg.NodeKey, /^nodekey:[0-9a-f]{64}$/);
  assert.equal(reg.Hostinfo.Hostname, 'meshy');
  assert.equal(reg.Hostinfo.OS, 'linux');
  assert.equal(reg.Hostinfo.IPNVersion, 'meshtray-0.1.0');
  assert.equal(b.backendState, 'Starting');
  const s = control.lastStream!;
  assert.equal(s.req.Stream, true);
  assert.equal(s.req.NodeKey, reg.NodeKey);
  assert.match(s.req.DiscoKey, /^discokey:/);
  s.send(fullMap(node({ id: 1, name: 'meshy', key: reg.NodeKey }), [node({ id: 2, name: 'peer2', os: 'linux' })]));
  await clock.advance(300);
  assert.equal(b.backendState, 'Running');
  const st = await b.status();
  assert.deepEqual(st.TailscaleIPs, ['100.64.0.1', 'fd7a:115c:a1e0::1']);
  assert.equal(st.Self?.DNSName, 'meshy.tail.example.');
  assert.equal(st.MagicDNSSuffix, 'tail.example');
  const peers = Object.values(st.Peer ?? {});
  assert.equal(peers.length, 1);
  assert.equal(peers[0]?.HostName, 'peer2');
  assert.equal(peers[0]?.Online, true);
  assert.equal(peers[0]?.Relay, 'lab1');
  assert.equal(st.User?.['1']?.LoginName, 'alice@');
  assert.ok(notes.some((n) => n.LoginFinished));
  assert.ok(notes.some((n) => n.State === 'Running'));
  assert.ok(notes.some((n) => n.Status?.BackendState === 'Running'), 'a Status followed the change');
  // The login is persisted, the auth key is not, and no secret is in the logs or status.
  const profile = (await store.get('profile'))!;
  assert.ok(profile.includes('privkey:'));
  const all = [...(await Promise.all(['profile', 'prefs', '_machinekey'].map((k) => store.get(k))))].join('\n');
  assert.ok(!all.includes(AUTH_KEY), 'auth key never persisted');
  const machine = (await store.get('_machinekey'))!;
  const nodePriv = (JSON.parse(profile) as { PrivateNodeKey: string }).PrivateNodeKey;
  const logText = lines.join('') + JSON.stringify(st) + JSON.stringify(notes);
  for (const secret of [AUTH_KEY, machine, nodePriv, machine.slice(8), nodePriv.slice(8)]) assert.ok(!logText.includes(secret), 'secret leaked');
  await b.shutdown();
});

test('interactive login: AuthURL is published as BrowseToURL, followup keeps the same node key, then Running without restart', async () => {
  const control = new FakeControl();
  const url = 'http://hs.example:8080/register/hskey-authreq-ABCDEFGHIJKLMNOPQRSTUVWX';
  let approve!: () => void;
  control.answers = [
    okRegister({ AuthURL: url, MachineAuthorized: false }),
    (_req, signal) =>
      new Promise((resolve, reject) => {
        approve = () => resolve(okRegister());
        signal?.addEventListener('abort', () => reject(new Error('aborted')));
      }),
  ];
  const { b, notes, clock } = await makeBackend({ control });
  await b.start({ Prefs: { ControlURL: 'http://hs.example:8080' } });
  await flush();
  assert.equal(b.backendState, 'NeedsLogin');
  assert.equal(notes.filter((n) => n.BrowseToURL === url).length, 1);
  assert.equal((await b.status()).AuthURL, url);
  assert.equal(control.registers.length, 2);
  assert.equal(control.registers[1]!.Followup, url);
  assert.equal(control.registers[1]!.NodeKey, control.registers[0]!.NodeKey);
  assert.equal(control.registers[0]!.Auth, undefined);
  approve();
  await flush();
  assert.equal(control.streams.length, 1);
  control.lastStream!.send(fullMap(node({ id: 1, name: 'box', key: control.registers[0]!.NodeKey }), []));
  await clock.advance(300);
  assert.equal(b.backendState, 'Running');
  assert.equal((await b.status()).AuthURL, '');
  const order = notes.map((n) => (n.BrowseToURL ? 'url' : n.State === 'Running' ? 'running' : '')).filter(Boolean);
  assert.deepEqual(order, ['url', 'running']);
  await b.shutdown();
});

test('a refused pre-auth key surfaces the server error and stops retrying', async () => {
  const control = new FakeControl();
  control.answers = [okRegister({ Error: 'invalid authkey', MachineAuthorized: false })];
  const { b, notes, clock } = await makeBackend({ control });
  await b.start({ AuthKey: 'hskey-auth-bad-bad', Prefs: { ControlURL: 'http://hs' } });
  await clock.advance(60_000);
  assert.ok(notes.some((n) => n.ErrMessage === 'invalid authkey'));
  assert.equal(control.registers.length, 1);
  assert.equal(b.backendState, 'NeedsLogin');
  await b.shutdown();
});

test('map poll reconnect: backoff grows n²·10 ms with jitter in [0.5,1.5) and is capped at 30 s', async () => {
  const floats = [0.0, 0.999, 0.25, 0.75];
  const { b, control, clock } = await makeBackend({ floats });
  await b.start({ AuthKey: AUTH_KEY, Prefs: { ControlURL: 'http://hs' } });
  await flush();
  const delays: number[] = [];
  for (let i = 0; i < 70; i++) {
    const s = control.lastStream!;
    const before = clock.requested.length;
    s.fail(new Error('connection reset'));
    await flush();
    // The requested delays since the failure include the backoff sleep (the last one requested).
    const d = clock.requested.slice(before).at(-1)!;
    delays.push(d);
    await clock.advance(d);
    assert.equal(control.streams.length, i + 2, 'a new stream after the backoff');
  }
  for (let n = 1; n <= delays.length; n++) {
    const base = Math.min(n * n * 10, 30_000);
    assert.ok(delays[n - 1]! >= base * 0.5 && delays[n - 1]! < base * 1.5, `delay ${n} = ${delays[n - 1]} outside [${base * 0.5}, ${base * 1.5})`);
  }
  assert.ok(delays[5]! > delays[0]!, 'grows');
  assert.ok(Math.max(...delays) < 45_000, 'capped');
  assert.ok(delays.slice(60).every((d) => d >= 15_000), 'stays at the cap');
  assert.equal(new Set(delays.slice(60)).size > 1, true, 'jitter varies at the cap');
  assert.equal(backoffDelay(1, { bytes: () => new Uint8Array(), float: () => 0 }), 5);
  assert.equal(backoffDelay(100, { bytes: () => new Uint8Array(), float: () => 0.999999 }), 44_999);
  await b.shutdown();
});

test('a map message that fails validation keeps the last good netmap and redials; success resets the backoff', async () => {
  const { b, control, clock, lines } = await makeBackend();
  await b.start({ AuthKey: AUTH_KEY, Prefs: { ControlURL: 'http://hs' } });
  await flush();
  const key = control.registers[0]!.NodeKey;
  control.lastStream!.send(fullMap(node({ id: 1, name: 'box', key }), [node({ id: 2, name: 'peer2' }), node({ id: 3, name: 'peer3' })]));
  await clock.advance(300);
  const good = await b.status();
  assert.equal(Object.keys(good.Peer ?? {}).length, 2);
  const first = control.lastStream!;
  first.send({ PeersChanged: [{ ID: 'not-a-number', Key: 'garbage' }] });
  await flush();
  assert.equal(first.signal.aborted, true, 'the stream was dropped');
  assert.equal(b.counters.badMapMessages, 1);
  assert.ok(lines.some((l) => l.includes('rejected a message') && l.includes('PeersChanged')), 'reason logged');
  const during = await b.status();
  assert.deepEqual(Object.keys(during.Peer ?? {}).sort(), Object.keys(good.Peer ?? {}).sort(), 'last good netmap still served');
  assert.equal(b.backendState, 'Running');
  assert.equal(good.Self?.Online, true);
  assert.equal(during.Self?.Online, false, 'Self.Online shows the map poll is down');
  await clock.advance(20);
  assert.equal(control.streams.length, 2, 'redialed after backoff');
  // A first message without Node is a protocol error too.
  control.lastStream!.send({ Peers: [node({ id: 2, name: 'peer2' })] });
  await flush();
  assert.equal(control.lastStream!.signal.aborted, true);
  assert.equal(b.counters.badMapMessages, 2);
  await clock.advance(100);
  assert.equal(control.streams.length, 3);
  // The new stream's first message replaces the map wholesale (peer3 gone).
  control.lastStream!.send(fullMap(node({ id: 1, name: 'box', key }), [node({ id: 2, name: 'peer2' })]));
  await clock.advance(300);
  assert.deepEqual(Object.values((await b.status()).Peer ?? {}).map((p) => p.HostName), ['peer2']);
  assert.equal((await b.status()).Self?.Online, true);
  await b.shutdown();
});

test('deltas: a peer joining, going offline and leaving reach status; status notifications are rate-limited', async () => {
  const { b, control, clock, notes } = await makeBackend();
  await b.start({ AuthKey: AUTH_KEY, Prefs: { ControlURL: 'http://hs' } });
  await flush();
  const key = control.registers[0]!.NodeKey;
  const s = control.lastStream!;
  s.send(fullMap(node({ id: 1, name: 'box', key }), [node({ id: 2, name: 'peer2' })]));
  await clock.advance(300);
  const before = notes.filter((n) => n.Status).length;
  s.send({ PeersChanged: [node({ id: 3, name: 'peer3' })], UserProfiles: [{ ID: 1, LoginName: 'alice@', DisplayName: 'alice' }] });
  s.send({ PeersChangedPatch: [{ NodeID: 2, Online: false }] });
  s.send(keepAlive);
  await flush();
  await clock.advance(300);
  const statusNotes = notes.filter((n) => n.Status);
  assert.equal(statusNotes.length, before + 1, 'burst coalesced into one Status');
  const st = statusNotes.at(-1)!.Status!;
  const byName = Object.fromEntries(Object.values(st.Peer ?? {}).map((p) => [p.HostName, p]));
  assert.equal(byName['peer3']?.Online, true);
  assert.equal(byName['peer2']?.Online, false);
  s.send({ PeersRemoved: [3] });
  await clock.advance(300);
  assert.deepEqual(Object.values((await b.status()).Peer ?? {}).map((p) => p.HostName), ['peer2']);
  assert.equal(control.registers.length, 1, 'no re-login for deltas');
  await b.shutdown();
});

test('watchdog: a stream silent for 120 s is dropped and redialed; keep-alives hold it open', async () => {
  const { b, control, clock } = await makeBackend();
  await b.start({ AuthKey: AUTH_KEY, Prefs: { ControlURL: 'http://hs' } });
  await flush();
  const key = control.registers[0]!.NodeKey;
  control.lastStream!.send(fullMap(node({ id: 1, name: 'box', key }), []));
  await clock.advance(100_000);
  control.lastStream!.send(keepAlive);
  await clock.advance(100_000);
  assert.equal(control.streams.length, 1, 'keep-alive fed the watchdog');
  await clock.advance(21_000);
  assert.equal(control.streams[0]!.signal.aborted, true);
  await clock.advance(100);
  assert.equal(control.streams.length, 2);
  assert.ok((await b.status()).Self, 'netmap kept while reconnecting');
  await b.shutdown();
});

test('restart: machine key and node key survive; re-register has no auth key; server-ended stream redials', async () => {
  const store = new MemoryStateStore();
  const first = await makeBackend({ store });
  await first.b.start({ AuthKey: AUTH_KEY, Prefs: { ControlURL: 'http://hs' } });
  await flush();
  const nodeKey = first.control.registers[0]!.NodeKey;
  const machine = await store.get('_machinekey');
  await first.b.shutdown();
  const second = await makeBackend({ store });
  await flush();
  assert.equal(await store.get('_machinekey'), machine);
  assert.equal(second.control.registers[0]!.NodeKey, nodeKey);
  assert.equal(second.control.registers[0]!.Auth, undefined);
  second.control.lastStream!.send(fullMap(node({ id: 1, name: 'box', key: nodeKey }), []));
  await second.clock.advance(300);
  assert.equal(second.b.backendState, 'Running');
  second.control.lastStream!.end(); // e.g. Headscale restarted
  await second.clock.advance(100);
  assert.equal(second.control.streams.length, 2);
  assert.equal(second.control.streams[1]!.req.NodeKey, nodeKey);
  await second.b.shutdown();
});

test('404 on the map poll re-registers; an expired self key rotates the node key (OldNodeKey sent)', async () => {
  const { b, control, clock } = await makeBackend();
  await b.start({ AuthKey: AUTH_KEY, Prefs: { ControlURL: 'http://hs' } });
  await flush();
  const k1 = control.registers[0]!.NodeKey;
  control.lastStream!.fail(Object.assign(new Error('map: 404 node not found'), { status: 404 }));
  await flush();
  assert.equal(control.registers.length, 2);
  assert.equal(control.registers[1]!.NodeKey, k1);
  control.lastStream!.send(fullMap(node({ id: 1, name: 'box', key: k1, keyExpiry: '2026-11-23T11:00:00Z' }), []));
  await flush();
  assert.equal(control.registers.length, 3);
  const r = control.registers[2]!;
  assert.notEqual(r.NodeKey, k1);
  assert.equal(r.OldNodeKey, k1);
  await b.shutdown();
});

test('logout tells control (Expiry in the past), forgets the node key, and needs a new login; down/up keep it', async () => {
  const { b, control, clock, store } = await makeBackend();
  await b.start({ AuthKey: AUTH_KEY, Prefs: { ControlURL: 'http://hs' } });
  await flush();
  const k1 = control.registers[0]!.NodeKey;
  control.lastStream!.send(fullMap(node({ id: 1, name: 'box', key: k1 }), []));
  await clock.advance(300);
  await b.down();
  assert.equal(b.backendState, 'Stopped');
  assert.equal(control.lastStream!.signal.aborted, true);
  await b.start({});
  await flush();
  assert.equal(control.registers.at(-1)!.NodeKey, k1, 'up after down reuses the login');
  await b.logout();
  const lo = control.registers.at(-1)!;
  assert.equal(lo.Expiry, '1970-01-01T00:02:03Z');
  assert.equal(lo.NodeKey, k1);
  assert.equal(b.backendState, 'NeedsLogin');
  assert.equal(await store.get('profile'), undefined);
  assert.equal((await b.getPrefs()).LoggedOut, true);
  await b.start({});
  await flush();
  assert.notEqual(control.registers.at(-1)!.NodeKey, k1, 'fresh node key after logout');
  await b.shutdown();
});

test('hostname change while running sends a lite Hostinfo update', async () => {
  const { b, control, clock } = await makeBackend();
  await b.start({ AuthKey: AUTH_KEY, Prefs: { ControlURL: 'http://hs' } });
  await flush();
  control.lastStream!.send(fullMap(node({ id: 1, name: 'box', key: control.registers[0]!.NodeKey }), []));
  await clock.advance(300);
  await b.editPrefs({ Hostname: 'renamed' });
  await flush();
  assert.equal(control.updates.length, 1);
  assert.equal(control.updates[0]!.OmitPeers, true);
  assert.equal(control.updates[0]!.Stream, false);
  assert.equal(control.updates[0]!.Hostinfo.Hostname, 'renamed');
  await b.editPrefs({ Hostname: 'renamed' });
  await flush();
  assert.equal(control.updates.length, 1, 'no update when nothing changed');
  await b.shutdown();
});

test('a PingRequest from control is answered with a HEAD; typed pings are skipped; the stream goes on', async () => {
  const { b, control, clock } = await makeBackend();
  await b.start({ AuthKey: AUTH_KEY, Prefs: { ControlURL: 'http://hs' } });
  await flush();
  const key = control.registers[0]!.NodeKey;
  const s = control.lastStream!;
  s.send(fullMap(node({ id: 1, name: 'box', key }), [node({ id: 2, name: 'peer2' })]));
  await clock.advance(300);
  s.send({ PingRequest: { URL: 'http://hs/machine/ping-response?id=abc', URLIsNoise: true } });
  s.send({ PingRequest: { URL: 'http://hs/x', Types: 'disco', IP: '100.64.0.2' } });
  await flush();
  assert.deepEqual(control.pings, [{ URL: 'http://hs/machine/ping-response?id=abc', URLIsNoise: true }]);
  assert.equal(b.counters.controlPings, 1);
  assert.equal(s.closed, false, 'a ping does not disturb the map stream');
  assert.equal(b.backendState, 'Running');
  await b.shutdown();
});
