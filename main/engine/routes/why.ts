// `meshtray why <ip|name>`: which way a packet to that address goes right now, answered from the
// SAME RouteTable the router installed, by emulating the kernel's lookup: the fwmark rules do not
// apply to ordinary traffic, so rule 5270 consults table 52 first (longest prefix match over our
// routes and throw routes); a throw route or no match falls through to the main table.
import { MeshtrayError } from '../../../common/errors/errors.js';
import { canonicalIP, containsExitRoutes, isTailscaleIP, parseIP } from '../netmap/ip.js';
import type { NetNode } from '../netmap/netmap.js';
import { cidrCovers, parseCIDR, type CIDR } from './ip-set.js';
import { splitAllowedIPs, type LocalInterface, type NetMapView, type RouteEntry, type RouteTable } from './route-table.js';

/** How the data plane currently reaches a peer (from magicsock/disco state; unknown if not wired). */
export type PeerPath =
  | { readonly kind: 'direct'; readonly endpoint: string }
  | { readonly kind: 'relayed'; readonly derpRegion: string }
  | { readonly kind: 'unknown' };

export type WhyVerdict = 'self' | 'magicdns' | 'local-lan' | 'exit-node' | 'subnet-router' | 'peer' | 'blocked' | 'not-routed';

export interface WhyAnswer {
  /** What the user asked about. */
  readonly dest: string;
  /** The address looked up (a name is resolved through the netmap). */
  readonly ip: string;
  readonly verdict: WhyVerdict;
  /** The peer that carries the packet (peer, subnet router or exit node). */
  readonly node?: { readonly id: number; readonly name: string; readonly addresses: readonly string[] };
  /** The route that matched (table 52 entry, throw route or LAN prefix). */
  readonly prefix?: string;
  readonly interface?: string;
  readonly path?: PeerPath;
  /** Why, in one sentence. */
  readonly reason: string;
  /** The one-line answer the CLI prints and the app shows. */
  readonly text: string;
}

export interface WhyInputs {
  readonly table: RouteTable;
  readonly netmap: NetMapView;
  readonly interfaces: readonly LocalInterface[];
  readonly tunName: string;
  readonly pathOf?: (node: NetNode) => PeerPath;
}

function pathText(p: PeerPath | undefined): string {
  if (!p || p.kind === 'unknown') return '';
  return p.kind === 'direct' ? `, direct to ${p.endpoint}` : `, relayed via DERP ${p.derpRegion}`;
}

function nodeInfo(nm: NetMapView, n: NetNode): { id: number; name: string; addresses: string[] } {
  return { id: n.ID, name: nm.displayName(n), addresses: (n.Addresses ?? []).map((a) => a.split('/')[0]!) };
}

/** Resolves a name through the netmap (MagicDNS FQDN or short name); IPs pass through canonicalised. */
export function resolveWhyTarget(nm: NetMapView, dest: string): string {
  const ip = canonicalIP(dest.trim());
  if (ip) return ip;
  const n = nm.peerByName(dest.trim());
  if (!n) throw new MeshtrayError('ERR_NO_SUCH_PEER', `"${dest}" is neither an IP address nor a tailnet name (why does not query other DNS names)`);
  const addrs = (n.Addresses ?? []).map((a) => a.split('/')[0]!);
  const pick = addrs.find((a) => !a.includes(':')) ?? addrs[0];
  if (!pick) throw new MeshtrayError('ERR_NO_SUCH_PEER', `${nm.displayName(n)} has no address`);
  return pick;
}

interface Match {
  readonly prefix: string;
  readonly bits: number;
  readonly entry?: RouteEntry;
  readonly isThrow: boolean;
}

function lookupTable52(t: RouteTable, c: CIDR): Match | undefined {
  let best: Match | undefined;
  const consider = (prefix: string, entry: RouteEntry | undefined, isThrow: boolean): void => {
    const rc = parseCIDR(prefix);
    if (!rc || !cidrCovers(rc, c)) return;
    if (!best || rc.bits > best.bits) best = { prefix, bits: rc.bits, isThrow, ...(entry ? { entry } : {}) };
  };
  for (const r of t.routes) consider(r.prefix, r, false);
  for (const l of t.localRoutes) consider(l, undefined, true);
  return best;
}

export function why(inp: WhyInputs, dest: string): WhyAnswer {
  const { table: t, netmap: nm } = inp;
  const ip = resolveWhyTarget(nm, dest);
  const c = parseCIDR(ip)!;
  const answer = (a: Omit<WhyAnswer, 'dest' | 'ip' | 'text'>, text: string): WhyAnswer => ({ dest, ip, ...a, text: `${dest === ip ? ip : `${dest} (${ip})`}: ${text}` });

  if (t.localAddrs.some((a) => canonicalIP(a.split('/')[0]!) === ip)) {
    return answer({ verdict: 'self', reason: 'this is one of this node\'s own tailnet addresses' }, 'this device (own tailnet address)');
  }

  const m = lookupTable52(t, c);
  if (m && !m.isThrow && m.entry) {
    const e = m.entry;
    const peer = e.nodeID !== undefined ? nm.peers().find((p) => p.ID === e.nodeID) : undefined;
    const path = peer && inp.pathOf ? inp.pathOf(peer) : undefined;
    switch (e.kind) {
      case 'quad100':
        return answer({ verdict: 'magicdns', prefix: e.prefix, reason: 'the MagicDNS service address is answered inside Meshtray, never sent to a peer' }, 'MagicDNS resolver inside Meshtray');
      case 'peer': {
        const owner = nm.peerByIP(ip);
        if (!owner || !t.peerAllowedIPs.has(owner.ID)) {
          return answer(
            { verdict: 'not-routed', prefix: e.prefix, reason: owner ? `${nm.displayName(owner)} is expired or unreachable` : 'no peer in the tailnet has this address; the tunnel drops it' },
            owner ? `not routed: ${nm.displayName(owner)} is expired or unreachable` : 'not routed: no peer in the tailnet has this address',
          );
        }
        const p2 = inp.pathOf ? inp.pathOf(owner) : undefined;
        return answer(
          { verdict: 'peer', node: nodeInfo(nm, owner), prefix: e.prefix, ...(p2 ? { path: p2 } : {}), reason: `${ip} is ${nm.displayName(owner)}'s tailnet address` },
          `peer ${nm.displayName(owner)}${pathText(p2)}`,
        );
      }
      case 'subnet':
        return answer(
          { verdict: 'subnet-router', node: nodeInfo(nm, peer!), prefix: e.prefix, ...(path ? { path } : {}), reason: `${nm.displayName(peer!)} is the subnet router for ${e.prefix} and accept-routes is on` },
          `subnet router ${nm.displayName(peer!)} (route ${e.prefix})${pathText(path)}`,
        );
      case 'exit':
      case 'exit-lan': {
        if (!t.exitNode?.usable || !peer) {
          const why = t.exitNode?.problem ?? 'the selected exit node is unavailable';
          return answer({ verdict: 'blocked', prefix: e.prefix, reason: why }, `blocked: ${why}`);
        }
        const reason =
          e.kind === 'exit-lan'
            ? `${ip} is on this machine's LAN (${e.prefix}) but exit-node-allow-lan-access is off, so it goes to the exit node`
            : `no more specific route; all other traffic goes to exit node ${nm.displayName(peer)}`;
        return answer({ verdict: 'exit-node', node: nodeInfo(nm, peer), prefix: e.prefix, ...(path ? { path } : {}), reason }, `exit node ${nm.displayName(peer)}${pathText(path)} (${reason})`);
      }
    }
  }

  // Main table: a throw route, or no table-52 route at all.
  if (m?.isThrow && t.bypass.includes(m.prefix)) {
    const reason = 'this is a control/DERP server address, kept off the tunnel so Meshtray\'s own connections cannot loop through it';
    return answer({ verdict: 'not-routed', prefix: m.prefix, reason }, `not routed through the tailnet: ${reason}`);
  }
  for (const i of inp.interfaces) {
    if (i.name === inp.tunName) continue;
    for (const a of i.addresses) {
      const ic = parseCIDR(a);
      if (ic && ic.bits < (ic.family === 4 ? 32 : 128) && cidrCovers(ic, c)) {
        const reason = m?.isThrow
          ? `${ic.text} is this machine's LAN and exit-node-allow-lan-access keeps it off the exit node`
          : `${ic.text} is directly connected on ${i.name}`;
        return answer({ verdict: 'local-lan', prefix: ic.text, interface: i.name, reason }, `local LAN on ${i.name} (${reason})`);
      }
    }
  }
  if (m?.isThrow) {
    return answer({ verdict: 'local-lan', prefix: m.prefix, reason: `${m.prefix} is excluded from the exit node (local network)` }, `local network ${m.prefix}, not through the exit node`);
  }
  const ipParsed = parseIP(ip)!;
  if (isTailscaleIP(ipParsed)) {
    const owner = nm.peerByIP(ip);
    const reason = owner ? `${nm.displayName(owner)} is expired or not reachable, so no route is installed` : 'no peer in the tailnet has this address';
    return answer({ verdict: 'not-routed', reason }, `not routed: ${reason}`);
  }
  // A peer offers it but we do not use it: say which setting would change that.
  for (const p of nm.peers()) {
    for (const r of splitAllowedIPs(p).routes) {
      const rc = parseCIDR(r);
      if (!rc || rc.bits === 0 || !cidrCovers(rc, c)) continue;
      const reason = `${nm.displayName(p)} offers ${rc.text} but accept-routes is off, so it goes out through this machine's own network`;
      return answer({ verdict: 'not-routed', node: nodeInfo(nm, p), prefix: rc.text, reason }, `not routed through the tailnet: ${reason}`);
    }
  }
  const anyExit = nm.peers().some((p) => containsExitRoutes(p.AllowedIPs));
  const reason = anyExit ? 'no exit node is selected, so it goes out through this machine\'s own network' : 'no tailnet route covers it; it goes out through this machine\'s own network';
  return answer({ verdict: 'not-routed', reason }, `not routed through the tailnet: ${reason}`);
}
