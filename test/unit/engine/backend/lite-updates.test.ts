// Lite updates on their own: Hostinfo only when it differs from what control has, endpoints
// always, retries with backoff, and a newer update superseding one still retrying.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LITE_UPDATE_TIMEOUT_MS, LiteUpdates } from '../../../../main/engine/backend/lite-updates.js';
import { newBackendCounters } from '../../../../main/engine/backend/counters.js';
import { buildMapRequest } from '../../../../main/engine/backend/map-request.js';
import type { MapRequest } from '../../../../main/engine/control/messages.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import { FakeClock, flush } from '../../../doubles/fake-clock.js';
import { FakeControl } from '../../../doubles/fake-control.js';
import { nodeKeyFor } from '../../../doubles/map-messages.js';

function setup() {
  const clock = new FakeClock();
  const control = new FakeControl();
  const counters = newBackendCounters();
  const world = { hostname: 'box', endpoints: ['192.0.2.1:41641'], fail: 0 };
  const req = (stream: boolean): MapRequest =>
    buildMapRequest({
      nodeKey: nodeKeyFor(1),
      discoKey: 'discokey:' + '0'.repeat(64),
      hostinfo: { Hostname: world.hostname },
      endpoints: { Endpoints: [...world.endpoints], EndpointTypes: world.endpoints.map(() => 1) },
      stream,
    });
  const realUpdate = control.mapUpdate.bind(control);
  const timeouts: (number | undefined)[] = [];
  control.mapUpdate = async (r, opts) => {
    timeouts.push(opts?.timeoutMs);
    if (world.fail > 0) {
      world.fail--;
      throw new Error('control: 502');
    }
    return realUpdate(r);
  };
  const lite = new LiteUpdates({ clock, random: { bytes: (n) => new Uint8Array(n), float: () => 0.5 }, logger: memoryLogger('debug').logger, counters, client: () => control, request: () => req(false) });
  return { clock, control, counters, world, lite, req, timeouts };
}

test('Hostinfo goes out only when it differs from what the stream request or the last update carried', async () => {
  const { control, lite, world, req, counters } = setup();
  const sig = new AbortController().signal;
  lite.streamed(req(true));
  lite.hostinfoMaybeChanged(sig);
  await flush();
  assert.equal(control.updates.length, 0, 'control already has this Hostinfo');
  world.hostname = 'renamed';
  lite.hostinfoMaybeChanged(sig);
  await flush();
  assert.equal(control.updates.length, 1);
  assert.equal(control.updates[0]!.Hostinfo.Hostname, 'renamed');
  assert.equal(control.updates[0]!.OmitPeers, true);
  assert.equal(control.updates[0]!.Stream, false);
  lite.hostinfoMaybeChanged(sig);
  await flush();
  assert.equal(control.updates.length, 1, 'nothing new');
  assert.equal(counters.liteUpdates, 1);
});

test('each lite update waits a bounded time for control (then it is retried), not the 60 s default', async () => {
  const { lite, timeouts, world } = setup();
  world.hostname = 'renamed';
  lite.hostinfoMaybeChanged(new AbortController().signal);
  await flush();
  assert.deepEqual(timeouts, [LITE_UPDATE_TIMEOUT_MS]);
  assert.ok(LITE_UPDATE_TIMEOUT_MS < 30_000);
});

test('endpoints go out even with an unchanged Hostinfo; failures retry with backoff until sent', async () => {
  const { control, lite, world, clock, req } = setup();
  const sig = new AbortController().signal;
  lite.streamed(req(true));
  world.endpoints = ['198.51.100.7:41641'];
  world.fail = 2;
  lite.endpointsChanged(sig);
  await flush();
  assert.equal(control.updates.length, 0);
  await clock.advance(10);
  assert.equal(control.updates.length, 0);
  await clock.advance(40);
  assert.deepEqual(control.updates.map((u) => u.Endpoints), [['198.51.100.7:41641']]);
});

test('a newer update supersedes one still retrying; a session end stops retries', async () => {
  const { control, lite, world, clock } = setup();
  const ac = new AbortController();
  world.fail = 1;
  lite.endpointsChanged(ac.signal);
  await flush();
  world.hostname = 'second';
  lite.hostinfoMaybeChanged(ac.signal);
  await flush();
  await clock.advance(1_000);
  assert.equal(control.updates.length, 1, 'the first one gave up: the second carried everything');
  assert.equal(control.updates[0]!.Hostinfo.Hostname, 'second');
  world.fail = 5;
  world.endpoints = ['203.0.113.9:41641'];
  lite.endpointsChanged(ac.signal);
  await flush();
  ac.abort();
  await clock.advance(60_000);
  assert.equal(control.updates.length, 1);
  assert.equal(world.fail, 4, 'no try after the session ended');
});
