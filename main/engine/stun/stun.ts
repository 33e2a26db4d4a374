// STUN binding request/response as Tailscale speaks it (tailscale net/stun/stun.go, RFC 5389).
// Requests carry SOFTWARE="tailnode" and a FINGERPRINT; derper and Headscale drop requests
// without both (stun.go ParseBindingRequest), so the 40-byte layout is fixed.
import { bytesToIp, ip16ToIp, ipTo16, type IpPort } from '../disco/addr.js';

export const TXID_LEN = 12;
export const HEADER_LEN = 20;
const MAGIC_COOKIE = new Uint8Array([0x21, 0x12, 0xa4, 0x42]);
const ATTR_SOFTWARE = 0x8022;
const ATTR_FINGERPRINT = 0x8028;
const ATTR_MAPPED_ADDRESS = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
/** Comprehension-optional code point some servers send for XOR-MAPPED-ADDRESS (stun.go). */
const ATTR_XOR_MAPPED_ADDRESS_ALT = 0x8020;
const SOFTWARE = new TextEncoder().encode('tailnode');
const FINGERPRINT_XOR = 0x5354554e;

export type StunErrorReason =
  | 'not-stun'
  | 'not-success-response'
  | 'not-binding-request'
  | 'malformed-attrs'
  | 'wrong-software'
  | 'no-fingerprint'
  | 'wrong-fingerprint';

export class StunError extends Error {
  constructor(readonly reason: StunErrorReason) {
    super(`stun: ${reason}`);
    this.name = 'StunError';
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE / zlib polynomial), as Go's crc32.ChecksumIEEE. */
export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function fingerprint(b: Uint8Array): number {
  return (crc32(b) ^ FINGERPRINT_XOR) >>> 0;
}

/** "Is this a STUN message": ≥20 bytes, top two bits of byte 0 zero, magic cookie (stun.go Is). */
export function isStun(b: Uint8Array): boolean {
  return b.length >= HEADER_LEN && (b[0]! & 0xc0) === 0 && MAGIC_COOKIE.every((v, i) => b[4 + i] === v);
}

/** The 40-byte binding request: header, SOFTWARE "tailnode", FINGERPRINT over bytes 0..31. */
export function buildBindingRequest(txid: Uint8Array): Uint8Array {
  if (txid.length !== TXID_LEN) throw new RangeError('STUN transaction ID must be 12 bytes');
  const b = new Uint8Array(40);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 0x0001);
  dv.setUint16(2, 20); // SOFTWARE (12) + FINGERPRINT (8), counted before the CRC is taken
  b.set(MAGIC_COOKIE, 4);
  b.set(txid, 8);
  dv.setUint16(20, ATTR_SOFTWARE);
  dv.setUint16(22, SOFTWARE.length);
  b.set(SOFTWARE, 24);
  dv.setUint16(32, ATTR_FINGERPRINT);
  dv.setUint16(34, 4);
  dv.setUint32(36, fingerprint(b.subarray(0, 32)));
  return b;
}

function forEachAttr(b: Uint8Array, fn: (type: number, value: Uint8Array) => void): void {
  let off = 0;
  while (off < b.length) {
    if (b.length - off < 4) throw new StunError('malformed-attrs');
    const type = (b[off]! << 8) | b[off + 1]!;
    const len = (b[off + 2]! << 8) | b[off + 3]!;
    const padded = (len + 3) & ~3;
    off += 4;
    if (padded > b.length - off) throw new StunError('malformed-attrs');
    fn(type, b.subarray(off, off + len));
    off += padded;
  }
}

function familyLen(fam: number): number {
  return fam === 1 ? 4 : fam === 2 ? 16 : 0;
}

export interface StunResponse {
  txid: Uint8Array;
  /** Our address as the STUN server saw it (IPv4-mapped IPv6 unmapped to IPv4). */
  addr: IpPort;
}

/** Parses a binding success response (0x0101). XOR-MAPPED-ADDRESS wins over MAPPED-ADDRESS. */
export function parseBindingResponse(b: Uint8Array): StunResponse {
  if (!isStun(b)) throw new StunError('not-stun');
  const txid = Uint8Array.from(b.subarray(8, 20));
  if (b[0] !== 0x01 || b[1] !== 0x01) throw new StunError('not-success-response');
  const attrsLen = (b[2]! << 8) | b[3]!;
  let attrs = b.subarray(HEADER_LEN);
  if (attrsLen > attrs.length) throw new StunError('malformed-attrs');
  attrs = attrs.subarray(0, attrsLen); // trailing bytes past the declared length are ignored
  let xorAddr: IpPort | undefined;
  let fallback: IpPort | undefined;
  forEachAttr(attrs, (type, v) => {
    if (type === ATTR_XOR_MAPPED_ADDRESS || type === ATTR_XOR_MAPPED_ADDRESS_ALT) {
      if (v.length < 4) throw new StunError('malformed-attrs');
      const n = familyLen(v[1]!);
      if (n === 0 || v.length - 4 < n) throw new StunError('malformed-attrs');
      const port = ((v[2]! << 8) | v[3]!) ^ 0x2112;
      const a = new Uint8Array(n);
      for (let i = 0; i < n; i++) a[i] = v[4 + i]! ^ (i < 4 ? MAGIC_COOKIE[i]! : txid[i - 4]!);
      xorAddr = { ip: n === 16 ? ip16ToIp(a) : bytesToIp(a), port };
    } else if (type === ATTR_MAPPED_ADDRESS) {
      if (v.length < 4) throw new StunError('malformed-attrs');
      const n = familyLen(v[1]!);
      if (n === 0 || v.length - 4 < n) throw new StunError('malformed-attrs');
      const a = v.subarray(4, 4 + n);
      fallback = { ip: n === 16 ? ip16ToIp(a) : bytesToIp(a), port: (v[2]! << 8) | v[3]! };
    }
  });
  const addr = xorAddr ?? fallback;
  if (!addr) throw new StunError('malformed-attrs');
  return { txid, addr };
}

/** A server-side binding response with one XOR-MAPPED-ADDRESS (for tests and a local STUN server). */
export function buildBindingResponse(txid: Uint8Array, addr: IpPort): Uint8Array {
  if (txid.length !== TXID_LEN) throw new RangeError('STUN transaction ID must be 12 bytes');
  const v4 = !addr.ip.includes(':');
  const ip = v4 ? ipTo16(addr.ip).subarray(12) : ipTo16(addr.ip);
  const attrsLen = 8 + ip.length;
  const b = new Uint8Array(HEADER_LEN + attrsLen);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, 0x0101);
  dv.setUint16(2, attrsLen);
  b.set(MAGIC_COOKIE, 4);
  b.set(txid, 8);
  dv.setUint16(20, ATTR_XOR_MAPPED_ADDRESS);
  dv.setUint16(22, 4 + ip.length);
  b[24] = 0;
  b[25] = v4 ? 1 : 2;
  dv.setUint16(26, addr.port ^ 0x2112);
  for (let i = 0; i < ip.length; i++) b[28 + i] = ip[i]! ^ (i < 4 ? MAGIC_COOKIE[i]! : txid[i - 4]!);
  return b;
}

/** Server-side check of a request, with derper's rules (SOFTWARE tailnode, final FINGERPRINT). */
export function parseBindingRequest(b: Uint8Array): Uint8Array {
  if (!isStun(b)) throw new StunError('not-stun');
  if (b[0] !== 0x00 || b[1] !== 0x01) throw new StunError('not-binding-request');
  const txid = Uint8Array.from(b.subarray(8, 20));
  let softwareOK = false;
  let lastAttr = -1;
  let gotFP: number | undefined;
  forEachAttr(b.subarray(HEADER_LEN), (type, v) => {
    lastAttr = type;
    if (type === ATTR_SOFTWARE && v.length === SOFTWARE.length && v.every((x, i) => x === SOFTWARE[i])) softwareOK = true;
    if (type === ATTR_FINGERPRINT && v.length === 4) gotFP = new DataView(v.buffer, v.byteOffset, 4).getUint32(0);
  });
  if (!softwareOK) throw new StunError('wrong-software');
  if (lastAttr !== ATTR_FINGERPRINT) throw new StunError('no-fingerprint');
  if (gotFP !== fingerprint(b.subarray(0, b.length - 8))) throw new StunError('wrong-fingerprint');
  return txid;
}
