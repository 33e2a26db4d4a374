// The netcheck report and its `tailscale netcheck --format=json` shape (tailscale
// net/netcheck/netcheck.go `Report`; opt.Bool marshals as true/false/null, time.Duration as
// integer nanoseconds, netip.AddrPort as "ip:port" or "" when unset).
import { formatIpPort, type IpPort } from '../disco/addr.js';

export interface NetcheckReport {
  /** ms since epoch, when the report was finished. */
  now: number;
  udp: boolean;
  ipv4: boolean;
  ipv6: boolean;
  ipv4CanSend: boolean;
  ipv6CanSend: boolean;
  osHasIPv6: boolean;
  /** undefined = unknown (fewer than two IPv4 answers). */
  mappingVariesByDestIP: boolean | undefined;
  preferredDERP: number;
  /** Region ID -> best round trip in ns. */
  regionLatency: Map<number, number>;
  regionV4Latency: Map<number, number>;
  regionV6Latency: Map<number, number>;
  globalV4: IpPort | undefined;
  globalV6: IpPort | undefined;
  globalV4Counters: Map<string, number>;
  globalV6Counters: Map<string, number>;
  /** Which port-mapping services answered on the LAN; undefined = not checked (no port mapper). */
  upnp?: boolean;
  pmp?: boolean;
  pcp?: boolean;
}

export function emptyReport(): NetcheckReport {
  return {
    now: 0, udp: false, ipv4: false, ipv6: false, ipv4CanSend: false, ipv6CanSend: false, osHasIPv6: false,
    mappingVariesByDestIP: undefined, preferredDERP: 0,
    regionLatency: new Map(), regionV4Latency: new Map(), regionV6Latency: new Map(),
    globalV4: undefined, globalV6: undefined, globalV4Counters: new Map(), globalV6Counters: new Map(),
  };
}

export interface TailscaleNetcheckJSON {
  Now: string;
  UDP: boolean;
  IPv6: boolean;
  IPv4: boolean;
  IPv6CanSend: boolean;
  IPv4CanSend: boolean;
  OSHasIPv6: boolean;
  ICMPv4: boolean;
  MappingVariesByDestIP: boolean | null;
  UPnP: boolean | null;
  PMP: boolean | null;
  PCP: boolean | null;
  PreferredDERP: number;
  RegionLatency: Record<string, number>;
  RegionV4Latency: Record<string, number>;
  RegionV6Latency: Record<string, number>;
  GlobalV4Counters: Record<string, number> | null;
  GlobalV6Counters: Record<string, number> | null;
  GlobalV4: string;
  GlobalV6: string;
  CaptivePortal: boolean | null;
}

const obj = (m: Map<number | string, number>): Record<string, number> =>
  Object.fromEntries([...m.entries()].map(([k, v]) => [String(k), Math.round(v)]));

export function toTailscaleJSON(r: NetcheckReport): TailscaleNetcheckJSON {
  return {
    Now: new Date(r.now).toISOString(),
    UDP: r.udp,
    IPv6: r.ipv6,
    IPv4: r.ipv4,
    IPv6CanSend: r.ipv6CanSend,
    IPv4CanSend: r.ipv4CanSend,
    OSHasIPv6: r.osHasIPv6,
    ICMPv4: false,
    MappingVariesByDestIP: r.mappingVariesByDestIP ?? null,
    // null = "not checked" (no port mapper); captive portal detection is not implemented.
    UPnP: r.upnp ?? null,
    PMP: r.pmp ?? null,
    PCP: r.pcp ?? null,
    PreferredDERP: r.preferredDERP,
    RegionLatency: obj(r.regionLatency),
    RegionV4Latency: obj(r.regionV4Latency),
    RegionV6Latency: obj(r.regionV6Latency),
    GlobalV4Counters: r.globalV4Counters.size ? obj(r.globalV4Counters) : null,
    GlobalV6Counters: r.globalV6Counters.size ? obj(r.globalV6Counters) : null,
    GlobalV4: r.globalV4 ? formatIpPort(r.globalV4) : '',
    GlobalV6: r.globalV6 ? formatIpPort(r.globalV6) : '',
    CaptivePortal: null,
  };
}
