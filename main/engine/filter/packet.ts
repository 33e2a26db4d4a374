// Just enough IP header parsing for the packet filter (tailscale net/packet/packet.go Parsed.Decode):
// version, protocol, addresses, ports, TCP flags, ICMP type, fragments. No allocation besides the
// returned object; IPv4 addresses are numbers, IPv6 bigints (see routes/ip-set.ts).
import { ip4ToNumber, ip6ToBigint } from '../routes/ip-set.js';

export const PROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132, TSMP: 99, FRAGMENT: 44 } as const;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_ACK = 0x10;

export interface ParsedPacket {
  readonly family: 4 | 6;
  readonly proto: number;
  readonly src: number | bigint;
  readonly dst: number | bigint;
  /** 0 when the protocol has no ports or the header is not there (non-first fragment). */
  readonly srcPort: number;
  readonly dstPort: number;
  readonly tcpFlags: number;
  readonly icmpType: number;
  /** A fragment other than the first: no transport header to look at. */
  readonly laterFragment: boolean;
  readonly length: number;
}

export type ParseError = 'too-short' | 'bad-version' | 'bad-header';

function transport(b: Uint8Array, off: number, proto: number): { sp: number; dp: number; flags: number; icmp: number } | undefined {
  const rest = b.length - off;
  switch (proto) {
    case PROTO.TCP:
      if (rest < 20) return undefined;
      return { sp: (b[off]! << 8) | b[off + 1]!, dp: (b[off + 2]! << 8) | b[off + 3]!, flags: b[off + 13]!, icmp: 0 };
    case PROTO.UDP:
    case PROTO.SCTP:
      if (rest < 8) return undefined;
      return { sp: (b[off]! << 8) | b[off + 1]!, dp: (b[off + 2]! << 8) | b[off + 3]!, flags: 0, icmp: 0 };
    case PROTO.ICMP:
    case PROTO.ICMPV6:
      if (rest < 4) return undefined;
      return { sp: 0, dp: 0, flags: 0, icmp: b[off]! };
    default:
      return { sp: 0, dp: 0, flags: 0, icmp: 0 };
  }
}

export function parsePacket(b: Uint8Array): ParsedPacket | ParseError {
  if (b.length < 20) return 'too-short';
  const version = b[0]! >> 4;
  if (version === 4) {
    const ihl = (b[0]! & 0x0f) * 4;
    if (ihl < 20 || b.length < ihl) return 'bad-header';
    const proto = b[9]!;
    const fragOff = ((b[6]! & 0x1f) << 8) | b[7]!;
    const src = ip4ToNumber(b, 12);
    const dst = ip4ToNumber(b, 16);
    if (fragOff !== 0) {
      return { family: 4, proto, src, dst, srcPort: 0, dstPort: 0, tcpFlags: 0, icmpType: 0, laterFragment: true, length: b.length };
    }
    const t = transport(b, ihl, proto);
    if (!t) return 'too-short';
    return { family: 4, proto, src, dst, srcPort: t.sp, dstPort: t.dp, tcpFlags: t.flags, icmpType: t.icmp, laterFragment: false, length: b.length };
  }
  if (version === 6) {
    if (b.length < 40) return 'too-short';
    let proto = b[6]!;
    let off = 40;
    const src = ip6ToBigint(b, 8);
    const dst = ip6ToBigint(b, 24);
    if (proto === PROTO.FRAGMENT) {
      if (b.length < 48) return 'too-short';
      const fragOff = ((b[42]! << 8) | b[43]!) >> 3;
      proto = b[40]!;
      off = 48;
      if (fragOff !== 0) {
        return { family: 6, proto, src, dst, srcPort: 0, dstPort: 0, tcpFlags: 0, icmpType: 0, laterFragment: true, length: b.length };
      }
    }
    const t = transport(b, off, proto);
    if (!t) return 'too-short';
    return { family: 6, proto, src, dst, srcPort: t.sp, dstPort: t.dp, tcpFlags: t.flags, icmpType: t.icmp, laterFragment: false, length: b.length };
  }
  return 'bad-version';
}

/** ICMP echo reply or an error message (tailscale Parsed.IsEchoResponse / IsError). */
export function isICMPResponseOrError(p: ParsedPacket): boolean {
  if (p.proto === PROTO.ICMP) return p.icmpType === 0 || p.icmpType === 3 || p.icmpType === 11 || p.icmpType === 12;
  if (p.proto === PROTO.ICMPV6) return p.icmpType === 129 || (p.icmpType >= 1 && p.icmpType <= 4);
  return false;
}
