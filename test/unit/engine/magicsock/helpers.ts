// Doubles for magicsock tests: a fake DERP manager that records sends and lets the test deliver
// packets, a memory data plane whose per-peer tx counters the test can move, and a simulated
// remote peer that opens our disco packets with its own key and answers them like tailscaled.
import { Counters } from '../../../../main/engine/derp/counters.js';
import type { DerpManagerEvents } from '../../../../main/engine/derp/manager.js';
import type { DerpMap } from '../../../../main/engine/derp/derp-map.js';
import { MemoryDataPlane } from '../../../../main/engine/dataplane/memory-data-plane.js';
import type { PeerStats } from '../../../../main/engine/dataplane/data-plane.js';
import { DiscoCodec } from '../../../../main/engine/disco/packet.js';
import type { DiscoMessage } from '../../../../main/engine/disco/messages.js';
import { PrivateKey, type PublicKey } from '../../../../main/engine/keys/keys.js';
import type { DerpPort } from '../../../../main/engine/magicsock/magic-conn.js';
import type { Random } from '../../../../main/engine/ports/ports.js';

export class FakeDerp implements DerpPort {
  readonly counters = new Counters('derp_');
  readonly sent: { peer: PublicKey<'node'>; region: number | undefined; data: Uint8Array }[] = [];
  home = 0;
  derpMap: DerpMap | undefined;
  up = true;
  private packetListeners = new Set<DerpManagerEvents['packet']>();

  send(peer: PublicKey<'node'>, peerHome: number | undefined, data: Uint8Array): boolean {
    if (!this.up) return false;
    this.sent.push({ peer, region: peerHome, data: Uint8Array.from(data) });
    return true;
  }
  on<K extends keyof DerpManagerEvents>(event: K, fn: DerpManagerEvents[K]): () => void {
    if (event !== 'packet') return () => {};
    const f = fn as DerpManagerEvents['packet'];
    this.packetListeners.add(f);
    return () => this.packetListeners.delete(f);
  }
  setDerpMap(map: DerpMap): void { this.derpMap = map; }
  setHome(id: number): void { this.home = id; }
  status(): never[] { return []; }
  client(): undefined { return undefined; }
  /** The network side: a packet from `src` arrives on region `region`. */
  deliver(region: number, src: PublicKey<'node'>, data: Uint8Array): void {
    for (const l of this.packetListeners) l(region, src, data);
  }
  take(): { peer: PublicKey<'node'>; region: number | undefined; data: Uint8Array }[] {
    return this.sent.splice(0);
  }
}

/** MemoryDataPlane whose peers' tx/rx byte counters a test can move (activity detection). */
export class CountingDataPlane extends MemoryDataPlane {
  readonly tx = new Map<string, number>();
  override peerStats(): PeerStats[] {
    return super.peerStats().map((s) => ({ ...s, txBytes: this.tx.get(s.publicKey.toString()) ?? 0 }));
  }
  addTx(peer: PublicKey<'node'>, n: number): void {
    const k = peer.toString();
    this.tx.set(k, (this.tx.get(k) ?? 0) + n);
  }
  takeUdp(): { addr: string; bytes: Uint8Array }[] {
    return this.sentUdp.splice(0);
  }
}

/** A remote node: its keys and a disco codec to read what we send it and to answer. */
export class SimPeer {
  readonly node: PrivateKey<'node'>;
  readonly disco: PrivateKey<'disco'>;
  readonly codec: DiscoCodec;
  constructor(random: Random, ourDisco: () => PublicKey<'disco'>) {
    this.node = PrivateKey.generate('node', random);
    this.disco = PrivateKey.generate('disco', random);
    this.codec = new DiscoCodec(this.disco, random);
    this.ourDisco = ourDisco;
  }
  private readonly ourDisco: () => PublicKey<'disco'>;
  open(bytes: Uint8Array): DiscoMessage | undefined {
    return this.codec.open(bytes)?.msg;
  }
  seal(msg: DiscoMessage): Uint8Array {
    return this.codec.seal(this.ourDisco(), msg);
  }
}
