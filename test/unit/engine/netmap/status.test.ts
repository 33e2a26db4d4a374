import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerStatusSchema, StatusSchema } from '../../../../common/schemas/status.js';
import { currentTailnet, peerStatus, peerStatusMap, selfStatus, tailscaleIPs, usersMap } from '../../../../main/engine/netmap/status.js';
import { formatGoTime, roundGoTimeToSecond } from '../../../../main/engine/netmap/go-time.js';
import { newNetMap, nodeKey, parse, rawFull, rawNode } from './helpers.js';

test('peer status uses tailscale field names and formats', () => {
  const nm = newNetMap();
  const peer = rawNode(2, {
    name: 'db',
    Addresses: ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128', '10.9.0.1/32', '100.64.5.0/24'],
    AllowedIPs: ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128', '10.1.0.0/24', '0.0.0.0/0', '::/0'],
    PrimaryRoutes: ['10.1.0.0/24'],
    Tags: ['tag:db'],
    Online: false,
    LastSeen: '2026-11-23T18:00:01.5Z',
    KeyExpiry: '2027-02-03T04:05:06.5123Z',
    Expired: true,
    Hostinfo: { OS: 'windows', Hostname: 'DB-HOST' },
    User: 2,
  });
  nm.apply(parse(rawFull([], { Peers: [peer] })));
  const ps = peerStatus(nm.peerByID(2)!, nm);
  PeerStatusSchema.parse(ps);
  assert.deepEqual(ps, {
    ID: '2',
    PublicKey: nodeKey(2),
    HostName: 'DB-HOST',
    DNSName: 'db.tail.example.',
    OS: 'windows',
    UserID: 2,
    // Single IPs only, and only Tailscale's ranges (tsaddr.IsTailscaleIP), as bare addresses.
    TailscaleIPs: ['100.64.0.2', 'fd7a:115c:a1e0::2'],
    AllowedIPs: ['100.64.0.2/32', 'fd7a:115c:a1e0::2/128', '10.1.0.0/24', '0.0.0.0/0', '::/0'],
    PrimaryRoutes: ['10.1.0.0/24'],
    Tags: ['tag:db'],
    Addrs: ['192.0.2.2:41641', '[2001:db8::2]:41641'],
    CurAddr: '',
    Relay: 'lab',
    RxBytes: 0,
    TxBytes: 0,
    Created: '2026-11-23T19:19:58.331035966Z',
    LastSeen: '2026-11-23T18:00:01.5Z',
    LastHandshake: '0001-01-01T00:00:00Z',
    Online: false,
    ExitNode: false,
    ExitNodeOption: true,
    Active: false,
    InNetworkMap: true,
    InMagicSock: false,
    InEngine: false,
    Expired: true,
    KeyExpiry: '2027-02-03T04:05:07Z',
  });
});

test('optional fields are left out the way tailscale omits them; zero times are year 1', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([], { Peers: [rawNode(3, { AllowedIPs: [], Tags: null, PrimaryRoutes: null, Endpoints: null, Created: null, HomeDERP: 12345, KeyExpiry: '0001-01-01T00:00:00Z', Online: null })] })));
  const ps = peerStatus(nm.peerByID(3)!, nm);
  for (const k of ['AllowedIPs', 'Tags', 'PrimaryRoutes', 'Expired', 'KeyExpiry'] as const) assert.equal(k in ps, false, k);
  assert.equal(ps.Addrs, null);
  assert.equal(ps.Created, '0001-01-01T00:00:00Z');
  assert.equal(ps.LastSeen, '0001-01-01T00:00:00Z');
  assert.equal(ps.Relay, '', 'unknown DERP region');
  assert.equal(ps.Online, false, 'unknown online state shows as false');
  assert.equal(ps.ExitNodeOption, false);
});

test('data-plane extras and the selected exit node', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2, 3])));
  const map = peerStatusMap(nm, {
    exitNodeID: '3',
    peerExtras: (p) => (p.ID === 2 ? { CurAddr: '192.0.2.2:41641', RxBytes: 10, TxBytes: 20, LastHandshake: '2026-11-23T19:00:00Z', Active: true, InMagicSock: true, InEngine: true } : undefined),
  })!;
  const p2 = map[nodeKey(2)]!;
  assert.equal(p2.CurAddr, '192.0.2.2:41641');
  assert.equal(p2.RxBytes, 10);
  assert.equal(p2.TxBytes, 20);
  assert.equal(p2.LastHandshake, '2026-11-23T19:00:00Z');
  assert.equal(p2.Active && p2.InMagicSock && p2.InEngine, true);
  assert.equal(p2.ExitNode, false);
  assert.equal(map[nodeKey(3)]!.ExitNode, true);
  assert.deepEqual(Object.keys(map).sort(), [nodeKey(2), nodeKey(3)].sort(), 'keyed by node key text');
});

test('self status, users, tailnet: and a whole Status object validates', () => {
  const nm = newNetMap();
  assert.equal(selfStatus(nm, { inMapPoll: false }), null);
  assert.equal(peerStatusMap(nm), null);
  assert.equal(usersMap(nm), null);
  assert.equal(tailscaleIPs(nm), null);
  assert.equal(currentTailnet(nm), null);

  // Users 1 (self, peer 2) and 3 (peer 4 shared by... user 3 as Sharer); user 2 is known but not referenced.
  nm.apply(parse(rawFull([], { Peers: [rawNode(2), rawNode(4, { User: 1, Sharer: 3 })] })));
  const self = selfStatus(nm, { inMapPoll: true, OS: 'linux', Addrs: ['192.0.2.1:41641'] })!;
  assert.equal(self.Online, true);
  assert.equal(self.HostName, 'self');
  assert.equal(self.DNSName, 'self.tail.example.');
  assert.deepEqual(self.Addrs, ['192.0.2.1:41641']);
  assert.deepEqual(self.TailscaleIPs, ['100.64.0.1', 'fd7a:115c:a1e0::1']);
  assert.equal(self.Relay, 'lab');
  assert.equal(selfStatus(nm, { inMapPoll: false })!.Online, false);

  assert.deepEqual(usersMap(nm), {
    '1': { ID: 1, LoginName: 'alice', DisplayName: 'Alice' },
    '3': { ID: 3, LoginName: 'carol', DisplayName: 'Carol' },
  });
  assert.deepEqual(currentTailnet(nm), { Name: 'hs.example.com', MagicDNSSuffix: 'tail.example', MagicDNSEnabled: true });

  const status = {
    Version: '0.1.0',
    TUN: false,
    BackendState: 'Running',
    HaveNodeKey: true,
    AuthURL: '',
    TailscaleIPs: tailscaleIPs(nm),
    Self: self,
    Health: [],
    MagicDNSSuffix: nm.magicDNSSuffix,
    CurrentTailnet: currentTailnet(nm),
    Peer: peerStatusMap(nm),
    User: usersMap(nm),
  };
  StatusSchema.parse(status);
});

test('Go time helpers: formatting and rounding like time.Time', () => {
  assert.equal(formatGoTime(Date.parse('2026-11-23T19:08:12Z')), '2026-11-23T19:08:12Z');
  assert.equal(formatGoTime(Date.parse('2026-11-23T19:08:12.120Z')), '2026-11-23T19:08:12.12Z');
  assert.equal(roundGoTimeToSecond('2026-12-31T23:59:59.5Z'), '2027-01-01T00:00:00Z');
  assert.equal(roundGoTimeToSecond('2026-12-31T23:59:59.499999999+02:00'), '2026-12-31T23:59:59+02:00');
  assert.equal(roundGoTimeToSecond('2026-12-31T23:59:59Z'), '2026-12-31T23:59:59Z');
});
