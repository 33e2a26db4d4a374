// Replays what a real Headscale v0.29.2 sent to real tailscaled v1.98.10 nodes
// (test/fixtures/netmap/headscale-v0.29.2, made by record-headscale.sh) and compares the result
// with what that tailscaled itself printed in `tailscale status --json`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetMap, type NetMapChange } from '../../../../main/engine/netmap/netmap.js';
import { parseMapResponse } from '../../../../main/engine/netmap/tailcfg.js';
import { currentTailnet, peerStatusMap, selfStatus, tailscaleIPs, usersMap } from '../../../../main/engine/netmap/status.js';
import { PeerStatusSchema, type PeerStatus } from '../../../../common/schemas/status.js';
import { FakeClock, RECORDED, recordedMessages } from './helpers.js';

type TsStatus = {
  Self: Record<string, unknown>;
  Peer: Record<string, Record<string, unknown>>;
  User: Record<string, unknown>;
  TailscaleIPs: string[];
  MagicDNSSuffix: string;
  CurrentTailnet: Record<string, unknown>;
};
const tsStatus = (name: string) => JSON.parse(readFileSync(join(RECORDED(), `${name}-status.json`), 'utf8')) as TsStatus;

function replay(nodeID: number, upTo?: number): { nm: NetMap; changes: NetMapChange[] } {
  const nm = new NetMap({ clock: new FakeClock() });
  const changes: NetMapChange[] = [];
  const msgs = recordedMessages(nodeID).slice(0, upTo);
  for (const { file, raw } of msgs) {
    const r = parseMapResponse(raw);
    assert.ok(r.ok, `${file}: ${r.ok ? '' : r.reason}`);
    changes.push(nm.apply(r.value));
  }
  return { nm, changes };
}

/** The fields both sides derive from the netmap (data-plane and runtime-only fields excluded). */
const NETMAP_FIELDS = [
  'ID', 'PublicKey', 'HostName', 'DNSName', 'OS', 'UserID', 'TailscaleIPs', 'AllowedIPs', 'PrimaryRoutes', 'Tags',
  'Relay', 'Created', 'LastSeen', 'Online', 'ExitNode', 'ExitNodeOption', 'InNetworkMap', 'Expired', 'KeyExpiry',
  'LastHandshake', 'RxBytes', 'TxBytes', 'CurAddr', 'Active',
] as const;

function pick(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of NETMAP_FIELDS) if (o[k] !== undefined && o[k] !== null) out[k] = o[k];
  return out;
}

test('every recorded Headscale message parses and applies (3 nodes)', () => {
  for (const id of [1, 2, 3]) {
    const { nm } = replay(id);
    assert.ok(nm.hasNetmap, `node ${id}`);
  }
});

test('alpha: peers join (PeersChanged), go online/offline (patches), get renamed and deleted, as tailscaled saw it', () => {
  const all = recordedMessages(1);
  const idx = (suffix: string) => all.findIndex((m) => m.file.includes(suffix)) + 1;

  let { nm } = replay(1, idx('19-20-11.622275033'));
  assert.equal(nm.peerByName('beta')?.Online, true, 'beta came online via PeersChangedPatch');

  ({ nm } = replay(1, idx('19-20-26.822777877')));
  const gamma = nm.peerByName('gamma.tail.example.');
  assert.equal(gamma?.Online, true);
  assert.equal(gamma?.User, 2);
  assert.equal(nm.userProfiles.get(2)?.LoginName, 'bob');
  assert.deepEqual(nm.exitNodeOptions().map((p) => p.Name), ['beta.tail.example.'], 'approved exit routes reached the netmap');

  ({ nm } = replay(1, idx('19-20-46.822607572')));
  assert.equal(nm.peerByName('gamma')?.Online, false, 'gamma went offline (patch)');

  const r = replay(1);
  nm = r.nm;
  assert.equal(nm.peerByName('gamma'), undefined, 'gamma deleted (PeersRemoved)');
  assert.equal(nm.peerByName('beta'), undefined, 'old name gone');
  assert.equal(nm.peerByName('beta-renamed')?.ID, 2);
  assert.deepEqual(r.changes.at(-1)?.peersRemoved, [3]);
  assert.deepEqual(nm.peerByName('beta-renamed')?.PrimaryRoutes, ['10.1.0.0/24']);
  assert.equal(nm.peerByIP('100.64.0.3'), undefined);
  assert.equal(nm.peerByIP('fd7a:115c:a1e0::2')?.ID, 2);
});

test('beta: the first message carries the complete Peers list', () => {
  const { changes, nm } = replay(2, 1);
  assert.equal(changes[0]!.fullPeers, true);
  assert.deepEqual(changes[0]!.peersAdded, [1]);
  assert.equal(nm.peerByName('alpha')?.Hostinfo?.OS, 'linux');
});

for (const [name, nodeID] of [['alpha', 1], ['beta', 2]] as const) {
  test(`${name}: status built from the replayed netmap matches real tailscaled's status --json`, () => {
    const { nm } = replay(nodeID);
    const real = tsStatus(name);
    const peers = peerStatusMap(nm)!;
    assert.deepEqual(Object.keys(peers).sort(), Object.keys(real.Peer).sort());
    for (const [key, ps] of Object.entries(peers)) {
      PeerStatusSchema.parse(ps);
      assert.deepEqual(pick(ps as unknown as Record<string, unknown>), pick(real.Peer[key]!), `peer ${key}`);
    }
    const self = selfStatus(nm, { inMapPoll: true }) as PeerStatus;
    PeerStatusSchema.parse(self);
    const realSelf = pick(real.Self);
    // tailscaled fills Relay for itself from magicsock's own home DERP; same region here.
    assert.deepEqual(pick(self as unknown as Record<string, unknown>), realSelf);
    assert.deepEqual(usersMap(nm), real.User);
    assert.deepEqual(tailscaleIPs(nm), real.TailscaleIPs);
    assert.deepEqual(currentTailnet(nm), real.CurrentTailnet);
    assert.equal(nm.magicDNSSuffix, real.MagicDNSSuffix);
  });
}
