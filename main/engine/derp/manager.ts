// One DERP client per region: the home region (chosen by netcheck latency) stays connected;
// other regions are opened on demand to reach peers homed there and closed after 60 s without
// writes, checked every 15 s (tailscale wgengine/magicsock/derp.go `derpWriteChanForRegion`,
// `cleanStaleDerp`). Which connection carries a packet for a peer (dataplane.md §1.8):
//   1. the peer's home region if we have it open; 2. else a region we recently received from
//   that peer on ("reverse route"); 3. else open the peer's home region.
import type { PublicKey } from '../keys/keys.js';
import type { Logger, Timer } from '../ports/ports.js';
import { DerpClient, type DerpClientEvents, type DerpClientOptions, type DerpClientState } from './client.js';
import { Counters } from './counters.js';
import { Listeners } from './listeners.js';
import { regionsOf, type DerpMap, type DerpRegion } from './derp-map.js';

/** What the manager needs from a client (DerpClient, or a fake in tests). */
export interface DerpClientLike {
  readonly regionId: number;
  readonly state: DerpClientState;
  readonly lastWrite: number;
  readonly lastReceive: number;
  on<K extends keyof DerpClientEvents>(event: K, fn: DerpClientEvents[K]): () => void;
  start(): void;
  close(): Promise<void>;
  send(dst: PublicKey<'node'>, data: Uint8Array): boolean;
  setPreferred(preferred: boolean): void;
}

export interface DerpManagerEvents {
  packet: (regionId: number, src: PublicKey<'node'>, data: Uint8Array) => void;
  peerGone: (regionId: number, peer: PublicKey<'node'>, reason: 'disconnected' | 'not-here' | number) => void;
  state: (regionId: number, state: DerpClientState, info: { error?: string; node?: string }) => void;
  health: (regionId: number, problem: string) => void;
}

/** The client options every region's client shares, plus the manager's own. */
export interface DerpManagerOptions extends Pick<DerpClientOptions, 'nodeKey' | 'clock' | 'random' | 'logger' | 'dial' | 'counters'> {
  idleTimeoutMs?: number;
  idleCheckMs?: number;
  createClient?: (region: DerpRegion, preferred: boolean) => DerpClientLike;
}

export interface DerpRegionStatus {
  regionId: number;
  regionCode: string;
  state: DerpClientState;
  home: boolean;
}

export class DerpManager {
  readonly counters: Counters;
  private readonly log: Logger;
  private regions = new Map<number, DerpRegion>();
  private clients = new Map<number, { client: DerpClientLike; unsub: (() => void)[] }>();
  private reverse = new Map<string, number>();
  private homeId = 0;
  private idleTimer: Timer | undefined;
  private closed = false;
  private readonly listeners: Listeners<DerpManagerEvents>;

  constructor(private readonly o: DerpManagerOptions) {
    this.counters = o.counters ?? new Counters('derp_');
    this.log = o.logger.child('derp-manager');
    this.listeners = new Listeners<DerpManagerEvents>(this.log);
    this.scheduleIdleCheck();
  }

  on<K extends keyof DerpManagerEvents>(event: K, fn: DerpManagerEvents[K]): () => void {
    return this.listeners.on(event, fn);
  }

  get home(): number {
    return this.homeId;
  }

  /**
   * Installs a new DERP map. Connections to regions that vanished or whose definition changed
   * are closed (magicsock does the same and forgets the home; the caller re-runs netcheck).
   */
  setDerpMap(map: DerpMap): void {
    const next = new Map(regionsOf(map).map((r) => [r.RegionID, r] as const));
    for (const [id, old] of this.regions) {
      const n = next.get(id);
      if (!n || JSON.stringify(n) !== JSON.stringify(old)) {
        this.closeRegion(id);
        if (this.homeId === id) this.homeId = 0;
      }
    }
    this.regions = next;
  }

  /** Makes `regionId` our home: connect (if needed) and tell the server it is preferred. */
  setHome(regionId: number): void {
    if (this.closed || regionId === this.homeId) return;
    const old = this.homeId;
    this.homeId = regionId;
    if (old) this.clients.get(old)?.client.setPreferred(false);
    if (regionId === 0) return;
    const c = this.ensure(regionId);
    if (!c) {
      this.log.warn('home region not in DERP map', { regionId });
      return;
    }
    c.setPreferred(true);
    this.log.info('home DERP region', { regionId, previous: old });
  }

  /** Sends to a peer by node key; `peerHome` is the peer's home region (Node.HomeDERP), 0/undefined if unknown. */
  send(peer: PublicKey<'node'>, peerHome: number | undefined, data: Uint8Array): boolean {
    if (this.closed) return false;
    let regionId = 0;
    if (peerHome && this.clients.has(peerHome)) regionId = peerHome;
    else {
      const rev = this.reverse.get(peer.toString());
      if (rev && this.clients.has(rev)) regionId = rev;
      else if (peerHome && this.regions.has(peerHome)) regionId = peerHome;
      else if (rev && this.regions.has(rev)) regionId = rev;
    }
    if (!regionId) {
      this.counters.inc('send-no-region');
      return false;
    }
    const c = this.ensure(regionId);
    return c ? c.send(peer, data) : false;
  }

  /** The region a peer last reached us through, if any (magicsock's fallback route). */
  reverseRoute(peer: PublicKey<'node'>): number | undefined {
    return this.reverse.get(peer.toString());
  }

  status(): DerpRegionStatus[] {
    return [...this.clients.values()]
      .map(({ client }) => ({
        regionId: client.regionId,
        regionCode: this.regions.get(client.regionId)?.RegionCode ?? '',
        state: client.state,
        home: client.regionId === this.homeId,
      }))
      .sort((a, b) => a.regionId - b.regionId);
  }

  client(regionId: number): DerpClientLike | undefined {
    return this.clients.get(regionId)?.client;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.idleTimer?.cancel();
    const all = [...this.clients.keys()];
    await Promise.all(all.map((id) => this.closeRegion(id)));
  }

  private ensure(regionId: number): DerpClientLike | undefined {
    const have = this.clients.get(regionId);
    if (have) return have.client;
    const region = this.regions.get(regionId);
    if (!region || this.closed) return undefined;
    const preferred = regionId === this.homeId;
    const client = this.o.createClient
      ? this.o.createClient(region, preferred)
      : new DerpClient({
          region, nodeKey: this.o.nodeKey, clock: this.o.clock, random: this.o.random, logger: this.o.logger,
          counters: this.counters, preferred, ...(this.o.dial ? { dial: this.o.dial } : {}),
        });
    const unsub = [
      client.on('packet', (src, data) => {
        this.reverse.set(src.toString(), regionId);
        this.listeners.emit('packet', regionId, src, data);
      }),
      client.on('peerGone', (peer, reason) => {
        if (this.reverse.get(peer.toString()) === regionId) this.reverse.delete(peer.toString());
        this.listeners.emit('peerGone', regionId, peer, reason);
      }),
      client.on('state', (state, info) => {
        // A broken connection forgets the reverse routes learned on it.
        if (state !== 'connected') this.dropReverse(regionId);
        this.listeners.emit('state', regionId, state, info);
      }),
      client.on('health', (problem) => this.listeners.emit('health', regionId, problem)),
    ];
    this.clients.set(regionId, { client, unsub });
    client.start();
    return client;
  }

  private dropReverse(regionId: number): void {
    for (const [k, v] of this.reverse) if (v === regionId) this.reverse.delete(k);
  }

  private async closeRegion(regionId: number): Promise<void> {
    const e = this.clients.get(regionId);
    if (!e) return;
    this.clients.delete(regionId);
    this.dropReverse(regionId);
    for (const u of e.unsub) u();
    await e.client.close();
    this.listeners.emit('state', regionId, 'closed', {});
  }

  private scheduleIdleCheck(): void {
    const every = this.o.idleCheckMs ?? 15_000;
    this.idleTimer = this.o.clock.setTimeout(() => {
      if (this.closed) return;
      const now = this.o.clock.now();
      const idle = this.o.idleTimeoutMs ?? 60_000;
      for (const [id, { client }] of this.clients) {
        if (id !== this.homeId && now - client.lastWrite > idle) {
          this.log.info('closing idle non-home DERP region', { regionId: id });
          this.counters.inc('idle-closed');
          void this.closeRegion(id);
        }
      }
      this.scheduleIdleCheck();
    }, every);
  }
}
