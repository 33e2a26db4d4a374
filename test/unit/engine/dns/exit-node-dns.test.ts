import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import dnsPacket from 'dns-packet';
import { buildDNSPlan, exitNodeDoH } from '../../../../main/engine/dns/dns-config.js';
import { MagicDNSResolver } from '../../../../main/engine/dns/resolver.js';
import { dohQuery, nodeUpstream } from '../../../../main/engine/dns/upstream.js';
import { newNetMap, parse, rawFull, rawNode } from '../netmap/helpers.js';

const EXIT = rawNode(5, {
  name: 'exit',
  AllowedIPs: ['0.0.0.0/0', '100.64.0.5/32', '::/0', 'fd7a:115c:a1e0::5/128'],
  Hostinfo: { Hostname: 'exit', Services: [{ Proto: 'peerapi4', Port: 41112 }, { Proto: 'peerapi6', Port: 41113 }] },
});

function planWith(dns: Record<string, unknown>, exitSelected = true) {
  const nm = newNetMap();
  nm.apply(parse(rawFull([], { Peers: [rawNode(2, { name: 'laptop' }), EXIT], DNSConfig: { Proxied: true, Domains: ['tail.example'], ...dns } })));
  return buildDNSPlan({
    self: nm.self, peers: nm.peers(), dns: nm.dnsConfig, magicDNSSuffix: nm.magicDNSSuffix, corpDNS: true,
    exitNodeSelected: exitSelected, ...(exitSelected ? { exitNode: nm.peerByID(5)! } : {}),
    base: { nameservers: ['192.168.1.1'], searchDomains: [] },
  });
}

test('exit node selected: "." goes to its peerapi DoH, split routes only when marked for exit nodes', () => {
  const p = planWith({ Routes: { 'corp.example': [{ Addr: '10.0.0.53' }], 'vpn.example': [{ Addr: '10.9.0.53', UseWithExitNode: true }], 'int.example': [] } });
  assert.deepEqual(p.resolver.routes.get('.'), [{ ip: '100.64.0.5', port: 41112, url: 'http://100.64.0.5:41112/dns-query' }]);
  assert.equal(p.resolver.routes.has('corp.example.'), false, 'LAN-only resolver dropped under the exit node');
  assert.deepEqual(p.resolver.routes.get('vpn.example.'), [{ ip: '10.9.0.53', port: 53 }]);
  assert.ok(p.resolver.localDomains.includes('int.example.'));
  assert.deepEqual(p.os?.nameservers, ['100.100.100.100', 'fd7a:115c:a1e0::53']);
  // admin resolvers marked "use with exit node" win over the DoH proxy
  const g = planWith({ Resolvers: [{ Addr: '9.9.9.9', UseWithExitNode: true }, { Addr: '1.1.1.1' }] });
  assert.deepEqual(g.resolver.routes.get('.'), [{ ip: '9.9.9.9', port: 53 }]);
  // without an exit node: the OS's resolver as before
  assert.deepEqual(planWith({}, false).resolver.routes.get('.'), [{ ip: '192.168.1.1', port: 53 }]);
});

test('exitNodeDoH: needs a peerapi port for one of our families and cap ≥ 26 or the dns-proxy service', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([], { Peers: [EXIT, rawNode(6, { name: 'old', Cap: 20, Hostinfo: { Hostname: 'old', Services: [{ Proto: 'peerapi4', Port: 1 }] } })] })));
  assert.equal(exitNodeDoH(nm.peerByID(5)!, ['fd7a:115c:a1e0::1/128'])?.url, 'http://[fd7a:115c:a1e0::5]:41113/dns-query');
  assert.equal(exitNodeDoH(nm.peerByID(6)!, ['100.64.0.1/32']), undefined);
});

test('DoH upstream: POST application/dns-message, ID restored, HTTP errors and timeouts reported', async (t) => {
  let seenType = '';
  const srv = createServer((req, res) => {
    seenType = req.headers['content-type'] ?? '';
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/fail') return void res.writeHead(403).end('DNS access denied');
      if (req.url === '/slow') return;
      const q = dnsPacket.decode(Buffer.concat(chunks));
      res.setHeader('content-type', 'application/dns-message');
      res.end(dnsPacket.encode({ type: 'response', id: 0, questions: q.questions!, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 9, data: '203.0.113.10' }] }));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const port = (srv.address() as { port: number }).port;
  const q = dnsPacket.encode({ type: 'query', id: 4321, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'www.example.com' }] });
  const r = new MagicDNSResolver({ upstream: nodeUpstream, forwardTimeoutMs: 2000 });
  r.setConfig({ hosts: new Map(), ptr: new Map(), localDomains: [], routes: new Map([['.', [{ ip: '127.0.0.1', port, url: `http://127.0.0.1:${port}/dns-query` }]]]) });
  const ans = dnsPacket.decode(Buffer.from((await r.handle(q))!));
  assert.equal(ans.id, 4321);
  assert.equal((ans.answers![0] as { data: string }).data, '203.0.113.10');
  assert.equal(seenType, 'application/dns-message');
  await assert.rejects(dohQuery(q, `http://127.0.0.1:${port}/fail`, 2000), /HTTP 403/);
  await assert.rejects(dohQuery(q, `http://127.0.0.1:${port}/slow`, 300), /timed out \(doh\)/);
});
