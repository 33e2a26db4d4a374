import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { computeRouteTable, resolveExitNode, type RouteInputs } from '../../../../main/engine/routes/route-table.js';
import { IPSet } from '../../../../main/engine/routes/ip-set.js';
import { rawNode, v4 } from '../netmap/helpers.js';
import { EXIT_ID, IFACES, prefs, tailnet } from './fixtures.js';

function inputs(over: Partial<RouteInputs> = {}): RouteInputs {
  return { netmap: tailnet(), prefs: prefs(), interfaces: IFACES, tunName: 'meshtray0', ...over };
}
const prefixes = (t: ReturnType<typeof computeRouteTable>) => t.routes.map((r) => r.prefix);

test('default: peers /32, ULA /48, quad-100; no subnet or exit routes; expired peer skipped', () => {
  const t = computeRouteTable(inputs());
  assert.deepEqual(prefixes(t), [
    '100.64.0.2/32', '100.64.0.3/32', '100.64.0.4/32', '100.64.0.5/32', '100.64.0.6/32', '100.100.100.100/32',
    'fd7a:115c:a1e0::/48', 'fd7a:115c:a1e0::53/128',
  ]);
  assert.deepEqual(t.localRoutes, []);
  assert.equal(t.exitNode, undefined);
  assert.deepEqual(t.localAddrs, ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']);
  // WireGuard AllowedIPs: only self addresses without accept-routes / exit node
  assert.deepEqual(t.peerAllowedIPs.get(3), ['100.64.0.3/32', 'fd7a:115c:a1e0::3/128']);
  assert.equal(t.peerAllowedIPs.has(7), false);
});

test('accept-routes adds approved subnet routes, and warns when one covers our LAN', () => {
  const t = computeRouteTable(inputs({ prefs: prefs({ RouteAll: true }) }));
  const sub = t.routes.filter((r) => r.kind === 'subnet');
  assert.deepEqual(sub.map((r) => [r.prefix, r.nodeName]), [['10.20.0.0/24', 'office'], ['192.168.1.0/24', 'home']]);
  assert.deepEqual(t.peerAllowedIPs.get(3), ['100.64.0.3/32', 'fd7a:115c:a1e0::3/128', '10.20.0.0/24']);
  const w = t.warnings.find((x) => x.code === 'covers-lan');
  assert.ok(w, 'covers-lan warning');
  assert.match(w.message, /192\.168\.1\.0\/24 via home overlaps this machine's LAN 192\.168\.1\.0\/24/);
  // the /0 of the half exit node is never a subnet route
  assert.ok(!prefixes(t).includes('0.0.0.0/0'));
});

test('same subnet from two routers: lowest node ID wins, overlap reported; nested prefixes reported', () => {
  const nm = tailnet([
    rawNode(9, { name: 'office2', AllowedIPs: [`${v4(9)}/32`, '10.20.0.0/24', '10.0.0.0/8'] }),
  ]);
  const t = computeRouteTable(inputs({ netmap: nm, prefs: prefs({ RouteAll: true }) }));
  const e = t.routes.find((r) => r.prefix === '10.20.0.0/24')!;
  assert.equal(e.nodeName, 'office');
  assert.deepEqual(e.alsoOfferedBy, [9]);
  assert.ok(!t.peerAllowedIPs.get(9)!.includes('10.20.0.0/24'));
  assert.ok(t.peerAllowedIPs.get(9)!.includes('10.0.0.0/8'));
  const msgs = t.warnings.filter((w) => w.code === 'overlap').map((w) => w.message);
  assert.ok(msgs.some((m) => /10\.20\.0\.0\/24 is offered by office, office2; using office/.test(m)), msgs.join('\n'));
  assert.ok(msgs.some((m) => /10\.0\.0\.0\/8 \(via office2\) and 10\.20\.0\.0\/24 \(via office\) overlap/.test(m)), msgs.join('\n'));
});

test('exit node by stable ID: default routes via it, LAN also to the exit node (no leak), loopback kept local', () => {
  const t = computeRouteTable(inputs({ prefs: prefs({ ExitNodeID: String(EXIT_ID) }) }));
  assert.equal(t.exitNode?.usable, true);
  assert.equal(t.exitNode?.name, 'exit');
  const exit = t.routes.filter((r) => r.kind === 'exit');
  assert.deepEqual(exit.map((r) => [r.prefix, r.nodeID]), [['0.0.0.0/0', EXIT_ID], ['::/0', EXIT_ID]]);
  // link-local included, as tailscaled v1.98.10 does (test/e2e/os/routes-tailscaled.test.ts)
  assert.deepEqual(t.routes.filter((r) => r.kind === 'exit-lan').map((r) => r.prefix), ['192.168.1.0/24', '2001:db8:1::/64', 'fe80::/64']);
  assert.deepEqual(t.localRoutes, ['127.0.0.0/8']);
  assert.deepEqual([...t.peerAllowedIPs.get(EXIT_ID)!].sort(), ['0.0.0.0/0', '100.64.0.5/32', '::/0', 'fd7a:115c:a1e0::5/128']);
  // the half exit node never gets /0 in WireGuard
  assert.deepEqual(t.peerAllowedIPs.get(6), ['100.64.0.6/32', 'fd7a:115c:a1e0::6/128']);
});

test('exit node by IP with allow-LAN-access: LAN becomes throw routes', () => {
  const t = computeRouteTable(inputs({ prefs: prefs({ ExitNodeIP: v4(EXIT_ID), ExitNodeAllowLANAccess: true }) }));
  assert.equal(t.exitNode?.nodeID, EXIT_ID);
  assert.deepEqual(t.localRoutes, ['127.0.0.0/8', '192.168.1.0/24', '2001:db8:1::/64', 'fe80::/64']);
  assert.equal(t.routes.filter((r) => r.kind === 'exit-lan').length, 0);
});

test('exit node missing or not offering both /0: blackhole default routes, warning, nothing to WireGuard', () => {
  for (const [p, re] of [
    [prefs({ ExitNodeID: '99' }), /exit node 99 is not in the tailnet/],
    [prefs({ ExitNodeID: '6' }), /halfexit no longer offers an exit node/],
  ] as const) {
    const t = computeRouteTable(inputs({ prefs: p }));
    assert.equal(t.exitNode?.usable, false);
    const exit = t.routes.filter((r) => r.kind === 'exit');
    assert.deepEqual(exit.map((r) => [r.prefix, r.nodeID]), [['0.0.0.0/0', undefined], ['::/0', undefined]]);
    assert.match(t.warnings.find((w) => w.code === 'exit-node-unavailable')!.message, re);
    for (const a of t.peerAllowedIPs.values()) assert.ok(!a.includes('0.0.0.0/0'));
  }
});

test('resolveExitNode: by short name, FQDN, IP and stable ID; clear errors otherwise', () => {
  const nm = tailnet();
  for (const arg of ['exit', 'exit.tail.example', 'EXIT.tail.example.', v4(EXIT_ID), 'fd7a:115c:a1e0::5', String(EXIT_ID)]) {
    assert.equal(resolveExitNode(nm, arg).ID, EXIT_ID, arg);
  }
  const code = (arg: string) => {
    try {
      resolveExitNode(nm, arg);
      return 'ok';
    } catch (e) {
      assert.ok(MeshtrayError.is(e));
      return `${e.code}: ${e.message}`;
    }
  };
  assert.match(code('nosuch'), /^ERR_NO_SUCH_PEER: no peer named or addressed "nosuch".*exit nodes available: exit/);
  assert.match(code('100.64.9.9'), /^ERR_NO_SUCH_PEER/);
  assert.match(code('laptop'), /^ERR_NOT_EXIT_NODE: laptop is not offering an exit node/);
  assert.match(code('halfexit'), /^ERR_NOT_EXIT_NODE: halfexit/);
  assert.match(code('100.64.0.1'), /^ERR_BAD_REQUEST: cannot use this node/);
});

test('advertising: routes canonical, exit node detected, SNAT on by default, stateful filtering only when asked', () => {
  let t = computeRouteTable(inputs({ prefs: prefs({ AdvertiseRoutes: ['10.9.0.0/24', '0.0.0.0/0', '::/0'] }) }));
  assert.deepEqual(t.advertise, { routes: ['0.0.0.0/0', '::/0'], exitNode: true, snat: true, statefulFiltering: false });
  t = computeRouteTable(inputs({ prefs: prefs({ AdvertiseRoutes: ['10.9.0.0/24'], NoSNAT: true, NoStatefulFiltering: false }) }));
  assert.deepEqual(t.advertise, { routes: ['10.9.0.0/24'], exitNode: false, snat: false, statefulFiltering: true });
});

test('another VPN\'s route overlapping a tailnet route is reported; our own LAN is not a VPN conflict', () => {
  const t = computeRouteTable(
    inputs({
      prefs: prefs({ RouteAll: true }),
      osRoutes: [
        { prefix: '10.20.0.0/16', dev: 'wg0' },
        { prefix: '192.168.1.0/24', dev: 'eth0' },
        { prefix: '100.64.0.0/10', dev: 'tailscale0' },
        { prefix: '10.99.0.0/16', dev: 'wg0' },
      ],
      controlIPs: ['10.20.0.5'],
    }),
  );
  const v = t.warnings.filter((w) => w.code === 'vpn-conflict').map((w) => w.message);
  assert.equal(v.length, 2, v.join('\n'));
  assert.ok(v.some((m) => /10\.20\.0\.0\/16 on wg0 .* overlaps tailnet route 10\.20\.0\.0\/24/.test(m)));
  assert.ok(v.some((m) => /100\.64\.0\.0\/10 on tailscale0/.test(m)));
  assert.match(t.warnings.find((w) => w.code === 'covers-control')!.message, /10\.20\.0\.0\/24 \(via office\) covers control\/DERP server 10\.20\.0\.5; a host throw route/);
  assert.deepEqual(t.bypass, ['10.20.0.5/32']);
  assert.ok(t.localRoutes.includes('10.20.0.5/32'));
});

test('an exit node covering the control/DERP servers keeps them off the tunnel without a health warning', () => {
  const t = computeRouteTable(inputs({ prefs: prefs({ ExitNodeID: String(EXIT_ID) }), controlIPs: ['203.0.113.10'] }));
  assert.equal(t.exitNode?.usable, true);
  assert.deepEqual(t.bypass, ['203.0.113.10/32']);
  assert.ok(t.localRoutes.includes('203.0.113.10/32'));
  assert.deepEqual(t.warnings.filter((w) => w.code === 'covers-control'), []);
});

test('many peers collapse to one CGNAT route (routemanager threshold), as does the OneCGNAT knob', () => {
  const t = computeRouteTable(inputs({ oneCGNAT: true }));
  assert.deepEqual(prefixes(t).filter((p) => p.startsWith('100.')), ['100.64.0.0/10', '100.100.100.100/32']);
});

test('expired peer by KeyExpiry contributes nothing', () => {
  const nm = tailnet([rawNode(8, { name: 'stale', KeyExpiry: '2026-01-01T00:00:00Z' })]);
  const t = computeRouteTable(inputs({ netmap: nm, nowMs: Date.parse('2026-11-23T20:00:00Z') }));
  assert.ok(!prefixes(t).includes('100.64.0.8/32'));
  const t2 = computeRouteTable(inputs({ netmap: nm, nowMs: Date.parse('2025-11-23T20:00:00Z') }));
  assert.ok(prefixes(t2).includes('100.64.0.8/32'));
});

test('IPSet: union, minus and minimal prefixes (shrinkDefaultRoute shape)', () => {
  const all = IPSet.from(['0.0.0.0/0']).set;
  const lan = IPSet.from(['192.168.1.0/24']).set;
  const host = IPSet.from(['192.168.1.20']).set;
  const s = all.minus(lan).union(host);
  assert.equal(s.has('192.168.1.20'), true);
  assert.equal(s.has('192.168.1.21'), false);
  assert.equal(s.has('8.8.8.8'), true);
  assert.equal(s.prefixes().length, 25);
  assert.deepEqual(IPSet.from(['10.0.0.0/25', '10.0.0.128/25', '10.0.0.5-10.0.0.9']).set.prefixes(), ['10.0.0.0/24']);
  assert.deepEqual(IPSet.from(['10.0.0.1/8', 'junk', '1.2.3.4-1.2.3.1']).bad, ['10.0.0.1/8', 'junk', '1.2.3.4-1.2.3.1']);
  assert.deepEqual(IPSet.from(['fd7a:115c:a1e0::/48', 'fd7a:115c:a1e1::/48']).set.prefixes(), ['fd7a:115c:a1e0::/47']);
});

test('exit node: control and DERP servers get host throw routes (their Node sockets carry no bypass mark)', () => {
  const t = computeRouteTable(inputs({ prefs: prefs({ ExitNodeID: String(EXIT_ID) }), controlIPs: ['172.16.0.10', '198.51.100.30', '2001:db8:99::30', '192.168.1.1'] }));
  assert.deepEqual(t.bypass, ['172.16.0.10/32', '198.51.100.30/32', '2001:db8:99::30/128', '192.168.1.1/32']);
  for (const b of t.bypass) assert.ok(t.localRoutes.includes(b), b);
  // without an exit node nothing covers them: no extra routes
  assert.deepEqual(computeRouteTable(inputs({ controlIPs: ['172.16.0.10'] })).bypass, []);
});
