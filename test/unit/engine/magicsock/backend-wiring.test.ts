// The backend drives the data path: created with the first netmap of a login, fed every netmap,
// endpoints and home DERP sent to control (MapRequest.Endpoints, Hostinfo.NetInfo), ping, status
// fields and metrics answered from it, closed on down and when the node key rotates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalBackend } from '../../../../main/engine/backend/local-backend.js';
import type { DataPathPort } from '../../../../main/engine/backend/data-path-port.js';
import { MemoryStateStore } from '../../../../main/engine/state/memory-state-store.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import type { NetMap } from '../../../../main/engine/netmap/netmap.js';
import { FakeClock, flush } from '../../../doubles/fake-clock.js';
import { FakeControl } from '../../../doubles/fake-control.js';
import { fullMap, node } from '../../../doubles/map-messages.js';

class FakePath implements DataPathPort {
  updates = 0;
  closed = false;
  peersSeen: string[] = [];
  eps = { Endpoints: [] as string[], EndpointTypes: [] as number[] };
  home = 0;
  private cb: (() => void) | undefined;
  // Like DataPath, the factory's netmap is applied at creation.
  constructor(readonly created: { nodeKey: string; netmap: NetMap }) { this.update(created.netmap); }
  update(nm: NetMap): void { this.updates++; this.peersSeen = nm.peers().map((p) => p.Name ?? ''); }
  endpointFields() { return this.eps; }
  netInfo() { return { PreferredDERP: this.home, WorkingUDP: true, MappingVariesByDestIP: false }; }
  onEndpointsChanged(cb: () => void) { this.cb = cb; return () => { this.cb = undefined; }; }
  change(eps: string[], home: number): void { this.eps = { Endpoints: eps, EndpointTypes: eps.map(() => 2) }; this.home = home; this.cb?.(); }
  async ping(target: string) { return { IP: target, NodeName: 'peer2', NodeIP: '100.64.0.2', LatencySeconds: 0.012, DERPRegionID: 901, DERPRegionCode: 'lab1' }; }
  peerExtras() { return { CurAddr: '192.0.2.2:41641', TxBytes: 1234, RxBytes: 99, InEngine: true, InMagicSock: true, Active: true }; }
  selfExtras() { return { Addrs: this.eps.Endpoints, Relay: 'lab1' }; }
  metrics() { return { magicsock_wg_reconfig: 3 }; }
  async netcheck() { return undefined; }
  async close() { this.closed = true; }
}

async function setup() {
  const control = new FakeControl();
  const clock = new FakeClock();
  const paths: FakePath[] = [];
  const { logger } = memoryLogger('debug');
  let c = 1;
  const b = new LocalBackend({
    store: new MemoryStateStore(), clock, logger, controlFactory: control.factory,
    random: { bytes: (n) => Uint8Array.from({ length: n }, () => (c++ * 37) & 0xff), float: () => 0.5 },
    hostFacts: { hostname: 'box', osVersion: '6.1', version: '0.1.0' }, version: '0.1.0',
    dataPath: (o) => {
      const p = new FakePath({ nodeKey: o.nodeKey.public.toString(), netmap: o.netmap });
      paths.push(p);
      return p;
    },
  });
  await b.init();
  await b.start({ AuthKey: 'hskey-auth-x-y', Prefs: { ControlURL: 'http://hs.example:8080' } });
  await flush();
  return { b, control, clock, paths };
}

test('the data path starts with the first netmap and follows every netmap change', async () => {
  const { b, control, clock, paths } = await setup();
  assert.equal(paths.length, 0, 'nothing before the first netmap');
  const key = control.registers[0]!.NodeKey;
  control.lastStream!.send(fullMap(node({ id: 1, name: 'self', key }), [node({ id: 2, name: 'peer2' })]));
  await clock.advance(300);
  assert.equal(paths.length, 1);
  assert.equal(paths[0]!.created.nodeKey, key, 'WireGuard identity = the registered node key');
  assert.deepEqual(paths[0]!.peersSeen, ['peer2.tail.example.']);
  control.lastStream!.send({ PeersChanged: [node({ id: 3, name: 'peer3' })] });
  await clock.advance(300);
  assert.equal(paths.length, 1, 'one data path per login, not per netmap');
  assert.deepEqual(paths[0]!.peersSeen.sort(), ['peer2.tail.example.', 'peer3.tail.example.']);

  // Status carries the data-path fields; TUN is true.
  const st = await b.status();
  assert.equal(st.TUN, true);
  const p2 = Object.values(st.Peer ?? {}).find((p) => p.HostName === 'peer2')!;
  assert.equal(p2.CurAddr, '192.0.2.2:41641');
  assert.equal(p2.TxBytes, 1234);
  assert.equal(p2.InEngine, true);
  assert.equal(st.Self?.Relay, 'lab1');

  // Ping and metrics are answered by the data path.
  assert.deepEqual(await b.ping({ Target: '100.64.0.2', Type: 'disco', TimeoutMs: 5000 }), { IP: '100.64.0.2', NodeName: 'peer2', NodeIP: '100.64.0.2', LatencySeconds: 0.012, DERPRegionID: 901, DERPRegionCode: 'lab1' });
  await assert.rejects(b.ping({ Target: '100.64.0.2', Type: 'TSMP', TimeoutMs: 5000 }), /not supported/);
  assert.equal((await b.metrics()).Counters['magicsock_wg_reconfig'], 3);
});

test('new endpoints and home DERP go to control in a MapRequest update; later streams carry them', async () => {
  const { control, clock, paths } = await setup();
  const key = control.registers[0]!.NodeKey;
  control.lastStream!.send(fullMap(node({ id: 1, name: 'self', key }), []));
  await clock.advance(300);
  const before = control.updates.length;
  paths[0]!.change(['198.51.100.101:41641', '10.1.0.10:41641'], 901);
  await flush();
  const u = control.updates.slice(before).at(-1)!;
  assert.ok(u, 'an update was sent');
  assert.deepEqual(u.Endpoints, ['198.51.100.101:41641', '10.1.0.10:41641']);
  assert.deepEqual(u.EndpointTypes, [2, 2]);
  assert.equal(u.OmitPeers, true);
  assert.equal(u.Stream, false);
  assert.equal((u.Hostinfo.NetInfo as { PreferredDERP?: number } | undefined)?.PreferredDERP, 901);
  // A reconnecting map stream sends them too.
  control.lastStream!.fail(new Error('network'));
  await clock.advance(60_000);
  const s = control.lastStream!;
  assert.deepEqual(s.req.Endpoints, ['198.51.100.101:41641', '10.1.0.10:41641']);
  assert.equal((s.req.Hostinfo.NetInfo as { PreferredDERP?: number } | undefined)?.PreferredDERP, 901);
});

test('down closes the data path; ping then says so', async () => {
  const { b, control, clock, paths } = await setup();
  const key = control.registers[0]!.NodeKey;
  control.lastStream!.send(fullMap(node({ id: 1, name: 'self', key }), []));
  await clock.advance(300);
  await b.down();
  await flush();
  assert.equal(paths[0]!.closed, true);
  assert.equal((await b.status()).TUN, false);
  await assert.rejects(b.ping({ Target: '100.64.0.2', Type: 'disco', TimeoutMs: 5000 }), /not running/);
});
