// Address ranges and sets for route maths (tailscale uses go4.org/netipx IPSetBuilder for the same
// jobs: shrinkDefaultRoute, the filter's local-network set, interface prefix canonicalisation).
// IPv4 is kept as plain numbers and IPv6 as bigints, so the per-packet filter path stays cheap for
// the common IPv4 case.
import { formatIP, parseIP, parsePrefix, type IP } from '../netmap/ip.js';

export type Family = 4 | 6;

export interface Range4 { readonly start: number; readonly end: number }
export interface Range6 { readonly start: bigint; readonly end: bigint }

const V4_MAX = 0xffffffff;
const V6_MAX = (1n << 128n) - 1n;

export function ip4ToNumber(b: Uint8Array, off = 0): number {
  return ((b[off]! << 24) >>> 0) + (b[off + 1]! << 16) + (b[off + 2]! << 8) + b[off + 3]!;
}

export function ip6ToBigint(b: Uint8Array, off = 0): bigint {
  let x = 0n;
  for (let i = 0; i < 16; i += 4) x = (x << 32n) | BigInt(ip4ToNumber(b, off + i));
  return x;
}

export function numberToIp4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function bigintToIp6(x: bigint): string {
  const bytes = new Uint8Array(16);
  for (let i = 15; i >= 0; i--) {
    bytes[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return formatIP({ v: 6, bytes });
}

/** A parsed CIDR with its numeric range; `masked` is false when host bits were set ("10.0.0.1/8"). */
export interface CIDR {
  readonly family: Family;
  readonly bits: number;
  /** Canonical masked text, e.g. "10.0.0.0/8". */
  readonly text: string;
  readonly masked: boolean;
  readonly start: number | bigint;
  readonly end: number | bigint;
}

function ipRange(ip: IP, bits: number): { start: number | bigint; end: number | bigint; masked: boolean } {
  if (ip.v === 4) {
    const n = ip4ToNumber(ip.bytes);
    const size = 2 ** (32 - bits);
    const start = Math.floor(n / size) * size;
    return { start, end: start + size - 1, masked: start === n };
  }
  const x = ip6ToBigint(ip.bytes);
  const host = (1n << BigInt(128 - bits)) - 1n;
  const start = x & ~host & V6_MAX;
  return { start, end: start | host, masked: start === x };
}

/** Parses "a.b.c.d/n" or "v6/n"; a bare address is taken as a single-IP prefix. */
export function parseCIDR(s: string): CIDR | undefined {
  let p = parsePrefix(s);
  if (!p) {
    const ip = parseIP(s);
    if (!ip) return undefined;
    p = { ip, bits: ip.v === 4 ? 32 : 128 };
  }
  const r = ipRange(p.ip, p.bits);
  const text = p.ip.v === 4 ? `${numberToIp4(r.start as number)}/${p.bits}` : `${bigintToIp6(r.start as bigint)}/${p.bits}`;
  return { family: p.ip.v, bits: p.bits, text, masked: r.masked, start: r.start, end: r.end };
}

/** Numeric form of an address: number for IPv4, bigint for IPv6. */
export function ipValue(s: string): { family: Family; value: number | bigint } | undefined {
  const ip = parseIP(s);
  if (!ip) return undefined;
  return ip.v === 4 ? { family: 4, value: ip4ToNumber(ip.bytes) } : { family: 6, value: ip6ToBigint(ip.bytes) };
}

export function cidrContains(c: CIDR, family: Family, v: number | bigint): boolean {
  return c.family === family && v >= c.start && v <= c.end;
}

export function cidrsOverlap(a: CIDR, b: CIDR): boolean {
  return a.family === b.family && a.start <= b.end && b.start <= a.end;
}

/** a covers b entirely. */
export function cidrCovers(a: CIDR, b: CIDR): boolean {
  return a.family === b.family && a.start <= b.start && b.end <= a.end;
}

function mergeRanges4(rs: { start: number; end: number }[]): Range4[] {
  rs.sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const r of rs) {
    const last = out[out.length - 1];
    // Adjacent ranges merge too, so the prefix list comes out minimal.
    if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else out.push({ start: r.start, end: r.end });
  }
  return out;
}

function mergeRanges6(rs: { start: bigint; end: bigint }[]): Range6[] {
  rs.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: { start: bigint; end: bigint }[] = [];
  for (const r of rs) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end + 1n) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ start: r.start, end: r.end });
  }
  return out;
}

/** Largest aligned prefix starting at `start` that fits in [start, end]. */
function rangeToPrefixes4(start: number, end: number, out: string[]): void {
  while (start <= end) {
    let bits = 32;
    while (bits > 0) {
      const size = 2 ** (33 - bits);
      if (start % size !== 0 || start + size - 1 > end) break;
      bits--;
    }
    out.push(`${numberToIp4(start)}/${bits}`);
    start += 2 ** (32 - bits);
  }
}

function rangeToPrefixes6(start: bigint, end: bigint, out: string[]): void {
  while (start <= end) {
    let bits = 128;
    while (bits > 0) {
      const size = 1n << BigInt(129 - bits);
      if (start % size !== 0n || start + size - 1n > end) break;
      bits--;
    }
    out.push(`${bigintToIp6(start)}/${bits}`);
    start += 1n << BigInt(128 - bits);
    if (start > V6_MAX) break;
  }
}

/**
 * An immutable set of addresses (netipx.IPSet): build it from prefixes and ranges, add and remove,
 * then ask for membership or the minimal prefix list.
 */
export class IPSet {
  private constructor(readonly v4: readonly Range4[], readonly v6: readonly Range6[]) {}

  static empty(): IPSet {
    return new IPSet([], []);
  }

  /** From CIDRs, single IPs and "a-b" ranges; entries that do not parse are returned in `bad`. */
  static from(entries: readonly string[]): { set: IPSet; bad: string[] } {
    const v4: { start: number; end: number }[] = [];
    const v6: { start: bigint; end: bigint }[] = [];
    const bad: string[] = [];
    for (const e of entries) {
      const r = parseRangeEntry(e);
      if (!r) bad.push(e);
      else if (r.family === 4) v4.push({ start: r.start as number, end: r.end as number });
      else v6.push({ start: r.start as bigint, end: r.end as bigint });
    }
    return { set: new IPSet(mergeRanges4(v4), mergeRanges6(v6)), bad };
  }

  union(o: IPSet): IPSet {
    return new IPSet(mergeRanges4([...this.v4, ...o.v4].map((r) => ({ ...r }))), mergeRanges6([...this.v6, ...o.v6].map((r) => ({ ...r }))));
  }

  /** Everything in this set that is not in `o`. */
  minus(o: IPSet): IPSet {
    return new IPSet(subtract4(this.v4, o.v4), subtract6(this.v6, o.v6));
  }

  get isEmpty(): boolean {
    return this.v4.length === 0 && this.v6.length === 0;
  }

  has4(v: number): boolean {
    return search(this.v4, v);
  }

  has6(v: bigint): boolean {
    return search(this.v6, v);
  }

  has(ip: string): boolean {
    const x = ipValue(ip);
    if (!x) return false;
    return x.family === 4 ? this.has4(x.value as number) : this.has6(x.value as bigint);
  }

  /** True when any address of the CIDR is in the set. */
  overlaps(c: CIDR): boolean {
    const rs: readonly { start: number | bigint; end: number | bigint }[] = c.family === 4 ? this.v4 : this.v6;
    return rs.some((r) => r.start <= c.end && c.start <= r.end);
  }

  /** The minimal list of prefixes covering exactly this set (IPv4 first). */
  prefixes(): string[] {
    const out: string[] = [];
    for (const r of this.v4) rangeToPrefixes4(r.start, r.end, out);
    for (const r of this.v6) rangeToPrefixes6(r.start, r.end, out);
    return out;
  }
}

function search<T extends number | bigint>(rs: readonly { start: T; end: T }[], v: T): boolean {
  let lo = 0;
  let hi = rs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = rs[mid]!;
    if (v < r.start) hi = mid - 1;
    else if (v > r.end) lo = mid + 1;
    else return true;
  }
  return false;
}

function subtract4(a: readonly Range4[], b: readonly Range4[]): Range4[] {
  let pieces: Range4[] = a.slice();
  for (const s of b) {
    const next: Range4[] = [];
    for (const p of pieces) {
      if (s.end < p.start || s.start > p.end) next.push(p);
      else {
        if (s.start > p.start) next.push({ start: p.start, end: s.start - 1 });
        if (s.end < p.end) next.push({ start: s.end + 1, end: p.end });
      }
    }
    pieces = next;
  }
  return pieces;
}

function subtract6(a: readonly Range6[], b: readonly Range6[]): Range6[] {
  let pieces: Range6[] = a.slice();
  for (const s of b) {
    const next: Range6[] = [];
    for (const p of pieces) {
      if (s.end < p.start || s.start > p.end) next.push(p);
      else {
        if (s.start > p.start) next.push({ start: p.start, end: s.start - 1n });
        if (s.end < p.end) next.push({ start: s.end + 1n, end: p.end });
      }
    }
    pieces = next;
  }
  return pieces;
}

/**
 * One address-set entry as tailscale's filter parses it (wgengine/filter/tailcfg.go parseIPSet):
 * "*" is handled by the caller; "a-b" inclusive range; CIDR (host bits set = error); single IP.
 */
export function parseRangeEntry(e: string): { family: Family; start: number | bigint; end: number | bigint } | undefined {
  const dash = e.indexOf('-');
  if (dash > 0) {
    if (e.indexOf('-', dash + 1) >= 0) return undefined;
    const a = ipValue(e.slice(0, dash));
    const b = ipValue(e.slice(dash + 1));
    if (!a || !b || a.family !== b.family || a.value > b.value) return undefined;
    return { family: a.family, start: a.value, end: b.value };
  }
  if (e.includes('/')) {
    const c = parseCIDR(e);
    if (!c || !c.masked) return undefined;
    return { family: c.family, start: c.start, end: c.end };
  }
  const v = ipValue(e);
  return v ? { family: v.family, start: v.value, end: v.value } : undefined;
}

export const ALL_V4: Range4 = { start: 0, end: V4_MAX };
export const ALL_V6: Range6 = { start: 0n, end: V6_MAX };
