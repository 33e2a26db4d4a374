// `meshtray dns status` from what the engine already holds: the netmap's DNSConfig as control sent
// it (tailscale's `dns status` prints the same fields: cmd/tailscale/cli/dns-status.go runDNSStatus,
// JSON shape cmd/tailscale/tsdnsjsonv0/status.go), the OS's own resolver config (tailscale's
// GetDNSOSConfig = the DNS manager's GetBaseConfig), and Meshtray's own account of what it did with
// them: the DNSPlan applied last (what went into resolv.conf, where quad-100 forwards each suffix).
// Pure: the caller reads the OS and hands the results in.
import type { DNSResolverInfo, DNSStatus } from '../../../common/contract/api.js';
import type { DNSConfig, Resolver } from '../netmap/tailcfg.js';
import type { NetNode } from '../netmap/netmap.js';
import { QUAD100, QUAD100_V6, type DNSPlan, type OSDNSConfig, type UpstreamResolver } from './dns-config.js';

export interface DNSStatusInputs {
  /** Prefs.CorpDNS (--accept-dns). */
  readonly corpDNS: boolean;
  /** The current netmap's parts; undefined before the first netmap. */
  readonly netmap?: { readonly self: NetNode | undefined; readonly dnsConfig: DNSConfig | undefined; readonly magicDNSSuffix: string } | undefined;
  /** The DNS plan the OS integration applied last; undefined when nothing is applied (not running). */
  readonly plan?: DNSPlan | undefined;
  /** Whether our resolver config is in the OS right now. */
  readonly osResolverInstalled: boolean;
  /** Whether this host manages the OS resolver at all (an OS resolver configurator exists). */
  readonly osResolverManaged: boolean;
  /** The OS's own resolver config, or why it could not be read. */
  readonly system?: { readonly config: OSDNSConfig } | { readonly error: string } | undefined;
}

/** dnstype.Resolver → the JSON form tailscale prints (Addr + BootstrapResolution). */
function resolverInfo(r: Resolver): DNSResolverInfo {
  const out: DNSResolverInfo = { Addr: r.Addr ?? '' };
  if (r.BootstrapResolution && r.BootstrapResolution.length) out.BootstrapResolution = [...r.BootstrapResolution];
  return out;
}

/** An upstream as a resolver address: "ip" for port 53, "ip:port" / "[v6]:port" otherwise, or its DoH URL. */
export function upstreamAddr(u: UpstreamResolver): string {
  if (u.url) return u.url;
  if (u.port === 53) return u.ip;
  return u.ip.includes(':') ? `[${u.ip}]:${u.port}` : `${u.ip}:${u.port}`;
}

/** Quad-100 is never the OS's own resolver: tailscale drops it from the base config (net/dns/direct.go GetBaseConfig). */
function withoutQuad100(c: OSDNSConfig): OSDNSConfig {
  return { nameservers: c.nameservers.filter((n) => n !== QUAD100 && n.toLowerCase() !== QUAD100_V6), searchDomains: c.searchDomains };
}

function osConfigJSON(c: OSDNSConfig): { Nameservers: string[]; SearchDomains: string[]; MatchDomains: string[] } {
  // Direct resolv.conf mode cannot limit nameservers to suffixes: no match domains, ever.
  return { Nameservers: [...c.nameservers], SearchDomains: [...c.searchDomains], MatchDomains: [] };
}

/** One line on why our resolver is not in the OS. */
function notInstalledReason(i: DNSStatusInputs): string {
  if (!i.osResolverManaged) return 'this host does not manage the OS resolver; it is left as it was';
  if (!i.corpDNS) return '--accept-dns is off: the OS resolver is left as it was';
  if (!i.plan) return 'not running: nothing applied (run "meshtray up")';
  return 'the tailnet sends no DNS settings that need it: the OS resolver is left as it was';
}

export function buildDNSStatus(i: DNSStatusInputs): DNSStatus {
  const out: DNSStatus = { TailscaleDNS: i.corpDNS };
  const nm = i.netmap;
  if (nm?.self) {
    // runDNSStatus fills everything below only with a current tailnet (Status.CurrentTailnet).
    const dns = nm.dnsConfig ?? {};
    const tailnet: NonNullable<DNSStatus['CurrentTailnet']> = { MagicDNSEnabled: dns.Proxied === true };
    if (nm.magicDNSSuffix) tailnet.MagicDNSSuffix = nm.magicDNSSuffix;
    if (nm.self.Name) tailnet.SelfDNSName = nm.self.Name;
    out.CurrentTailnet = tailnet;
    if (dns.Resolvers?.length) out.Resolvers = dns.Resolvers.map(resolverInfo);
    // Only suffixes with resolvers, as runDNSStatus builds the map (it appends per resolver): Headscale
    // sends the MagicDNS suffix and all 65 reverse zones as routes without resolvers, which are not
    // split DNS (they are what quad-100 answers itself: see Meshtray.LocalDomains).
    const routes = Object.entries(dns.Routes ?? {}).filter(([, rs]) => rs && rs.length > 0);
    if (routes.length) out.SplitDNSRoutes = Object.fromEntries(routes.map(([k, rs]) => [k, rs!.map(resolverInfo)]));
    if (dns.FallbackResolvers?.length) out.FallbackResolvers = dns.FallbackResolvers.map(resolverInfo);
    if (dns.Domains?.length) out.SearchDomains = [...dns.Domains].sort();
    if (dns.CertDomains?.length) out.CertDomains = [...dns.CertDomains];
    if (dns.ExtraRecords?.length) out.ExtraRecords = dns.ExtraRecords.map((r) => ({ Name: r.Name, ...(r.Type ? { Type: r.Type } : {}), Value: r.Value }));
    if (dns.ExitNodeFilteredSet?.length) out.ExitNodeFilteredSet = [...dns.ExitNodeFilteredSet];
    if (i.system && 'config' in i.system) out.SystemDNS = osConfigJSON(withoutQuad100(i.system.config));
    else if (i.system) out.SystemDNSError = i.system.error;
    else out.SystemDNSError = 'not supported: this host does not manage the OS resolver';
  }
  if (i.plan) {
    const installed = i.osResolverInstalled && i.plan.os !== undefined;
    out.Meshtray = {
      OSResolverInstalled: installed,
      OSResolverMode: i.osResolverManaged ? 'direct' : 'none',
      ...(installed ? { OSResolver: osConfigJSON(i.plan.os!) } : { OSResolverReason: notInstalledReason(i) }),
      Routes: Object.fromEntries([...i.plan.resolver.routes].map(([k, us]) => [k, us.map((u) => ({ Addr: upstreamAddr(u) }))])),
      LocalDomains: [...i.plan.resolver.localDomains],
    };
  }
  return out;
}
