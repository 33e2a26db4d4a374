// The Noise "symmetric state" for Noise_IK_25519_ChaChaPoly_BLAKE2s as Tailscale's control protocol
// uses it (see tailscale control/controlbase/handshake.go: symmetricState). Pure JS primitives from
// @noble because Electron's BoringSSL has neither BLAKE2s nor ChaCha20-Poly1305 (dependencies.md §6).
import { blake2s } from '@noble/hashes/blake2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';

export const PROTOCOL_NAME = 'Noise_IK_25519_ChaChaPoly_BLAKE2s';
export const TAG_LEN = 16;
const ZERO_NONCE = new Uint8Array(12);

export function hash(...parts: Uint8Array[]): Uint8Array {
  const h = blake2s.create();
  for (const p of parts) h.update(p);
  return h.digest();
}

export function hmacBlake2s(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const m = hmac.create(blake2s, key);
  for (const p of parts) m.update(p);
  return m.digest();
}

/** HKDF with two 32-byte outputs, salt = chaining key, empty info: what Go's hkdf.New(blake2s, ikm, ck, nil) yields for the first 64 bytes. */
export function hkdf2(ck: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const prk = hmacBlake2s(ck, ikm);
  const o1 = hmacBlake2s(prk, Uint8Array.of(1));
  const o2 = hmacBlake2s(prk, o1, Uint8Array.of(2));
  return [o1, o2];
}

/** ChaCha20-Poly1305 with a one-shot key and the all-zero nonce, as the handshake uses it. */
export function sealOnce(key: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return chacha20poly1305(key, ZERO_NONCE, ad).encrypt(plaintext);
}

/** Throws (noble's "invalid tag") when the ciphertext does not authenticate. */
export function openOnce(key: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  return chacha20poly1305(key, ZERO_NONCE, ad).decrypt(ciphertext);
}

export class SymmetricState {
  h: Uint8Array;
  ck: Uint8Array;
  private finished = false;

  constructor() {
    // The protocol name is 33 bytes (> HASHLEN), so h = HASH(name) per the Noise spec.
    this.h = hash(new TextEncoder().encode(PROTOCOL_NAME));
    this.ck = this.h;
  }

  mixHash(data: Uint8Array): void {
    this.check();
    this.h = hash(this.h, data);
  }

  /** MixKey(dh): returns the single-use cipher key. */
  mixKey(dh: Uint8Array): Uint8Array {
    this.check();
    const [ck, k] = hkdf2(this.ck, dh);
    this.ck = ck;
    return k;
  }

  encryptAndHash(k: Uint8Array, plaintext: Uint8Array): Uint8Array {
    this.check();
    const ct = sealOnce(k, plaintext, this.h);
    this.mixHash(ct);
    return ct;
  }

  decryptAndHash(k: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    this.check();
    const pt = openOnce(k, ciphertext, this.h);
    this.mixHash(ciphertext);
    return pt;
  }

  /** Split with empty input keying material: (k1, k2). The initiator sends with k1. */
  split(): [Uint8Array, Uint8Array] {
    this.check();
    this.finished = true;
    return hkdf2(this.ck, new Uint8Array(0));
  }

  private check(): void {
    if (this.finished) throw new Error('noise: symmetric state used after split');
  }
}
