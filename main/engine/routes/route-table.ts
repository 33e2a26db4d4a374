// The route set the OS must have, computed purely from (netmap, prefs, local interfaces) the way
// tailscale does it: ipn/ipnlocal/local.go routerConfigLocked + internalAndExternalInterfacesFrom,
// and net/routemanager/routemanager.go (peerViewOf, eligible, desiredFor, classify). The router
// installs exactly this table, the data plane takes `peerAllowedIPs` from it, and `why` answers from
// it, so what the user is told is what the OS does.
//
// Deliberate parity with tailscale (documented so nobody "fixes" it silently):
// - accepted subnet routes are installed even when they cover this machine's own LAN or the control
//   server (routemanager never filters them); we install them too and report a warning. Our own
//   control/DERP/WireGuard sockets carry the bypass mark, so they never loop (os-integration.md §2.2).
// - with an exit node selected that is missing or not offering both /0 routes, the default routes
//   still go into the tunnel: a blackhole, failing closed instead of leaking.
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Prefs } from '../../../common/schemas/prefs.js';
import { canonicalIP, containsExitRoutes, isTailscaleIP, parseIP } from '../netmap/ip.js';
import { goTimeToMs } from '../netmap/go-time.js';
import type { NetNode } from '../netmap/netmap.js';
import { cidrCovers, cidrsOverlap, IPSet, parseCIDR, type CIDR } from './ip-set.js';

/** The slice of NetMap route computation reads (NetMap satisfies it). */
export interface NetMapView {
  readonly self: NetNode | undefined;
  peers(): readonly NetNode[];
  peerByIP(ip: string): NetNode | undefined;
  peerByName(name: string): NetNode | undefined;
  peerByStableID(id: string): NetNode | undefined;
  displayName(n: NetNode): string;
}

export type RoutePrefs = Pick<
  Prefs,
  'RouteAll' | 'ExitNodeID' | 'ExitNodeIP' | 'ExitNodeAllowLANAccess' | 'AdvertiseRoutes' | 'NoSNAT' | 'NoStatefulFiltering'
>;

/** One OS interface and its addresses in CIDR form as configured ("192.168.1.20/24"). */
export interface LocalInterface {
  readonly name: string;
  readonly loopback?: boolean;
  readonly addresses: readonly string[];
}

/** A route already in the OS that is not ours (e.g. another VPN's), for conflict reports. */
export interface OSRoute {
  readonly prefix: string;
  readonly dev: string;
  readonly table?: string;
}

export interface RouteInputs {
  readonly netmap: NetMapView;
  readonly prefs: RoutePrefs;
  readonly interfaces: readonly LocalInterface[];
  /** Our TUN's name: its addresses and routes are never "local LAN" or "another VPN". */
  readonly tunName: string;
  /** Routes of other interfaces (ip route show table all), to detect conflicts with other VPNs. */
  readonly osRoutes?: readonly OSRoute[];
  /**
   * Control and DERP server addresses. Our control and DERP connections are Node sockets that
   * cannot carry the bypass mark (only the native data plane's UDP socket does), so when a tunnel
   * route covers one of these (an exit node's /0, a subnet route) a host throw route keeps it on
   * the main table; otherwise selecting an exit node would pull the control connection into the
   * tunnel it maintains.
   */
  readonly controlIPs?: readonly string[];
  /** For peers' KeyExpiry; default: never expired by time. */
  readonly nowMs?: number;
  /** Collapse peers' IPv4 /32s into 100.64.0.0/10 (control knob OneCGNAT). */
  readonly oneCGNAT?: boolean;
}

export type RouteKind =
  /** a peer's own tailnet address (or the collapsed CGNAT /10 or ULA /48) */
  | 'peer'
  /** an approved subnet route of a peer (only with RouteAll) */
  | 'subnet'
  /** 0.0.0.0/0 or ::/0 through the exit node (or blackholed when it is unavailable) */
  | 'exit'
  /** our LAN sent to the exit node too, because allow-LAN-access is off (no leak) */
  | 'exit-lan'
  /** the MagicDNS service address, answered inside the engine */
  | 'quad100';

export interface RouteEntry {
  readonly prefix: string;
  readonly kind: RouteKind;
  /** The peer behind it; undefined for collapsed peer ranges, quad100 and a blackholed exit. */
  readonly nodeID?: number;
  readonly nodeName?: string;
  /** Other peers offering the same prefix that lost (lower node ID wins, as in routemanager). */
  readonly alsoOfferedBy?: readonly number[];
}

export interface ExitNodeState {
  /** What prefs asked for (stable ID or IP). */
  readonly requested: string;
  readonly nodeID?: number;
  readonly stableID?: string;
  readonly name?: string;
  /** True when the peer is in the netmap and offers both /0 routes. */
  readonly usable: boolean;
  readonly problem?: string;
}

export type WarningCode = 'overlap' | 'covers-lan' | 'vpn-conflict' | 'covers-control' | 'exit-node-unavailable' | 'bad-prefix';

export interface RouteWarning {
  readonly code: WarningCode;
  readonly message: string;
  readonly prefixes: readonly string[];
}

export interface RouteTable {
  /** Addresses to put on the TUN (self node's Addresses). */
  readonly localAddrs: readonly string[];
  /** Prefixes routed into the TUN (table 52), sorted, unique. */
  readonly routes: readonly RouteEntry[];
  /** Prefixes that must bypass the tunnel (throw routes in table 52). */
  readonly localRoutes: readonly string[];
  readonly exitNode: ExitNodeState | undefined;
  /** WireGuard AllowedIPs per peer (node ID): self addresses, won subnet routes, /0s for the exit node. */
  readonly peerAllowedIPs: ReadonlyMap<number, readonly string[]>;
  /** What this node advertises and how it forwards (subnet router / exit node side). */
  readonly advertise: { readonly routes: readonly string[]; readonly exitNode: boolean; readonly snat: boolean; readonly statefulFiltering: boolean };
  /** Host prefixes of control/DERP servers kept off the tunnel (also in localRoutes). */
  readonly bypass: readonly string[];
  /** LAN prefixes of this machine (external) and VM/loopback prefixes (internal). */
  readonly lan: { readonly external: readonly string[]; readonly internal: readonly string[] };
  readonly warnings: readonly RouteWarning[];
}

export const QUAD100_V4 = '100.100.100.100';
export const QUAD100_V6 = 'fd7a:115c:a1e0::53';
export const CGNAT_RANGE = '100.64.0.0/10';
export const TS_ULA_RANGE = 'fd7a:115c:a1e0::/48';
/** routemanager cgnatThreshold: above this many peer /32s, one CGNAT /10 is installed instead. */
export const CGNAT_THRESHOLD = 10_000;

const CGNAT = parseCIDR(CGNAT_RANGE)!;
const ULA = parseCIDR(TS_ULA_RANGE)!;

function isExitRoute(p: string): boolean {
  return p === '0.0.0.0/0' || p === '::/0';
}

/** Expired peers and peers with neither disco key nor home DERP contribute nothing (routemanager peerViewOf). */
export function peerIsRoutable(n: NetNode, nowMs?: number): boolean {
  if (n.Expired) return false;
  if (nowMs !== undefined && n.KeyExpiry) {
    const exp = goTimeToMs(n.KeyExpiry);
    if (exp > 0 && exp <= nowMs) return false;
  }
  const zeroDisco = !n.DiscoKey || /^discokey:0+$/.test(n.DiscoKey);
  if (zeroDisco && !n.HomeDERP && !n.IsWireGuardOnly) return false;
  return true;
}

/** Splits a peer's AllowedIPs into self addresses and routes (routemanager peerViewOf). */
export function splitAllowedIPs(n: NetNode): { self: string[]; routes: string[] } {
  const self: string[] = [];
  const routes: string[] = [];
  const addrs = new Set(n.Addresses ?? []);
  for (const a of n.AllowedIPs) {
    const c = parseCIDR(a);
    if (!c) continue;
    const ip = parseIP(a.slice(0, a.indexOf('/') >= 0 ? a.indexOf('/') : undefined));
    const single = c.bits === (c.family === 4 ? 32 : 128);
    if ((single && ip && isTailscaleIP(ip)) || addrs.has(a)) self.push(a);
    else routes.push(a);
  }
  return { self, routes };
}

/**
 * internalAndExternalInterfacesFrom: skip Tailscale addresses and single-IP prefixes; loopback is
 * internal, the rest external; canonicalised and de-duplicated through an IP set. IPv6 link-local
 * prefixes (fe80::/64) are kept, as tailscale keeps them (seen in tailscaled v1.98.10's table 52:
 * `throw fe80::/64` with LAN access on; test/e2e/os/routes-tailscaled.test.ts).
 */
export function classifyInterfaces(ifaces: readonly LocalInterface[], tunName: string): { internal: string[]; external: string[]; hostIPs: string[] } {
  const internal: string[] = [];
  const external: string[] = [];
  const hostIPs: string[] = [];
  for (const i of ifaces) {
    if (i.name === tunName) continue;
    for (const a of i.addresses) {
      const c = parseCIDR(a);
      const ip = parseIP(a.split('/')[0]!);
      if (!c || !ip || isTailscaleIP(ip)) continue;
      if (c.bits === (c.family === 4 ? 32 : 128)) continue;
      hostIPs.push(a.split('/')[0]!);
      (i.loopback ? internal : external).push(c.text);
    }
  }
  return { internal: IPSet.from(internal).set.prefixes(), external: IPSet.from(external).set.prefixes(), hostIPs };
}

/** Resolves the peer prefs point at (ExitNodeID first, then ExitNodeIP), without judging it. */
function findExitPeer(nm: NetMapView, prefs: RoutePrefs): NetNode | undefined {
  if (prefs.ExitNodeID) return nm.peerByStableID(prefs.ExitNodeID);
  if (prefs.ExitNodeIP) return nm.peerByIP(prefs.ExitNodeIP);
  return undefined;
}

/**
 * What `set --exit-node=<name|ip>` must call: the peer by tailnet IP, MagicDNS name (short or FQDN),
 * hostname or stable ID, which must offer both 0.0.0.0/0 and ::/0 (tsaddr.ContainsExitRoutes).
 * Throws ERR_NO_SUCH_PEER / ERR_NOT_EXIT_NODE / ERR_BAD_REQUEST (our own address), with the
 * available exit nodes listed in the message so the user can pick one.
 */
export function resolveExitNode(nm: NetMapView, arg: string): NetNode {
  const want = arg.trim();
  if (!want) throw new MeshtrayError('ERR_BAD_REQUEST', 'empty exit node');
  const self = nm.self;
  const selfIPs = (self?.Addresses ?? []).map((a) => canonicalIP(a.split('/')[0]!));
  const wantIP = canonicalIP(want);
  if (wantIP !== undefined && selfIPs.includes(wantIP)) {
    throw new MeshtrayError('ERR_BAD_REQUEST', `cannot use this node (${want}) as its own exit node`);
  }
  let node = parseIP(want) ? nm.peerByIP(want) : nm.peerByName(want);
  if (!node) {
    const lower = want.toLowerCase();
    node = nm.peers().find((p) => p.StableID === want || (p.Hostinfo?.Hostname ?? '').toLowerCase() === lower);
  }
  const options = nm.peers().filter((p) => containsExitRoutes(p.AllowedIPs)).map((p) => nm.displayName(p));
  const hint = options.length ? ` (exit nodes available: ${options.join(', ')})` : ' (no peer offers an exit node)';
  if (!node) throw new MeshtrayError('ERR_NO_SUCH_PEER', `no peer named or addressed "${want}" in the tailnet${hint}`, { exitNode: want });
  if (!containsExitRoutes(node.AllowedIPs)) {
    throw new MeshtrayError('ERR_NOT_EXIT_NODE', `${nm.displayName(node)} is not offering an exit node (it needs approved 0.0.0.0/0 and ::/0 routes)${hint}`, {
      exitNode: want,
      node: nm.displayName(node),
    });
  }
  return node;
}

export function computeRouteTable(inp: RouteInputs): RouteTable {
  const { netmap: nm, prefs } = inp;
  const warnings: RouteWarning[] = [];
  const selfAddrs = [...(nm.self?.Addresses ?? [])];
  const has4 = selfAddrs.some((a) => !a.includes(':'));
  const has6 = selfAddrs.some((a) => a.includes(':'));

  // Exit node: resolved peer, or a blackhole when prefs select one that is missing/not offering.
  const exitSelected = !!(prefs.ExitNodeID || prefs.ExitNodeIP);
  let exitPeer: NetNode | undefined;
  let exitState: ExitNodeState | undefined;
  if (exitSelected) {
    const requested = prefs.ExitNodeID || prefs.ExitNodeIP;
    const p = findExitPeer(nm, prefs);
    if (!p) {
      exitState = { requested, usable: false, problem: `exit node ${requested} is not in the tailnet; internet traffic is blocked until it returns or the exit node is cleared` };
    } else if (!containsExitRoutes(p.AllowedIPs)) {
      exitState = { requested, nodeID: p.ID, stableID: p.StableID, name: nm.displayName(p), usable: false, problem: `${nm.displayName(p)} no longer offers an exit node; internet traffic is blocked until it does or the exit node is cleared` };
    } else if (!peerIsRoutable(p, inp.nowMs)) {
      exitState = { requested, nodeID: p.ID, stableID: p.StableID, name: nm.displayName(p), usable: false, problem: `exit node ${nm.displayName(p)} is expired; internet traffic is blocked` };
    } else {
      exitPeer = p;
      exitState = { requested, nodeID: p.ID, stableID: p.StableID, name: nm.displayName(p), usable: true };
    }
    if (exitState.problem) warnings.push({ code: 'exit-node-unavailable', message: exitState.problem, prefixes: ['0.0.0.0/0', '::/0'] });
  }

  // Contributions per prefix: which peers offer it and as what.
  const selfContrib = new Map<string, number[]>();
  const routeContrib = new Map<string, number[]>();
  const peerAllowed = new Map<number, string[]>();
  const names = new Map<number, string>();
  let cgnatCount = 0;
  for (const p of nm.peers()) {
    if (!peerIsRoutable(p, inp.nowMs)) continue;
    names.set(p.ID, nm.displayName(p));
    const { self, routes } = splitAllowedIPs(p);
    const allowed: string[] = [];
    for (const s of self) {
      const c = parseCIDR(s);
      if (!c) continue;
      if (!c.masked) {
        warnings.push({ code: 'bad-prefix', message: `${nm.displayName(p)} sent ${s} with host bits set; ignored`, prefixes: [s] });
        continue;
      }
      allowed.push(c.text);
      if (!selfContrib.has(c.text)) selfContrib.set(c.text, []);
      selfContrib.get(c.text)!.push(p.ID);
    }
    for (const r of routes) {
      const c = parseCIDR(r);
      if (!c || !c.masked) {
        warnings.push({ code: 'bad-prefix', message: `${nm.displayName(p)} sent route ${r} with host bits set; ignored`, prefixes: [r] });
        continue;
      }
      if (isExitRoute(c.text)) {
        if (exitPeer && p.ID === exitPeer.ID) allowed.push(c.text);
        continue;
      }
      if (!prefs.RouteAll) continue;
      if (!routeContrib.has(c.text)) routeContrib.set(c.text, []);
      routeContrib.get(c.text)!.push(p.ID);
    }
    peerAllowed.set(p.ID, allowed);
  }

  const entries = new Map<string, RouteEntry>();
  // Peers' own addresses: per-peer /32 (or one CGNAT /10), IPv6 always collapsed to the ULA /48.
  for (const [pfx] of selfContrib) {
    const c = parseCIDR(pfx)!;
    if (c.family === 4 && cidrCovers(CGNAT, c) && c.bits === 32) cgnatCount++;
  }
  const collapse4 = inp.oneCGNAT === true || cgnatCount > CGNAT_THRESHOLD;
  for (const [pfx, ids] of selfContrib) {
    const c = parseCIDR(pfx)!;
    const single = c.bits === (c.family === 4 ? 32 : 128);
    if (single && c.family === 4 && cidrCovers(CGNAT, c) && collapse4) {
      entries.set(CGNAT_RANGE, { prefix: CGNAT_RANGE, kind: 'peer' });
    } else if (single && c.family === 6 && cidrCovers(ULA, c)) {
      entries.set(TS_ULA_RANGE, { prefix: TS_ULA_RANGE, kind: 'peer' });
    } else {
      const sorted = [...ids].sort((a, b) => a - b);
      entries.set(pfx, { prefix: pfx, kind: 'peer', nodeID: sorted[0]!, nodeName: names.get(sorted[0]!)!, ...(sorted.length > 1 ? { alsoOfferedBy: sorted.slice(1) } : {}) });
    }
  }
  // Accepted subnet routes: for the same prefix, the lowest node ID wins (routemanager desiredFor).
  for (const [pfx, ids] of routeContrib) {
    const sorted = [...ids].sort((a, b) => a - b);
    const winner = sorted[0]!;
    peerAllowed.get(winner)!.push(pfx);
    if (entries.has(pfx)) continue;
    entries.set(pfx, { prefix: pfx, kind: 'subnet', nodeID: winner, nodeName: names.get(winner)!, ...(sorted.length > 1 ? { alsoOfferedBy: sorted.slice(1) } : {}) });
    if (sorted.length > 1) {
      warnings.push({
        code: 'overlap',
        message: `${pfx} is offered by ${sorted.map((i) => names.get(i)).join(', ')}; using ${names.get(winner)} (lowest node ID, as tailscale does)`,
        prefixes: [pfx],
      });
    }
  }

  // Exit node: default routes, and the LAN either to the exit node too or kept local (throw).
  const lan = classifyInterfaces(inp.interfaces, inp.tunName);
  const localRoutes: string[] = [];
  if (exitSelected) {
    for (const pfx of ['0.0.0.0/0', '::/0']) {
      entries.set(pfx, { prefix: pfx, kind: 'exit', ...(exitPeer ? { nodeID: exitPeer.ID, nodeName: names.get(exitPeer.ID)! } : {}) });
    }
    localRoutes.push(...lan.internal);
    if (prefs.ExitNodeAllowLANAccess) localRoutes.push(...lan.external);
    else {
      for (const pfx of lan.external) {
        if (!entries.has(pfx)) entries.set(pfx, { prefix: pfx, kind: 'exit-lan', ...(exitPeer ? { nodeID: exitPeer.ID, nodeName: names.get(exitPeer.ID)! } : {}) });
      }
    }
  }
  if (has4) entries.set(`${QUAD100_V4}/32`, { prefix: `${QUAD100_V4}/32`, kind: 'quad100' });
  if (has6) entries.set(`${QUAD100_V6}/128`, { prefix: `${QUAD100_V6}/128`, kind: 'quad100' });

  const routes = [...entries.values()].sort(compareEntries);
  warnings.push(...detectConflicts(routes, lan.external, inp));
  // Overlapping subnet routes from different peers: both are installed (the longer prefix wins in
  // the kernel), but the user should know why one site shadows part of another.
  const subnets = routes.filter((r) => r.kind === 'subnet');
  for (let i = 0; i < subnets.length; i++) {
    for (let j = i + 1; j < subnets.length; j++) {
      const a = subnets[i]!;
      const b = subnets[j]!;
      if (a.nodeID === b.nodeID) continue;
      if (cidrsOverlap(parseCIDR(a.prefix)!, parseCIDR(b.prefix)!)) {
        warnings.push({
          code: 'overlap',
          message: `subnet routes ${a.prefix} (via ${a.nodeName}) and ${b.prefix} (via ${b.nodeName}) overlap; the longer prefix wins for addresses in both`,
          prefixes: [a.prefix, b.prefix],
        });
      }
    }
  }

  const bypass: string[] = [];
  const tunnel = routes.filter((r) => r.kind !== 'quad100');
  for (const ip of inp.controlIPs ?? []) {
    const c = parseCIDR(ip);
    if (!c || c.bits !== (c.family === 4 ? 32 : 128)) continue;
    const cover = longestCovering(tunnel, c);
    if (!cover || cover.prefix === c.text) continue;
    if (!bypass.includes(c.text)) bypass.push(c.text);
    localRoutes.push(c.text);
  }

  const advertised = IPSet.from(prefs.AdvertiseRoutes).set.prefixes();
  return {
    localAddrs: selfAddrs,
    routes,
    localRoutes: IPSet.from(localRoutes).set.prefixes(),
    exitNode: exitState,
    bypass,
    peerAllowedIPs: peerAllowed,
    advertise: {
      routes: advertised,
      exitNode: containsExitRoutes(advertised),
      snat: !prefs.NoSNAT,
      // NoStatefulFiltering=false explicitly turns stateful filtering on (routerConfigLocked).
      statefulFiltering: prefs.NoStatefulFiltering === false,
    },
    lan: { external: lan.external, internal: lan.internal },
    warnings,
  };
}

function compareEntries(a: RouteEntry, b: RouteEntry): number {
  const ca = parseCIDR(a.prefix)!;
  const cb = parseCIDR(b.prefix)!;
  if (ca.family !== cb.family) return ca.family - cb.family;
  if (ca.start !== cb.start) return ca.start < cb.start ? -1 : 1;
  return ca.bits - cb.bits;
}

function detectConflicts(routes: readonly RouteEntry[], lanExternal: readonly string[], inp: RouteInputs): RouteWarning[] {
  const out: RouteWarning[] = [];
  const lanCidrs = lanExternal.map((l) => parseCIDR(l)!);
  for (const r of routes) {
    if (r.kind !== 'subnet') continue;
    const c = parseCIDR(r.prefix)!;
    const hit = lanCidrs.filter((l) => cidrsOverlap(c, l)).map((l) => l.text);
    if (hit.length) {
      out.push({
        code: 'covers-lan',
        message: `accepted route ${r.prefix} via ${r.nodeName} overlaps this machine's LAN ${hit.join(', ')}; tailnet routes take precedence, so those LAN addresses now go through ${r.nodeName}`,
        prefixes: [r.prefix, ...hit],
      });
    }
  }
  const tunnel = routes.filter((r) => r.kind !== 'quad100');
  for (const ip of inp.controlIPs ?? []) {
    const v = parseCIDR(ip);
    if (!v) continue;
    const cover = longestCovering(tunnel, v);
    // An exit node covers everything by design; the bypass route handles control/DERP silently, as
    // tailscale does with its bypass mark. Only a subnet route swallowing the server is surprising.
    if (cover && cover.kind !== 'exit' && cover.kind !== 'exit-lan') {
      out.push({
        code: 'covers-control',
        message: `tunnel route ${cover.prefix} (via ${cover.nodeName ?? 'the tunnel'}) covers control/DERP server ${ip}; a host throw route keeps that address off the tunnel so Meshtray's own connections cannot loop into it`,
        prefixes: [cover.prefix, v.text],
      });
    }
  }
  // Another VPN's routes: ours win for any overlap (rule 5270 consults table 52 before main), which
  // silently breaks that VPN for those addresses; say so.
  const conflicts = new Map<string, string[]>();
  for (const o of inp.osRoutes ?? []) {
    if (o.dev === inp.tunName || o.prefix === 'default') continue;
    if (o.table && o.table !== 'main' && o.table !== '254') continue;
    const oc = parseCIDR(o.prefix);
    if (!oc || oc.bits === 0) continue;
    for (const r of tunnel) {
      if (r.kind === 'exit') continue; // a default route overlaps everything by design
      const rc = parseCIDR(r.prefix)!;
      if (!cidrsOverlap(rc, oc)) continue;
      if (lanCidrs.some((l) => l.text === oc.text)) continue; // our own LAN is reported as covers-lan
      const key = `${o.dev} ${oc.text}`;
      if (!conflicts.has(key)) conflicts.set(key, []);
      conflicts.get(key)!.push(r.prefix);
    }
  }
  for (const [key, ours] of conflicts) {
    const [dev, pfx] = key.split(' ');
    out.push({
      code: 'vpn-conflict',
      message: `${pfx} on ${dev} (another interface, e.g. a VPN) overlaps tailnet route ${ours.join(', ')}; tailnet routes take precedence for the overlapping addresses`,
      prefixes: [pfx!, ...ours],
    });
  }
  return out;
}

/** The most specific route covering `c` (longest-prefix match). */
export function longestCovering<T extends { prefix: string }>(routes: readonly T[], c: CIDR): T | undefined {
  let best: T | undefined;
  let bestBits = -1;
  for (const r of routes) {
    const rc = parseCIDR(r.prefix);
    if (rc && cidrCovers(rc, c) && rc.bits > bestBits) {
      best = r;
      bestBits = rc.bits;
    }
  }
  return best;
}
