import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEmptyChange } from '../../../../main/engine/netmap/netmap.js';
import { parseMapResponse } from '../../../../main/engine/netmap/tailcfg.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { ALLOW_ALL, DERP_MAP, FakeClock, discoKey, newNetMap, nodeKey, parse, rawFull, rawNode, v4, v6 } from './helpers.js';

const sorted = (a: readonly number[]) => [...a].sort((x, y) => x - y);

test('full map: self, peers sorted by name, every index, DERP, DNS, filter, users, domain', () => {
  const nm = newNetMap();
  const raw = rawFull([4, 2, 3]);
  (raw['Peers'] as Record<string, unknown>[])[0]!['Name'] = 'aaa.tail.example.';
  const ch = nm.apply(parse(raw));
  assert.equal(ch.newStream, true);
  assert.equal(ch.fullPeers, true);
  assert.equal(ch.selfChanged, true);
  assert.deepEqual(sorted(ch.peersAdded), [2, 3, 4]);
  assert.deepEqual(ch.peersRemoved, []);

  assert.equal(nm.self?.Name, 'self.tail.example.');
  assert.equal(nm.magicDNSSuffix, 'tail.example');
  assert.deepEqual(nm.peers().map((p) => p.ID), [4, 2, 3]); // aaa, node2, node3
  assert.equal(nm.peerByID(3)?.Name, 'node3.tail.example.');
  assert.equal(nm.peerByKey(nodeKey(2))?.ID, 2);
  assert.equal(nm.peerByKey(nodeKey(2).toUpperCase().replace('NODEKEY:', 'nodekey:'))?.ID, 2, 'either hex case');
  assert.equal(nm.peerByIP(v4(3))?.ID, 3);
  assert.equal(nm.peerByIP('fd7a:115c:a1e0:0:0:0:0:3')?.ID, 3, 'any spelling of the IPv6 address');
  assert.equal(nm.peerByIP('100.64.0.99'), undefined);
  assert.equal(nm.peerByName('node2')?.ID, 2, 'short name inside our MagicDNS suffix');
  assert.equal(nm.peerByName('NODE2.tail.example.')?.ID, 2, 'FQDN with trailing dot, any case');
  assert.equal(nm.peerByName('node2.tail.example')?.ID, 2);
  assert.equal(nm.peerByName('node2.other.example'), undefined);
  assert.equal(nm.derpRegionCode(900), 'lab');
  assert.equal(nm.dnsConfig?.Proxied, true);
  assert.deepEqual(nm.dnsConfig?.Routes?.['corp.example'], [{ Addr: '10.0.0.53' }]);
  assert.deepEqual(nm.packetFilter, ALLOW_ALL);
  assert.equal(nm.userProfiles.get(2)?.LoginName, 'bob');
  assert.equal(nm.domain, 'hs.example.com');
  assert.equal(nm.controlTime, '2026-11-23T19:20:00.5Z');
  assert.equal(nm.displayName(nm.peerByID(2)!), 'node2');
});

test('the first message of a stream must carry Node; without it nothing changes', () => {
  const nm = newNetMap();
  const raw = rawFull([2]);
  delete raw['Node'];
  assert.throws(() => nm.apply(parse(raw)), (e) => MeshtrayError.is(e) && e.code === 'ERR_CONTROL_PROTOCOL');
  assert.equal(nm.hasNetmap, false);
  assert.equal(nm.controlTime, undefined);
  assert.equal(nm.peerCount, 0);
  assert.equal(nm.derpMap, undefined);
});

test('PeersChanged upserts whole nodes and keeps every index in step (rename, new address)', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2, 3])));
  const before = nm.peers();
  assert.deepEqual(before.map((p) => p.ID), [2, 3]);
  const ch = nm.apply(parse({ PeersChanged: [rawNode(2, { name: 'zeta', Addresses: ['100.64.9.9/32'] }), rawNode(5)] }));
  assert.deepEqual(ch.peersAdded, [5]);
  assert.deepEqual(ch.peersChanged, [2]);
  assert.equal(ch.fullPeers, false);
  assert.equal(ch.derpMapChanged, false);
  assert.equal(nm.peerByName('node2'), undefined, 'old name no longer resolves');
  assert.equal(nm.peerByName('zeta')?.ID, 2);
  assert.equal(nm.peerByIP(v4(2)), undefined, 'old address no longer resolves');
  assert.equal(nm.peerByIP('100.64.9.9')?.ID, 2);
  assert.deepEqual(nm.peers().map((p) => p.ID), [3, 5, 2], 're-sorted by name');
  // AllowedIPs was sent explicitly in rawNode; the new Addresses only matter for lookup.
  assert.equal(nm.peerByID(2)?.Hostinfo?.Hostname, 'zeta');
});

test('PeersRemoved removes the peer from every index and view', () => {
  const nm = newNetMap();
  const raw = rawFull([2, 3]);
  (raw['Peers'] as Record<string, unknown>[])[0]!['AllowedIPs'] = [`${v4(2)}/32`, '0.0.0.0/0', '::/0'];
  nm.apply(parse(raw));
  assert.deepEqual(nm.exitNodeOptions().map((p) => p.ID), [2]);
  const ch = nm.apply(parse({ PeersRemoved: [2, 77] }));
  assert.deepEqual(ch.peersRemoved, [2], 'unknown IDs are not reported');
  assert.equal(nm.peerByID(2), undefined);
  assert.equal(nm.peerByKey(nodeKey(2)), undefined);
  assert.equal(nm.peerByIP(v4(2)), undefined);
  assert.equal(nm.peerByIP(v6(2)), undefined);
  assert.equal(nm.peerByName('node2'), undefined);
  assert.deepEqual(nm.peers().map((p) => p.ID), [3]);
  assert.deepEqual(nm.exitNodeOptions(), []);
  assert.equal(nm.peerCount, 1);
});

test('PeersChangedPatch overwrites only the fields present; other fields stay as they were', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2, 3])));
  const old = nm.peerByID(2)!;
  const ch = nm.apply(parse({ PeersChangedPatch: [{ NodeID: 2, Online: false, LastSeen: '2026-11-23T19:30:00Z' }] }));
  assert.deepEqual(ch.peersChanged, [2]);
  const p = nm.peerByID(2)!;
  assert.equal(p.Online, false);
  assert.equal(p.LastSeen, '2026-11-23T19:30:00Z');
  for (const k of ['Name', 'Key', 'DiscoKey', 'Endpoints', 'HomeDERP', 'Addresses', 'AllowedIPs', 'Hostinfo', 'Created', 'Cap'] as const) {
    assert.deepEqual(p[k], old[k], `${k} unchanged`);
  }
  assert.equal(old.Online, true, 'the previous object is not mutated');
  assert.equal(nm.peers().find((x) => x.ID === 2)?.Online, false, 'sorted view shows the patched node');
  assert.equal(nm.peerByID(3)?.Online, true, 'other peers untouched');
});

test('PeersChangedPatch: endpoints, DERP region, key rotation (re-indexed), expiry, cap map; zero/absent = unchanged', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2])));
  const newKey = `nodekey:${'ab'.repeat(32)}`;
  nm.apply(
    parse({
      PeersChangedPatch: [
        {
          NodeID: 2,
          DERPRegion: 901,
          Endpoints: ['198.51.100.7:1234'],
          Key: newKey,
          DiscoKey: discoKey(2, 1),
          KeyExpiry: '2027-01-01T00:00:00Z',
          CapMap: { 'cap:x': [] },
          Cap: 0,
        },
      ],
    }),
  );
  const p = nm.peerByID(2)!;
  assert.equal(p.HomeDERP, 901);
  assert.deepEqual(p.Endpoints, ['198.51.100.7:1234']);
  assert.equal(p.Key, newKey);
  assert.equal(p.DiscoKey, discoKey(2, 1));
  assert.equal(p.KeyExpiry, '2027-01-01T00:00:00Z');
  assert.deepEqual(p.CapMap, { 'cap:x': [] });
  assert.equal(p.Cap, 138, 'Cap 0 means unchanged');
  assert.equal(nm.peerByKey(newKey)?.ID, 2);
  assert.equal(nm.peerByKey(nodeKey(2)), undefined, 'old key no longer resolves');
});

test('a patch for an unknown node is ignored, never turned into a peer', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2])));
  const ch = nm.apply(parse({ PeersChangedPatch: [{ NodeID: 9, Online: true, Endpoints: ['192.0.2.9:1'] }] }));
  assert.equal(nm.peerByID(9), undefined);
  assert.equal(nm.peerCount, 1);
  assert.ok(isEmptyChange(ch));
});

test('a stale disco patch (offline, LastSeen not newer) is dropped whole, a newer one applies', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2], { Peers: [rawNode(2, { Online: false, LastSeen: '2026-11-23T19:00:00Z' })] })));
  nm.apply(parse({ PeersChangedPatch: [{ NodeID: 2, DiscoKey: discoKey(2, 5), Online: false, LastSeen: '2026-11-23T18:00:00Z', Endpoints: ['192.0.2.1:1'] }] }));
  assert.equal(nm.peerByID(2)?.DiscoKey, discoKey(2), 'stale patch ignored');
  assert.notDeepEqual(nm.peerByID(2)?.Endpoints, ['192.0.2.1:1']);
  nm.apply(parse({ PeersChangedPatch: [{ NodeID: 2, DiscoKey: discoKey(2, 5), Online: false, LastSeen: '2026-11-23T19:10:00Z' }] }));
  assert.equal(nm.peerByID(2)?.DiscoKey, discoKey(2, 5));
});

test('OnlineChange and PeerSeenChange (true = now from the clock, false = cleared); unknown IDs ignored', () => {
  const clock = new FakeClock(Date.parse('2026-11-23T21:00:00.250Z'));
  const nm = newNetMap(clock);
  nm.apply(parse(rawFull([2, 3])));
  const ch = nm.apply(parse({ OnlineChange: { '2': false, '8': true }, PeerSeenChange: { '3': true, '9': true } }));
  assert.deepEqual(sorted(ch.peersChanged), [2, 3]);
  assert.equal(nm.peerByID(2)?.Online, false);
  assert.equal(nm.peerByID(3)?.LastSeen, '2026-11-23T21:00:00.25Z', 'Go time format, trailing zeros dropped');
  nm.apply(parse({ PeerSeenChange: { '3': false } }));
  assert.equal(nm.peerByID(3)?.LastSeen, undefined);
  assert.equal(nm.peerByID(8), undefined);
});

test('Peers non-empty replaces the whole set and precludes the other peer deltas in that message', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2, 3, 4])));
  const ch = nm.apply(parse({ Peers: [rawNode(3), rawNode(5)], PeersRemoved: [3], PeersChangedPatch: [{ NodeID: 5, Online: false }] }));
  assert.equal(ch.fullPeers, true);
  assert.deepEqual(sorted(ch.peersRemoved), [2, 4]);
  assert.deepEqual(ch.peersAdded, [5]);
  assert.deepEqual(ch.peersChanged, [3]);
  assert.deepEqual(nm.peers().map((p) => p.ID), [3, 5]);
  assert.equal(nm.peerByID(5)?.Online, true, 'the patch in the same message was ignored');
  assert.equal(nm.peerByIP(v4(2)), undefined);
});

test('an empty or absent Peers list does not mean "no peers"', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2])));
  const ch = nm.apply(parse({ Peers: [], ControlTime: '2026-11-23T19:21:00Z' }));
  assert.equal(nm.peerCount, 1);
  assert.ok(isEmptyChange(ch));
});

test('removed then re-added in one message counts as changed', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2])));
  const ch = nm.apply(parse({ PeersRemoved: [2], PeersChanged: [rawNode(2, { name: 'again' })] }));
  assert.deepEqual(ch.peersChanged, [2]);
  assert.deepEqual(ch.peersAdded, []);
  assert.deepEqual(ch.peersRemoved, []);
  assert.equal(nm.peerByName('again')?.ID, 2);
});

test('nil means unchanged: a delta without DERPMap/DNSConfig/PacketFilters/UserProfiles keeps them', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2])));
  const derp = nm.derpMap;
  const dns = nm.dnsConfig;
  const ch = nm.apply(parse({ PeersChangedPatch: [{ NodeID: 2, Online: false }], DERPMap: null, DNSConfig: null, PacketFilter: null, PacketFilters: null, UserProfiles: null, Domain: '' }));
  assert.equal(ch.derpMapChanged || ch.dnsConfigChanged || ch.packetFilterChanged || ch.userProfilesChanged || ch.domainChanged, false);
  assert.equal(nm.derpMap, derp);
  assert.equal(nm.dnsConfig, dns);
  assert.deepEqual(nm.packetFilter, ALLOW_ALL);
  assert.equal(nm.userProfiles.size, 3);
  assert.equal(nm.domain, 'hs.example.com');
});

test('DERPMap merge: null regions dropped, null Regions keeps the old ones, HomeParams and RegionScore kept when null', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2], { DERPMap: { ...DERP_MAP, HomeParams: { RegionScore: { '900': 1.5 } }, omitDefaultRegions: true } })));
  let ch = nm.apply(parse({ DERPMap: { Regions: null, HomeParams: { RegionScore: null } } }));
  assert.equal(ch.derpMapChanged, true);
  assert.equal(nm.derpRegionCode(900), 'lab');
  assert.equal(nm.derpMap?.omitDefaultRegions, true);
  assert.deepEqual(nm.derpMap?.HomeParams?.RegionScore, { '900': 1.5 });
  ch = nm.apply(parse({ DERPMap: { Regions: { '901': { RegionID: 901, RegionCode: 'b', Nodes: [] }, '902': null } } }));
  assert.deepEqual(Object.keys(nm.derpMap?.Regions ?? {}), ['901'], 'regions replaced, null region dropped');
  assert.equal(nm.derpRegionCode(900), '');
  assert.deepEqual(nm.derpMap?.HomeParams?.RegionScore, { '900': 1.5 }, 'HomeParams kept');
});

test('packet filter: legacy PacketFilter is chunk "base"; named chunks; "*": null resets; [] = deny all', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2])));
  const ssh = [{ SrcIPs: ['100.64.0.2'], DstPorts: [{ IP: '*', Ports: { First: 22, Last: 22 } }] }];
  nm.apply(parse({ PacketFilters: { ssh } }));
  assert.deepEqual(nm.packetFilter, [...ALLOW_ALL, ...ssh], 'chunks concatenated in name order');
  nm.apply(parse({ PacketFilters: { base: null } }));
  assert.deepEqual(nm.packetFilter, ssh, 'null chunk deleted');
  nm.apply(parse({ PacketFilters: { '*': null, other: ALLOW_ALL } }));
  assert.deepEqual(nm.packetFilter, ALLOW_ALL, '"*" cleared everything first');
  const ch = nm.apply(parse({ PacketFilter: [] }));
  assert.equal(ch.packetFilterChanged, true);
  assert.deepEqual(nm.packetFilter, ALLOW_ALL, 'base=[] adds nothing; "other" stays');
  nm.apply(parse({ PacketFilters: { '*': null } }));
  assert.deepEqual(nm.packetFilter, [], 'no chunks at all = deny all');
});

test('UserProfiles upsert by ID; DNSConfig replaced whole; Domain and Health', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2])));
  const ch = nm.apply(
    parse({
      UserProfiles: [{ ID: 2, LoginName: 'bob2', DisplayName: 'Bob II' }, { ID: 7, LoginName: 'g', DisplayName: 'G' }],
      DNSConfig: { Resolvers: [{ Addr: '9.9.9.9' }], Routes: { 'local.example': null } },
      Domain: 'other.example',
      Health: ['control says hi'],
    }),
  );
  assert.equal(ch.userProfilesChanged && ch.dnsConfigChanged && ch.domainChanged && ch.healthChanged, true);
  assert.equal(nm.userProfiles.get(2)?.LoginName, 'bob2');
  assert.equal(nm.userProfiles.get(1)?.LoginName, 'alice', 'never deleted');
  assert.equal(nm.userProfiles.get(7)?.DisplayName, 'G');
  assert.equal(nm.dnsConfig?.Proxied, undefined, 'replaced, not merged');
  assert.deepEqual(nm.dnsConfig?.Routes, { 'local.example': [] }, 'a null route is kept as "answer locally"');
  assert.equal(nm.domain, 'other.example');
  assert.deepEqual(nm.health, ['control says hi']);
});

test('KeepAlive changes nothing (even if it carries other fields) but records ControlTime', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2])));
  const ch = nm.apply(parse({ KeepAlive: true, PeersRemoved: [2], ControlTime: '2026-11-23T19:59:00Z' }));
  assert.equal(ch.keepAlive, true);
  assert.ok(isEmptyChange(ch));
  assert.equal(nm.peerCount, 1);
  assert.equal(nm.controlTime, '2026-11-23T19:59:00Z');
});

test('a keep-alive before the first message is fine and does not count as the first message', () => {
  const nm = newNetMap();
  nm.apply(parse({ KeepAlive: true }));
  assert.equal(nm.hasNetmap, false);
  assert.throws(() => nm.apply(parse({ PeersRemoved: [1] })), /no Node/);
});

test('a response failing validation is rejected whole with the path of the bad field; the model is untouched', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2, 3])));
  const snapshot = JSON.stringify(nm.peers());
  const bad = { PeersRemoved: [3], PeersChangedPatch: [{ NodeID: 2, Online: false, Endpoints: ['not-an-endpoint'] }] };
  const r = parseMapResponse(bad);
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.reason : '', /PeersChangedPatch\[0\]\.Endpoints\[0\]: expected ip:port/);
  // The backend applies only parsed messages: nothing of the valid half (PeersRemoved) happened.
  assert.equal(JSON.stringify(nm.peers()), snapshot);

  const wrongTypes: [unknown, RegExp][] = [
    [{ Node: { ...rawNode(1), ID: '1' } }, /Node\.ID: .*expected number/],
    [{ Peers: [{ ...rawNode(2), Key: 'nodekey:abc' }] }, /Peers\[0\]\.Key: expected "nodekey:" followed by 64 hex digits/],
    [{ PeersChanged: [{ ...rawNode(2), Addresses: ['100.64.0.2/33'] }] }, /PeersChanged\[0\]\.Addresses\[0\]: expected an IP prefix/],
    [{ OnlineChange: { x: true } }, /OnlineChange/],
    [{ PeersRemoved: ['2'] }, /PeersRemoved\[0\]/],
    [{ DNSConfig: { Proxied: 'yes' } }, /DNSConfig\.Proxied/],
    [{ PacketFilters: { base: [{ DstPorts: [{ IP: '*', Ports: { First: 0, Last: 70000 } }] }] } }, /PacketFilters\.base\[0\]\.DstPorts\[0\]\.Ports\.Last/],
    [{ ControlTime: 'yesterday' }, /ControlTime: expected an RFC 3339 time/],
    ['{"not":"decoded"}', /must be a JSON object, got string/],
    [null, /got null/],
  ];
  for (const [raw, re] of wrongTypes) {
    const res = parseMapResponse(raw);
    assert.equal(res.ok, false, JSON.stringify(raw));
    assert.match(!res.ok ? res.reason : '', re);
  }
});

test('unknown fields are ignored at every level and passed through', () => {
  const nm = newNetMap();
  const raw = rawFull([2], { FutureTopLevel: { a: 1 }, Peers: [{ ...rawNode(2), FutureNodeField: [1, 2], Hostinfo: { OS: 'linux', Hostname: 'n2', NewThing: true } }] });
  (raw['DERPMap'] as Record<string, unknown>)['NewDERPField'] = 'x';
  const ch = nm.apply(parse(raw));
  assert.deepEqual(ch.peersAdded, [2]);
  assert.deepEqual(nm.peerByID(2)?.['FutureNodeField'], [1, 2]);
  assert.equal(nm.peerByID(2)?.Hostinfo?.Hostname, 'n2');
});

test('node upgrade: legacy DERP string, absent AllowedIPs = Addresses, [] stays empty, self Capabilities → CapMap, server ComputedName dropped', () => {
  const nm = newNetMap();
  const self = rawNode(1, { name: 'self', Capabilities: ['cap:a'], CapMap: { 'cap:b': [true] } });
  const legacy = rawNode(2, { HomeDERP: undefined, DERP: '127.3.3.40:901', AllowedIPs: undefined, ComputedName: 'evil' });
  const empty = rawNode(3, { AllowedIPs: [] });
  const nullAllowed = rawNode(4, { AllowedIPs: null });
  nm.apply(parse(rawFull([], { Node: self, Peers: [legacy, empty, nullAllowed] })));
  const p2 = nm.peerByID(2)!;
  assert.equal(p2.HomeDERP, 901);
  assert.equal('DERP' in p2, false);
  assert.equal(p2['ComputedName'], undefined);
  assert.deepEqual(p2.AllowedIPs, p2.Addresses);
  assert.deepEqual(nm.peerByID(3)?.AllowedIPs, []);
  assert.deepEqual(nm.peerByID(4)?.AllowedIPs, [`${v4(4)}/32`, `${v6(4)}/128`]);
  assert.deepEqual(nm.self?.CapMap, { 'cap:b': [true], 'cap:a': null });
});

test('exit node options need BOTH /0 routes', () => {
  const nm = newNetMap();
  const both = rawNode(2, { AllowedIPs: [`${v4(2)}/32`, '0.0.0.0/0', '::/0'] });
  const v4only = rawNode(3, { AllowedIPs: [`${v4(3)}/32`, '0.0.0.0/0'] });
  const spelled = rawNode(4, { AllowedIPs: ['0:0::/0', '0.0.0.0/0'] });
  nm.apply(parse(rawFull([], { Peers: [both, v4only, spelled] })));
  assert.deepEqual(nm.exitNodeOptions().map((p) => p.ID), [2, 4]);
});

test('startStream: the old map stays readable until the new stream\'s first message, which replaces everything', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2, 3], { PacketFilters: { base: ALLOW_ALL, extra: [] } })));
  nm.startStream();
  assert.equal(nm.peerCount, 2, 'last good netmap still in use while reconnecting');
  // New stream: Headscale's first message, here with no peers at all and no DERP regions.
  const ch = nm.apply(parse({ Node: rawNode(1, { name: 'self' }), DERPMap: { Regions: null }, PacketFilters: { base: [] }, ControlTime: '2026-11-23T19:40:00Z' }));
  assert.equal(ch.newStream, true);
  assert.deepEqual(sorted(ch.peersRemoved), [2, 3]);
  assert.equal(nm.peerCount, 0);
  assert.equal(nm.peerByIP(v4(2)), undefined);
  assert.deepEqual(nm.derpMap?.Regions, null, 'no merge with the previous stream');
  assert.deepEqual(nm.packetFilter, [], 'chunks of the previous stream are gone');
  assert.equal(nm.userProfiles.size, 0);
  assert.equal(nm.dnsConfig, undefined);
  // And deltas continue normally after that.
  nm.apply(parse({ PeersChanged: [rawNode(6)] }));
  assert.deepEqual(nm.peers().map((p) => p.ID), [6]);
});

test('startStream diff: peers present in both streams are reported changed, not removed and added', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2, 3])));
  nm.startStream();
  const ch = nm.apply(parse(rawFull([3, 4])));
  assert.deepEqual(ch.peersRemoved, [2]);
  assert.deepEqual(ch.peersAdded, [4]);
  assert.deepEqual(ch.peersChanged, [3]);
});

test('a mid-stream full Peers list keeps a newer disco key we hold for an offline peer', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([], { Peers: [rawNode(2, { Online: false, LastSeen: '2026-11-23T19:00:00Z', DiscoKey: discoKey(2, 7) })] })));
  nm.apply(parse({ Peers: [rawNode(2, { Online: false, LastSeen: '2026-11-23T18:00:00Z', DiscoKey: discoKey(2, 1) })] }));
  assert.equal(nm.peerByID(2)?.DiscoKey, discoKey(2, 7));
  assert.equal(nm.peerByID(2)?.LastSeen, '2026-11-23T19:00:00Z');
  nm.apply(parse({ Peers: [rawNode(2, { Online: true, DiscoKey: discoKey(2, 1) })] }));
  assert.equal(nm.peerByID(2)?.DiscoKey, discoKey(2, 1), 'online peer: control wins');
});

test('stored nodes are frozen: subscribers cannot corrupt the model', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2])));
  const p = nm.peerByID(2)! as Record<string, unknown>;
  assert.throws(() => {
    'use strict';
    p['Online'] = false;
  }, TypeError);
  assert.equal(nm.peerByID(2)?.Online, true);
});

test('clear() forgets the whole map (logout)', () => {
  const nm = newNetMap();
  nm.apply(parse(rawFull([2, 3])));
  nm.clear();
  assert.equal(nm.hasNetmap, false);
  assert.equal(nm.self, undefined);
  assert.equal(nm.peerCount, 0);
  assert.deepEqual(nm.peers(), []);
  assert.equal(nm.peerByIP(v4(2)), undefined);
  assert.equal(nm.derpMap, undefined);
  assert.equal(nm.packetFilter, undefined);
  assert.equal(nm.controlTime, undefined);
  assert.throws(() => nm.apply(parse({ PeersRemoved: [2] })), /no Node/, 'the next message must start a stream');
});
