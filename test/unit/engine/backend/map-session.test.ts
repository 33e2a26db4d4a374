// MapSession on its own: what a stream does to the netmap and which backend hooks it calls, in
// which order, for the cases that end a stream (404, key expiry, watchdog, bad message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MapSession, type MapSessionEnd, type MapSessionHost } from '../../../../main/engine/backend/map-session.js';
import { newBackendCounters } from '../../../../main/engine/backend/counters.js';
import { buildMapRequest } from '../../../../main/engine/backend/map-request.js';
import { NetMap } from '../../../../main/engine/netmap/netmap.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import { FakeClock, flush } from '../../../doubles/fake-clock.js';
import { FakeControl } from '../../../doubles/fake-control.js';
import { fullMap, keepAlive, node, nodeKeyFor } from '../../../doubles/map-messages.js';

function setup(watchdogMs = 120_000) {
  const clock = new FakeClock();
  const control = new FakeControl();
  const netmap = new NetMap({ clock });
  const events: string[] = [];
  const { logger, lines } = memoryLogger('debug');
  const counters = newBackendCounters();
  const host: MapSessionHost = {
    clock,
    random: { bytes: (n) => new Uint8Array(n), float: () => 0.5 },
    logger,
    counters,
    watchdogMs,
    netmap,
    client: () => control,
    streamRequest: () => {
      events.push('request');
      return buildMapRequest({ nodeKey: nodeKeyFor(1), discoKey: 'discokey:' + '0'.repeat(64), hostinfo: { Hostname: 'box' }, stream: true });
    },
    controlNow: () => clock.now(),
    streamUp: () => events.push('up'),
    netmapChanged: () => events.push('netmap'),
    statusChanged: () => events.push('status'),
    streamDown: () => events.push('down'),
    keyExpired: () => events.push('keyExpired'),
    nodeUnknown: () => events.push('nodeUnknown'),
    disconnected: () => events.push('disconnected'),
  };
  const ac = new AbortController();
  let end: MapSessionEnd | undefined;
  void new MapSession(host).run(ac.signal).then((e) => (end = e));
  return { clock, control, netmap, events, lines, counters, ac, end: () => end };
}

const self = (keyExpiry?: string) => node({ id: 1, name: 'box', key: nodeKeyFor(1), ...(keyExpiry ? { keyExpiry } : {}) });

test('first netmap: up, then the netmap hook, then Status; keep-alives change nothing; abort ends it as stopped', async () => {
  const { control, events, ac, end, counters } = setup();
  await flush();
  assert.equal(control.streams.length, 1);
  assert.equal(control.lastStream!.req.Stream, true);
  control.lastStream!.send(fullMap(self(), [node({ id: 2, name: 'peer2' })]));
  control.lastStream!.send(keepAlive);
  control.lastStream!.send({ PeersRemoved: [2] });
  assert.deepEqual(events, ['request', 'up', 'netmap', 'status', 'netmap', 'status']);
  ac.abort();
  await flush();
  assert.equal(end(), 'stopped');
  assert.equal(events.at(-1), 'down');
  assert.equal(counters.mapStreams, 1);
  assert.equal(counters.mapFailures, 0, 'a stop is not a failure');
});

test('a 404 from the map poll ends the session as relogin without a backoff', async () => {
  const { control, events, end, clock } = setup();
  await flush();
  const before = clock.requested.length;
  control.lastStream!.fail(Object.assign(new Error('map: 404 node not found'), { status: 404 }));
  await flush();
  assert.equal(end(), 'relogin');
  assert.deepEqual(events.slice(-2), ['down', 'nodeUnknown']);
  assert.ok(!events.includes('disconnected'));
  assert.equal(clock.requested.length, before, 'no sleep before registering again');
});

test('the self key expiring while streaming drops the stream and asks for a new key', async () => {
  const { control, events, end, clock } = setup();
  await flush();
  // The fake clock starts at 12:00:00; the key expires a minute later.
  control.lastStream!.send(fullMap(self('2026-11-23T12:01:00Z'), []));
  await clock.advance(59_000);
  assert.equal(end(), undefined, 'not yet');
  await clock.advance(2_000);
  assert.equal(control.lastStream!.signal.aborted, true);
  assert.equal(end(), 'relogin');
  assert.deepEqual(events.slice(-2), ['down', 'keyExpired']);
});

test('an already expired self key: no Status for that message, straight to relogin', async () => {
  const { control, events, end } = setup();
  await flush();
  control.lastStream!.send(fullMap(self('2026-11-23T11:00:00Z'), []));
  await flush();
  assert.equal(end(), 'relogin');
  assert.deepEqual(events, ['request', 'up', 'netmap', 'down', 'keyExpired']);
});

test('a silent stream is dropped by the watchdog and redialed after a backoff; the last netmap stays', async () => {
  const { control, events, clock, netmap, counters, lines } = setup(10_000);
  await flush();
  control.lastStream!.send(fullMap(self(), [node({ id: 2, name: 'peer2' })]));
  await clock.advance(10_001);
  assert.equal(control.streams[0]!.signal.aborted, true);
  assert.ok(events.includes('disconnected'));
  assert.ok(lines.some((l) => l.includes('no map message for 10 s')), 'the drop reason is logged');
  assert.equal(counters.mapFailures, 1);
  assert.equal(netmap.peerCount, 1, 'netmap kept while reconnecting');
  await clock.advance(10); // backoff 1: 10 ms × 1.0
  assert.equal(control.streams.length, 2);
});

test('a malformed message is counted, drops the stream, and the next stream starts clean', async () => {
  const { control, clock, counters, events } = setup();
  await flush();
  control.lastStream!.send({ PeersChanged: [{ ID: 'not-a-number' }] });
  await flush();
  assert.equal(counters.badMapMessages, 1);
  assert.ok(!events.includes('up'), 'nothing of it reached the backend');
  await clock.advance(10);
  assert.equal(control.streams.length, 2);
});
