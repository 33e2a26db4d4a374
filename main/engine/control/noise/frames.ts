// Noise transport records of the ts2021 protocol (see tailscale control/controlbase/conn.go and
// messages.go): type 0x04 | BE16 ciphertext length | ChaCha20-Poly1305 ciphertext, at most 4096
// bytes on the wire. The nonce is 4 zero bytes + the BIG-endian 64-bit counter, unlike the Noise
// spec's little-endian: a generic Noise library fails from the second record on.
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { TAG_LEN } from './symmetric.js';

export const MSG_TYPE_INITIATION = 1;
export const MSG_TYPE_RESPONSE = 2;
export const MSG_TYPE_ERROR = 3;
export const MSG_TYPE_RECORD = 4;
export const HEADER_LEN = 3;
export const MAX_MESSAGE_SIZE = 4096;
export const MAX_CIPHERTEXT_SIZE = MAX_MESSAGE_SIZE - HEADER_LEN; // 4093
export const MAX_PLAINTEXT_SIZE = MAX_CIPHERTEXT_SIZE - TAG_LEN; // 4077

const LAST_NONCE = (1n << 64n) - 1n; // reserved as "exhausted" by controlbase

export function protocolError(reason: string, cause?: unknown): MeshtrayError {
  return new MeshtrayError('ERR_CONTROL_PROTOCOL', reason, undefined, cause === undefined ? undefined : { cause });
}

/** One direction of the transport phase: a key and its own nonce counter. */
export class TransportCipher {
  private counter = 0n;
  constructor(private readonly key: Uint8Array) {
    if (key.length !== 32) throw new Error('transport key must be 32 bytes');
  }

  get nonceCounter(): bigint {
    return this.counter;
  }

  /** Encrypts one record's plaintext (≤ 4077 bytes) and advances the counter. */
  seal(plaintext: Uint8Array): Uint8Array {
    if (plaintext.length > MAX_PLAINTEXT_SIZE) throw new Error('noise: record plaintext too large');
    const ct = chacha20poly1305(this.key, this.nextNonce()).encrypt(plaintext);
    return ct;
  }

  /** Decrypts one record's ciphertext; the counter advances even on failure (the connection is dead then anyway). */
  open(ciphertext: Uint8Array): Uint8Array {
    const nonce = this.nextNonce();
    try {
      return chacha20poly1305(this.key, nonce).decrypt(ciphertext);
    } catch (e) {
      throw protocolError(`noise: record ${this.counter - 1n} failed to authenticate`, e);
    }
  }

  private nextNonce(): Uint8Array {
    if (this.counter >= LAST_NONCE) throw protocolError('noise: cipher exhausted, no nonces left');
    const n = new Uint8Array(12);
    new DataView(n.buffer).setBigUint64(4, this.counter, false);
    this.counter++;
    return n;
  }
}

/** Encrypts a plaintext of any length into ≤4096-byte records, one nonce each. An empty input gives no record. */
export function sealRecords(cipher: TransportCipher, plaintext: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let off = 0; off < plaintext.length; off += MAX_PLAINTEXT_SIZE) {
    out.push(sealRecord(cipher, plaintext.subarray(off, off + MAX_PLAINTEXT_SIZE)));
  }
  return out;
}

/** One record (also used for deliberately empty records, which readers must skip). */
export function sealRecord(cipher: TransportCipher, chunk: Uint8Array): Uint8Array {
  const ct = cipher.seal(chunk);
  const rec = new Uint8Array(HEADER_LEN + ct.length);
  rec[0] = MSG_TYPE_RECORD;
  rec[1] = ct.length >> 8;
  rec[2] = ct.length & 0xff;
  rec.set(ct, HEADER_LEN);
  return rec;
}

/**
 * Reassembles records from arbitrary socket chunks and decrypts them. Any violation (wrong type,
 * oversize, bad tag) throws; the caller must then drop the connection, since the cipher state is
 * no longer in step with the peer.
 */
export class RecordReader {
  private pending: Buffer = Buffer.alloc(0);
  private failed = false;
  constructor(private readonly cipher: TransportCipher) {}

  /** Feeds raw bytes; returns the decrypted plaintexts of every record completed (empty records yield nothing). */
  feed(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw protocolError('noise: reader used after a failure');
    const buf = this.pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.pending, chunk]);
    const out: Uint8Array[] = [];
    let off = 0;
    try {
      while (buf.length - off >= HEADER_LEN) {
        const type = buf[off]!;
        if (type !== MSG_TYPE_RECORD) throw protocolError(`noise: unexpected message type ${type} in transport phase`);
        const len = buf.readUInt16BE(off + 1);
        if (HEADER_LEN + len > MAX_MESSAGE_SIZE) throw protocolError(`noise: record of ${HEADER_LEN + len} bytes exceeds the 4096-byte limit`);
        if (len < TAG_LEN) throw protocolError(`noise: record of ${len} ciphertext bytes is shorter than a tag`);
        if (buf.length - off < HEADER_LEN + len) break;
        const pt = this.cipher.open(buf.subarray(off + HEADER_LEN, off + HEADER_LEN + len));
        off += HEADER_LEN + len;
        if (pt.length > 0) out.push(pt);
      }
    } catch (e) {
      this.failed = true;
      throw e;
    }
    // Copy the tail so we do not pin a large socket buffer.
    this.pending = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
    return out;
  }

  /** Bytes of an incomplete record still waiting for more input (a truncated stream at EOF). */
  get bufferedBytes(): number {
    return this.pending.length;
  }
}
