// DataPath (what the backend drives) from a NetMap shaped like Headscale's: routes into the TUN,
// WireGuard peer set, ping target resolution and the answers the CLI prints from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataPath } from '../../../../main/engine/magicsock/data-path.js';
import { PrivateKey } from '../../../../main/engine/keys/keys.js';
import type { DataPlaneOptions } from '../../../../main/engine/dataplane/data-plane.js';
import { FakeClock } from '../../../doubles/fake-clock.js';
import { SeededRandom } from '../../../doubles/seeded-random.js';
import { RecordingLogger } from '../derp/helpers.js';
import { newNetMap, parse, rawFull, rawNode, v4 } from '../netmap/helpers.js';
import { CountingDataPlane, FakeDerp } from './helpers.js';

function setup() {
  const clock = new FakeClock();
  const random = new SeededRandom(11);
  const netmap = newNetMap();
  netmap.apply(parse(rawFull([2, 3], { Peers: [rawNode(2), rawNode(3, { AllowedIPs: [`${v4(3)}/32`, '10.3.0.0/24'] })] })));
  const dp = new CountingDataPlane(41641, 'mt0');
  const derp = new FakeDerp();
  const ipCalls: string[][] = [];
  let opened: DataPlaneOptions | undefined;
  const path = new DataPath({
    nodeKey: PrivateKey.generate('node', random), discoKey: PrivateKey.generate('disco', random),
    tunName: 'mt0', port: 41641, clock, random, logger: new RecordingLogger(),
    openDataPlane: (o) => { opened = o; return dp; },
    ip: (a) => { ipCalls.push(a); return { ok: true }; },
    derp, localIps: () => ['10.9.0.10'], portMapper: false, // no UDP to the test machine's gateway
  }, netmap);
  return { clock, netmap, dp, derp, ipCalls, opened: opened!, path };
}

test('the TUN gets our addresses, the tailnet ranges are routed into it, peers are configured', async () => {
  const s = setup();
  assert.deepEqual(s.opened.addresses, [`${v4(1)}/32`, 'fd7a:115c:a1e0::1/128']);
  assert.equal(s.opened.mtu, 1280);
  assert.equal(s.opened.fwmark, 0x80000);
  assert.deepEqual(s.ipCalls, [['-4', 'route', 'replace', '100.64.0.0/10', 'dev', 'mt0'], ['-6', 'route', 'replace', 'fd7a:115c:a1e0::/48', 'dev', 'mt0']]);
  // Without --accept-routes a peer's subnet route is not routed to it.
  assert.deepEqual(s.dp.peers.map((p) => p.allowedIps), [[`${v4(2)}/32`, 'fd7a:115c:a1e0::2/128'], [`${v4(3)}/32`]]);
  assert.ok(s.dp.peers.every((p) => p.useDerp && p.endpoint === null), 'everyone starts on DERP');
  assert.equal(s.derp.derpMap?.Regions?.['900']?.RegionCode, 'lab');
  await s.path.close();
  assert.equal(s.dp.closed, true);
});

test('ping resolves targets like tailscale ping and reports DERP with the region code', async () => {
  const s = setup();
  assert.deepEqual(await s.path.ping(v4(1), 1000), { IP: v4(1), Err: `${v4(1)} is local Tailscale IP` });
  assert.deepEqual(await s.path.ping('100.64.9.9', 1000), { IP: '100.64.9.9', Err: 'no matching peer' });
  const p = s.path.ping('node2', 1000);
  await s.clock.advance(1000);
  assert.deepEqual(await p, { IP: 'node2', NodeName: 'node2', NodeIP: v4(2), Err: 'timeout' });
  const extras = s.path.peerExtras(s.netmap.peerByIP(v4(2))!);
  assert.equal(extras.InMagicSock, true);
  assert.equal(extras.InEngine, true);
  assert.equal(extras.CurAddr, '');
  // No STUN answer (this DERP map has STUN off): our interface address only, and a home DERP
  // picked deterministically so peers can still reach us.
  assert.deepEqual(s.path.selfExtras(), { Addrs: ['10.9.0.10:41641'], Relay: 'lab' });
  assert.deepEqual(s.path.endpointFields(), { Endpoints: ['10.9.0.10:41641'], EndpointTypes: [1] });
  assert.equal(s.path.netInfo().PreferredDERP, 900);
  assert.equal(s.derp.home, 900);
  await s.path.close();
});
