// ip:port <-> the 16-byte form disco and STUN carry (IPv4 as v4-mapped ::ffff:a.b.c.d), with the
// same "Unmap" Tailscale applies on parse (disco/disco.go parsePong, net/stun/stun.go).
import { isIPv4, isIPv6 } from 'node:net';

/**
 * tailcfg.DerpMagicIP: the fake address of a DERP path. `127.3.3.40:<regionID>` as a disco Pong
 * Src (or a peer's legacy `DERP` field) means "DERP region <regionID>".
 */
export const DERP_MAGIC_IP = '127.3.3.40';

export function derpMagicAddr(regionId: number): IpPort {
  return { ip: DERP_MAGIC_IP, port: regionId };
}

export interface IpPort {
  /** Dotted IPv4 or canonical (RFC 5952) IPv6 text, no brackets, no zone. */
  ip: string;
  port: number;
}

export function ipv4ToBytes(ip: string): Uint8Array {
  if (!isIPv4(ip)) throw new Error(`not an IPv4 address: ${ip}`);
  return new Uint8Array(ip.split('.').map((p) => Number(p)));
}

export function ipv6ToBytes(ip: string): Uint8Array {
  if (!isIPv6(ip)) throw new Error(`not an IPv6 address: ${ip}`);
  let text = ip;
  const out = new Uint8Array(16);
  // An embedded dotted quad at the end takes the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  let v4: Uint8Array | undefined;
  if (tail.includes('.')) {
    v4 = ipv4ToBytes(tail);
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head, rest] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const h = head ? head.split(':') : [];
  const r = rest === undefined ? [] : rest ? rest.split(':') : [];
  const groups = rest === undefined ? h : [...h, ...Array(8 - h.length - r.length).fill('0'), ...r];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  });
  if (v4) out.set(v4, 12);
  return out;
}

/** 16-byte form; IPv4 becomes ::ffff:a.b.c.d. */
export function ipTo16(ip: string): Uint8Array {
  if (isIPv4(ip)) {
    const o = new Uint8Array(16);
    o[10] = 0xff;
    o[11] = 0xff;
    o.set(ipv4ToBytes(ip), 12);
    return o;
  }
  return ipv6ToBytes(ip);
}

export function bytesToIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length !== 16) throw new Error(`address must be 4 or 16 bytes, got ${b.length}`);
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // WHATWG URL serialisation of an IPv6 host is the RFC 5952 canonical text.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** 16 bytes -> text, unmapping ::ffff:a.b.c.d to a.b.c.d. */
export function ip16ToIp(b: Uint8Array): string {
  if (b.length !== 16) throw new Error('address must be 16 bytes');
  const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  return mapped ? bytesToIp(b.subarray(12)) : bytesToIp(b);
}

/** `1.2.3.4:5` or `[2001:db8::1]:5`, as Go's netip.AddrPort prints. */
export function formatIpPort(a: IpPort): string {
  return a.ip.includes(':') ? `[${a.ip}]:${a.port}` : `${a.ip}:${a.port}`;
}
