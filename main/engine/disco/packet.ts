// The outer disco packet, identical over UDP and as a DERP packet payload (disco/disco.go header,
// magicsock sendDiscoMessage / handleDiscoMessage):
//   magic "TS💬"(6) || sender disco public key(32) || nonce(24) || box(type, version, body)
// sealed with NaCl box between the two disco keys (types/key/disco.go DiscoShared).
import { SharedBox } from '../crypto/nacl-box.js';
import { Counters } from '../derp/counters.js';
import { PublicKey, type PrivateKey } from '../keys/keys.js';
import type { Random } from '../ports/ports.js';
import { DiscoError, encodeDiscoMessage, parseDiscoMessage, type DiscoMessage } from './messages.js';

export const DISCO_MAGIC = new Uint8Array([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);
export const DISCO_HEADER_LEN = 6 + 32 + 24;

/** magicsock's first-pass classifier: long enough and starts with the magic. */
export function looksLikeDisco(p: Uint8Array): boolean {
  return p.length >= DISCO_HEADER_LEN && DISCO_MAGIC.every((v, i) => p[i] === v);
}

/** The sender's disco key of a packet that looks like disco, without opening it. */
export function discoSender(p: Uint8Array): PublicKey<'disco'> | undefined {
  return looksLikeDisco(p) ? PublicKey.fromRaw('disco', p.subarray(6, 38)) : undefined;
}

export interface OpenedDisco {
  sender: PublicKey<'disco'>;
  msg: DiscoMessage;
}

/**
 * Seals and opens disco packets for our disco key, caching one precomputed box key per peer.
 * `open` never throws: a bad packet returns undefined and bumps a counter naming why.
 */
export class DiscoCodec {
  readonly counters: Counters;
  private readonly boxes = new Map<string, SharedBox>();

  constructor(private readonly priv: PrivateKey<'disco'>, private readonly random: Random, counters?: Counters) {
    this.counters = counters ?? new Counters('disco_');
  }

  get publicKey(): PublicKey<'disco'> {
    return this.priv.public;
  }

  private box(peer: PublicKey<'disco'>): SharedBox {
    const k = peer.toString();
    let b = this.boxes.get(k);
    if (!b) {
      b = SharedBox.between(this.priv, peer);
      if (this.boxes.size > 4096) this.boxes.clear(); // bound memory against key churn
      this.boxes.set(k, b);
    }
    return b;
  }

  /** Forget a peer's cached box key (peer removed from the netmap). */
  forget(peer: PublicKey<'disco'>): void {
    this.boxes.delete(peer.toString());
  }

  seal(peer: PublicKey<'disco'>, msg: DiscoMessage): Uint8Array {
    return this.frame(this.box(peer).seal(encodeDiscoMessage(msg), this.random));
  }

  private frame(sealed: Uint8Array): Uint8Array {
    const out = new Uint8Array(6 + 32 + sealed.length);
    out.set(DISCO_MAGIC, 0);
    out.set(this.priv.public.raw, 6);
    out.set(sealed, 38);
    return out;
  }

  /**
   * Opens a disco packet. `isKnownSender` lets the caller restrict senders to netmap peers
   * (magicsock drops disco from unknown disco keys before trying to open it).
   */
  open(p: Uint8Array, isKnownSender?: (k: PublicKey<'disco'>) => boolean): OpenedDisco | undefined {
    if (!looksLikeDisco(p)) {
      this.counters.inc('not-disco');
      return undefined;
    }
    const sender = PublicKey.fromRaw('disco', p.subarray(6, 38));
    if (isKnownSender && !isKnownSender(sender)) {
      this.counters.inc('unknown-sender');
      return undefined;
    }
    let plain: Uint8Array | undefined;
    try {
      plain = this.box(sender).open(p.subarray(38));
    } catch {
      // Low-order sender key: X25519 result all zero.
      this.counters.inc('bad-sender-key');
      return undefined;
    }
    if (!plain) {
      this.counters.inc('open-failed');
      return undefined;
    }
    try {
      return { sender, msg: parseDiscoMessage(plain) };
    } catch (e) {
      if (e instanceof DiscoError) {
        this.counters.inc(e.reason);
        return undefined;
      }
      throw e;
    }
  }
}
