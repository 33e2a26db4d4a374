// The ts2021 Noise IK handshake (<- s; -> e, es, s, ss; <- e, ee, se), initiator and responder.
// Layouts and order follow tailscale control/controlbase/handshake.go and messages.go:
//  initiation (101 bytes): BE16 version | 0x01 | BE16 96 | e (32) | enc(s) (48) | tag (16)
//  response    (51 bytes): 0x02 | BE16 48 | e (32) | tag (16)
//  error:                  0x03 | BE16 n | n bytes of unauthenticated text
// The responder exists for tests (an in-process control server), the client uses the initiator.
import { PrivateKey, PublicKey } from '../../keys/keys.js';
import type { Random } from '../../ports/ports.js';
import { SymmetricState } from './symmetric.js';
import { HEADER_LEN, MSG_TYPE_ERROR, MSG_TYPE_INITIATION, MSG_TYPE_RESPONSE, TransportCipher, protocolError } from './frames.js';

export const INITIATION_LEN = 101;
export const RESPONSE_LEN = 51;
const INIT_HEADER_LEN = 5;
const INIT_PAYLOAD_LEN = INITIATION_LEN - INIT_HEADER_LEN; // 96
const RESPONSE_PAYLOAD_LEN = RESPONSE_LEN - HEADER_LEN; // 48

export interface TransportKeys {
  tx: TransportCipher;
  rx: TransportCipher;
  /** The final transcript hash (Tailscale exposes it; control does not use it). */
  handshakeHash: Uint8Array;
}

/** `Tailscale Control Protocol v<decimal>`; must match the version in the initiation header. */
export function prologue(version: number): Uint8Array {
  return new TextEncoder().encode(`Tailscale Control Protocol v${version}`);
}

function dh(priv: PrivateKey<'machine'>, pub: PublicKey<'machine'> | Uint8Array, what: string): Uint8Array {
  try {
    return priv.sharedSecret(pub);
  } catch (e) {
    throw protocolError(`noise: computing ${what}: low-order public key`, e);
  }
}

export class ClientHandshake {
  private done = false;
  private constructor(
    readonly initiation: Uint8Array,
    private readonly s: SymmetricState,
    private readonly machineKey: PrivateKey<'machine'>,
    private readonly ephemeral: PrivateKey<'machine'>,
  ) {}

  /** Builds the initiation for the upgrade header. `random` supplies the 32-byte ephemeral key. */
  static start(machineKey: PrivateKey<'machine'>, serverKey: PublicKey<'machine'>, version: number, random: Random): ClientHandshake {
    if (!Number.isInteger(version) || version < 0 || version > 0xffff) throw new Error(`noise: protocol version ${version} is not a uint16`);
    const s = new SymmetricState();
    s.mixHash(prologue(version));
    s.mixHash(serverKey.raw); // <- s
    const eph = PrivateKey.generate('machine', random);
    const msg = new Uint8Array(INITIATION_LEN);
    const view = new DataView(msg.buffer);
    view.setUint16(0, version, false);
    msg[2] = MSG_TYPE_INITIATION;
    view.setUint16(3, INIT_PAYLOAD_LEN, false);
    msg.set(eph.public.raw, 5); // -> e
    s.mixHash(eph.public.raw);
    let k = s.mixKey(dh(eph, serverKey, 'es'));
    msg.set(s.encryptAndHash(k, machineKey.public.raw), 37); // s
    k = s.mixKey(dh(machineKey, serverKey, 'ss'));
    msg.set(s.encryptAndHash(k, new Uint8Array(0)), 85); // empty payload
    return new ClientHandshake(msg, s, machineKey, eph);
  }

  /**
   * Checks the 3-byte header that follows the 101. Returns how many more bytes to read; for a type-3
   * message that is the error text's length, and `isError` is set.
   */
  static parseHeader(hdr: Uint8Array): { isError: boolean; length: number } {
    if (hdr.length < HEADER_LEN) throw protocolError('noise: short handshake response header');
    const length = (hdr[1]! << 8) | hdr[2]!;
    if (hdr[0] === MSG_TYPE_ERROR) return { isError: true, length };
    if (hdr[0] !== MSG_TYPE_RESPONSE) throw protocolError(`noise: unexpected handshake response type ${hdr[0]}`);
    if (length !== RESPONSE_PAYLOAD_LEN) throw protocolError(`noise: wrong handshake response length ${length}`);
    return { isError: false, length };
  }

  /** Processes the full 51-byte response and returns the transport ciphers. */
  finish(response: Uint8Array): TransportKeys {
    if (this.done) throw new Error('noise: handshake already finished');
    this.done = true;
    if (response.length !== RESPONSE_LEN) throw protocolError(`noise: handshake response must be ${RESPONSE_LEN} bytes, got ${response.length}`);
    const { isError, length } = ClientHandshake.parseHeader(response);
    if (isError) throw protocolError(`noise: server error message of ${length} bytes`);
    const re = response.subarray(3, 35);
    this.s.mixHash(re); // <- e
    this.s.mixKey(dh(this.ephemeral, re, 'ee'));
    const k = this.s.mixKey(dh(this.machineKey, re, 'se'));
    try {
      this.s.decryptAndHash(k, response.subarray(35, 51));
    } catch (e) {
      throw protocolError('noise: handshake response failed to authenticate (wrong server key?)', e);
    }
    const handshakeHash = this.s.h;
    const [k1, k2] = this.s.split();
    return { tx: new TransportCipher(k1), rx: new TransportCipher(k2), handshakeHash };
  }
}

export interface ServerHandshakeResult extends TransportKeys {
  response: Uint8Array;
  clientVersion: number;
  clientMachineKey: PublicKey<'machine'>;
}

/** Responder side: validates the initiation, returns the 51-byte response and transport ciphers (tx = k2, rx = k1). */
export function respondToInitiation(serverKey: PrivateKey<'machine'>, init: Uint8Array, random: Random): ServerHandshakeResult {
  if (init.length !== INITIATION_LEN) throw protocolError('noise: wrong handshake initiation size');
  const view = new DataView(init.buffer, init.byteOffset, init.byteLength);
  const clientVersion = view.getUint16(0, false);
  if (init[2] !== MSG_TYPE_INITIATION) throw protocolError('noise: unexpected handshake message type');
  if (view.getUint16(3, false) !== INIT_PAYLOAD_LEN) throw protocolError('noise: wrong handshake initiation length');
  const s = new SymmetricState();
  s.mixHash(prologue(clientVersion));
  s.mixHash(serverKey.public.raw);
  const ie = init.subarray(5, 37);
  s.mixHash(ie);
  let k = s.mixKey(dh(serverKey, ie, 'es'));
  let machineRaw: Uint8Array;
  try {
    machineRaw = s.decryptAndHash(k, init.subarray(37, 85));
  } catch (e) {
    throw protocolError('noise: cannot decrypt the client machine key', e);
  }
  const clientMachineKey = PublicKey.fromRaw('machine', machineRaw);
  k = s.mixKey(dh(serverKey, clientMachineKey, 'ss'));
  try {
    s.decryptAndHash(k, init.subarray(85, 101));
  } catch (e) {
    throw protocolError('noise: initiation tag failed to authenticate', e);
  }
  const eph = PrivateKey.generate('machine', random);
  const response = new Uint8Array(RESPONSE_LEN);
  response[0] = MSG_TYPE_RESPONSE;
  response[1] = 0;
  response[2] = RESPONSE_PAYLOAD_LEN;
  response.set(eph.public.raw, 3);
  s.mixHash(eph.public.raw);
  s.mixKey(dh(eph, ie, 'ee'));
  k = s.mixKey(dh(eph, clientMachineKey, 'se'));
  response.set(s.encryptAndHash(k, new Uint8Array(0)), 35);
  const handshakeHash = s.h;
  const [k1, k2] = s.split();
  return { response, clientVersion, clientMachineKey, tx: new TransportCipher(k2), rx: new TransportCipher(k1), handshakeHash };
}

/** A type-3 handshake error message (for test servers; clients treat its text as a hint only). */
export function errorMessage(text: string): Uint8Array {
  const body = new TextEncoder().encode(text).subarray(0, 0xffff);
  const out = new Uint8Array(HEADER_LEN + body.length);
  out[0] = MSG_TYPE_ERROR;
  out[1] = body.length >> 8;
  out[2] = body.length & 0xff;
  out.set(body, HEADER_LEN);
  return out;
}

