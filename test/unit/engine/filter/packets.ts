import { PROTO } from '../../../../main/engine/filter/packet.js';

// Hand-built IP packets: what a peer would really send through WireGuard.
function ip4(b: string): number[] {
  return b.split('.').map(Number);
}
function ip6(s: string): number[] {
  const [h, t] = s.split('::');
  const hg = h ? h.split(':') : [];
  const tg = t !== undefined && t !== '' ? t.split(':') : [];
  const groups = [...hg, ...new Array(8 - hg.length - tg.length).fill('0'), ...tg].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 255]);
}
function l4(proto: number, sport: number, dport: number, flags = 0, icmpType = 8): number[] {
  if (proto === PROTO.TCP) return [sport >> 8, sport & 255, dport >> 8, dport & 255, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, flags, 0, 0, 0, 0, 0, 0];
  if (proto === PROTO.UDP) return [sport >> 8, sport & 255, dport >> 8, dport & 255, 0, 8, 0, 0];
  if (proto === PROTO.ICMP || proto === PROTO.ICMPV6) return [icmpType, 0, 0, 0, 0, 0, 0, 0];
  return [0, 0, 0, 0, 0, 0, 0, 0];
}
export function pkt(src: string, dst: string, proto: number, sport = 0, dport = 0, flags = 0, icmpType = 8): Uint8Array {
  const body = l4(proto, sport, dport, flags, icmpType);
  if (src.includes(':')) {
    const h = [0x60, 0, 0, 0, body.length >> 8, body.length & 255, proto, 64, ...ip6(src), ...ip6(dst)];
    return new Uint8Array([...h, ...body]);
  }
  const len = 20 + body.length;
  const h = [0x45, 0, len >> 8, len & 255, 0, 0, 0, 0, 64, proto, 0, 0, ...ip4(src), ...ip4(dst)];
  return new Uint8Array([...h, ...body]);
}

