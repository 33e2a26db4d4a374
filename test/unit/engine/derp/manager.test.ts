import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DerpManager, type DerpClientLike } from '../../../../main/engine/derp/manager.js';
import type { DerpClientEvents, DerpClientState } from '../../../../main/engine/derp/client.js';
import type { DerpMap, DerpRegion } from '../../../../main/engine/derp/derp-map.js';
import { PrivateKey, PublicKey } from '../../../../main/engine/keys/keys.js';
import { FakeClock } from '../../../doubles/fake-clock.js';
import { SeededRandom } from '../../../doubles/seeded-random.js';
import { RecordingLogger } from './helpers.js';

class FakeClient implements DerpClientLike {
  state: DerpClientState = 'idle';
  lastWrite = 0;
  lastReceive = 0;
  preferred: boolean;
  sent: { dst: string; data: number[] }[] = [];
  closed = false;
  private l: { [K in keyof DerpClientEvents]?: DerpClientEvents[K][] } = {};
  constructor(readonly regionId: number, preferred: boolean, private clock: FakeClock) { this.preferred = preferred; }
  on<K extends keyof DerpClientEvents>(e: K, fn: DerpClientEvents[K]): () => void {
    ((this.l[e] ??= []) as DerpClientEvents[K][]).push(fn);
    return () => { this.l[e] = (this.l[e] as DerpClientEvents[K][]).filter((f) => f !== fn) as never; };
  }
  fire<K extends keyof DerpClientEvents>(e: K, ...a: Parameters<DerpClientEvents[K]>): void {
    for (const f of (this.l[e] ?? []) as ((...x: Parameters<DerpClientEvents[K]>) => void)[]) f(...a);
  }
  start(): void { this.state = 'connected'; }
  async close(): Promise<void> { this.closed = true; this.state = 'closed'; }
  send(dst: PublicKey<'node'>, data: Uint8Array): boolean { this.lastWrite = this.clock.now(); this.sent.push({ dst: dst.toString(), data: [...data] }); return true; }
  setPreferred(p: boolean): void { this.preferred = p; }
}

const region = (id: number): DerpRegion => ({ RegionID: id, RegionCode: `r${id}`, Nodes: [{ Name: `${id}a`, RegionID: id, HostName: `h${id}` }] });
const map: DerpMap = { Regions: { '900': region(900), '901': region(901), '902': region(902) } };
const peer = PublicKey.fromRaw('node', new Uint8Array(32).fill(9));

function setup() {
  const clock = new FakeClock();
  const made: FakeClient[] = [];
  const m = new DerpManager({
    nodeKey: PrivateKey.fromRaw('node', new Uint8Array(32).fill(1)), clock, random: new SeededRandom(), logger: new RecordingLogger(),
    createClient: (r, pref) => { const c = new FakeClient(r.RegionID, pref, clock); made.push(c); return c; },
  });
  m.setDerpMap(map);
  return { clock, m, made, get: (id: number) => made.filter((c) => c.regionId === id).at(-1) };
}

test('home region is connected and marked preferred; switching home flips NotePreferred', () => {
  const { m, get } = setup();
  m.setHome(900);
  assert.equal(get(900)?.preferred, true);
  m.setHome(901);
  assert.equal(get(900)?.preferred, false);
  assert.equal(get(901)?.preferred, true);
  assert.deepEqual(m.status().map((s) => [s.regionId, s.home]), [[900, false], [901, true]]);
});

test('send: peer home region, then reverse route, then open the peer home', () => {
  const { m, get, made } = setup();
  m.setHome(900);
  // Peer homed in 901, which we have not open: opens 901
  assert.ok(m.send(peer, 901, new Uint8Array([1])));
  assert.equal(get(901)?.sent.length, 1);
  // The peer reached us via 900; for a peer with no known home we answer there.
  get(900)!.fire('packet', peer, new Uint8Array([7]));
  assert.equal(m.reverseRoute(peer), 900);
  assert.ok(m.send(peer, undefined, new Uint8Array([2])));
  assert.equal(get(900)?.sent.length, 1);
  // Peer homed in 902 (not open), but reverse route 900 is open: use it, no new client.
  const before = made.length;
  assert.ok(m.send(peer, 902, new Uint8Array([3])));
  assert.equal(made.length, before);
  assert.equal(get(900)?.sent.length, 2);
  // PeerGone on 900 forgets the reverse route.
  get(900)!.fire('peerGone', peer, 'disconnected');
  assert.equal(m.reverseRoute(peer), undefined);
  // Unknown home and no route: dropped and counted.
  assert.equal(m.send(peer, undefined, new Uint8Array([4])), false);
  assert.equal(m.counters.get('send-no-region'), 1);
});

test('events carry the region id', () => {
  const { m, get } = setup();
  const seen: string[] = [];
  m.on('packet', (r, src, d) => seen.push(`packet ${r} ${src.short()} ${d.length}`));
  m.on('peerGone', (r, k, why) => seen.push(`gone ${r} ${String(why)}`));
  m.setHome(900);
  get(900)!.fire('packet', peer, new Uint8Array(3));
  get(900)!.fire('peerGone', peer, 'not-here');
  assert.deepEqual(seen, [`packet 900 ${peer.short()} 3`, 'gone 900 not-here']);
});

test('non-home regions close after 60 s without writes; home never does', async () => {
  const { m, clock, get } = setup();
  m.setHome(900);
  m.send(peer, 901, new Uint8Array([1]));
  await clock.advance(45_000);
  assert.equal(get(901)?.closed, false);
  await clock.advance(30_000);
  assert.equal(get(901)?.closed, true);
  assert.equal(get(900)?.closed, false);
  assert.equal(m.counters.get('idle-closed'), 1);
});

test('a changed or removed region definition closes its connection', () => {
  const { m, get } = setup();
  m.setHome(900);
  m.send(peer, 901, new Uint8Array([1]));
  m.setDerpMap({ Regions: { '900': { ...region(900), Nodes: [{ Name: '900b', RegionID: 900, HostName: 'new' }] } } });
  assert.equal(get(900)?.closed, true);
  assert.equal(get(901)?.closed, true);
  assert.equal(m.home, 0);
});
