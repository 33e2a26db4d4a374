import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localNetsFor, PacketFilter, compileFilterRules } from '../../../../main/engine/filter/filter.js';
import { parsePacket, PROTO, TCP_ACK, TCP_SYN } from '../../../../main/engine/filter/packet.js';
import { IPSet } from '../../../../main/engine/routes/ip-set.js';
import type { FilterRule } from '../../../../main/engine/netmap/tailcfg.js';
import { FakeClock } from '../netmap/helpers.js';
import { pkt } from './packets.js';

const ME = '100.64.0.1';
const PEER = '100.64.0.2';
const OTHER = '100.64.0.3';
const ME6 = 'fd7a:115c:a1e0::1';
const PEER6 = 'fd7a:115c:a1e0::2';

// A Headscale-style policy: PEER may reach ME on tcp/22 and udp/53; everyone may ping; OTHER nothing else.
const RULES: FilterRule[] = [
  { SrcIPs: [`${PEER}/32`, PEER6], DstPorts: [{ IP: ME, Ports: { First: 22, Last: 22 } }, { IP: `${ME6}/128`, Ports: { First: 22, Last: 22 } }] },
  { SrcIPs: ['100.64.0.2-100.64.0.2'], DstPorts: [{ IP: '*', Ports: { First: 53, Last: 53 } }], IPProto: [17] },
  { SrcIPs: ['100.64.0.0/10'], DstPorts: [{ IP: ME, Ports: { First: 0, Last: 65535 } }], IPProto: [47] },
];

function filter(rules: FilterRule[] | undefined = RULES, clock = new FakeClock()) {
  return new PacketFilter(rules, { clock, localNets: localNetsFor([`${ME}/32`, `${ME6}/128`], [], [], []) });
}

test('TCP: SYN allowed only per rule; non-SYN (replies, established) always; drops counted as acl', () => {
  const f = filter();
  assert.equal(f.inbound(pkt(PEER, ME, PROTO.TCP, 40000, 22, TCP_SYN)).accept, true);
  assert.equal(f.inbound(pkt(PEER6, ME6, PROTO.TCP, 40000, 22, TCP_SYN)).accept, true);
  const denied = f.inbound(pkt(PEER, ME, PROTO.TCP, 40000, 80, TCP_SYN));
  assert.deepEqual(denied, { accept: false, reason: 'acl', why: 'no rules matched' });
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.TCP, 40000, 22, TCP_SYN)).accept, false);
  // SYN-ACK (reply to our own connect) and plain ACKs pass
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.TCP, 80, 40000, TCP_SYN | TCP_ACK)).accept, true);
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.TCP, 80, 40000, TCP_ACK)).accept, true);
  const c = f.counters();
  assert.equal(c.drops.acl, 2);
  assert.equal(c.inAccepted, 4);
});

test('UDP: rule or reply to our own flow (stateful), with idle expiry on the injected clock', () => {
  const clock = new FakeClock();
  const f = filter(RULES, clock);
  assert.equal(f.inbound(pkt(PEER, ME, PROTO.UDP, 5000, 53)).accept, true, 'rule');
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.UDP, 5000, 53)).accept, false, 'not from OTHER');
  // we send to OTHER:9000 from :40001; its reply passes, a different port does not
  assert.equal(f.outbound(pkt(ME, OTHER, PROTO.UDP, 40001, 9000)).accept, true);
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.UDP, 9000, 40001)).why, 'cached');
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.UDP, 9001, 40001)).accept, false);
  clock.ms += 300_001;
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.UDP, 9000, 40001)).accept, false, 'expired');
  assert.equal(f.counters().flows, 0);
});

test('flow table is an LRU bounded at its capacity', () => {
  const clock = new FakeClock();
  const f = new PacketFilter([], { clock, localNets: IPSet.from([ME]).set, flowCapacity: 3 });
  for (let port = 1; port <= 4; port++) f.outbound(pkt(ME, OTHER, PROTO.UDP, 40000, port));
  assert.equal(f.counters().flows, 3);
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.UDP, 1, 40000)).accept, false, 'oldest evicted');
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.UDP, 4, 40000)).accept, true);
});

test('ICMP: replies and errors always; echo request if any rule reaches the IP', () => {
  const f = filter();
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.ICMP, 0, 0, 0, 0)).accept, true, 'echo reply');
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.ICMP, 0, 0, 0, 3)).accept, true, 'unreachable');
  assert.equal(f.inbound(pkt(PEER, ME, PROTO.ICMP, 0, 0, 0, 8)).accept, true, 'PEER has a rule to ME');
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.ICMP, 0, 0, 0, 8)).accept, true, 'OTHER via the GRE rule (any rule to the IP)');
  assert.equal(f.inbound(pkt('100.65.0.9', ME, PROTO.ICMP, 0, 0, 0, 8)).accept, true);
  assert.equal(f.inbound(pkt('192.0.2.1', ME, PROTO.ICMP, 0, 0, 0, 8)).accept, false, 'no rule from outside CGNAT');
  assert.equal(f.inbound(pkt(PEER6, ME6, PROTO.ICMPV6, 0, 0, 0, 128)).accept, true, 'v6 echo request');
  assert.equal(f.inbound(pkt('fd7a:115c:a1e0::9', ME6, PROTO.ICMPV6, 0, 0, 0, 129)).accept, true, 'v6 echo reply');
});

test('other protocols need a rule listing them with all ports; TSMP always', () => {
  const f = filter();
  assert.equal(f.inbound(pkt(OTHER, ME, 47)).why, 'other-portless ok');
  const r = f.inbound(pkt(OTHER, ME, 50));
  assert.equal(r.accept, false);
  assert.equal(!r.accept && r.reason, 'unknown-protocol');
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.TSMP)).accept, true);
});

test('pre-checks: keepalive, too short, multicast, link-local (metadata allowed), not-local destination, later fragments', () => {
  const f = filter([{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }]);
  assert.equal(f.inbound(new Uint8Array(0)).accept, true);
  assert.equal(f.inbound(new Uint8Array(10)).accept, false);
  assert.equal(f.inbound(pkt(PEER, '224.0.0.251', PROTO.UDP, 5353, 5353)).accept, false);
  assert.equal(f.inbound(pkt(PEER, '169.254.1.1', PROTO.UDP, 1, 2)).accept, false);
  // 169.254.169.254 passes the link-local check but is not one of our local networks
  const md = f.inbound(pkt(PEER, '169.254.169.254', PROTO.UDP, 1, 2));
  assert.equal(!md.accept && md.reason, 'not-local');
  const nl = f.inbound(pkt(PEER, '10.0.0.1', PROTO.TCP, 1, 22, TCP_SYN));
  assert.equal(!nl.accept && nl.reason, 'not-local');
  const frag = pkt(PEER, ME, PROTO.UDP, 1, 2);
  frag[6] = 0x00;
  frag[7] = 0x10; // offset 16*8
  assert.equal(f.inbound(frag).why, 'fragment');
  const d = f.counters().drops;
  assert.deepEqual([d['too-short'], d.multicast, d['link-local'], d['not-local']], [1, 1, 1, 2]);
});

test('no filter yet = shields up: only replies pass, drops counted as shields-up; [] = deny all', () => {
  const f = new PacketFilter(undefined, { clock: new FakeClock(), localNets: IPSet.from([ME]).set });
  const r = f.inbound(pkt(PEER, ME, PROTO.TCP, 1, 22, TCP_SYN));
  assert.equal(!r.accept && r.reason, 'shields-up');
  assert.equal(f.inbound(pkt(PEER, ME, PROTO.TCP, 22, 1, TCP_ACK)).accept, true);
  const g = filter([]);
  const r2 = g.inbound(pkt(PEER, ME, PROTO.TCP, 1, 22, TCP_SYN));
  assert.equal(!r2.accept && r2.reason, 'acl');
});

test('compile: bad entries dropped and reported, rest kept; SrcBits rules rejected; cap: sources via callback', () => {
  const c = compileFilterRules([
    { SrcIPs: ['junk', '100.64.0.2', '10.0.0.1/8'], DstPorts: [{ IP: ME, Ports: { First: 1, Last: 2 } }] },
    { SrcIPs: ['*'], SrcBits: [32], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] },
  ]);
  assert.equal(c.matches.length, 1);
  assert.deepEqual(c.errors, [
    'rule 0: SrcIPs "junk" is not an IP, CIDR or range',
    'rule 0: SrcIPs "10.0.0.1/8" is not an IP, CIDR or range',
    'rule 1: obsolete SrcBits/Bits fields; rule ignored',
  ]);
  const f = new PacketFilter([{ SrcIPs: ['cap:ssh'], DstPorts: [{ IP: ME, Ports: { First: 22, Last: 22 } }] }], {
    clock: new FakeClock(),
    localNets: IPSet.from([ME]).set,
    srcHasCap: (src, cap) => src === OTHER && cap === 'ssh',
  });
  assert.equal(f.inbound(pkt(OTHER, ME, PROTO.TCP, 1, 22, TCP_SYN)).accept, true);
  assert.equal(f.inbound(pkt(PEER, ME, PROTO.TCP, 1, 22, TCP_SYN)).accept, false);
});

test('exit node local networks: internet yes, own LAN no (unless advertised), own host IP yes', () => {
  const nets = localNetsFor([`${ME}/32`], ['0.0.0.0/0', '::/0'], ['192.168.1.0/24'], ['192.168.1.20']);
  assert.equal(nets.has('8.8.8.8'), true);
  assert.equal(nets.has('192.168.1.5'), false);
  assert.equal(nets.has('192.168.1.20'), true);
  assert.equal(nets.has('2001:db8::1'), true);
  const sub = localNetsFor([`${ME}/32`], ['192.168.1.0/24'], ['192.168.1.0/24'], []);
  assert.equal(sub.has('192.168.1.5'), true);
  assert.equal(sub.has('8.8.8.8'), false);
});

test('replacing the rules keeps flows and counters', () => {
  const clock = new FakeClock();
  const a = filter(RULES, clock);
  a.outbound(pkt(ME, OTHER, PROTO.UDP, 40001, 9000));
  a.inbound(pkt(OTHER, ME, PROTO.TCP, 1, 80, TCP_SYN));
  const b = PacketFilter.replacing(a, [], { clock, localNets: IPSet.from([ME]).set });
  assert.equal(b.inbound(pkt(OTHER, ME, PROTO.UDP, 9000, 40001)).accept, true);
  assert.equal(b.counters().drops.acl, 1);
});

test('fuzz: random bytes never throw, every packet gets exactly one verdict', () => {
  const f = filter();
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  let n = 0;
  for (let i = 0; i < 20000; i++) {
    const b = new Uint8Array(Math.floor(rnd() * 80));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256);
    if (b.length && rnd() < 0.5) b[0] = (rnd() < 0.5 ? 0x45 : 0x60) | (b[0]! & 0);
    const v = rnd() < 0.5 ? f.inbound(b) : f.outbound(b);
    assert.equal(typeof v.accept, 'boolean');
    n++;
    void parsePacket(b);
  }
  const c = f.counters();
  const drops = Object.values(c.drops).reduce((a, b) => a + b, 0);
  assert.equal(c.inAccepted + c.outAccepted + drops, n);
});
