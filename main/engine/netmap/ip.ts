// IP address, prefix and ip:port parsing and canonical text, the way Go's net/netip reads and
// writes them. Control sends addresses as netip text ("100.64.0.1/32", "fd7a:115c:a1e0::1/128",
// "[2001:db8::1]:41641"); Go rejects malformed values when decoding, so we do too, and we need the
// canonical form so that lookups (peerByIP) and comparisons ("0.0.0.0/0" in AllowedIPs) do not
// depend on how a server chose to spell an address.

export interface IP {
  readonly v: 4 | 6;
  /** 4 or 16 bytes. */
  readonly bytes: Uint8Array;
}

const V4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseV4(s: string): Uint8Array | undefined {
  const m = V4_RE.exec(s);
  if (!m) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1]!;
    // netip.ParseAddr rejects leading zeros ("01.2.3.4") because they are ambiguous (octal).
    if (part.length > 1 && part[0] === '0') return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseV6(s: string): Uint8Array | undefined {
  if (s.length < 2 || s.includes('%')) return undefined; // zones never appear in control's addresses
  let head = s;
  let tail4: Uint8Array | undefined;
  // An embedded IPv4 tail ("::ffff:1.2.3.4") takes the last 32 bits.
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.indexOf('.', lastColon) > lastColon) {
    tail4 = parseV4(s.slice(lastColon + 1));
    if (!tail4) return undefined;
    head = s.slice(0, lastColon + 1) + '0:0'; // placeholder groups, overwritten below
  }
  const dbl = head.indexOf('::');
  if (dbl !== head.lastIndexOf('::')) return undefined;
  const groups: number[] = [];
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  if (dbl >= 0) {
    const left = parseGroups(head.slice(0, dbl));
    const right = parseGroups(head.slice(dbl + 2));
    if (!left || !right) return undefined;
    const fill = 8 - left.length - right.length;
    if (fill < 1) return undefined;
    groups.push(...left, ...new Array<number>(fill).fill(0), ...right);
  } else {
    const all = parseGroups(head);
    if (!all || all.length !== 8) return undefined;
    groups.push(...all);
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i]! >> 8;
    out[i * 2 + 1] = groups[i]! & 0xff;
  }
  if (tail4) out.set(tail4, 12);
  return out;
}

export function parseIP(s: string): IP | undefined {
  if (s.includes(':')) {
    const b = parseV6(s);
    return b ? { v: 6, bytes: b } : undefined;
  }
  const b = parseV4(s);
  return b ? { v: 4, bytes: b } : undefined;
}

/** Go's netip.Addr.String(): dotted quad, or RFC 5952 (longest zero run ≥2 groups compressed, first on a tie, lower case, "::ffff:a.b.c.d" for v4-mapped). */
export function formatIP(ip: IP): string {
  const b = ip.bytes;
  if (ip.v === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const isMapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (isMapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) return g.map((x) => x.toString(16)).join(':');
  const left = g.slice(0, bestStart).map((x) => x.toString(16)).join(':');
  const right = g.slice(bestStart + bestLen).map((x) => x.toString(16)).join(':');
  return `${left}::${right}`;
}

/** Canonical text of an address, or undefined when it is not one. */
export function canonicalIP(s: string): string | undefined {
  const ip = parseIP(s);
  return ip ? formatIP(ip) : undefined;
}

export interface Prefix {
  readonly ip: IP;
  readonly bits: number;
}

export function parsePrefix(s: string): Prefix | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIP(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(bitsText)) return undefined;
  // netip.ParsePrefix rejects "/08" style leading zeros too.
  if (bitsText.length > 1 && bitsText[0] === '0') return undefined;
  const bits = Number(bitsText);
  if (bits > (ip.v === 4 ? 32 : 128)) return undefined;
  return { ip, bits };
}

export function formatPrefix(p: Prefix): string {
  return `${formatIP(p.ip)}/${p.bits}`;
}

export function canonicalPrefix(s: string): string | undefined {
  const p = parsePrefix(s);
  return p ? formatPrefix(p) : undefined;
}

/** netip.Prefix.IsSingleIP: /32 for v4, /128 for v6. */
export function isSingleIP(p: Prefix): boolean {
  return p.bits === (p.ip.v === 4 ? 32 : 128);
}

/** "1.2.3.4:41641" or "[2001:db8::1]:41641" (netip.ParseAddrPort). */
export function parseAddrPort(s: string): { ip: IP; port: number } | undefined {
  let host: string;
  let portText: string;
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close < 0 || s[close + 1] !== ':') return undefined;
    host = s.slice(1, close);
    portText = s.slice(close + 2);
    if (!host.includes(':')) return undefined;
  } else {
    const colon = s.lastIndexOf(':');
    if (colon < 0) return undefined;
    host = s.slice(0, colon);
    portText = s.slice(colon + 1);
    if (host.includes(':')) return undefined; // an IPv6 address must be bracketed
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  const ip = parseIP(host);
  if (!ip || port > 65535) return undefined;
  return { ip, port };
}

function inPrefix(ip: IP, net: IP, bits: number): boolean {
  if (ip.v !== net.v) return false;
  const full = bits >> 3;
  for (let i = 0; i < full; i++) if (ip.bytes[i] !== net.bytes[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (ip.bytes[full]! & mask) === (net.bytes[full]! & mask);
}

const CGNAT = parseIP('100.64.0.0')!;
const CHROMEOS_VM = parseIP('100.115.92.0')!;
const TS_ULA = parseIP('fd7a:115c:a1e0::')!;

/**
 * tsaddr.IsTailscaleIP: in 100.64.0.0/10 but not ChromeOS's 100.115.92.0/23, or in
 * fd7a:115c:a1e0::/48 (see tailscale net/tsaddr/tsaddr.go).
 */
export function isTailscaleIP(ip: IP): boolean {
  if (ip.v === 4) return inPrefix(ip, CGNAT, 10) && !inPrefix(ip, CHROMEOS_VM, 23);
  return inPrefix(ip, TS_ULA, 48);
}

/** The two exit routes, in canonical text. */
export const ALL_IPV4 = '0.0.0.0/0';
export const ALL_IPV6 = '::/0';

/** tsaddr.ContainsExitRoutes: BOTH /0 routes must be present (one alone is not a usable exit node). */
export function containsExitRoutes(prefixes: readonly string[] | null | undefined): boolean {
  if (!prefixes) return false;
  let v4 = false;
  let v6 = false;
  for (const p of prefixes) {
    if (p === ALL_IPV4) v4 = true;
    else if (p === ALL_IPV6) v6 = true;
  }
  return v4 && v6;
}
