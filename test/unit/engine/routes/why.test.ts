import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { computeRouteTable } from '../../../../main/engine/routes/route-table.js';
import { why, type PeerPath } from '../../../../main/engine/routes/why.js';
import { EXIT_ID, IFACES, prefs, tailnet } from './fixtures.js';

function ask(p: ReturnType<typeof prefs>, dest: string, pathOf?: (n: { ID: number }) => PeerPath) {
  const nm = tailnet();
  const table = computeRouteTable({ netmap: nm, prefs: p, interfaces: IFACES, tunName: 'meshtray0' });
  return why({ table, netmap: nm, interfaces: IFACES, tunName: 'meshtray0', ...(pathOf ? { pathOf } : {}) }, dest);
}
const paths = (n: { ID: number }): PeerPath => (n.ID === 2 ? { kind: 'direct', endpoint: '192.0.2.2:41641' } : { kind: 'relayed', derpRegion: 'lab' });

test('peer by name and IP, with the live path', () => {
  const a = ask(prefs(), 'laptop', paths);
  assert.equal(a.verdict, 'peer');
  assert.equal(a.ip, '100.64.0.2');
  assert.equal(a.text, 'laptop (100.64.0.2): peer laptop, direct to 192.0.2.2:41641');
  const b = ask(prefs(), 'fd7a:115c:a1e0::3', paths);
  assert.equal(b.text, 'fd7a:115c:a1e0::3: peer office, relayed via DERP lab');
});

test('self, MagicDNS, unknown tailnet address, expired peer', () => {
  assert.equal(ask(prefs(), '100.64.0.1').verdict, 'self');
  assert.equal(ask(prefs(), '100.100.100.100').verdict, 'magicdns');
  const u = ask(prefs(), '100.64.9.9');
  assert.equal(u.verdict, 'not-routed');
  assert.match(u.reason, /no peer in the tailnet has this address/);
  const o = ask(prefs(), 'old');
  assert.equal(o.verdict, 'not-routed');
  assert.match(o.reason, /old is expired or not reachable/);
});

test('subnet route: not routed without accept-routes (and says why), subnet router with it', () => {
  const off = ask(prefs(), '10.20.0.10');
  assert.equal(off.verdict, 'not-routed');
  assert.match(off.reason, /office offers 10\.20\.0\.0\/24 but accept-routes is off/);
  const on = ask(prefs({ RouteAll: true }), '10.20.0.10', paths);
  assert.equal(on.verdict, 'subnet-router');
  assert.equal(on.node?.name, 'office');
  assert.equal(on.prefix, '10.20.0.0/24');
  assert.equal(on.text, '10.20.0.10: subnet router office (route 10.20.0.0/24), relayed via DERP lab');
});

test('exit node: internet via exit node; LAN to the exit node without allow-LAN, local with it', () => {
  const net = ask(prefs({ ExitNodeID: String(EXIT_ID) }), '203.0.113.80');
  assert.equal(net.verdict, 'exit-node');
  assert.equal(net.node?.name, 'exit');
  const lanOff = ask(prefs({ ExitNodeID: String(EXIT_ID) }), '192.168.1.50');
  assert.equal(lanOff.verdict, 'exit-node');
  assert.match(lanOff.reason, /allow-lan-access is off/);
  const lanOn = ask(prefs({ ExitNodeID: String(EXIT_ID), ExitNodeAllowLANAccess: true }), '192.168.1.50');
  assert.equal(lanOn.verdict, 'local-lan');
  assert.equal(lanOn.interface, 'eth0');
  assert.match(lanOn.reason, /keeps it off the exit node/);
  // an exit node's own LAN is not reachable through the exit node alone (it is "the internet" here,
  // the exit node itself refuses it); with its subnet route accepted it goes to the subnet router
  const viaSubnet = ask(prefs({ ExitNodeID: String(EXIT_ID), RouteAll: true }), '10.20.0.10');
  assert.equal(viaSubnet.verdict, 'subnet-router');
});

test('no exit node: internet not routed; LAN local; exit node gone: blocked (fail closed)', () => {
  const a = ask(prefs(), '203.0.113.80');
  assert.equal(a.verdict, 'not-routed');
  assert.match(a.reason, /no exit node is selected/);
  assert.equal(ask(prefs(), '192.168.1.50').verdict, 'local-lan');
  const b = ask(prefs({ ExitNodeID: '99' }), '203.0.113.80');
  assert.equal(b.verdict, 'blocked');
  assert.match(b.text, /blocked: exit node 99 is not in the tailnet/);
});

test('unknown name is a clear error', () => {
  assert.throws(() => ask(prefs(), 'www.example.com'), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NO_SUCH_PEER' && /neither an IP address nor a tailnet name/.test(e.message));
});

test('a control server under the exit node: not routed, and why', () => {
  const nm = tailnet();
  const table = computeRouteTable({ netmap: nm, prefs: prefs({ ExitNodeID: String(EXIT_ID) }), interfaces: IFACES, tunName: 'meshtray0', controlIPs: ['172.16.0.10'] });
  const a = why({ table, netmap: nm, interfaces: IFACES, tunName: 'meshtray0' }, '172.16.0.10');
  assert.equal(a.verdict, 'not-routed');
  assert.match(a.reason, /control\/DERP server address/);
  assert.equal(why({ table, netmap: nm, interfaces: IFACES, tunName: 'meshtray0' }, '172.16.0.11').verdict, 'exit-node');
});
