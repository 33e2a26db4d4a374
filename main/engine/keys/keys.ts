// Curve25519 keys as Tailscale names and writes them (types/key): a 32-byte private scalar and
// its 32-byte public u-coordinate, in text as `<prefix><64 lowercase hex>`. Machine, node and disco
// keys differ only in prefix and in where they live; keeping them as distinct types stops a node
// key from being sent where a machine key belongs.
import { x25519 } from '@noble/curves/ed25519.js';
import type { Random } from '../ports/ports.js';

export type KeyKind = 'machine' | 'node' | 'disco';

const publicPrefix: Record<KeyKind, string> = { machine: 'mkey:', node: 'nodekey:', disco: 'discokey:' };
/** Machine and node private keys share Tailscale's `privkey:` prefix; disco private keys are never serialised there, we use the same form for our own state. */
const PRIVATE_PREFIX = 'privkey:';

export class PublicKey<K extends KeyKind = KeyKind> {
  private constructor(readonly kind: K, readonly raw: Uint8Array) {}
  static fromRaw<K extends KeyKind>(kind: K, raw: Uint8Array): PublicKey<K> {
    if (raw.length !== 32) throw new Error(`${kind} public key must be 32 bytes, got ${raw.length}`);
    return new PublicKey(kind, Uint8Array.from(raw));
  }
  /** Parses `mkey:…`, `nodekey:…` or `discokey:…` (either hex case). */
  static parse<K extends KeyKind>(kind: K, text: string): PublicKey<K> {
    return new PublicKey(kind, parseHex(publicPrefix[kind], text));
  }
  static zero<K extends KeyKind>(kind: K): PublicKey<K> {
    return new PublicKey(kind, new Uint8Array(32));
  }
  isZero(): boolean {
    return this.raw.every((b) => b === 0);
  }
  equals(o: PublicKey<KeyKind>): boolean {
    return o.kind === this.kind && o.raw.length === 32 && this.raw.every((b, i) => b === o.raw[i]);
  }
  toString(): string {
    return publicPrefix[this.kind] + toHex(this.raw);
  }
  /** Standard base64, as WireGuard tooling writes keys. */
  toBase64(): string {
    return Buffer.from(this.raw).toString('base64');
  }
  /** Tailscale's short form in logs: `[abcde]` (first 5 base64 characters). */
  short(): string {
    return `[${this.toBase64().slice(0, 5)}]`;
  }
  toJSON(): string {
    return this.toString();
  }
}

export class PrivateKey<K extends KeyKind = KeyKind> {
  private pub: PublicKey<K> | undefined;
  private constructor(readonly kind: K, private readonly raw: Uint8Array) {}
  /** A new random key, clamped per RFC 7748 as Tailscale does at generation. */
  static generate<K extends KeyKind>(kind: K, random: Random): PrivateKey<K> {
    const k = random.bytes(32);
    if (k.length !== 32) throw new Error('random source returned the wrong length');
    clamp(k);
    return new PrivateKey(kind, k);
  }
  static fromRaw<K extends KeyKind>(kind: K, raw: Uint8Array): PrivateKey<K> {
    if (raw.length !== 32) throw new Error(`${kind} private key must be 32 bytes`);
    return new PrivateKey(kind, Uint8Array.from(raw));
  }
  static parse<K extends KeyKind>(kind: K, text: string): PrivateKey<K> {
    return new PrivateKey(kind, parseHex(PRIVATE_PREFIX, text));
  }
  get public(): PublicKey<K> {
    this.pub ??= PublicKey.fromRaw(this.kind, x25519.getPublicKey(this.raw));
    return this.pub;
  }
  /** X25519 with a peer's public key. Throws on an all-zero result (low-order point), as Go's X25519 does. */
  sharedSecret(peer: PublicKey<KeyKind> | Uint8Array): Uint8Array {
    const p = peer instanceof Uint8Array ? peer : peer.raw;
    const s = x25519.getSharedSecret(this.raw, p);
    if (s.every((b) => b === 0)) throw new Error('X25519 produced an all-zero shared secret');
    return s;
  }
  /** The raw scalar, for the data plane addon and Noise; never for logs. */
  rawBytes(): Uint8Array {
    return Uint8Array.from(this.raw);
  }
  /** `privkey:<hex>`: only for the state store. */
  toSecretText(): string {
    return PRIVATE_PREFIX + toHex(this.raw);
  }
  /** Keeps private keys out of logs and JSON by accident. */
  toString(): string {
    return `privkey:<redacted ${this.kind}>`;
  }
  toJSON(): string {
    return this.toString();
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

export function clamp(k: Uint8Array): void {
  k[0]! &= 248;
  k[31]! = (k[31]! & 127) | 64;
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function parseHex(prefix: string, text: string): Uint8Array {
  if (!text.startsWith(prefix)) throw new Error(`key must start with "${prefix}"`);
  const hex = text.slice(prefix.length);
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Error(`key "${prefix}…" must have exactly 64 hex digits`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
