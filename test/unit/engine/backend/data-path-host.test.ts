// DataPathHost on its own: one data path per node key, a rotated key waits for the old path to be
// closed, close restores the OS before the TUN goes, a factory that throws is a health line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataPathHost } from '../../../../main/engine/backend/data-path-host.js';
import type { DataPathPort } from '../../../../main/engine/backend/data-path-port.js';
import type { OSWiring } from '../../../../main/engine/backend/os-wiring.js';
import { PrivateKey } from '../../../../main/engine/keys/keys.js';
import { NetMap } from '../../../../main/engine/netmap/netmap.js';
import { parseMapResponse } from '../../../../main/engine/netmap/tailcfg.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import { FakeClock, flush } from '../../../doubles/fake-clock.js';
import { fullMap, node, nodeKeyFor } from '../../../doubles/map-messages.js';

let seed = 7;
const random = { bytes: (n: number) => Uint8Array.from({ length: n }, () => (seed++ * 31) & 0xff), float: () => 0.5 };

function fakePath(events: string[], name: string, closeGate?: Promise<void>): DataPathPort {
  return {
    update: (nm) => events.push(`${name} update ${nm.peers().length}`),
    endpointFields: () => ({ Endpoints: [], EndpointTypes: [] }),
    netInfo: () => ({ PreferredDERP: 0, WorkingUDP: null, MappingVariesByDestIP: null }),
    onEndpointsChanged: () => () => events.push(`${name} unsubscribed`),
    ping: async () => ({ IP: '' }),
    peerExtras: () => ({}),
    selfExtras: () => ({}),
    metrics: () => ({}),
    netcheck: async () => undefined,
    close: async () => {
      await closeGate;
      events.push(`${name} closed`);
    },
  };
}

function setup(o: { os?: boolean; throwOnCreate?: boolean; closeGate?: Promise<void> } = {}) {
  const events: string[] = [];
  const clock = new FakeClock();
  const netmap = new NetMap({ clock });
  const p = parseMapResponse(fullMap(node({ id: 1, name: 'box', key: nodeKeyFor(1) }), [node({ id: 2, name: 'peer2' })]));
  assert.ok(p.ok);
  netmap.startStream();
  netmap.apply(p.value);
  let key: PrivateKey<'node'> | undefined = PrivateKey.generate('node', random);
  let n = 0;
  const os = o.os
    ? ({
        table: undefined,
        down: async () => void events.push('os restored'),
        apply: async () => {
          events.push('os applied');
          return undefined;
        },
      } as unknown as OSWiring)
    : undefined;
  const host = new DataPathHost({
    factory: () => {
      if (o.throwOnCreate) throw new Error('TUN: operation not permitted');
      const name = `path${++n}`;
      events.push(`${name} created`);
      return fakePath(events, name, n === 1 ? o.closeGate : undefined);
    },
    os,
    netmap,
    discoKey: PrivateKey.generate('disco', random),
    logger: memoryLogger('debug').logger,
    nodeKey: () => key,
    routeAll: () => false,
    endpointsChanged: () => events.push('endpoints'),
    startFailed: (f) => events.push(`startFailed ${f}`),
    wantOSApply: () => events.push('wantOSApply'),
    closed: () => events.push('closed'),
  });
  return { host, events, setKey: (k: PrivateKey<'node'> | undefined) => (key = k) };
}

test('created with the first netmap, fed the next ones; each asks for an OS apply', () => {
  const { host, events } = setup();
  host.sync();
  host.sync();
  assert.deepEqual(events, ['path1 created', 'startFailed false', 'wantOSApply', 'path1 update 1', 'wantOSApply']);
  assert.ok(host.path);
});

test('no node key (logged out, shut down): nothing is created', () => {
  const { host, events, setKey } = setup();
  setKey(undefined);
  host.sync();
  assert.deepEqual(events, []);
  assert.equal(host.path, undefined);
});

test('a rotated node key closes the old path and starts the new one only once the old is gone', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { host, events, setKey } = setup({ closeGate: gate });
  host.sync();
  events.length = 0;
  setKey(PrivateKey.generate('node', random));
  host.sync();
  await flush();
  assert.deepEqual(events, ['path1 unsubscribed', 'closed'], 'the TUN and port are still in use');
  assert.equal(host.path, undefined);
  assert.ok(host.closing);
  release();
  await flush();
  assert.deepEqual(events.slice(2), ['path1 closed', 'path2 created', 'startFailed false', 'wantOSApply']);
  assert.equal(host.closing, undefined);
});

test('with the OS integration, close restores the OS first, then closes the TUN', async () => {
  const { host, events } = setup({ os: true });
  host.sync();
  host.applyOS({} as never);
  assert.ok(events.includes('os applied'));
  events.length = 0;
  host.close();
  await host.closing;
  assert.deepEqual(events.filter((e) => e === 'os restored' || e === 'path1 closed'), ['os restored', 'path1 closed']);
  assert.ok(events.includes('path1 unsubscribed') && events.includes('closed'));
});

test('a factory that throws is reported as a failed start, and the next netmap tries again', () => {
  const { host, events } = setup({ throwOnCreate: true });
  host.sync();
  host.sync();
  assert.deepEqual(events, ['startFailed true', 'startFailed true']);
  assert.equal(host.path, undefined);
});
