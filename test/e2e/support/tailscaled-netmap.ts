// A real tailscaled's view of the tailnet as Meshtray's NetMap: `tailscale debug netmap` (the
// netmap.NetworkMap tailscaled holds, tailscale types/netmap/netmap.go) fed through Meshtray's own
// MapResponse parser. Lets a test compute Meshtray's answer (routes, DNS plan, why) from exactly
// the netmap tailscaled acts on, and compare the two.
import assert from 'node:assert/strict';
import { NetMap } from '../../../main/engine/netmap/netmap.js';
import { parseMapResponse } from '../../../main/engine/netmap/tailcfg.js';
import type { Peer } from '../../lab/peer.js';

export async function netmapOfTailscaled(peer: Peer): Promise<NetMap> {
  const r = await peer.cli(['debug', 'netmap'], 15_000);
  assert.equal(r.code, 0, r.stderr);
  const raw = JSON.parse(r.stdout) as { SelfNode: unknown; Peers?: unknown[]; DNS?: unknown };
  const parsed = parseMapResponse({ Node: raw.SelfNode, Peers: raw.Peers ?? [], DNSConfig: raw.DNS });
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  const nm = new NetMap({ clock: { now: () => Date.now(), setTimeout: () => ({ cancel() {} }) } });
  nm.apply(parsed.value);
  return nm;
}
