// PCP (RFC 6887) messages for the two opcodes we use, ANNOUNCE (probe) and MAP (UDP mapping).
// Pure encode/decode. Checked against tailscale net/portmapper/pcp.go at v1.98.10, with two
// differences on purpose: the MAP nonce is kept and checked in the answer, and a renewal or a
// delete reuses the nonce of the mapping (RFC 6887 §11.2/§15 require the same nonce).
//
//   common request header (24): version 2, R=0|opcode, reserved(2), requested lifetime(4),
//                               client IP as IPv6 (IPv4-mapped for v4)(16)
//   common response header (24): version 2, R=1|opcode, reserved(1), result code(1), lifetime(4),
//                               epoch time(4), reserved(12)
//   MAP body (36): nonce(12), protocol(1), reserved(3), internal port(2), external port(2),
//                  external IP (IPv4-mapped)(16)
import type { Parsed } from './pmp.js';

export const PCP_VERSION = 2;
export const PCP_OP_ANNOUNCE = 0;
export const PCP_OP_MAP = 1;
export const PCP_OP_REPLY = 0x80;
export const PCP_PROTO_UDP = 17;
export const PCP_MAP_LIFETIME_S = 7200;
/** RFC 6887 §7.4 result codes (the ones the client acts on). */
export const PcpResult = { OK: 0, UnsuppVersion: 1, NotAuthorized: 2, MalformedRequest: 3, UnsuppOpcode: 4, NetworkFailure: 7, NoResources: 8, UnsuppProtocol: 9, AddressMismatch: 12, ExcessiveRemotePeers: 13 } as const;

export interface PcpResponse {
  opcode: number;
  result: number;
  lifetimeS: number;
  epoch: number;
  /** MAP answers only. */
  map?: { nonce: Uint8Array; protocol: number; internalPort: number; externalPort: number; externalIp: string };
}

/** IPv4 text → the 16-byte IPv4-mapped IPv6 form PCP carries (::ffff:a.b.c.d); "0.0.0.0" → ::ffff:0:0. */
export function ipv4Mapped(ip: string): Uint8Array {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !Number.isInteger(n) || n < 0 || n > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  const b = new Uint8Array(16);
  b[10] = 0xff;
  b[11] = 0xff;
  b.set(parts, 12);
  return b;
}

function mappedToText(b: Uint8Array): string {
  const isMapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (isMapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(':'); // not compressed; only used to reject non-IPv4 answers
}

function header(opcode: number, lifetimeS: number, clientIp: string): Uint8Array {
  const b = new Uint8Array(24);
  b[0] = PCP_VERSION;
  b[1] = opcode;
  new DataView(b.buffer).setUint32(4, lifetimeS);
  b.set(ipv4Mapped(clientIp), 8);
  return b;
}

export function buildPcpAnnounceRequest(clientIp: string): Uint8Array {
  return header(PCP_OP_ANNOUNCE, 0, clientIp);
}

export interface PcpMapRequest {
  clientIp: string;
  /** 12 random bytes; the same for renewals and the delete of one mapping. */
  nonce: Uint8Array;
  internalPort: number;
  suggestedExternalPort: number;
  /** "0.0.0.0" when unknown. */
  suggestedExternalIp: string;
  /** 0 deletes. */
  lifetimeS: number;
}

export function buildPcpMapRequest(r: PcpMapRequest): Uint8Array {
  if (r.nonce.length !== 12) throw new Error('PCP nonce must be 12 bytes');
  const b = new Uint8Array(60);
  b.set(header(PCP_OP_MAP, r.lifetimeS, r.clientIp), 0);
  const v = new DataView(b.buffer);
  b.set(r.nonce, 24);
  b[36] = PCP_PROTO_UDP;
  v.setUint16(40, r.internalPort);
  v.setUint16(42, r.suggestedExternalPort);
  b.set(ipv4Mapped(r.suggestedExternalIp), 44);
  return b;
}

export function parsePcpResponse(pkt: Uint8Array): Parsed<PcpResponse> {
  if (pkt.length < 24) return { ok: false, reason: 'pcp-short' };
  if (pkt[0] !== PCP_VERSION) return { ok: false, reason: 'pcp-version' };
  if ((pkt[1]! & PCP_OP_REPLY) === 0) return { ok: false, reason: 'pcp-not-a-response' };
  if (pkt.length > 1100 || pkt.length % 4 !== 0) return { ok: false, reason: 'pcp-bad-length' }; // §7: multiple of 4, ≤ 1100
  const v = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  const opcode = pkt[1]! & 0x7f;
  const out: PcpResponse = { opcode, result: pkt[3]!, lifetimeS: v.getUint32(4), epoch: v.getUint32(8) };
  if (opcode === PCP_OP_MAP) {
    if (pkt.length < 60) return { ok: false, reason: 'pcp-short' };
    out.map = {
      nonce: pkt.slice(24, 36),
      protocol: pkt[36]!,
      internalPort: v.getUint16(40),
      externalPort: v.getUint16(42),
      externalIp: mappedToText(pkt.subarray(44, 60)),
    };
  } else if (opcode !== PCP_OP_ANNOUNCE) {
    return { ok: false, reason: 'pcp-unknown-opcode' };
  }
  return { ok: true, value: out };
}
