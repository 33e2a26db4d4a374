// Disco message bodies, the plaintext inside the box (tailscale disco/disco.go): type(1),
// version(1), body. Parsing follows Go's leniency: trailing bytes are ignored, a malformed
// CallMeMaybe is a CallMeMaybe with no endpoints, and relay messages (0x04–0x09) are recognised
// but not decoded because Meshtray neither offers nor uses peer relays (dataplane.md §3.3).
import type { PublicKey } from '../keys/keys.js';
import { PublicKey as PK } from '../keys/keys.js';
import { ip16ToIp, ipTo16, type IpPort } from './addr.js';

export const DiscoType = {
  Ping: 0x01,
  Pong: 0x02,
  CallMeMaybe: 0x03,
  BindUDPRelayEndpoint: 0x04,
  BindUDPRelayEndpointChallenge: 0x05,
  BindUDPRelayEndpointAnswer: 0x06,
  CallMeMaybeVia: 0x07,
  AllocateUDPRelayEndpointRequest: 0x08,
  AllocateUDPRelayEndpointResponse: 0x09,
} as const;

export const TXID_LEN = 12;
const EP_LEN = 18;
const PONG_LEN = TXID_LEN + EP_LEN;

export type DiscoMessage =
  | { type: 'ping'; txid: Uint8Array; nodeKey?: PublicKey<'node'>; padding: number }
  | { type: 'pong'; txid: Uint8Array; src: IpPort }
  | { type: 'callMeMaybe'; endpoints: IpPort[] }
  /** A peer-relay message: valid, but Meshtray ignores it. */
  | { type: 'relay'; msgType: number };

export type DiscoErrorReason = 'short-message' | 'unknown-message-type' | 'bad-message';

export class DiscoError extends Error {
  constructor(readonly reason: DiscoErrorReason, detail: string) {
    super(`disco: ${reason}: ${detail}`);
    this.name = 'DiscoError';
  }
}

function header(type: number, bodyLen: number): Uint8Array {
  const b = new Uint8Array(2 + bodyLen);
  b[0] = type;
  b[1] = 0; // version 0 for every current message
  return b;
}

function putEndpoint(b: Uint8Array, off: number, ep: IpPort): void {
  if (!Number.isInteger(ep.port) || ep.port < 0 || ep.port > 0xffff) throw new DiscoError('bad-message', `bad port ${ep.port}`);
  b.set(ipTo16(ep.ip), off);
  b[off + 16] = ep.port >> 8;
  b[off + 17] = ep.port & 0xff;
}

function getEndpoint(b: Uint8Array, off: number): IpPort {
  return { ip: ip16ToIp(b.subarray(off, off + 16)), port: (b[off + 16]! << 8) | b[off + 17]! };
}

export function encodeDiscoMessage(m: DiscoMessage): Uint8Array {
  switch (m.type) {
    case 'ping': {
      if (m.txid.length !== TXID_LEN) throw new DiscoError('bad-message', 'txid must be 12 bytes');
      // Go writes the node key only when it is non-zero (disco.go Ping.AppendMarshal).
      const withKey = m.nodeKey !== undefined && !m.nodeKey.isZero();
      const pad = Math.max(0, m.padding | 0);
      const b = header(DiscoType.Ping, TXID_LEN + (withKey ? 32 : 0) + pad);
      b.set(m.txid, 2);
      if (withKey) b.set(m.nodeKey!.raw, 2 + TXID_LEN);
      return b;
    }
    case 'pong': {
      if (m.txid.length !== TXID_LEN) throw new DiscoError('bad-message', 'txid must be 12 bytes');
      const b = header(DiscoType.Pong, PONG_LEN);
      b.set(m.txid, 2);
      putEndpoint(b, 2 + TXID_LEN, m.src);
      return b;
    }
    case 'callMeMaybe': {
      const b = header(DiscoType.CallMeMaybe, EP_LEN * m.endpoints.length);
      m.endpoints.forEach((ep, i) => putEndpoint(b, 2 + i * EP_LEN, ep));
      return b;
    }
    case 'relay':
      throw new DiscoError('bad-message', 'Meshtray does not send peer-relay messages');
  }
}

/** Parses a box-opened payload. Throws DiscoError (typed) on short or unknown messages. */
export function parseDiscoMessage(p: Uint8Array): DiscoMessage {
  if (p.length < 2) throw new DiscoError('short-message', `${p.length} bytes`);
  const type = p[0]!;
  const ver = p[1]!;
  const body = p.subarray(2);
  switch (type) {
    case DiscoType.Ping: {
      if (body.length < TXID_LEN) throw new DiscoError('short-message', 'ping');
      const txid = Uint8Array.from(body.subarray(0, TXID_LEN));
      const rest = body.length - TXID_LEN;
      if (rest >= 32) {
        return { type: 'ping', txid, nodeKey: PK.fromRaw('node', body.subarray(TXID_LEN, TXID_LEN + 32)), padding: rest - 32 };
      }
      return { type: 'ping', txid, padding: rest };
    }
    case DiscoType.Pong:
      if (body.length < PONG_LEN) throw new DiscoError('short-message', 'pong');
      return { type: 'pong', txid: Uint8Array.from(body.subarray(0, TXID_LEN)), src: getEndpoint(body, TXID_LEN) };
    case DiscoType.CallMeMaybe: {
      if (body.length % EP_LEN !== 0 || ver !== 0 || body.length === 0) return { type: 'callMeMaybe', endpoints: [] };
      const endpoints: IpPort[] = [];
      for (let off = 0; off < body.length; off += EP_LEN) endpoints.push(getEndpoint(body, off));
      return { type: 'callMeMaybe', endpoints };
    }
    case DiscoType.BindUDPRelayEndpoint:
    case DiscoType.BindUDPRelayEndpointChallenge:
    case DiscoType.BindUDPRelayEndpointAnswer:
    case DiscoType.CallMeMaybeVia:
    case DiscoType.AllocateUDPRelayEndpointRequest:
    case DiscoType.AllocateUDPRelayEndpointResponse:
      return { type: 'relay', msgType: type };
    default:
      throw new DiscoError('unknown-message-type', `0x${type.toString(16).padStart(2, '0')}`);
  }
}
