// NaCl crypto_box (Curve25519 → HSalsa20 → XSalsa20-Poly1305), the box Tailscale uses for disco
// messages and the DERP ClientInfo/ServerInfo handshake (golang.org/x/crypto/nacl/box via
// tailscale types/key/disco.go `DiscoShared.Seal/Open` and types/key/node.go `SealTo/OpenFrom`).
// Wire layout of every "sealed" blob: nonce(24) || tag(16) || ciphertext.
import { hsalsa, xsalsa20poly1305 } from '@noble/ciphers/salsa.js';
import type { KeyKind, PrivateKey, PublicKey } from '../keys/keys.js';
import type { Random } from '../ports/ports.js';

export const NONCE_LEN = 24;
export const BOX_OVERHEAD = 16;

// "expand 32-byte k" as little-endian words, the Salsa20 sigma constant.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

function leWords(b: Uint8Array): Uint32Array {
  const w = new Uint32Array(b.length / 4);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < w.length; i++) w[i] = dv.getUint32(i * 4, true);
  return w;
}

/**
 * crypto_box_beforenm: HSalsa20(X25519(priv, pub), zero nonce). Computed once per peer key and
 * reused, as Tailscale does with `box.Precompute` (types/key/disco.go `Shared`).
 * Throws on a low-order peer key (all-zero X25519 result), which keys.ts refuses.
 */
export function boxBeforeNm(priv: PrivateKey<KeyKind>, pub: PublicKey<KeyKind> | Uint8Array): Uint8Array {
  const dh = priv.sharedSecret(pub);
  const out = new Uint32Array(8);
  hsalsa(SIGMA, leWords(dh), new Uint32Array(4), out);
  const bytes = new Uint8Array(32);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < 8; i++) dv.setUint32(i * 4, out[i]!, true);
  return bytes;
}

/** A precomputed box key between our private key and one peer public key. */
export class SharedBox {
  constructor(private readonly key: Uint8Array) {
    if (key.length !== 32) throw new Error('box key must be 32 bytes');
  }
  static between(priv: PrivateKey<KeyKind>, pub: PublicKey<KeyKind> | Uint8Array): SharedBox {
    return new SharedBox(boxBeforeNm(priv, pub));
  }
  /** nonce(24) || tag || ciphertext, with a fresh nonce from `random`. */
  seal(plain: Uint8Array, random: Random): Uint8Array {
    const nonce = random.bytes(NONCE_LEN);
    if (nonce.length !== NONCE_LEN) throw new Error('random source returned the wrong length');
    return this.sealWithNonce(plain, nonce);
  }
  sealWithNonce(plain: Uint8Array, nonce: Uint8Array): Uint8Array {
    const ct = xsalsa20poly1305(this.key, nonce).encrypt(plain);
    const out = new Uint8Array(NONCE_LEN + ct.length);
    out.set(nonce, 0);
    out.set(ct, NONCE_LEN);
    return out;
  }
  /** Opens nonce(24) || box; undefined when too short or the tag does not verify. */
  open(sealed: Uint8Array): Uint8Array | undefined {
    if (sealed.length < NONCE_LEN + BOX_OVERHEAD) return undefined;
    try {
      return xsalsa20poly1305(this.key, sealed.subarray(0, NONCE_LEN)).decrypt(sealed.subarray(NONCE_LEN));
    } catch {
      return undefined;
    }
  }
}
