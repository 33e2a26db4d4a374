// One peer's path state, as tailscale's magicsock `endpoint` keeps it (wgengine/magicsock/
// endpoint.go; dataplane.md §4.2–4.5): candidate UDP addresses (from the netmap, from CallMeMaybe,
// learned from incoming pings), the disco pings in flight, the best direct address with its
// trust window, and the heartbeat that keeps that window open while the session is active.
//
// Pure: time comes from the injected clock, and everything that leaves the process goes through
// `EndpointHost` (the conn), so path selection is unit-tested with a fake clock.
import type { PublicKey } from '../keys/keys.js';
import type { Clock, Random, Timer } from '../ports/ports.js';
import { addrKey, betterAddr, formatIpPort, type AddrQuality, type IpPort } from './addr.js';
import {
  DISCO_PING_INTERVAL_MS, GOOD_ENOUGH_LATENCY_MS, HEARTBEAT_MS, PING_TIMEOUT_MS, PONG_HISTORY,
  SESSION_ACTIVE_TIMEOUT_MS, TRUST_UDP_ADDR_MS, UPGRADE_UDP_DIRECT_INTERVAL_MS,
} from './constants.js';

export type PingPurpose = 'discovery' | 'heartbeat' | 'cli';

/** Where a disco message goes: a UDP address, or the peer's DERP home (region resolved by the host). */
export type DiscoDest = { kind: 'udp'; addr: IpPort } | { kind: 'derp' };

export interface EndpointHost {
  clock: Clock;
  random: Random;
  /** High-resolution ms for latencies (performance.now in production, the fake clock in tests). */
  hrNow(): number;
  sendPing(ep: PeerEndpoint, dest: DiscoDest, txid: Uint8Array): boolean;
  /** Sends CallMeMaybe with our endpoints to the peer over DERP. */
  sendCallMeMaybe(ep: PeerEndpoint): void;
  /** The path (best address / trust) changed: the data plane's view must follow. */
  pathChanged(ep: PeerEndpoint): void;
  log(msg: string, fields?: Record<string, unknown>): void;
}

interface Candidate {
  addr: IpPort;
  /** Last discovery/heartbeat ping we sent to it (ms), 0 = never. */
  lastPing: number;
  /** Last ping we received from it (ping-learned candidates expire 45 s after this). */
  lastPingFrom: number;
  fromNetmap: boolean;
  fromCallMeMaybe: boolean;
  pongs: { at: number; latencyMs: number; pongSrc: string }[];
  /** TxID of the last ping received from this address (a repeat is a duplicate). */
  lastRxTx: string;
}

interface SentPing {
  dest: DiscoDest;
  at: number;
  hrAt: number;
  purpose: PingPurpose;
  timer: Timer;
}

export interface PongResult {
  latencyMs: number;
  /** "ip:port" for a direct pong, undefined for DERP. */
  endpoint?: string;
  derp: boolean;
}

export interface EndpointNode {
  nodeKey: PublicKey<'node'>;
  discoKey: PublicKey<'disco'> | undefined;
  homeDerp: number;
  endpoints: readonly IpPort[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export class PeerEndpoint {
  nodeKey: PublicKey<'node'>;
  discoKey: PublicKey<'disco'> | undefined;
  homeDerp = 0;
  private readonly candidates = new Map<string, Candidate>();
  private readonly sent = new Map<string, SentPing>();
  private best: (AddrQuality & { at: number }) | undefined;
  private trustUntil = 0;
  private lastSendExt = 0;
  private lastFullPing = 0;
  private heartbeatTimer: Timer | undefined;
  private cliWaiters: ((r: PongResult) => void)[] = [];
  private stopped = false;

  constructor(private readonly host: EndpointHost, node: EndpointNode) {
    this.nodeKey = node.nodeKey;
    this.discoKey = node.discoKey;
    this.update(node);
  }

  // ---- netmap --------------------------------------------------------------------------------

  /** Applies the peer's netmap entry: disco key, home DERP, endpoints (endpoint.go updateFromNode). */
  update(node: EndpointNode): void {
    if (node.discoKey && this.discoKey && !node.discoKey.equals(this.discoKey)) {
      // A new disco key means the peer restarted: everything learned about its paths is stale.
      this.host.log('peer disco key changed; resetting paths', { peer: this.nodeKey.short() });
      this.resetPaths();
    }
    this.discoKey = node.discoKey;
    this.homeDerp = node.homeDerp;
    const want = new Set(node.endpoints.map(addrKey));
    for (const [k, c] of this.candidates) {
      if (c.fromNetmap && !want.has(k)) {
        c.fromNetmap = false;
        if (!c.fromCallMeMaybe && c.lastPingFrom === 0) this.candidates.delete(k);
      }
    }
    for (const a of node.endpoints) this.candidate(a).fromNetmap = true;
  }

  /** Forgets every path (connectivity changed, or the peer's disco key changed). */
  resetPaths(): void {
    this.best = undefined;
    this.trustUntil = 0;
    for (const c of this.candidates.values()) {
      c.lastPing = 0;
      c.pongs = [];
    }
    this.host.pathChanged(this);
  }

  stop(): void {
    this.stopped = true;
    this.heartbeatTimer?.cancel();
    this.heartbeatTimer = undefined;
    for (const s of this.sent.values()) s.timer.cancel();
    this.sent.clear();
    this.cliWaiters = [];
  }

  // ---- what the data plane should do --------------------------------------------------------

  /**
   * endpoint.go addrForSendLocked: a trusted best address alone; otherwise DERP plus the
   * (untrusted) best address if there is one, so packets flow while the path is confirmed.
   */
  pathFor(now: number): { endpoint: string | null; useDerp: boolean } {
    if (this.best && now <= this.trustUntil) return { endpoint: addrKey(this.best.addr), useDerp: false };
    return { endpoint: this.best ? addrKey(this.best.addr) : null, useDerp: true };
  }

  /** The best direct address in use ("" when none), tailscale's PeerStatus.CurAddr. */
  get curAddr(): string {
    return this.best ? addrKey(this.best.addr) : '';
  }

  get bestLatencyMs(): number | undefined {
    return this.best?.latencyMs;
  }

  isTrusted(now: number): boolean {
    return this.best !== undefined && now <= this.trustUntil;
  }

  /** Active: we sent data (or a CLI ping) within the session timeout. */
  isActive(now: number): boolean {
    return this.lastSendExt > 0 && now - this.lastSendExt < SESSION_ACTIVE_TIMEOUT_MS;
  }

  candidateAddrs(): string[] {
    return [...this.candidates.keys()];
  }

  // ---- outbound activity --------------------------------------------------------------------

  /**
   * The peer is being sent data (a packet to DERP, WireGuard tx counters moved, or a CLI ping):
   * endpoint.go `send` — discover paths when the best one is not trusted, and keep heartbeats running.
   */
  noteSend(): void {
    if (this.stopped) return;
    const now = this.host.clock.now();
    if (!this.isTrusted(now)) this.sendDiscoveryPings(now, true);
    this.lastSendExt = now;
    if (!this.heartbeatTimer) this.armHeartbeat();
  }

  private armHeartbeat(): void {
    this.heartbeatTimer = this.host.clock.setTimeout(() => this.heartbeat(), HEARTBEAT_MS);
  }

  /** endpoint.go heartbeat: every 3 s while active, ping the best address; full discovery when wanted. */
  private heartbeat(): void {
    this.heartbeatTimer = undefined;
    if (this.stopped) return;
    const now = this.host.clock.now();
    if (now - this.lastSendExt > SESSION_ACTIVE_TIMEOUT_MS) {
      this.host.log('session idle; heartbeats stop', { peer: this.nodeKey.short() });
      return;
    }
    if (this.best) this.ping({ kind: 'udp', addr: this.best.addr }, 'heartbeat');
    if (this.wantFullPing(now)) this.sendDiscoveryPings(now, true);
    this.armHeartbeat();
  }

  private wantFullPing(now: number): boolean {
    if (!this.best || this.lastFullPing === 0) return true;
    if (now > this.trustUntil) return true;
    if (this.best.latencyMs <= GOOD_ENOUGH_LATENCY_MS) return false;
    return now - this.lastFullPing >= UPGRADE_UDP_DIRECT_INTERVAL_MS;
  }

  /** endpoint.go sendDiscoPingsLocked: ping every candidate not pinged in the last 5 s; then CallMeMaybe. */
  sendDiscoveryPings(now: number, sendCallMeMaybe: boolean): void {
    this.lastFullPing = now;
    let sent = 0;
    for (const [k, c] of this.candidates) {
      // Ping-learned candidates go stale 45 s after the last ping from them.
      if (!c.fromNetmap && !c.fromCallMeMaybe && now - c.lastPingFrom > SESSION_ACTIVE_TIMEOUT_MS) {
        this.candidates.delete(k);
        continue;
      }
      if (c.lastPing !== 0 && now - c.lastPing < DISCO_PING_INTERVAL_MS) continue;
      c.lastPing = now;
      if (this.ping({ kind: 'udp', addr: c.addr }, 'discovery')) sent++;
    }
    if (sent > 0 && sendCallMeMaybe && this.homeDerp) this.host.sendCallMeMaybe(this);
  }

  private ping(dest: DiscoDest, purpose: PingPurpose): boolean {
    if (!this.discoKey) return false;
    const txid = this.host.random.bytes(12);
    const id = hex(txid);
    const timer = this.host.clock.setTimeout(() => this.pingTimeout(id), PING_TIMEOUT_MS);
    this.sent.set(id, { dest, at: this.host.clock.now(), hrAt: this.host.hrNow(), purpose, timer });
    if (!this.host.sendPing(this, dest, txid)) {
      timer.cancel();
      this.sent.delete(id);
      return false;
    }
    return true;
  }

  /** endpoint.go discoPingTimeout: forget the ping; an unanswered best path whose trust ran out is dropped. */
  private pingTimeout(id: string): void {
    const s = this.sent.get(id);
    if (!s) return;
    this.sent.delete(id);
    const now = this.host.clock.now();
    if (s.dest.kind === 'udp' && this.best && addrKey(s.dest.addr) === addrKey(this.best.addr) && now > this.trustUntil) {
      this.host.log('best path stopped answering; back to DERP', { peer: this.nodeKey.short(), addr: addrKey(this.best.addr) });
      this.best = undefined;
      this.host.pathChanged(this);
    }
  }

  // ---- CLI ping ----------------------------------------------------------------------------

  /**
   * One `ping` attempt (endpoint.go discoPing + cliPing, dataplane.md §6.2): via DERP when the best
   * path is not trusted, to the best address when it is, else to every candidate too. The first
   * pong answers; undefined after `timeoutMs`.
   */
  cliPing(timeoutMs: number): Promise<PongResult | undefined> {
    const now = this.host.clock.now();
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: PongResult | undefined): void => {
        if (done) return;
        done = true;
        t.cancel();
        this.cliWaiters = this.cliWaiters.filter((w) => w !== waiter);
        resolve(r);
      };
      const waiter = (r: PongResult): void => finish(r);
      const t = this.host.clock.setTimeout(() => finish(undefined), timeoutMs);
      this.cliWaiters.push(waiter);
      if (this.isTrusted(now)) {
        this.ping({ kind: 'udp', addr: this.best!.addr }, 'cli');
      } else {
        if (this.homeDerp) this.ping({ kind: 'derp' }, 'cli');
        for (const c of this.candidates.values()) this.ping({ kind: 'udp', addr: c.addr }, 'cli');
      }
      // Like data, a CLI ping starts heartbeats and discovery, which is how repeated pings upgrade.
      this.noteSend();
    });
  }

  // ---- inbound disco ----------------------------------------------------------------------

  /**
   * A ping from this peer arrived over UDP from `src` (magicsock handlePingLocked): `src` becomes a
   * candidate (peer-reflexive addresses are learned this way). Returns false for a duplicate.
   */
  notePingFrom(src: IpPort, txid: Uint8Array): boolean {
    const now = this.host.clock.now();
    const c = this.candidate(src);
    c.lastPingFrom = now;
    const id = hex(txid);
    if (c.lastRxTx === id) return false;
    c.lastRxTx = id;
    return true;
  }

  /**
   * CallMeMaybe over DERP (magicsock handleCallMeMaybe): the listed endpoints become candidates,
   * earlier CallMeMaybe-only ones not listed are dropped, and every candidate is pinged right away
   * (no CallMeMaybe back: the peer is already pinging us).
   */
  handleCallMeMaybe(endpoints: readonly IpPort[]): void {
    const listed = new Set<string>();
    for (const e of endpoints) {
      if (e.ip.includes(':') && /^fe[89ab]/i.test(e.ip)) continue; // IPv6 link-local: ignored
      if (e.port === 0) continue;
      listed.add(addrKey(e));
      this.candidate(e).fromCallMeMaybe = true;
    }
    for (const [k, c] of this.candidates) {
      if (c.fromCallMeMaybe && !listed.has(k)) {
        c.fromCallMeMaybe = false;
        if (!c.fromNetmap && c.lastPingFrom === 0) this.candidates.delete(k);
      }
    }
    for (const c of this.candidates.values()) c.lastPing = 0;
    this.sendDiscoveryPings(this.host.clock.now(), false);
  }

  /**
   * A pong from this peer (endpoint.go handlePongConnLocked). `src` is where it came from (UDP) or
   * undefined for DERP. Returns whether it matched a ping of ours.
   */
  handlePong(txid: Uint8Array, src: IpPort | undefined, pongSrc: IpPort): boolean {
    const id = hex(txid);
    const s = this.sent.get(id);
    if (!s) return false;
    // A pong for a UDP ping must come back from that address (or at least over UDP).
    if ((s.dest.kind === 'derp') !== (src === undefined)) return false;
    this.sent.delete(id);
    s.timer.cancel();
    const now = this.host.clock.now();
    const latencyMs = Math.max(0, this.host.hrNow() - s.hrAt);
    let result: PongResult;
    if (s.dest.kind === 'udp') {
      const to = s.dest.addr;
      const c = this.candidates.get(addrKey(to));
      if (c) {
        c.pongs.push({ at: now, latencyMs, pongSrc: formatIpPort(pongSrc) });
        if (c.pongs.length > PONG_HISTORY) c.pongs.shift();
      }
      const cand = { addr: to, latencyMs };
      const changed = !this.best || addrKey(this.best.addr) !== addrKey(to);
      if (betterAddr(cand, this.best) || now > this.trustUntil || !this.best) {
        if (changed) this.host.log('now using direct path', { peer: this.nodeKey.short(), addr: addrKey(to), latencyMs: Math.round(latencyMs * 10) / 10 });
        this.best = { ...cand, at: now };
      }
      const wasTrusted = this.isTrusted(now);
      if (this.best && addrKey(this.best.addr) === addrKey(to)) {
        this.best.latencyMs = latencyMs;
        this.best.at = now;
        this.trustUntil = now + TRUST_UDP_ADDR_MS;
      }
      if (changed || !wasTrusted) this.host.pathChanged(this);
      result = { latencyMs, endpoint: addrKey(to), derp: false };
    } else {
      result = { latencyMs, derp: true };
    }
    if (s.purpose === 'cli') for (const w of [...this.cliWaiters]) w(result);
    return true;
  }

  private candidate(a: IpPort): Candidate {
    const k = addrKey(a);
    let c = this.candidates.get(k);
    if (!c) {
      c = { addr: a, lastPing: 0, lastPingFrom: 0, fromNetmap: false, fromCallMeMaybe: false, pongs: [], lastRxTx: '' };
      this.candidates.set(k, c);
    }
    return c;
  }
}
