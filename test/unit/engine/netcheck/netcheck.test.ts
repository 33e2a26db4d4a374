import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Netcheck, type StunSender } from '../../../../main/engine/netcheck/netcheck.js';
import { toTailscaleJSON } from '../../../../main/engine/netcheck/report.js';
import { buildBindingResponse, parseBindingRequest } from '../../../../main/engine/stun/stun.js';
import type { DerpMap } from '../../../../main/engine/derp/derp-map.js';
import { FakeClock } from '../../../doubles/fake-clock.js';
import { SeededRandom } from '../../../doubles/seeded-random.js';
import { RecordingLogger } from '../derp/helpers.js';

const map: DerpMap = {
  Regions: {
    '900': { RegionID: 900, RegionCode: 'lab1', Nodes: [{ Name: '900a', RegionID: 900, HostName: '198.51.100.30', IPv4: '198.51.100.30', IPv6: 'none', STUNPort: 3478 }] },
    '901': { RegionID: 901, RegionCode: 'lab2', Nodes: [{ Name: '901a', RegionID: 901, HostName: '198.51.100.31', IPv4: '198.51.100.31', STUNPort: 3478 }] },
    '902': { RegionID: 902, RegionCode: 'nomeasure', NoMeasureNoHome: true, Nodes: [{ Name: '902a', RegionID: 902, HostName: '198.51.100.32', IPv4: '198.51.100.32' }] },
  },
};

/** A simulated network: each STUN server answers after `rttMs` with the mapping `natFor` gives. */
function fakeNet(clock: FakeClock, nc: () => Netcheck, opts: { rttMs: Record<string, number>; natFor: (server: string) => { ip: string; port: number } | undefined }) {
  const sent: string[] = [];
  const sender: StunSender = {
    send(packet, ip, port) {
      sent.push(`${ip}:${port}`);
      const txid = parseBindingRequest(packet); // what derper checks: SOFTWARE + FINGERPRINT
      const mapped = opts.natFor(ip);
      if (!mapped) return; // dropped (UDP blocked)
      clock.setTimeout(() => nc().onStunPacket(buildBindingResponse(txid, mapped), { ip, port }), opts.rttMs[ip] ?? 5);
    },
  };
  return { sender, sent };
}

function setup() {
  const clock = new FakeClock();
  const t0 = clock.now(); // relative, so ns values stay exact in a double
  const nc = new Netcheck({ clock, random: new SeededRandom(), logger: new RecordingLogger(), nowNs: () => (clock.now() - t0) * 1e6 });
  return { clock, nc };
}

test('easy NAT: UDP, GlobalV4, mapping stable, latency per region, nearest region preferred', async () => {
  const { clock, nc } = setup();
  const net = fakeNet(clock, () => nc, { rttMs: { '198.51.100.30': 20, '198.51.100.31': 8 }, natFor: () => ({ ip: '203.0.113.5', port: 41641 }) });
  const p = nc.run(map, net.sender);
  await clock.advance(3000);
  const r = toTailscaleJSON(await p);
  assert.equal(r.UDP, true);
  assert.equal(r.IPv4, true);
  assert.equal(r.GlobalV4, '203.0.113.5:41641');
  assert.equal(r.MappingVariesByDestIP, false);
  assert.deepEqual(r.RegionLatency, { '900': 20e6, '901': 8e6 });
  assert.equal(r.PreferredDERP, 901);
  assert.ok(!net.sent.includes('198.51.100.32:3478'), 'NoMeasureNoHome region is never probed');
});

test('hard NAT: different mapping per destination -> MappingVariesByDestIP true', async () => {
  const { clock, nc } = setup();
  const ports: Record<string, number> = { '198.51.100.30': 1001, '198.51.100.31': 2002 };
  const net = fakeNet(clock, () => nc, { rttMs: {}, natFor: (s) => ({ ip: '203.0.113.5', port: ports[s]! }) });
  const p = nc.run(map, net.sender);
  await clock.advance(3000);
  const r = await p;
  assert.equal(r.mappingVariesByDestIP, true);
  assert.equal(r.regionLatency.size, 2);
});

test('UDP blocked: report after the 3 s STUN budget, UDP false, no home', async () => {
  const { clock, nc } = setup();
  const net = fakeNet(clock, () => nc, { rttMs: {}, natFor: () => undefined });
  let done = false;
  const p = nc.run(map, net.sender).then((r) => { done = true; return r; });
  await clock.advance(2999);
  assert.equal(done, false);
  await clock.advance(1);
  const r = toTailscaleJSON(await p);
  assert.equal(r.UDP, false);
  assert.equal(r.IPv4CanSend, true);
  assert.equal(r.MappingVariesByDestIP, null);
  assert.equal(r.PreferredDERP, 0);
  assert.equal(r.GlobalV4, '');
  // three tries per region (0, 100, 200 ms)
  assert.equal(net.sent.filter((s) => s.startsWith('198.51.100.30')).length, 3);
});

test('unsolicited, malformed or wrong-source STUN is counted and ignored', async () => {
  const { clock, nc } = setup();
  let captured: Uint8Array | undefined;
  const sender: StunSender = { send(packet) { captured ??= parseBindingRequest(packet); } };
  const p = nc.run({ Regions: { '900': map.Regions!['900']! } }, sender);
  await clock.advance(0);
  assert.ok(captured);
  assert.equal(nc.onStunPacket(new Uint8Array([1, 2, 3]), { ip: '198.51.100.30', port: 3478 }), false, 'not STUN: not consumed');
  nc.onStunPacket(buildBindingResponse(new Uint8Array(12), { ip: '1.2.3.4', port: 1 }), { ip: '198.51.100.30', port: 3478 });
  const bad = buildBindingResponse(captured, { ip: '1.2.3.4', port: 1 });
  bad[3] = 99;
  nc.onStunPacket(bad, { ip: '198.51.100.30', port: 3478 });
  nc.onStunPacket(buildBindingResponse(captured, { ip: '6.6.6.6', port: 6 }), { ip: '192.0.2.66', port: 3478 });
  await clock.advance(3000);
  const r = await p;
  assert.equal(r.udp, false);
  assert.deepEqual(nc.counters.snapshot(), {
    'netcheck_stun-malformed-attrs': 1, 'netcheck_stun-unsolicited': 1, 'netcheck_stun-wrong-source': 1,
  });
});

test('home stays sticky across runs', async () => {
  const { clock, nc } = setup();
  const rtt: Record<string, number> = { '198.51.100.30': 20, '198.51.100.31': 30 };
  const net = fakeNet(clock, () => nc, { rttMs: rtt, natFor: () => ({ ip: '203.0.113.5', port: 41641 }) });
  let p = nc.run(map, net.sender);
  await clock.advance(3000);
  assert.equal((await p).preferredDERP, 900);
  rtt['198.51.100.30'] = 40;
  rtt['198.51.100.31'] = 35; // slightly better now, but within 10 ms: keep 900
  await clock.advance(400_000); // let history expire
  p = nc.run(map, net.sender);
  await clock.advance(3000);
  assert.equal((await p).preferredDERP, 900);
});

test('IPv6 probes: GlobalV6 and per-family latency; a concurrent run joins the running one', async () => {
  const { clock, nc } = setup();
  const v6map: DerpMap = { Regions: { '900': { RegionID: 900, RegionCode: 'lab1', Nodes: [{ Name: '900a', RegionID: 900, HostName: 'x', IPv4: '198.51.100.30', IPv6: '2001:db8::30', STUNPort: 3478 }] } } };
  const net = fakeNet(clock, () => nc, {
    rttMs: { '198.51.100.30': 10, '2001:db8::30': 4 },
    natFor: (s) => (s.includes(':') ? { ip: '2001:db8::99', port: 41641 } : { ip: '203.0.113.5', port: 41641 }),
  });
  const p1 = nc.run(v6map, net.sender, { ipv6: true });
  const p2 = nc.run(v6map, net.sender, { ipv6: true });
  assert.equal(p1, p2);
  await clock.advance(3000);
  const r = toTailscaleJSON(await p1);
  assert.equal(r.IPv6, true);
  assert.equal(r.GlobalV6, '[2001:db8::99]:41641');
  assert.deepEqual(r.RegionV6Latency, { '900': 4e6 });
  assert.deepEqual(r.RegionV4Latency, { '900': 10e6 });
  assert.deepEqual(r.RegionLatency, { '900': 4e6 });
});
