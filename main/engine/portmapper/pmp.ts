// NAT-PMP (RFC 6886) messages: what we send to the gateway's UDP 5351 and what it answers.
// Pure encode/decode; the client (client.ts) owns sockets and timing. Checked against tailscale
// net/portmapper/portmapper.go (buildPMPRequestMappingPacket, parsePMPResponse) at v1.98.10.
//
//   request  public address: version 0, opcode 0                                 (2 bytes)
//   request  map UDP:        version 0, opcode 1, reserved(2), internal port(2),
//                            suggested external port(2), lifetime s(4)           (12 bytes)
//   response: version 0, opcode 128+op, result code(2), seconds since epoch(4), then
//             op 0: public IPv4(4)                                               (12 bytes)
//             op 1: internal port(2), mapped external port(2), lifetime s(4)     (16 bytes)

export const PXP_PORT = 5351;
export const PMP_VERSION = 0;
export const PMP_OP_PUBLIC_ADDR = 0;
export const PMP_OP_MAP_UDP = 1;
/** OR'd into the request's opcode in a response. */
export const PMP_OP_REPLY = 0x80;
/** RFC 6886 §3.3 recommends two hours; tailscale asks for the same. */
export const PMP_MAP_LIFETIME_S = 7200;

/** RFC 6886 §3.5 result codes. */
export const PmpResult = { OK: 0, UnsupportedVersion: 1, NotAuthorized: 2, NetworkFailure: 3, OutOfResources: 4, UnsupportedOpcode: 5 } as const;

export type PmpResponse =
  | { op: 'public-addr'; result: number; epoch: number; publicIp: string | undefined }
  | { op: 'map-udp'; result: number; epoch: number; internalPort: number; externalPort: number; lifetimeS: number };

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export function buildPmpPublicAddrRequest(): Uint8Array {
  return Uint8Array.of(PMP_VERSION, PMP_OP_PUBLIC_ADDR);
}

/** Lifetime 0 deletes (RFC 6886 §3.4: the suggested external port is then 0 as well). */
export function buildPmpMapRequest(internalPort: number, suggestedExternalPort: number, lifetimeS: number): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  b[0] = PMP_VERSION;
  b[1] = PMP_OP_MAP_UDP;
  v.setUint16(4, internalPort);
  v.setUint16(6, lifetimeS === 0 ? 0 : suggestedExternalPort);
  v.setUint32(8, lifetimeS);
  return b;
}

export function parsePmpResponse(pkt: Uint8Array): Parsed<PmpResponse> {
  if (pkt.length < 8) return { ok: false, reason: 'pmp-short' };
  if (pkt[0] !== PMP_VERSION) return { ok: false, reason: 'pmp-version' };
  const v = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
  const op = pkt[1]!;
  const result = v.getUint16(2);
  const epoch = v.getUint32(4);
  if (op === (PMP_OP_REPLY | PMP_OP_PUBLIC_ADDR)) {
    // A non-OK answer may be shorter (RFC 6886 §3.5: only the common header is meaningful).
    if (result !== PmpResult.OK) return { ok: true, value: { op: 'public-addr', result, epoch, publicIp: undefined } };
    if (pkt.length !== 12) return { ok: false, reason: 'pmp-bad-length' };
    const ip = `${pkt[8]}.${pkt[9]}.${pkt[10]}.${pkt[11]}`;
    // 0.0.0.0 means "no address yet" (tailscale zeroes it out so it is never used as an endpoint).
    return { ok: true, value: { op: 'public-addr', result, epoch, publicIp: ip === '0.0.0.0' ? undefined : ip } };
  }
  if (op === (PMP_OP_REPLY | PMP_OP_MAP_UDP)) {
    if (result !== PmpResult.OK) return { ok: true, value: { op: 'map-udp', result, epoch, internalPort: 0, externalPort: 0, lifetimeS: 0 } };
    if (pkt.length !== 16) return { ok: false, reason: 'pmp-bad-length' };
    return { ok: true, value: { op: 'map-udp', result, epoch, internalPort: v.getUint16(8), externalPort: v.getUint16(10), lifetimeS: v.getUint32(12) } };
  }
  return { ok: false, reason: 'pmp-unknown-opcode' };
}
