// quad-100 over the TUN (tailscale net/tstun/wrap.go intercepts packets to 100.100.100.100 before
// the filter and answers them in userspace): wire this to DataPlane.onIntercept with
// `intercept: ['100.100.100.100', 'fd7a:115c:a1e0::53']`, and write what `answer` returns with
// DataPlane.writeToTun. UDP/53 only: TCP to quad-100 needs a TCP stack, so on Linux the router
// can instead put the address on a local dummy interface and MagicDNSServer listens there.
import { QUAD100, QUAD100_V6 } from './dns-config.js';
import type { MagicDNSResolver } from './resolver.js';
import { canonicalIP } from '../netmap/ip.js';

export interface InterceptCounters {
  answered: number;
  /** Not UDP/53 to quad-100 (e.g. TCP, ICMP): not handled here. */
  ignored: number;
}

function sum16(b: Uint8Array, start: number, end: number, acc = 0): number {
  for (let i = start; i + 1 < end; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if ((end - start) & 1) acc += b[end - 1]! << 8;
  return acc;
}
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

/** Builds the reply datagram: addresses and ports swapped, fresh checksums. */
export function buildUdpReply(req: { v: 4 | 6; src: Uint8Array; dst: Uint8Array; sport: number; dport: number }, payload: Uint8Array): Uint8Array {
  const udpLen = 8 + payload.length;
  if (req.v === 4) {
    const out = new Uint8Array(20 + udpLen);
    out.set([0x45, 0, (20 + udpLen) >> 8, (20 + udpLen) & 255, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    out.set(req.dst, 12);
    out.set(req.src, 16);
    const ipc = fold(sum16(out, 0, 20));
    out[10] = ipc >> 8;
    out[11] = ipc & 255;
    const u = 20;
    out.set([req.dport >> 8, req.dport & 255, req.sport >> 8, req.sport & 255, udpLen >> 8, udpLen & 255, 0, 0], u);
    out.set(payload, u + 8);
    let acc = sum16(out, 12, 20) + 17 + udpLen; // pseudo header
    acc = sum16(out, u, u + udpLen, acc);
    const c = fold(acc) || 0xffff;
    out[u + 6] = c >> 8;
    out[u + 7] = c & 255;
    return out;
  }
  const out = new Uint8Array(40 + udpLen);
  out.set([0x60, 0, 0, 0, udpLen >> 8, udpLen & 255, 17, 64]);
  out.set(req.dst, 8);
  out.set(req.src, 24);
  const u = 40;
  out.set([req.dport >> 8, req.dport & 255, req.sport >> 8, req.sport & 255, udpLen >> 8, udpLen & 255, 0, 0], u);
  out.set(payload, u + 8);
  let acc = sum16(out, 8, 40) + 17 + udpLen;
  acc = sum16(out, u, u + udpLen, acc);
  const c = fold(acc) || 0xffff;
  out[u + 6] = c >> 8;
  out[u + 7] = c & 255;
  return out;
}

const Q4 = new Uint8Array(QUAD100.split('.').map(Number));
const Q6 = canonicalIP(QUAD100_V6)!;

function eq(a: Uint8Array, off: number, b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (a[off + i] !== b[i]) return false;
  return true;
}

export class Quad100Intercept {
  readonly counters: InterceptCounters = { answered: 0, ignored: 0 };
  private readonly q6: Uint8Array;

  constructor(private readonly resolver: MagicDNSResolver) {
    const groups = Q6 === 'fd7a:115c:a1e0::53' ? [0xfd7a, 0x115c, 0xa1e0, 0, 0, 0, 0, 0x53] : [];
    this.q6 = new Uint8Array(groups.flatMap((g) => [g >> 8, g & 255]));
  }

  /** The reply packet for an intercepted IP packet, or undefined (not ours / dropped query). */
  async answer(pkt: Uint8Array): Promise<Uint8Array | undefined> {
    const v = pkt[0]! >> 4;
    let hdr: number;
    let src: Uint8Array;
    let dst: Uint8Array;
    if (v === 4 && pkt.length >= 28) {
      hdr = (pkt[0]! & 15) * 4;
      const frag = ((pkt[6]! & 0x3f) << 8) | pkt[7]!; // MF flag or offset: fragmented query, ignore
      if (pkt[9] !== 17 || frag !== 0 || !eq(pkt, 16, Q4) || pkt.length < hdr + 8) return this.ignore();
      src = pkt.subarray(12, 16);
      dst = pkt.subarray(16, 20);
    } else if (v === 6 && pkt.length >= 48) {
      hdr = 40;
      if (pkt[6] !== 17 || !eq(pkt, 24, this.q6)) return this.ignore();
      src = pkt.subarray(8, 24);
      dst = pkt.subarray(24, 40);
    } else return this.ignore();
    const sport = (pkt[hdr]! << 8) | pkt[hdr + 1]!;
    const dport = (pkt[hdr + 2]! << 8) | pkt[hdr + 3]!;
    const ulen = (pkt[hdr + 4]! << 8) | pkt[hdr + 5]!;
    if (dport !== 53 || ulen < 8 || hdr + ulen > pkt.length) return this.ignore();
    const reply = await this.resolver.handle(pkt.slice(hdr + 8, hdr + ulen), 'udp');
    if (!reply) return undefined;
    this.counters.answered++;
    return buildUdpReply({ v: v as 4 | 6, src: src.slice(), dst: dst.slice(), sport, dport }, reply);
  }

  private ignore(): undefined {
    this.counters.ignored++;
    return undefined;
  }
}
