// The Route check's wording, fed with answers the ENGINE's own why() computes over a real route
// table (test/unit/engine/routes/fixtures.ts), sent through the wire schema as the LocalAPI does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WhyAnswerSchema, type WhyAnswerWire } from '../../../common/contract/api.js';
import { computeRouteTable } from '../../../main/engine/routes/route-table.js';
import { why, type PeerPath } from '../../../main/engine/routes/why.js';
import { checkDestination, describePing, describeRoute, describeWhyError, isTailnetAddress } from '../../../renderer/features/why/route-answer.js';
import { EXIT_ID, IFACES, prefs, tailnet } from '../engine/routes/fixtures.js';

const paths = (n: { ID: number }): PeerPath => (n.ID === 2 ? { kind: 'direct', endpoint: '192.0.2.2:41641' } : { kind: 'relayed', derpRegion: 'lab' });

function ask(p: ReturnType<typeof prefs>, dest: string): WhyAnswerWire {
  const nm = tailnet();
  const table = computeRouteTable({ netmap: nm, prefs: p, interfaces: IFACES, tunName: 'meshtray0' });
  // Through the wire schema, as the window receives it.
  return WhyAnswerSchema.parse(JSON.parse(JSON.stringify(why({ table, netmap: nm, interfaces: IFACES, tunName: 'meshtray0', pathOf: paths }, dest))));
}

test('a peer: tunnel to it, the direct path with its endpoint, its address to ping', () => {
  const v = describeRoute(ask(prefs(), 'laptop'));
  assert.equal(v.headline, 'Through the tunnel to laptop.');
  assert.equal(v.tone, 'tunnel');
  assert.equal(v.path, 'Direct connection to laptop at 192.0.2.2:41641');
  assert.equal(v.pingTarget, '100.64.0.2');
  assert.match(v.detail, /100\.64\.0\.2 is laptop's tailnet address/);
});

test('exit node: the sentence names it, relayed path says DERP region', () => {
  const v = describeRoute(ask(prefs({ ExitNodeID: String(EXIT_ID) }), '203.0.113.80'));
  assert.equal(v.headline, 'Through exit node exit.');
  assert.match(v.path ?? '', /^Relayed through DERP region lab/);
  assert.equal(v.route, '0.0.0.0/0');
  assert.match(v.detail, /all other traffic goes to exit node exit/);
});

test('LAN access: without it the LAN goes to the exit node, with it the LAN stays local', () => {
  const off = describeRoute(ask(prefs({ ExitNodeID: String(EXIT_ID) }), '192.168.1.50'));
  assert.equal(off.headline, 'Through exit node exit.');
  assert.match(off.detail, /allow-lan-access is off/);
  const on = describeRoute(ask(prefs({ ExitNodeID: String(EXIT_ID), ExitNodeAllowLANAccess: true }), '192.168.1.50'));
  assert.equal(on.headline, 'On your local network (eth0), not through the tunnel.');
  assert.equal(on.tone, 'local');
  assert.equal(on.route, '192.168.1.0/24 on eth0');
  assert.equal(on.path, undefined);
  assert.equal(on.pingTarget, undefined);
});

test('subnet router with accept-routes; without it, the default route and the reason', () => {
  const on = describeRoute(ask(prefs({ RouteAll: true }), '10.20.0.10'));
  assert.equal(on.headline, 'Through office, the subnet router for 10.20.0.0/24.');
  assert.equal(on.pingTarget, '100.64.0.3');
  const off = describeRoute(ask(prefs(), '10.20.0.10'));
  assert.equal(off.headline, "Not through the tailnet: out through this device's own network (the default route).");
  assert.equal(off.tone, 'outside');
  assert.match(off.detail, /office offers 10\.20\.0\.0\/24 but accept-routes is off/);
  assert.equal(off.route, '10.20.0.0/24, offered by office but not in use');
});

test('MagicDNS, self, a tailnet address nobody has (dropped), an unusable exit node (dropped)', () => {
  assert.equal(describeRoute(ask(prefs(), '100.100.100.100')).headline, 'Answered by MagicDNS inside Meshtray; never sent to a peer.');
  assert.equal(describeRoute(ask(prefs(), '100.64.0.1')).headline, 'This device: it is one of its own tailnet addresses.');
  const nobody = describeRoute(ask(prefs(), '100.64.9.9'));
  assert.equal(nobody.tone, 'dropped');
  assert.equal(nobody.headline, 'Not delivered: no reachable device in your tailnet has this address.');
  const gone = describeRoute(ask(prefs({ ExitNodeID: '99' }), '203.0.113.80'));
  assert.equal(gone.tone, 'dropped');
  assert.equal(gone.headline, 'Dropped: the exit node you picked cannot carry it.');
  assert.match(gone.detail, /exit node 99 is not in the tailnet/);
});

test('tailnet ranges: 100.64.0.0/10 and fd7a:115c:a1e0::/48 only', () => {
  assert.equal(isTailnetAddress('100.64.0.1'), true);
  assert.equal(isTailnetAddress('100.127.255.254'), true);
  assert.equal(isTailnetAddress('100.128.0.1'), false);
  assert.equal(isTailnetAddress('100.63.0.1'), false);
  assert.equal(isTailnetAddress('fd7a:115c:a1e0::5'), true);
  assert.equal(isTailnetAddress('2001:db8::1'), false);
});

test('ping lines: direct, DERP, error, sub-10 ms precision', () => {
  assert.equal(describePing({ IP: '100.64.0.2', LatencySeconds: 0.0023, Endpoint: '192.0.2.2:41641' }), '2.3 ms (direct, 192.0.2.2:41641)');
  assert.equal(describePing({ IP: '100.64.0.2', LatencySeconds: 0.0412, DERPRegionID: 900, DERPRegionCode: 'lab1' }), '41 ms (via DERP lab1)');
  assert.equal(describePing({ IP: '100.64.0.2', Err: 'timeout' }), 'No answer to a ping: timeout');
});

test('input checked before asking: empty, spaces, too long; names and IPs pass trimmed', () => {
  assert.deepEqual(checkDestination('  a1 '), { ok: true, dest: 'a1' });
  assert.equal(checkDestination('   ').ok, false);
  assert.equal(checkDestination('a1 b1').ok, false);
  assert.equal(checkDestination('x'.repeat(256)).ok, false);
});

test('engine refusals read as the user needs them, keeping the engine message', () => {
  assert.deepEqual(describeWhyError('ERR_NO_SUCH_PEER', '"nosuch" is neither an IP address nor a tailnet name', 'nosuch'), {
    summary: '"nosuch" is not an IP address or a device in your tailnet.',
    detail: '"nosuch" is neither an IP address nor a tailnet name',
  });
  assert.match(describeWhyError('ERR_NEEDS_LOGIN', 'no route table yet', 'a1').summary, /^Not connected/);
  // Running but the routes are not installed yet (the moment after the first netmap): not "not connected".
  assert.equal(describeWhyError('ERR_NEEDS_LOGIN', 'no route table yet', 'a1', true).summary, 'The engine is still installing its routes; check again in a moment.');
  const nf = describeWhyError('ERR_NOT_FOUND', 'this engine does not manage OS routes', 'a1');
  assert.match(nf.summary, /cannot answer route checks/);
  assert.equal(nf.detail, 'this engine does not manage OS routes');
  assert.equal(describeWhyError('ERR_INTERNAL', 'boom', 'a1').summary, 'The route check failed.');
});
