// Path selection as a peer would see it: which packets leave (disco over UDP/DERP, WireGuard via
// DERP or a direct endpoint in the data plane) as time passes on a fake clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MagicConn, magicPeerFromNode, type MagicPeer } from '../../../../main/engine/magicsock/magic-conn.js';
import { PrivateKey } from '../../../../main/engine/keys/keys.js';
import type { DiscoMessage } from '../../../../main/engine/disco/messages.js';
import { FakeClock } from '../../../doubles/fake-clock.js';
import { SeededRandom } from '../../../doubles/seeded-random.js';
import { RecordingLogger } from '../derp/helpers.js';
import { CountingDataPlane, FakeDerp, SimPeer } from './helpers.js';

const DERP_MAP = { Regions: { '900': { RegionID: 900, RegionCode: 'lab1', RegionName: 'Lab 1', Nodes: [] } } };
const PUB = '198.51.100.7:41641';
const LAN = '10.0.0.7:41641';

function setup(opts: { endpoints?: string[] } = {}) {
  const clock = new FakeClock();
  const random = new SeededRandom(7);
  const dp = new CountingDataPlane(41641, 'mt0');
  const derp = new FakeDerp();
  const log = new RecordingLogger();
  const node = PrivateKey.generate('node', random);
  const disco = PrivateKey.generate('disco', random);
  const conn = new MagicConn({
    dataPlane: dp, derp, nodeKey: node.public, discoKey: disco, clock, random, logger: log,
    hrNow: () => clock.now(), autoNetcheck: false, localIps: () => ['10.9.0.10'],
  });
  conn.setDerpMap(DERP_MAP);
  const peer = new SimPeer(random, () => disco.public);
  const mp: MagicPeer = {
    nodeKey: peer.node.public, discoKey: peer.disco.public, homeDerp: 900,
    endpoints: opts.endpoints ?? [PUB, LAN], allowedIps: ['100.64.0.2/32'],
  };
  conn.setPeers([mp]);
  /** Our disco messages the peer received over UDP since the last call. */
  const udpToPeer = (): { addr: string; msg: DiscoMessage }[] =>
    dp.takeUdp().map((u) => ({ addr: u.addr, msg: peer.open(u.bytes)! })).filter((x) => x.msg);
  const derpToPeer = (): DiscoMessage[] => derp.take().map((d) => peer.open(d.data)).filter((m): m is DiscoMessage => !!m);
  /** The peer answers every ping it got over UDP with a pong, after `rttMs`. */
  const answerUdp = async (rttMs: number, only?: string): Promise<number> => {
    const got = udpToPeer().filter((u) => u.msg.type === 'ping' && (!only || u.addr === only));
    await clock.advance(rttMs);
    for (const g of got) {
      if (g.msg.type !== 'ping') continue;
      dp.receiveDisco(g.addr, peer.seal({ type: 'pong', txid: g.msg.txid, src: { ip: '198.51.100.1', port: 41641 } }));
    }
    return got.length;
  };
  return { clock, random, dp, derp, conn, peer, mp, log, udpToPeer, derpToPeer, answerUdp };
}

test('a new peer starts on DERP; the first WireGuard packet triggers discovery pings and a CallMeMaybe', async () => {
  const s = setup();
  assert.deepEqual(s.dp.peers.map((p) => [p.endpoint, p.useDerp]), [[null, true]]);
  s.dp.emitDerpSend(s.peer.node.public, new Uint8Array([4, 0, 0, 0, 1, 2, 3]));
  const derpOut = s.derp.take();
  // The WireGuard packet went to the peer over DERP, towards its home region.
  assert.equal(derpOut[0]!.peer.toString(), s.peer.node.public.toString());
  assert.equal(derpOut[0]!.region, 900);
  assert.deepEqual([...derpOut[0]!.data], [4, 0, 0, 0, 1, 2, 3]);
  // Then a CallMeMaybe carrying our endpoints.
  const cmm = s.peer.open(derpOut[1]!.data);
  assert.equal(cmm?.type, 'callMeMaybe');
  assert.deepEqual(cmm?.type === 'callMeMaybe' && cmm.endpoints, []);
  // And a ping to each of the peer's endpoints over UDP, carrying our node key.
  const pings = s.udpToPeer();
  assert.deepEqual(pings.map((p) => p.addr).sort(), [LAN, PUB].sort());
  for (const p of pings) assert.equal(p.msg.type === 'ping' && p.msg.nodeKey?.toString(), s.conn['o'].nodeKey.toString());
});

test('a pong makes the address the direct path; DERP copies stop while it is trusted', async () => {
  const s = setup();
  s.dp.emitDerpSend(s.peer.node.public, new Uint8Array([4, 0, 0, 0]));
  s.derp.take();
  await s.answerUdp(12, PUB);
  assert.deepEqual(s.dp.peers.map((p) => [p.endpoint, p.useDerp]), [[PUB, false]]);
  const st = s.conn.peerStatus(s.peer.node.public);
  assert.equal(st.CurAddr, PUB);
  assert.equal(st.InMagicSock, true);
  assert.equal(st.InEngine, true);
  // A faster private LAN address wins over the public one.
  await s.clock.advance(5000);
  s.conn['peers'].get(s.peer.node.public.toString())!.sendDiscoveryPings(s.clock.now(), false);
  await s.answerUdp(1, LAN);
  assert.deepEqual(s.dp.peers.map((p) => [p.endpoint, p.useDerp]), [[LAN, false]]);
});

test('heartbeats keep an active direct path trusted; when pongs stop, DERP comes back and the path is dropped', async () => {
  const s = setup();
  s.dp.emitDerpSend(s.peer.node.public, new Uint8Array([4, 0, 0, 0]));
  s.derp.take();
  await s.answerUdp(2, PUB);
  assert.equal(s.dp.peers[0]!.useDerp, false);
  const reconfigs = s.conn.counters.get('wg-reconfig');
  // 30 s of active traffic (tx counters move), each heartbeat answered: no DERP, no reconfig.
  for (let i = 0; i < 30; i++) {
    s.dp.addTx(s.peer.node.public, 1000);
    await s.answerUdp(1);
    await s.clock.advance(999);
    assert.deepEqual(s.dp.peers.map((p) => [p.endpoint, p.useDerp]), [[PUB, false]], `at ${i + 1} s`);
  }
  assert.equal(s.conn.counters.get('wg-reconfig'), reconfigs);
  assert.equal(s.derpToPeer().filter((m) => m.type === 'callMeMaybe').length, 0);
  // The path dies: pings go unanswered. Within the 6.5 s trust window plus a tick, DERP copies resume.
  for (let i = 0; i < 8; i++) {
    s.dp.addTx(s.peer.node.public, 1000);
    await s.clock.advance(1000);
  }
  assert.equal(s.dp.peers[0]!.useDerp, true);
  // After the next unanswered ping times out, the dead address is dropped entirely.
  for (let i = 0; i < 6; i++) {
    s.dp.addTx(s.peer.node.public, 1000);
    await s.clock.advance(1000);
  }
  assert.deepEqual(s.dp.peers.map((p) => [p.endpoint, p.useDerp]), [[null, true]]);
  assert.equal(s.conn.peerStatus(s.peer.node.public).CurAddr, '');
});

test('idle sessions stop heartbeats after 45 s', async () => {
  const s = setup();
  s.dp.emitDerpSend(s.peer.node.public, new Uint8Array([4, 0, 0, 0]));
  await s.answerUdp(2, PUB);
  for (let i = 0; i < 50; i++) await s.answerUdp(1000);
  s.udpToPeer();
  await s.clock.advance(10_000);
  assert.equal(s.udpToPeer().length, 0, 'no pings after the session went idle');
  assert.equal(s.conn.peerStatus(s.peer.node.public).Active, false);
});

test('an incoming UDP ping is answered with a pong naming the observed source, and that source becomes a candidate', async () => {
  const s = setup({ endpoints: [] });
  const txid = new Uint8Array(12).fill(9);
  const src = '203.0.113.44:1234';
  s.dp.receiveDisco(src, s.peer.seal({ type: 'ping', txid, nodeKey: s.peer.node.public, padding: 0 }));
  const out = s.udpToPeer();
  assert.equal(out.length, 1);
  assert.equal(out[0]!.addr, src);
  const pong = out[0]!.msg;
  assert.equal(pong.type, 'pong');
  assert.deepEqual(pong.type === 'pong' && [Buffer.from(pong.txid).toString('hex'), pong.src], [Buffer.from(txid).toString('hex'), { ip: '203.0.113.44', port: 1234 }]);
  // The same ping again (a retransmission) gets no second pong, as tailscaled does.
  s.dp.receiveDisco(src, s.peer.seal({ type: 'ping', txid, nodeKey: s.peer.node.public, padding: 0 }));
  assert.equal(s.udpToPeer().length, 0);
  assert.equal(s.conn.counters.get('disco-rx-dup-ping'), 1);
  // Outbound data now probes the learned address.
  s.dp.emitDerpSend(s.peer.node.public, new Uint8Array([4, 0, 0, 0]));
  assert.deepEqual(s.udpToPeer().map((p) => p.addr), [src]);
});

test('a ping over DERP is answered over DERP with the magic DERP address', () => {
  const s = setup();
  s.derp.deliver(900, s.peer.node.public, s.peer.seal({ type: 'ping', txid: new Uint8Array(12).fill(1), nodeKey: s.peer.node.public, padding: 0 }));
  const out = s.derp.take();
  assert.equal(out.length, 1);
  assert.equal(out[0]!.region, 900);
  const m = s.peer.open(out[0]!.data);
  assert.deepEqual(m?.type === 'pong' && m.src, { ip: '127.3.3.40', port: 900 });
  // Relayed from a node key that is not in our netmap: dropped, not answered.
  const other = PrivateKey.generate('node', s.random);
  s.derp.deliver(900, other.public, s.peer.seal({ type: 'ping', txid: new Uint8Array(12).fill(2), padding: 0 }));
  assert.equal(s.derp.take().length, 0);
  assert.equal(s.conn.counters.get('disco-rx-derp-ping-unknown-node'), 1);
});

test('CallMeMaybe over DERP pings the listed endpoints at once; over UDP it is refused and counted', async () => {
  const s = setup({ endpoints: [] });
  s.derp.deliver(900, s.peer.node.public, s.peer.seal({ type: 'callMeMaybe', endpoints: [{ ip: '198.51.100.9', port: 5555 }, { ip: 'fe80::1', port: 5 }] }));
  assert.deepEqual(s.udpToPeer().map((p) => [p.addr, p.msg.type]), [['198.51.100.9:5555', 'ping']]);
  s.dp.receiveDisco('198.51.100.9:5555', s.peer.seal({ type: 'callMeMaybe', endpoints: [{ ip: '198.51.100.10', port: 1 }] }));
  assert.equal(s.udpToPeer().length, 0);
  assert.equal(s.conn.counters.get('disco-rx-cmm-over-udp'), 1);
  // A CallMeMaybe relayed for a key whose netmap disco key differs is not trusted.
  const other = PrivateKey.generate('node', s.random);
  s.derp.deliver(900, other.public, s.peer.seal({ type: 'callMeMaybe', endpoints: [{ ip: '198.51.100.11', port: 1 }] }));
  assert.equal(s.udpToPeer().length, 0);
  assert.equal(s.conn.counters.get('disco-rx-cmm-unknown-sender'), 1);
});

test('CLI ping: the first answer comes via DERP, later ones direct, as tailscale ping shows an upgrade', async () => {
  const s = setup();
  const p1 = s.conn.ping(s.peer.node.public, 5000);
  // The peer answers the DERP ping first (its UDP pings are still in flight).
  const viaDerp = s.derp.take().map((d) => s.peer.open(d.data)).find((m) => m?.type === 'ping');
  assert.ok(viaDerp && viaDerp.type === 'ping');
  await s.clock.advance(30);
  s.derp.deliver(900, s.peer.node.public, s.peer.seal({ type: 'pong', txid: viaDerp.txid, src: { ip: '127.3.3.40', port: 900 } }));
  assert.deepEqual(await p1, { latencyMs: 30, derpRegionId: 900, derpRegionCode: 'lab1' });
  await s.answerUdp(3, PUB);
  const p2 = s.conn.ping(s.peer.node.public, 5000);
  await s.answerUdp(2);
  assert.deepEqual(await p2, { latencyMs: 2, endpoint: PUB });
  // No answer at all: undefined after the timeout.
  const p3 = s.conn.ping(s.peer.node.public, 5000);
  s.udpToPeer();
  await s.clock.advance(5000);
  assert.equal(await p3, undefined);
});

test('bad disco input is dropped and counted, never thrown', () => {
  const s = setup();
  const stranger = new SimPeer(s.random, () => s.conn.discoPublic);
  s.dp.receiveDisco(PUB, stranger.seal({ type: 'ping', txid: new Uint8Array(12), padding: 0 }));
  const forged = s.peer.seal({ type: 'ping', txid: new Uint8Array(12), padding: 0 });
  forged[forged.length - 1]! ^= 1;
  s.dp.receiveDisco(PUB, forged);
  s.dp.receiveDisco('not-an-address', s.peer.seal({ type: 'ping', txid: new Uint8Array(12), padding: 0 }));
  s.dp.receiveDisco(PUB, new Uint8Array(70));
  assert.equal(s.udpToPeer().length, 0);
  const m = s.conn.metrics();
  assert.equal(m['disco_unknown-sender'], 1);
  assert.equal(m['disco_open-failed'], 1);
  assert.equal(m['magicsock_bad-source-addr'], 1);
  assert.equal(m['disco_not-disco'], 1);
  assert.equal(m.dataplane_to_js_disco, 4);
});

test('netmap updates keep path state for peers that stay; removed peers leave the data plane', async () => {
  const s = setup();
  s.dp.emitDerpSend(s.peer.node.public, new Uint8Array([4, 0, 0, 0]));
  await s.answerUdp(2, PUB);
  const other = new SimPeer(s.random, () => s.conn.discoPublic);
  s.conn.setPeers([{ ...s.mp, endpoints: [PUB] }, { nodeKey: other.node.public, discoKey: other.disco.public, homeDerp: 900, endpoints: [], allowedIps: ['100.64.0.3/32'] }]);
  assert.deepEqual(s.dp.peers.map((p) => [p.publicKey.toString(), p.endpoint, p.useDerp]), [
    [s.peer.node.public.toString(), PUB, false],
    [other.node.public.toString(), null, true],
  ]);
  s.conn.setPeers([{ nodeKey: other.node.public, discoKey: other.disco.public, homeDerp: 900, endpoints: [], allowedIps: ['100.64.0.3/32'] }]);
  assert.deepEqual(s.dp.peers.map((p) => p.publicKey.toString()), [other.node.public.toString()]);
  assert.equal(s.conn.peerStatus(s.peer.node.public).InMagicSock, false);
  // A new disco key (peer restarted) forgets the old direct path.
  s.conn.setPeers([s.mp]);
  s.dp.emitDerpSend(s.peer.node.public, new Uint8Array([4, 0, 0, 0]));
  await s.answerUdp(2, PUB);
  const restarted = PrivateKey.generate('disco', s.random);
  s.conn.setPeers([{ ...s.mp, discoKey: restarted.public }]);
  assert.deepEqual(s.dp.peers.map((p) => [p.endpoint, p.useDerp]), [[null, true]]);
});

test('magicPeerFromNode routes only the peer\'s own addresses unless routes are accepted', () => {
  const random = new SeededRandom(3);
  const k = PrivateKey.generate('node', random).public.toString();
  const d = PrivateKey.generate('disco', random).public.toString();
  const n = { Key: k, DiscoKey: d, HomeDERP: 900, Endpoints: [PUB], AllowedIPs: ['100.64.0.2/32', '10.1.0.0/24'], Addresses: ['100.64.0.2/32'] };
  assert.deepEqual(magicPeerFromNode(n).allowedIps, ['100.64.0.2/32']);
  assert.deepEqual(magicPeerFromNode(n, { routeAll: true }).allowedIps, ['100.64.0.2/32', '10.1.0.0/24']);
  assert.equal(magicPeerFromNode({ ...n, DiscoKey: null }).discoKey, undefined);
});

test('fuzz: random and mutated disco/DERP input never throws and never answers', async () => {
  const s = setup();
  const rnd = new SeededRandom(99);
  const valid = s.peer.seal({ type: 'ping', txid: new Uint8Array(12).fill(5), nodeKey: s.peer.node.public, padding: 0 });
  for (let i = 0; i < 3000; i++) {
    let b: Uint8Array;
    const mode = i % 3;
    if (mode === 0) b = rnd.bytes(Math.floor(rnd.float() * 200));
    else {
      // Keep the magic and sender key (so the box is tried), corrupt the rest, sometimes truncate.
      b = Uint8Array.from(valid);
      const flips = 1 + Math.floor(rnd.float() * 4);
      for (let f = 0; f < flips; f++) {
        const at = 38 + Math.floor(rnd.float() * (b.length - 38));
        b[at]! ^= 1 + Math.floor(rnd.float() * 255);
      }
      if (mode === 2) b = b.subarray(0, Math.floor(rnd.float() * b.length));
    }
    s.dp.receiveDisco(i % 2 ? PUB : `[2001:db8::${i % 97}]:${1 + (i % 65535)}`, b);
    s.derp.deliver(900, s.peer.node.public, b);
  }
  await s.clock.advance(10);
  assert.equal(s.udpToPeer().length, 0, 'nothing answered over UDP');
  // Over DERP only non-disco bytes were passed on, as WireGuard for the addon to judge.
  assert.ok(s.derp.take().every((d) => s.peer.open(d.data) === undefined));
  const m = s.conn.metrics();
  assert.equal(Object.keys(m).filter((k) => k.includes('internal-error')).length, 0);
  assert.ok((m['disco_open-failed'] ?? 0) > 1000, 'mutated boxes failed to open and were counted');
});
