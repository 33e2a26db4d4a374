// From the netmap and prefs to (a) what quad-100 answers and where it forwards, (b) what the OS
// resolver must be told. Mirrors tailscale ipn/ipnlocal/node_backend.go dnsConfigForNetmap +
// magicDNSAddrs, local.go magicDNSRootDomains, and net/dns/manager.go compileConfig for an OS
// configurator without split DNS (direct /etc/resolv.conf mode), which is what we implement on Linux.
import { canonicalIP, parseAddrPort, parseIP } from '../netmap/ip.js';
import type { DNSConfig } from '../netmap/tailcfg.js';
import type { NetNode } from '../netmap/netmap.js';

export const QUAD100 = '100.100.100.100';
export const QUAD100_V6 = 'fd7a:115c:a1e0::53';
/** tsdns dnsSymbolicFQDN: the name 100.100.100.100 reverses to (and resolves from). */
export const SYMBOLIC_FQDN = 'magicdns.localhost-tailscale-daemon.';
/** nodecap.MagicDNSPeerAAAA */
export const CAP_MAGICDNS_AAAA = 'magicdns-aaaa';

export interface UpstreamResolver {
  readonly ip: string;
  readonly port: number;
  /** DNS-over-HTTPS endpoint (e.g. an exit node's peerapi "http://100.x:port/dns-query"); ip/port are its host. */
  readonly url?: string;
}

export interface ResolverConfig {
  /** FQDN (lower case, trailing dot) → addresses: nodes, bare node names (MagicDNS on), ExtraRecords. */
  readonly hosts: ReadonlyMap<string, readonly string[]>;
  /** Canonical IP → FQDN for PTR. */
  readonly ptr: ReadonlyMap<string, string>;
  /** Authoritative suffixes (trailing dot): unknown names inside them get NXDOMAIN, never forwarded. */
  readonly localDomains: readonly string[];
  /** Suffix (trailing dot, "." = default) → upstreams; longest suffix wins. */
  readonly routes: ReadonlyMap<string, readonly UpstreamResolver[]>;
}

export interface OSDNSConfig {
  readonly nameservers: readonly string[];
  readonly searchDomains: readonly string[];
}

export interface DNSInputs {
  readonly self: NetNode | undefined;
  readonly peers: readonly NetNode[];
  readonly dns: DNSConfig | undefined;
  /** netmap.magicDNSSuffix, e.g. "tailnet.test". */
  readonly magicDNSSuffix: string;
  /** Prefs.CorpDNS (--accept-dns). */
  readonly corpDNS: boolean;
  readonly exitNodeSelected: boolean;
  /** The selected exit node when it is in the netmap: its peerapi DoH becomes the default resolver. */
  readonly exitNode?: NetNode;
  /** Our own key expired: program nothing (dnsConfigForNetmap). */
  readonly selfExpired?: boolean;
  /** The OS's own resolver config before we changed it (read from the backup when we own the file). */
  readonly base?: OSDNSConfig;
}

export interface DNSPlan {
  readonly resolver: ResolverConfig;
  /** undefined: leave the OS resolver alone (restore it if we had changed it). */
  readonly os: OSDNSConfig | undefined;
  /** Resolver entries we cannot use yet (DoH URLs), for the log. */
  readonly skipped: readonly string[];
}

/** dnsname.ToFQDN for our purposes: lower case, one trailing dot, no empty labels. */
export function toFQDN(name: string): string | undefined {
  let n = name.trim().toLowerCase();
  if (n === '' || n === '.') return '.';
  if (!n.endsWith('.')) n += '.';
  if (n.startsWith('.') || n.includes('..') || n.length > 254) return undefined;
  return n;
}

/** "a.b.c." is inside "b.c." and inside "."; "xb.c." is not inside "b.c.". */
export function inDomain(fqdn: string, suffix: string): boolean {
  return suffix === '.' || fqdn === suffix || fqdn.endsWith('.' + suffix);
}

/** magicDNSAddrs: peers' IPv6 withheld when they have IPv4, unless wantAAAA; only IPv6 if we are IPv6-only. */
function nodeIPs(n: NetNode, selfV6Only: boolean, wantAAAA: boolean): string[] {
  const addrs = (n.Addresses ?? []).map((a) => a.split('/')[0]!);
  const have4 = addrs.some((a) => !a.includes(':'));
  return addrs.filter((a) => (selfV6Only ? a.includes(':') : !(a.includes(':') && have4 && !wantAAAA)));
}

/** magicDNSRootDomains: the suffix, the ULA reverse zone and 64–127.100.in-addr.arpa. */
export function magicDNSRootDomains(suffix: string): string[] {
  const s = toFQDN(suffix);
  if (!s || s === '.') return [];
  const out = [s, '0.e.1.a.c.5.1.1.a.7.d.f.ip6.arpa.'];
  for (let i = 64; i <= 127; i++) out.push(`${i}.100.in-addr.arpa.`);
  return out;
}

/** dnstype.Resolver.Addr: "ip" (port 53) or "ip:port"; DoH URLs are not plain upstreams. */
export function parseResolverAddr(addr: string | undefined): UpstreamResolver | undefined {
  if (!addr) return undefined;
  const ip = canonicalIP(addr);
  if (ip) return { ip, port: 53 };
  const ap = parseAddrPort(addr);
  if (ap) return { ip: canonicalIP(addr.startsWith('[') ? addr.slice(1, addr.indexOf(']')) : addr.slice(0, addr.lastIndexOf(':')))!, port: ap.port };
  return undefined;
}

export function buildDNSPlan(inp: DNSInputs): DNSPlan {
  const hosts = new Map<string, string[]>();
  const ptr = new Map<string, string>();
  const routes = new Map<string, UpstreamResolver[]>();
  const localDomains: string[] = [];
  const skipped: string[] = [];
  const empty: DNSPlan = { resolver: { hosts, ptr, localDomains, routes }, os: undefined, skipped };
  if (inp.selfExpired || !inp.self) return empty;

  const dns = inp.dns ?? {};
  const selfAddrs = (inp.self.Addresses ?? []).map((a) => a.split('/')[0]!);
  const selfV6Only = selfAddrs.length > 0 && selfAddrs.every((a) => a.includes(':'));
  const wantAAAA = !!inp.self.CapMap && CAP_MAGICDNS_AAAA in inp.self.CapMap;
  const suffix = toFQDN(inp.magicDNSSuffix);
  const addHost = (name: string, ips: readonly string[]) => {
    if (!ips.length) return;
    const cur = hosts.get(name);
    if (cur) {
      for (const ip of ips) if (!cur.includes(ip)) cur.push(ip);
    } else hosts.set(name, [...ips]);
  };
  // Self goes through the same address filter as peers (tailscale sets self and peers alike), so
  // without magicdns-aaaa even our own AAAA is withheld (seen in tailscaled v1.98.10).
  const addNode = (n: NetNode) => {
    const fqdn = n.Name ? toFQDN(n.Name) : undefined;
    if (!fqdn || fqdn === '.') return;
    const ips = nodeIPs(n, selfV6Only, wantAAAA);
    addHost(fqdn, ips);
    // Bare first labels only with MagicDNS on and for names inside our suffix (tsdns magicHosts).
    if (dns.Proxied && suffix && suffix !== '.' && fqdn.endsWith('.' + suffix)) {
      const bare = fqdn.slice(0, fqdn.length - suffix.length - 1);
      if (!bare.includes('.')) addHost(bare + '.', ips);
    }
    // PTR only for the addresses the names resolve to (tsdns builds ipToHost from Hosts).
    for (const a of ips) {
      const c = canonicalIP(a);
      if (c && !ptr.has(c)) ptr.set(c, fqdn);
    }
  };
  addNode(inp.self);
  for (const p of inp.peers) addNode(p);

  const extraNames: string[] = [];
  for (const r of dns.ExtraRecords ?? []) {
    if (r.Type && r.Type !== 'A' && r.Type !== 'AAAA') continue;
    const ip = canonicalIP(r.Value);
    const fqdn = toFQDN(r.Name);
    if (!ip || !fqdn || fqdn === '.') continue;
    if ((r.Type === 'A' && ip.includes(':')) || (r.Type === 'AAAA' && !ip.includes(':'))) continue;
    if (!extraNames.includes(fqdn)) extraNames.push(fqdn);
    addHost(fqdn, [ip]);
    if (!ptr.has(ip)) ptr.set(ip, fqdn);
  }

  if (!inp.corpDNS) return { resolver: { hosts, ptr, localDomains, routes }, os: undefined, skipped };

  const searchDomains: string[] = [];
  for (const d of dns.Domains ?? []) {
    const f = toFQDN(d);
    if (f && f !== '.') searchDomains.push(f.slice(0, -1));
  }
  const routeDefs = new Map<string, UpstreamResolver[] | null>(); // null = authoritative
  if (dns.Proxied && suffix) for (const d of magicDNSRootDomains(inp.magicDNSSuffix)) routeDefs.set(d, null);
  const toUpstreams = (rs: readonly { Addr?: string | undefined }[]): UpstreamResolver[] => {
    const out: UpstreamResolver[] = [];
    for (const r of rs) {
      const u = parseResolverAddr(r.Addr);
      if (u) out.push(u);
      else skipped.push(r.Addr ?? '(empty)');
    }
    return out;
  };
  let defaults: UpstreamResolver[] = toUpstreams(dns.Resolvers ?? []);
  // With an exit node that can proxy DNS, names go to its peerapi DoH (so LAN resolvers that the
  // exit node swallowed are not used), unless the admin marked resolvers "use with exit node";
  // only split routes with such resolvers (or none: authoritative) stay (dnsConfigForNetmap,
  // exitNodeCanProxyDNS, useWithExitNodeResolvers/Routes).
  const doh = inp.exitNodeSelected && inp.exitNode ? exitNodeDoH(inp.exitNode, selfAddrs) : undefined;
  if (doh) {
    const keep = (dns.Resolvers ?? []).filter((r) => r.UseWithExitNode);
    defaults = keep.length ? toUpstreams(keep) : [doh];
  }
  for (const [sfx, rs] of Object.entries(dns.Routes ?? {})) {
    const f = toFQDN(sfx);
    if (!f) continue;
    if (!rs || rs.length === 0) routeDefs.set(f, null);
    else if (!doh) routeDefs.set(f, toUpstreams(rs));
    else {
      const keep = rs.filter((r) => r.UseWithExitNode);
      if (keep.length) routeDefs.set(f, toUpstreams(keep));
    }
  }
  for (const n of extraNames) if (![...routeDefs.keys()].some((r) => inDomain(n, r))) routeDefs.set(n, null);
  if (defaults.length === 0 && inp.exitNodeSelected) defaults = toUpstreams(dns.FallbackResolvers ?? []);

  for (const [sfx, rs] of routeDefs) {
    if (rs === null || rs.length === 0) localDomains.push(sfx);
    else routes.set(sfx, rs);
  }
  localDomains.sort();

  // compileConfig for a configurator without split DNS (direct resolv.conf):
  const hasRoutes = routeDefs.size > 0;
  if (!hasRoutes && defaults.length === 0) {
    // Nothing needs quad-100 in the OS path; leave the OS alone.
    return { resolver: { hosts, ptr, localDomains, routes }, os: undefined, skipped };
  }
  const quad100 = selfV6Only ? [QUAD100_V6] : selfAddrs.some((a) => a.includes(':')) ? [QUAD100, QUAD100_V6] : [QUAD100];
  if (defaults.length > 0) {
    if (!hasRoutes && defaults.every((d) => d.port === 53 && !d.url)) {
      // Plain default resolvers only: the OS can use them directly.
      return { resolver: { hosts, ptr, localDomains, routes }, os: { nameservers: defaults.map((d) => d.ip), searchDomains }, skipped };
    }
    routes.set('.', defaults);
    return { resolver: { hosts, ptr, localDomains, routes }, os: { nameservers: quad100, searchDomains }, skipped };
  }
  // Split DNS (incl. MagicDNS) on an OS that cannot do split DNS: quad-100 becomes primary and the
  // OS's previous nameservers become its "." upstream; previous search domains are kept after ours.
  const base = inp.base ?? { nameservers: [], searchDomains: [] };
  const baseUp = base.nameservers.map((ns) => canonicalIP(ns)).filter((ip): ip is string => !!ip && ip !== QUAD100 && ip !== QUAD100_V6 && !!parseIP(ip));
  if (baseUp.length) routes.set('.', baseUp.map((ip) => ({ ip, port: 53 })));
  const search = [...searchDomains];
  for (const s of base.searchDomains) if (!search.includes(s)) search.push(s);
  return { resolver: { hosts, ptr, localDomains, routes }, os: { nameservers: quad100, searchDomains: search }, skipped };
}

/**
 * peerCanProxyDNS + peerAPIBase: capability version ≥ 26 (or the "peerapi-dns-proxy" service) and a
 * peerapi port for an address family we have; "http://<exit node IP>:<port>/dns-query".
 */
export function exitNodeDoH(exit: NetNode, selfAddrs: readonly string[]): UpstreamResolver | undefined {
  const services = exit.Hostinfo?.Services ?? [];
  const canProxy = (exit.Cap ?? 0) >= 26 || services.some((s) => s.Proto === 'peerapi-dns-proxy' && s.Port >= 1);
  if (!canProxy) return undefined;
  const p4 = services.find((s) => s.Proto === 'peerapi4')?.Port ?? 0;
  const p6 = services.find((s) => s.Proto === 'peerapi6')?.Port ?? 0;
  const addrs = (exit.Addresses ?? []).map((a) => a.split('/')[0]!);
  const have4 = selfAddrs.some((a) => !a.includes(':'));
  const have6 = selfAddrs.some((a) => a.includes(':'));
  const v4 = addrs.find((a) => !a.includes(':'));
  const v6 = addrs.find((a) => a.includes(':'));
  if (have4 && p4 && v4) return { ip: v4, port: p4, url: `http://${v4}:${p4}/dns-query` };
  if (have6 && p6 && v6) return { ip: v6, port: p6, url: `http://[${v6}]:${p6}/dns-query` };
  return undefined;
}
