// Address helpers for path selection: "ip:port" text <-> IpPort, and tailscale's betterAddr
// scoring (wgengine/magicsock/endpoint.go `betterAddr`, dataplane.md §4.5).
import { isIP } from 'node:net';
import { formatIpPort, type IpPort } from '../disco/addr.js';
import { canonicalIP } from '../netmap/ip.js';

export { formatIpPort, type IpPort };

/** Parses "1.2.3.4:5" or "[v6]:5" into a canonical IpPort; undefined when malformed. */
export function parseIpPort(s: string): IpPort | undefined {
  const m = /^(?:\[([^\]%]+)(?:%[^\]]*)?\]|([0-9.]+)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const raw = m[1] ?? m[2]!;
  const fam = isIP(raw);
  if ((m[1] !== undefined && fam !== 6) || (m[2] !== undefined && fam !== 4)) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  const ip = canonicalIP(raw);
  if (!ip) return undefined;
  // An IPv4-mapped IPv6 address is the IPv4 address (Go's netip Unmap, as disco does).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return { ip: mapped ? mapped[1]! : ip, port };
}

/** Canonical text key of an address (what maps are keyed by). */
export function addrKey(a: IpPort): string {
  return formatIpPort(a);
}

function v4Octets(ip: string): number[] | undefined {
  return isIP(ip) === 4 ? ip.split('.').map(Number) : undefined;
}

export function isLoopback(ip: string): boolean {
  const o = v4Octets(ip);
  return o ? o[0] === 127 : ip === '::1';
}

export function isLinkLocalUnicast(ip: string): boolean {
  const o = v4Octets(ip);
  if (o) return o[0] === 169 && o[1] === 254;
  return /^fe[89ab][0-9a-f]?:/i.test(ip);
}

/** RFC 1918 and fc00::/7 (netip.Addr.IsPrivate); 100.64/10 is not private. */
export function isPrivate(ip: string): boolean {
  const o = v4Octets(ip);
  if (o) return o[0] === 10 || (o[0] === 172 && o[1]! >= 16 && o[1]! <= 31) || (o[0] === 192 && o[1] === 168);
  return /^f[cd][0-9a-f]{0,2}:/i.test(ip);
}

/** Tailscale's own ranges, never advertised as endpoints: 100.64.0.0/10 and fd7a:115c:a1e0::/48. */
export function isTailscaleRange(ip: string): boolean {
  const o = v4Octets(ip);
  if (o) return o[0] === 100 && o[1]! >= 64 && o[1]! <= 127;
  return ip.toLowerCase().startsWith('fd7a:115c:a1e0:');
}

export interface AddrQuality {
  addr: IpPort;
  latencyMs: number;
}

/**
 * Whether `a` is a better path than `b` (endpoint.go betterAddr): the faster one scores
 * 100 − 100·fast/slow points, plus 50 for loopback, else 30 for link-local, else 20 for private,
 * plus 10 for IPv6; `a` needs more points than `b`, and at least 1 % better when `b` has none.
 * Path MTU is not compared because Meshtray does not probe it (every path is 1360, §4.5).
 */
export function betterAddr(a: AddrQuality | undefined, b: AddrQuality | undefined): boolean {
  if (!a) return false;
  if (!b) return true;
  if (addrKey(a.addr) === addrKey(b.addr)) return false;
  let aPoints = 0;
  let bPoints = 0;
  if (a.latencyMs < b.latencyMs && b.latencyMs > 0) aPoints = 100 - Math.trunc((100 * a.latencyMs) / b.latencyMs);
  else if (b.latencyMs < a.latencyMs && a.latencyMs > 0) bPoints = 100 - Math.trunc((100 * b.latencyMs) / a.latencyMs);
  const bonus = (ip: string): number => {
    let p = 0;
    if (isLoopback(ip)) p += 50;
    else if (isLinkLocalUnicast(ip)) p += 30;
    else if (isPrivate(ip)) p += 20;
    if (isIP(ip) === 6) p += 10;
    return p;
  };
  aPoints += bonus(a.addr.ip);
  bPoints += bonus(b.addr.ip);
  if (aPoints <= 1 && bPoints === 0) return false;
  return aPoints > bPoints;
}
