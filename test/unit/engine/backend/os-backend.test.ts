// LocalBackend drives the OS integration: an apply after the data path exists and after every
// netmap change / prefs edit, the data path gets the route table's AllowedIPs (/0 only for the
// chosen exit node), --exit-node resolves to a StableID or fails with nothing changed, why answers
// with the peer's path, failed applies are health lines, down restores the OS before the TUN goes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { LocalBackend } from '../../../../main/engine/backend/local-backend.js';
import type { DataPathPort } from '../../../../main/engine/backend/data-path-port.js';
import { MemoryStateStore } from '../../../../main/engine/state/memory-state-store.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import type { NetMap } from '../../../../main/engine/netmap/netmap.js';
import type { Router, RouterConfig } from '../../../../main/engine/router/router.js';
import { FakeClock, flush } from '../../../doubles/fake-clock.js';
import { FakeControl } from '../../../doubles/fake-control.js';
import { fullMap, node } from '../../../doubles/map-messages.js';

class FakePath implements DataPathPort {
  allowed = new Map<string, string[]>();
  closed = false;
  events: string[];
  constructor(nm: NetMap, events: string[]) { this.events = events; this.update(nm); }
  update(nm: NetMap): void { this.allowed = new Map(nm.peers().map((p) => [p.Hostinfo?.Hostname ?? '', [...p.AllowedIPs]])); }
  endpointFields() { return { Endpoints: [], EndpointTypes: [] }; }
  netInfo() { return { PreferredDERP: 901, WorkingUDP: true, MappingVariesByDestIP: false }; }
  onEndpointsChanged() { return () => {}; }
  async ping(target: string) { return { IP: target }; }
  peerExtras() { return { CurAddr: '192.0.2.5:41641' }; }
  selfExtras() { return {}; }
  metrics() { return {}; }
  async netcheck() { return undefined; }
  async close() { this.closed = true; this.events.push('tun closed'); }
}

class FakeRouter implements Router {
  sets: RouterConfig[] = [];
  fail = false;
  constructor(private readonly events: string[], private readonly gate?: Promise<void>) {}
  async set(cfg: RouterConfig) {
    if (this.gate) await this.gate;
    if (this.fail) throw new Error('iptables: resource busy');
    this.sets.push(cfg);
  }
  async restore() { this.events.push('router restored'); }
  async repair() { this.events.push('router repaired'); }
  async aclDrops() { return { acl: 2, notLocal: 0 }; }
}

const EXIT = () => ({ ...node({ id: 5, name: 'exit' }), AllowedIPs: ['100.64.0.5/32', 'fd7a:115c:a1e0::5/128', '0.0.0.0/0', '::/0'] });

async function setup(startPrefs: Record<string, unknown> = {}, routerGate?: Promise<void>) {
  const control = new FakeControl();
  const clock = new FakeClock();
  const events: string[] = [];
  const router = new FakeRouter(events, routerGate);
  const paths: FakePath[] = [];
  let c = 1;
  const b = new LocalBackend({
    store: new MemoryStateStore(), clock, logger: memoryLogger('debug').logger, controlFactory: control.factory,
    random: { bytes: (n) => Uint8Array.from({ length: n }, () => (c++ * 37) & 0xff), float: () => 0.5 },
    hostFacts: { hostname: 'box', osVersion: '6.1', version: '0.1.0' }, version: '0.1.0',
    dataPath: (o) => {
      const p = new FakePath(o.netmap, events);
      paths.push(p);
      return p;
    },
    os: {
      router, upstream: { query: () => Promise.reject(new Error('none')) }, tunName: 'meshtray0', quad100: 'intercept',
      interfaces: () => [{ name: 'eth0', addresses: ['192.168.1.20/24'] }, { name: 'meshtray0', addresses: ['100.64.0.1/32'] }],
    },
  });
  await b.init();
  await b.start({ AuthKey: 'hskey-auth-x-y', Prefs: { ControlURL: 'http://hs.example:8080', ...startPrefs } });
  await flush();
  const key = control.registers[0]!.NodeKey;
  control.lastStream!.send(fullMap(node({ id: 1, name: 'self', key }), [node({ id: 2, name: 'peer2' }), EXIT()]));
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      await clock.advance(50);
      await flush();
    }
  };
  await settle();
  return { b, router, paths, events, settle };
}

test('apply after the netmap: routes installed, AllowedIPs from the table (no /0 without an exit node)', async () => {
  const { router, paths, events } = await setup();
  assert.equal(events[0], 'router repaired', 'start repairs a killed run first');
  assert.ok(router.sets.length >= 1);
  assert.ok(!router.sets.at(-1)!.routes.includes('0.0.0.0/0'));
  assert.deepEqual(paths[0]!.allowed.get('exit')!.sort(), ['100.64.0.5/32', 'fd7a:115c:a1e0::5/128']);
});

test('--exit-node: refused for a non-exit peer with nothing changed; accepted → StableID, /0 to it only', async () => {
  const { b, router, paths, settle } = await setup();
  const n = router.sets.length;
  await assert.rejects(b.editPrefs({ ExitNodeIP: 'peer2', ExitNodeID: '' }), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NOT_EXIT_NODE');
  await assert.rejects(b.editPrefs({ ExitNodeIP: 'nosuch', ExitNodeID: '' }), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NO_SUCH_PEER');
  await settle();
  assert.equal(router.sets.length, n, 'routing table untouched');
  assert.equal((await b.getPrefs()).ExitNodeID, '');
  const p = await b.editPrefs({ ExitNodeIP: 'exit', ExitNodeID: '' });
  assert.deepEqual([p.ExitNodeID, p.ExitNodeIP], ['5', '']);
  await settle();
  assert.ok(router.sets.at(-1)!.routes.includes('0.0.0.0/0'));
  assert.ok(paths[0]!.allowed.get('exit')!.includes('0.0.0.0/0'));
  assert.ok(!paths[0]!.allowed.get('peer2')!.includes('0.0.0.0/0'));
  const w = await b.why({ Dest: '203.0.113.80' });
  assert.equal(w.verdict, 'exit-node');
  assert.deepEqual(w.path, { kind: 'direct', endpoint: '192.0.2.5:41641' });
  assert.equal((await b.osMetrics()).FilterDrops.acl, 2);
});

test('why asked while the first route install is still running waits for it instead of "no route table yet"', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const { b, router } = await setup({}, gate);
  assert.equal(router.sets.length, 0, 'the first apply is still blocked in the router');
  let answered = false;
  const pending = b.why({ Dest: '100.64.0.5' }).then((w) => ((answered = true), w));
  await flush();
  assert.equal(answered, false);
  release();
  const w = await pending;
  assert.equal(w.verdict, 'peer');
  assert.ok(router.sets.length >= 1);
});

test('using and offering an exit node at once is refused as tailscale refuses it; nothing changes', async () => {
  const { b, router, settle } = await setup();
  await b.editPrefs({ AdvertiseRoutes: ['10.9.0.0/24', '0.0.0.0/0', '::/0'] });
  await settle();
  const n = router.sets.length;
  await assert.rejects(b.editPrefs({ ExitNodeIP: 'exit', ExitNodeID: '' }), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST' && e.message === 'Cannot advertise an exit node and use an exit node at the same time.');
  await settle();
  assert.equal((await b.getPrefs()).ExitNodeID, '');
  assert.equal(router.sets.length, n, 'routes untouched');
  // The other order too: using one, then offering.
  await b.editPrefs({ AdvertiseRoutes: ['10.9.0.0/24'] });
  await b.editPrefs({ ExitNodeIP: 'exit', ExitNodeID: '' });
  await assert.rejects(b.editPrefs({ AdvertiseRoutes: ['0.0.0.0/0', '::/0'] }), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST');
  assert.deepEqual((await b.getPrefs()).AdvertiseRoutes, ['10.9.0.0/24']);
  // Unrelated edits (down) still work.
  await b.editPrefs({ WantRunning: false });
});

test('a failed apply shows in status health; down restores the OS, then closes the TUN', async () => {
  const { b, router, events, settle } = await setup();
  router.fail = true;
  await b.editPrefs({ ExitNodeAllowLANAccess: true });
  await settle();
  assert.ok((await b.status()).Health?.some((h) => /could not configure the OS routes\/DNS: iptables: resource busy/.test(h)));
  router.fail = false;
  await b.editPrefs({ ExitNodeAllowLANAccess: false });
  await settle();
  assert.ok(!(await b.status()).Health?.some((h) => /could not configure/.test(h)), 'cleared by the next good apply');
  await b.down();
  assert.deepEqual(events.slice(-2), ['router restored', 'tun closed']);
});

test('up --exit-node=<ip> before the first netmap: kept as ExitNodeIP, then stored as the StableID', async () => {
  const { b, router } = await setup({ ExitNodeIP: '100.64.0.5' });
  const p = await b.getPrefs();
  assert.deepEqual([p.ExitNodeID, p.ExitNodeIP], ['5', '']);
  assert.ok(router.sets.at(-1)!.routes.includes('0.0.0.0/0'));
});
