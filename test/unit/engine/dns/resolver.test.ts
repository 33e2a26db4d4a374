import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { buildDNSPlan, type UpstreamResolver } from '../../../../main/engine/dns/dns-config.js';
import { MagicDNSResolver, type Upstream } from '../../../../main/engine/dns/resolver.js';
import { MagicDNSServer } from '../../../../main/engine/dns/server.js';
import { nodeUpstream } from '../../../../main/engine/dns/upstream.js';
import { Quad100Intercept, buildUdpReply } from '../../../../main/engine/dns/intercept.js';
import { newNetMap, parse, rawFull, rawNode } from '../netmap/helpers.js';

// A tailnet like the lab's Headscale sends: MagicDNS on, base domain tail.example, one split route,
// an extra record, no global resolvers.
function plan(over: Record<string, unknown> = {}, opts: { corpDNS?: boolean; base?: string[] } = {}) {
  const nm = newNetMap();
  nm.apply(
    parse(
      rawFull([2, 3], {
        Peers: [rawNode(2, { name: 'laptop' }), rawNode(3, { name: 'server' })],
        DNSConfig: {
          Proxied: true,
          Domains: ['tail.example'],
          Routes: { 'corp.example': [{ Addr: '10.0.0.53' }], 'int.example': [] },
          ExtraRecords: [{ Name: 'grafana.tail.example', Type: 'A', Value: '100.64.0.50' }, { Name: 'wiki.other.example', Value: 'fd7a:115c:a1e0::77' }],
          ...over,
        },
      }),
    ),
  );
  return buildDNSPlan({
    self: nm.self,
    peers: nm.peers(),
    dns: nm.dnsConfig,
    magicDNSSuffix: nm.magicDNSSuffix,
    corpDNS: opts.corpDNS ?? true,
    exitNodeSelected: false,
    base: { nameservers: opts.base ?? ['192.0.2.53'], searchDomains: ['lan'] },
  });
}

/** Records queries; answers per upstream IP with a canned A record, or never (timeout). */
class FakeUpstream implements Upstream {
  seen: string[] = [];
  constructor(private readonly silent = new Set<string>()) {}
  async query(msg: Uint8Array, to: UpstreamResolver, o: { timeoutMs: number }): Promise<Uint8Array> {
    const q = dnsPacket.decode(Buffer.from(msg));
    this.seen.push(`${to.ip}:${to.port} ${q.questions![0]!.name}`);
    if (this.silent.has(to.ip)) {
      await new Promise((r) => setTimeout(r, o.timeoutMs));
      throw new Error(`${to.ip} timed out`);
    }
    return dnsPacket.encode({ type: 'response', id: q.id ?? 0, flags: dnsPacket.RECURSION_AVAILABLE, questions: q.questions!, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 300, data: '198.51.100.7' }] });
  }
}

function query(name: string, type: dnsPacket.RecordType = 'A', id = 4242): Uint8Array {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] });
}
async function ask(r: MagicDNSResolver, name: string, type: dnsPacket.RecordType = 'A') {
  const out = await r.handle(query(name, type));
  assert.ok(out, 'an answer');
  return dnsPacket.decode(Buffer.from(out)) as dnsPacket.DecodedPacket & { rcode: string };
}
function resolver(up = new FakeUpstream(), p = plan(), timeoutMs = 300) {
  const r = new MagicDNSResolver({ upstream: up, forwardTimeoutMs: timeoutMs, nowSeconds: () => 1_700_000_000 });
  r.setConfig(p.resolver);
  return r;
}

test('plan: quad-100 primary in direct mode, OS nameservers become the default upstream, search domains merged', () => {
  const p = plan();
  assert.deepEqual(p.os, { nameservers: ['100.100.100.100', 'fd7a:115c:a1e0::53'], searchDomains: ['tail.example', 'lan'] });
  assert.deepEqual(p.resolver.routes.get('.'), [{ ip: '192.0.2.53', port: 53 }]);
  assert.deepEqual(p.resolver.routes.get('corp.example.'), [{ ip: '10.0.0.53', port: 53 }]);
  assert.ok(p.resolver.localDomains.includes('tail.example.'));
  assert.ok(p.resolver.localDomains.includes('int.example.'));
  assert.ok(p.resolver.localDomains.includes('100.100.in-addr.arpa.'));
  assert.ok(p.resolver.localDomains.includes('wiki.other.example.'), 'extra record outside any route gets its own authoritative route');
  // global resolvers: forwarded there, not to the OS's
  const g = plan({ Resolvers: [{ Addr: '9.9.9.9' }, { Addr: 'https://dns.example/dns-query' }] });
  assert.deepEqual(g.resolver.routes.get('.'), [{ ip: '9.9.9.9', port: 53 }]);
  assert.deepEqual(g.skipped, ['https://dns.example/dns-query']);
  // accept-dns off: the OS is left alone, quad-100 still knows names but forwards nothing
  const off = plan({}, { corpDNS: false });
  assert.equal(off.os, undefined);
  assert.equal(off.resolver.routes.size, 0);
  assert.ok(off.resolver.hosts.has('laptop.tail.example.'));
});

test('tailnet names: FQDN and short name, A (5 s TTL), AAAA withheld for peers with IPv4 (no magicdns-aaaa)', async () => {
  const r = resolver();
  const a = await ask(r, 'laptop.tail.example');
  assert.equal(a.rcode, 'NOERROR');
  assert.equal(a.flag_aa, true);
  assert.deepEqual(a.answers!.map((x) => [x.type, x.name, (x as { data: string }).data, (x as { ttl: number }).ttl]), [['A', 'laptop.tail.example', '100.64.0.2', 5]]);
  const short = await ask(r, 'LAPTOP');
  assert.equal((short.answers![0] as { data: string }).data, '100.64.0.2');
  const aaaa = await ask(r, 'laptop.tail.example', 'AAAA');
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.equal(aaaa.answers!.length, 0);
  assert.equal(aaaa.authorities![0]!.type, 'SOA');
  assert.equal((aaaa.authorities![0] as { ttl: number }).ttl, 10);
  // our own name too (tailscaled v1.98.10 filters self like peers; test/e2e/os/dns-tailscaled.test.ts)
  assert.equal((await ask(r, 'self.tail.example', 'AAAA')).answers!.length, 0);
  const extra = await ask(r, 'grafana.tail.example');
  assert.equal((extra.answers![0] as { data: string }).data, '100.64.0.50');
  assert.equal((await ask(r, 'laptop.tail.example', 'NS')).rcode, 'NOTIMP');
  assert.equal((await ask(r, 'laptop.tail.example', 'TXT')).rcode, 'NOERROR');
});

test('AAAA for peers with the magicdns-aaaa node attribute', async () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2], { Node: rawNode(1, { name: 'self', CapMap: { 'magicdns-aaaa': [] } }), DNSConfig: { Proxied: true, Domains: ['tail.example'] } })));
  const p = buildDNSPlan({ self: nm.self, peers: nm.peers(), dns: nm.dnsConfig, magicDNSSuffix: nm.magicDNSSuffix, corpDNS: true, exitNodeSelected: false });
  const r = resolver(new FakeUpstream(), p);
  assert.equal(((await ask(r, 'node2.tail.example', 'AAAA')).answers![0] as { data: string }).data, 'fd7a:115c:a1e0::2');
  const nib = '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa';
  assert.deepEqual((await ask(r, nib, 'PTR')).answers!.map((x) => (x as { data: string }).data), ['node2.tail.example']);
});

test('NXDOMAIN inside authoritative zones (with SOA), never forwarded; .onion NXDOMAIN', async () => {
  const up = new FakeUpstream();
  const r = resolver(up);
  const nx = await ask(r, 'nosuch.tail.example');
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.equal(nx.authorities![0]!.name, 'tail.example');
  assert.equal((await ask(r, 'x.int.example')).rcode, 'NXDOMAIN');
  assert.equal((await ask(r, 'abc.onion')).rcode, 'NXDOMAIN');
  assert.deepEqual(up.seen, []);
});

test('PTR for tailnet addresses (v4 and v6), quad-100 symbolic name; unknown CGNAT NXDOMAIN; others forwarded', async () => {
  const up = new FakeUpstream();
  const r = resolver(up);
  const p4 = await ask(r, '3.0.64.100.in-addr.arpa', 'PTR');
  assert.deepEqual(p4.answers!.map((x) => (x as { data: string }).data), ['server.tail.example']);
  // IPv6 PTR only where AAAA is answered (PTRs come from the host records, as in tsdns)
  const nib = '2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa';
  assert.equal((await ask(r, nib, 'PTR')).rcode, 'NXDOMAIN');
  assert.deepEqual((await ask(r, '50.0.64.100.in-addr.arpa', 'PTR')).answers!.map((x) => (x as { data: string }).data), ['grafana.tail.example']);
  assert.equal(((await ask(r, '100.100.100.100.in-addr.arpa', 'PTR')).answers![0] as { data: string }).data, 'magicdns.localhost-tailscale-daemon');
  assert.equal((await ask(r, '9.9.64.100.in-addr.arpa', 'PTR')).rcode, 'NXDOMAIN');
  await ask(r, '1.2.0.192.in-addr.arpa', 'PTR');
  assert.deepEqual(up.seen, ['192.0.2.53:53 1.2.0.192.in-addr.arpa']);
});

test('split DNS goes to its resolver, the rest to the default; upstream timeout gives SERVFAIL in time', async () => {
  const up = new FakeUpstream(new Set(['10.0.0.53']));
  const r = resolver(up, plan(), 200);
  const fwd = await ask(r, 'www.example.com');
  assert.equal(fwd.rcode, 'NOERROR');
  assert.equal((fwd.answers![0] as { data: string }).data, '198.51.100.7');
  const t0 = Date.now();
  const sf = await ask(r, 'git.corp.example');
  assert.equal(sf.rcode, 'SERVFAIL');
  assert.ok(Date.now() - t0 < 1500);
  assert.deepEqual(up.seen, ['192.0.2.53:53 www.example.com', '10.0.0.53:53 git.corp.example']);
  assert.equal(r.stats().servfail, 1);
  // accept-dns off: no upstream at all → SERVFAIL, not a hang
  const off = resolver(new FakeUpstream(), plan({}, { corpDNS: false }));
  assert.equal((await ask(off, 'www.example.com')).rcode, 'SERVFAIL');
});

test('malformed queries: FORMERR when a header exists, dropped otherwise, answers never answered; fuzz never throws', async () => {
  const r = resolver();
  assert.equal(await r.handle(new Uint8Array([1, 2, 3])), undefined);
  const garbage = new Uint8Array(40).fill(0xff);
  garbage[0] = 0x12;
  garbage[1] = 0x34;
  garbage[2] = 0x01;
  const fe = await r.handle(garbage);
  assert.ok(fe);
  assert.deepEqual([fe[0], fe[1], fe[3]! & 15, fe[2]! & 0x80], [0x12, 0x34, 1, 0x80]);
  const resp = dnsPacket.encode({ type: 'response', id: 1, questions: [{ type: 'A', name: 'x.tail.example' }] });
  assert.equal(await r.handle(resp), undefined);
  const two = dnsPacket.encode({ type: 'query', id: 7, questions: [{ type: 'A', name: 'a.b' }, { type: 'A', name: 'c.d' }] });
  assert.equal((dnsPacket.decode(Buffer.from((await r.handle(two))!)) as { rcode?: string }).rcode, 'FORMERR');
  // bounded fuzz: mutate valid queries and random bytes; every input gets an answer or a drop
  let seed = 99;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const base = query('laptop.tail.example');
  for (let i = 0; i < 3000; i++) {
    const b = rnd() < 0.5 ? Uint8Array.from(base) : new Uint8Array(Math.floor(rnd() * 64));
    const flips = 1 + Math.floor(rnd() * 6);
    for (let j = 0; j < flips && b.length; j++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    const out = await r.handle(b);
    if (out) assert.ok(out.length >= 12);
  }
  const s = r.stats();
  assert.ok(s.malformed > 100, `malformed counted: ${s.malformed}`);
  assert.equal(s.queries, 3000 + 4);
});

test('server: real UDP and TCP sockets on loopback, forwarding to a real UDP upstream (nodeUpstream)', async (t) => {
  // a tiny upstream resolver on loopback
  const upSock = createSocket('udp4');
  upSock.on('message', (m, ri) => {
    const q = dnsPacket.decode(m);
    upSock.send(dnsPacket.encode({ type: 'response', id: q.id ?? 0, questions: q.questions!, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 60, data: '203.0.113.9' }] }), ri.port, ri.address);
  });
  await new Promise<void>((r) => upSock.bind(0, '127.0.0.1', () => r()));
  t.after(() => upSock.close());
  const p = plan({}, { base: [] });
  const routes = new Map(p.resolver.routes);
  routes.set('.', [{ ip: '127.0.0.1', port: upSock.address().port }]);
  const r = new MagicDNSResolver({ upstream: nodeUpstream, forwardTimeoutMs: 2000 });
  r.setConfig({ ...p.resolver, routes });
  const srv = new MagicDNSServer(r);
  await srv.listen(['127.0.0.1'], 0);
  t.after(() => srv.close());
  const udpAsk = (name: string) =>
    new Promise<dnsPacket.DecodedPacket>((resolve) => {
      const c = createSocket('udp4');
      c.on('message', (m) => {
        c.close();
        resolve(dnsPacket.decode(m));
      });
      c.send(query(name), srv.port, '127.0.0.1');
    });
  assert.equal(((await udpAsk('server.tail.example')).answers![0] as { data: string }).data, '100.64.0.3');
  assert.equal(((await udpAsk('example.org')).answers![0] as { data: string }).data, '203.0.113.9');
  const { tcpQuery } = await import('../../../../main/engine/dns/upstream.js');
  const tcpAns = dnsPacket.decode(Buffer.from(await tcpQuery(query('laptop'), { ip: '127.0.0.1', port: srv.port }, 2000)));
  assert.equal((tcpAns.answers![0] as { data: string }).data, '100.64.0.2');
});

test('TUN intercept: a UDP/53 packet to 100.100.100.100 gets a reply packet with valid checksums', async () => {
  const r = resolver();
  const ic = new Quad100Intercept(r);
  const q = query('laptop.tail.example');
  // the request packet, built with the same helper in the other direction
  const req = buildUdpReply({ v: 4, src: new Uint8Array([100, 100, 100, 100]), dst: new Uint8Array([100, 64, 0, 1]), sport: 53, dport: 40000 }, q);
  const reply = await ic.answer(req);
  assert.ok(reply);
  assert.deepEqual([...reply.subarray(12, 20)], [100, 100, 100, 100, 100, 64, 0, 1]);
  assert.equal((reply[22]! << 8) | reply[23]!, 40000);
  const sum = (b: Uint8Array, s: number, e: number, acc = 0) => {
    for (let i = s; i + 1 < e; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
    if ((e - s) & 1) acc += b[e - 1]! << 8;
    while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
    return acc;
  };
  assert.equal(sum(reply, 0, 20), 0xffff, 'IPv4 header checksum');
  const ulen = reply.length - 20;
  assert.equal(sum(reply, 20, reply.length, sum(reply, 12, 20) + 17 + ulen), 0xffff, 'UDP checksum');
  const ans = dnsPacket.decode(Buffer.from(reply.subarray(28)));
  assert.equal((ans.answers![0] as { data: string }).data, '100.64.0.2');
  // v6 too
  const q6 = [0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53];
  const me6 = [0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const req6 = buildUdpReply({ v: 6, src: new Uint8Array(q6), dst: new Uint8Array(me6), sport: 53, dport: 40001 }, q);
  const rep6 = await ic.answer(req6);
  assert.ok(rep6);
  assert.equal(sum(rep6, 40, rep6.length, sum(rep6, 8, 40) + 17 + (rep6.length - 40)), 0xffff, 'UDP/IPv6 checksum');
  // TCP to quad-100 is not handled here
  const tcp = Uint8Array.from(req);
  tcp[9] = 6;
  assert.equal(await ic.answer(tcp), undefined);
  assert.equal(ic.counters.ignored, 1);
});
