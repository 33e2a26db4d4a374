// MagicConn: Meshtray's magicsock (tailscale wgengine/magicsock/magicsock.go). It sits between
// the native data plane (WireGuard + the shared UDP socket), the DERP manager and netcheck, and
// decides, per peer, where WireGuard packets go:
//
//   start on DERP → disco pings to the peer's endpoints over UDP (and a CallMeMaybe over DERP so
//   the peer pings back and both NATs open) → first pong: the address becomes the best path, the
//   data plane gets it as the peer's endpoint and, while trusted (6.5 s windows kept open by 3 s
//   heartbeats), DERP copies stop → no pong for a trust window: DERP again.
//
// WireGuard on a trusted direct path never crosses into JS. What does: disco and STUN datagrams,
// packets the data plane hands us for DERP, and a 1 s poll of per-peer counters that tells us a
// session is active (the addon sends direct traffic itself, so magicsock's `send` hook is that poll
// plus DERP sends, see dataplane.md §4.3).
import { networkInterfaces } from 'node:os';
import { Counters } from '../derp/counters.js';
import { regionsOf, type DerpMap } from '../derp/derp-map.js';
import type { DerpDialer } from '../derp/dial.js';
import type { DerpManager } from '../derp/manager.js';
import { DiscoCodec, looksLikeDisco } from '../disco/packet.js';
import type { DataPlane, PeerConfig, PeerStats } from '../dataplane/data-plane.js';
import type { PrivateKey, PublicKey } from '../keys/keys.js';
import { PublicKey as PK } from '../keys/keys.js';
import { Netcheck } from '../netcheck/netcheck.js';
import type { NetcheckReport } from '../netcheck/report.js';
import { formatGoTime } from '../netmap/go-time.js';
import type { Clock, Logger, Random, Timer } from '../ports/ports.js';
import { addrKey, parseIpPort, type IpPort } from './addr.js';
import { DERP_MAGIC_IP, ENDPOINTS_FRESH_ENOUGH_MS, RESTUN_MAX_MS, RESTUN_MIN_MS, TICK_MS } from './constants.js';
import { determineEndpoints, interfaceAddresses, type LocalEndpoint } from './local-endpoints.js';
import { PeerEndpoint, type DiscoDest, type EndpointHost } from './peer-endpoint.js';

/**
 * What magicsock needs from the port mapper (main/engine/portmapper PortMapper): the mapped
 * address of our UDP port when the router gave us one (tailscale magicsock determineEndpoints →
 * GetCachedMappingOrStartCreatingOne), change notifications, and the probe for netcheck.
 */
export interface PortMapperPort {
  setLocalPort(port: number): void;
  currentOrStart(): { external: IpPort; type: string } | undefined;
  onChange(cb: () => void): () => void;
  probe(): Promise<{ upnp: boolean; pmp: boolean; pcp: boolean }>;
  readonly counters: { snapshot(): Record<string, number> };
}

/** What the conn needs from the DERP manager (DerpManager, or a fake in tests). */
export type DerpPort = Pick<DerpManager, 'home' | 'send' | 'on' | 'setDerpMap' | 'setHome' | 'status' | 'counters' | 'client'>;

/** One netmap peer as magicsock needs it (from NetMap's NetNode). */
export interface MagicPeer {
  nodeKey: PublicKey<'node'>;
  /** Undefined for pre-disco peers, which are not reachable by magicsock. */
  discoKey: PublicKey<'disco'> | undefined;
  homeDerp: number;
  /** Node.Endpoints: "ip:port" texts. */
  endpoints: readonly string[];
  /** Prefixes WireGuard routes to this peer (empty = not configured in WireGuard). */
  allowedIps: readonly string[];
  /** Expired peers get no WireGuard config (dataplane.md §5). */
  expired?: boolean;
}

export interface MagicConnOptions {
  dataPlane: DataPlane;
  derp: DerpPort;
  nodeKey: PublicKey<'node'>;
  /** New for every engine start, never persisted (tailscale magicsock). */
  discoKey: PrivateKey<'disco'>;
  clock: Clock;
  random: Random;
  logger: Logger;
  netcheck?: Netcheck;
  /** Our local interface IPs (default: os.networkInterfaces minus the TUN, loopback, link-local). */
  localIps?: () => string[];
  /** When STUN gets no answer, netcheck measures regions over HTTPS with this dialer. */
  httpsFallback?: DerpDialer;
  /** High-resolution ms for ping latencies (default performance.now). */
  hrNow?: () => number;
  /** Periodic work (trust windows, activity poll); default 1 s. */
  tickMs?: number;
  /** Run netcheck on start and every 20–26 s (false in unit tests that drive it by hand). */
  autoNetcheck?: boolean;
  /** Router port mapping (UPnP/NAT-PMP/PCP); absent = none. Its owner closes it. */
  portMapper?: PortMapperPort;
}

export interface NetInfoLite {
  PreferredDERP: number;
  WorkingUDP: boolean | null;
  MappingVariesByDestIP: boolean | null;
  /** "<region>-v4" → seconds (tailcfg.NetInfo.DERPLatency). */
  DERPLatency: Record<string, number>;
  /** A port mapping is open on the router (tailcfg.NetInfo.HavePortMap). */
  HavePortMap?: boolean;
  /** What the router answered (tailcfg.NetInfo UPnP/PMP/PCP, opt.Bool: null = not checked). */
  UPnP?: boolean | null;
  PMP?: boolean | null;
  PCP?: boolean | null;
}

export interface PingOutcome {
  latencyMs: number;
  /** ip:port of a direct pong. */
  endpoint?: string;
  derpRegionId?: number;
  derpRegionCode?: string;
}

export interface PeerPathStatus {
  CurAddr: string;
  RxBytes: number;
  TxBytes: number;
  /** Go time text, only when a handshake happened. */
  LastHandshake?: string;
  Active: boolean;
  InMagicSock: boolean;
  InEngine: boolean;
}

type EndpointsListener = (eps: LocalEndpoint[], netInfo: NetInfoLite) => void;

export class MagicConn {
  readonly counters = new Counters('magicsock_');
  readonly codec: DiscoCodec;
  readonly netcheck: Netcheck;
  private readonly log: Logger;
  private readonly host: EndpointHost;
  private readonly peers = new Map<string, PeerEndpoint>();
  private readonly byDisco = new Map<string, Set<PeerEndpoint>>();
  private readonly wgPeers = new Map<string, MagicPeer>();
  private derpMap: DerpMap | undefined;
  private lastApplied = '';
  private lastStats = new Map<string, PeerStats>();
  private fresh = new Map<string, PeerStats>();
  private freshAt: number | undefined;
  private eps: LocalEndpoint[] = [];
  private epsAt = 0;
  private netInfoV: NetInfoLite = { PreferredDERP: 0, WorkingUDP: null, MappingVariesByDestIP: null, DERPLatency: {} };
  private readonly epListeners = new Set<EndpointsListener>();
  private netcheckRunning: Promise<void> | undefined;
  private netcheckAgain = false;
  private tickTimer: Timer | undefined;
  private restunTimer: Timer | undefined;
  private readonly unsub: (() => void)[] = [];
  private closed = false;

  constructor(private readonly o: MagicConnOptions) {
    this.log = o.logger.child('magicsock');
    this.codec = new DiscoCodec(o.discoKey, o.random);
    this.netcheck = o.netcheck ?? new Netcheck({ clock: o.clock, random: o.random, logger: o.logger });
    const hrNow = o.hrNow ?? (() => performance.now());
    this.host = {
      clock: o.clock,
      random: o.random,
      hrNow,
      sendPing: (ep, dest, txid) => this.sendPing(ep, dest, txid),
      sendCallMeMaybe: (ep) => this.sendCallMeMaybe(ep),
      pathChanged: () => this.applyPeers(),
      log: (msg, fields) => this.log.info(msg, fields),
    };
    const dp = o.dataPlane;
    dp.onDisco((src, bytes) => this.safely('disco-udp', () => this.onUdpDisco(src, bytes)));
    dp.onStun((src, bytes) => this.safely('stun', () => {
      const a = parseIpPort(src);
      if (a) this.netcheck.onStunPacket(bytes, a);
      else this.counters.inc('bad-source-addr');
    }));
    dp.onDerpSend((dst, bytes) => this.safely('derp-send', () => this.sendViaDerp(dst, bytes)));
    dp.onPeerAddr((peer, addr) => this.safely('peer-addr', () => {
      this.counters.inc('wg-peer-addr');
      this.log.debug('WireGuard proved peer address', { peer: peer.short(), addr });
    }));
    this.unsub.push(o.derp.on('packet', (region, src, data) => this.safely('derp-rx', () => this.onDerpPacket(region, src, data))));
    if (o.portMapper) {
      o.portMapper.setLocalPort(dp.port);
      // A new, renewed-elsewhere or lost mapping changes our endpoints: re-STUN and re-announce
      // (tailscale magicsock onPortMapChanged → ReSTUN("portmap-changed")).
      this.unsub.push(o.portMapper.onChange(() => {
        if (!this.closed && this.o.autoNetcheck !== false) void this.refreshEndpoints('portmap-changed');
      }));
    }
    this.scheduleTick();
  }

  get discoPublic(): PublicKey<'disco'> {
    return this.o.discoKey.public;
  }

  // ---- configuration from the netmap --------------------------------------------------------

  setDerpMap(map: DerpMap): void {
    const changed = JSON.stringify(map) !== JSON.stringify(this.derpMap);
    this.derpMap = map;
    if (!changed) return;
    this.o.derp.setDerpMap(map);
    if (this.o.autoNetcheck !== false) void this.refreshEndpoints('derp map changed');
  }

  /**
   * Replaces the peer set (magicsock SetNetworkMap + wgengine Reconfig). Peers that stay keep their
   * path state and WireGuard sessions; removed peers have their timers stopped.
   */
  setPeers(peers: readonly MagicPeer[]): void {
    const seen = new Set<string>();
    this.wgPeers.clear();
    for (const p of peers) {
      if (p.nodeKey.isZero()) continue;
      const k = p.nodeKey.toString();
      seen.add(k);
      this.wgPeers.set(k, p);
      const endpoints = p.endpoints.map(parseIpPort).filter((a): a is IpPort => a !== undefined);
      const node = { nodeKey: p.nodeKey, discoKey: p.discoKey && !p.discoKey.isZero() ? p.discoKey : undefined, homeDerp: p.homeDerp, endpoints };
      let ep = this.peers.get(k);
      if (ep) {
        this.unindexDisco(ep);
        ep.update(node);
      } else {
        ep = new PeerEndpoint(this.host, node);
        this.peers.set(k, ep);
      }
      if (ep.discoKey) {
        const dk = ep.discoKey.toString();
        let set = this.byDisco.get(dk);
        if (!set) this.byDisco.set(dk, (set = new Set()));
        set.add(ep);
      }
    }
    for (const [k, ep] of this.peers) {
      if (seen.has(k)) continue;
      ep.stop();
      this.unindexDisco(ep);
      if (ep.discoKey) this.codec.forget(ep.discoKey);
      this.peers.delete(k);
    }
    this.applyPeers();
  }

  private unindexDisco(ep: PeerEndpoint): void {
    if (!ep.discoKey) return;
    const dk = ep.discoKey.toString();
    const set = this.byDisco.get(dk);
    set?.delete(ep);
    if (set && set.size === 0) this.byDisco.delete(dk);
  }

  /** Pushes every peer's (allowed IPs, endpoint, DERP) to the data plane when anything changed. */
  private applyPeers(): void {
    if (this.closed) return;
    const now = this.o.clock.now();
    const list: PeerConfig[] = [];
    for (const [k, p] of this.wgPeers) {
      if (p.expired || p.allowedIps.length === 0) continue;
      const ep = this.peers.get(k);
      const path = ep && ep.discoKey ? ep.pathFor(now) : { endpoint: null, useDerp: true };
      list.push({ publicKey: p.nodeKey, allowedIps: [...p.allowedIps], endpoint: path.endpoint, useDerp: path.useDerp });
    }
    const key = JSON.stringify(list.map((c) => [c.publicKey.toString(), c.allowedIps, c.endpoint, c.useDerp]));
    if (key === this.lastApplied) return;
    try {
      this.o.dataPlane.setPeers(list);
      this.lastApplied = key;
      this.counters.inc('wg-reconfig');
    } catch (e) {
      this.counters.inc('wg-reconfig-failed');
      this.log.error('data plane refused the peer set', { error: String(e) });
    }
  }

  // ---- periodic work ------------------------------------------------------------------------

  private scheduleTick(): void {
    if (this.closed) return;
    this.tickTimer = this.o.clock.setTimeout(() => {
      this.safely('tick', () => this.tick());
      this.scheduleTick();
    }, this.o.tickMs ?? TICK_MS);
  }

  /** Activity from the data plane's counters, then trust windows that ran out. */
  private tick(): void {
    let stats: PeerStats[];
    try {
      stats = this.o.dataPlane.peerStats();
    } catch {
      return;
    }
    const next = new Map<string, PeerStats>();
    for (const s of stats) {
      const k = s.publicKey.toString();
      next.set(k, s);
      const prev = this.lastStats.get(k);
      // Outbound WireGuard bytes moved: the session is active (endpoint.go send → lastSendExt).
      if (prev && s.txBytes > prev.txBytes) this.peers.get(k)?.noteSend();
    }
    this.lastStats = next;
    this.applyPeers();
  }

  // ---- endpoints and netcheck ---------------------------------------------------------------

  endpoints(): LocalEndpoint[] {
    return this.eps.slice();
  }

  netInfo(): NetInfoLite {
    return { ...this.netInfoV, DERPLatency: { ...this.netInfoV.DERPLatency } };
  }

  get lastReport(): NetcheckReport | undefined {
    return this.netcheck.lastReport;
  }

  /** Fires when our endpoint list or NetInfo changes; the backend sends a MapRequest then. */
  onEndpointsChanged(cb: EndpointsListener): () => void {
    this.epListeners.add(cb);
    return () => this.epListeners.delete(cb);
  }

  /**
   * Runs netcheck from the shared socket, picks the home DERP, recomputes our endpoints
   * (magicsock updateEndpoints / determineEndpoints). Concurrent calls coalesce into one rerun.
   */
  refreshEndpoints(why: string): Promise<void> {
    if (this.netcheckRunning) {
      this.netcheckAgain = true;
      return this.netcheckRunning;
    }
    this.netcheckRunning = (async () => {
      do {
        this.netcheckAgain = false;
        await this.refreshOnce(why);
      } while (this.netcheckAgain && !this.closed);
    })().finally(() => {
      this.netcheckRunning = undefined;
      this.scheduleRestun();
    });
    return this.netcheckRunning;
  }

  private async refreshOnce(why: string): Promise<void> {
    if (this.closed) return;
    let report: NetcheckReport | undefined;
    const pm = this.o.portMapper;
    let mapped = pm?.currentOrStart();
    if (this.derpMap) {
      this.log.debug('netcheck', { why });
      const dp = this.o.dataPlane;
      report = await this.netcheck.run(this.derpMap, {
        send: (pkt, ip, port) => dp.sendUdp(addrKey({ ip, port }), pkt),
      }, {
        ...(this.o.httpsFallback ? { httpsFallback: this.o.httpsFallback } : {}),
        ...(pm ? { portMapProbe: () => pm.probe() } : {}),
        lastHeardFromHome: this.lastHeardFromHome(),
      });
    }
    // If there was no mapping before the netcheck, maybe it is done by now.
    mapped ??= pm?.currentOrStart();
    if (this.closed) return;
    let home = report?.preferredDERP ?? 0;
    if (!home) home = this.o.derp.home || this.fallbackHome();
    if (home && home !== this.o.derp.home) this.o.derp.setHome(home);
    const localIps = this.localIps();
    const eps = determineEndpoints(report, localIps, this.o.dataPlane.port, mapped?.external);
    const ni: NetInfoLite = {
      PreferredDERP: home,
      WorkingUDP: report ? report.udp : null,
      MappingVariesByDestIP: report?.mappingVariesByDestIP ?? null,
      DERPLatency: Object.fromEntries([...(report?.regionV4Latency ?? new Map<number, number>())].map(([r, ns]) => [`${r}-v4`, ns / 1e9])),
      ...(pm ? { HavePortMap: mapped !== undefined, UPnP: report?.upnp ?? null, PMP: report?.pmp ?? null, PCP: report?.pcp ?? null } : {}),
    };
    this.epsAt = this.o.clock.now();
    const epsChanged = JSON.stringify(eps) !== JSON.stringify(this.eps);
    const prev = this.netInfoV;
    const niChanged = ni.PreferredDERP !== prev.PreferredDERP || ni.WorkingUDP !== prev.WorkingUDP || ni.MappingVariesByDestIP !== prev.MappingVariesByDestIP
      || ni.HavePortMap !== prev.HavePortMap || ni.UPnP !== prev.UPnP || ni.PMP !== prev.PMP || ni.PCP !== prev.PCP;
    this.eps = eps;
    this.netInfoV = ni;
    if (epsChanged || niChanged) {
      this.log.info('endpoints', { endpoints: eps.map((e) => `${addrKey(e.addr)} (${e.type})`), home, udp: ni.WorkingUDP });
      for (const l of this.epListeners) {
        try { l(this.endpoints(), this.netInfo()); } catch (e) { this.log.error('endpoints listener threw', { error: String(e) }); }
      }
    }
  }

  private lastHeardFromHome(): number {
    const c = this.o.derp.client(this.o.derp.home);
    return c ? c.lastReceive : 0;
  }

  private fallbackHome(): number {
    const ids = this.derpMap ? regionsOf(this.derpMap).filter((r) => !r.NoMeasureNoHome).map((r) => r.RegionID).sort((a, b) => a - b) : [];
    return ids[0] ?? 0;
  }

  private localIps(): string[] {
    if (this.o.localIps) return this.o.localIps();
    try {
      return interfaceAddresses(networkInterfaces() as never, this.o.dataPlane.tunName);
    } catch {
      return [];
    }
  }

  /** Re-STUN at a random 20–26 s while some peer is active (keeps NAT mappings and endpoints fresh). */
  private scheduleRestun(): void {
    this.restunTimer?.cancel();
    if (this.closed || this.o.autoNetcheck === false) return;
    const ms = RESTUN_MIN_MS + Math.floor(this.o.random.float() * (RESTUN_MAX_MS - RESTUN_MIN_MS));
    this.restunTimer = this.o.clock.setTimeout(() => {
      const now = this.o.clock.now();
      const active = [...this.peers.values()].some((p) => p.isActive(now));
      if (active) void this.refreshEndpoints('periodic');
      else this.scheduleRestun();
    }, ms);
  }

  /** Starts the first netcheck (call once the DERP map is known). */
  start(): void {
    if (this.o.autoNetcheck !== false) void this.refreshEndpoints('start');
  }

  // ---- disco out ----------------------------------------------------------------------------

  private sendPing(ep: PeerEndpoint, dest: DiscoDest, txid: Uint8Array): boolean {
    if (!ep.discoKey) return false;
    const pkt = this.codec.seal(ep.discoKey, { type: 'ping', txid, nodeKey: this.o.nodeKey, padding: 0 });
    return this.sendDisco(ep, dest, pkt, 'ping');
  }

  private sendDisco(ep: PeerEndpoint, dest: DiscoDest, pkt: Uint8Array, what: string): boolean {
    if (dest.kind === 'udp') {
      try {
        this.o.dataPlane.sendUdp(addrKey(dest.addr), pkt);
        this.counters.inc(`disco-tx-udp-${what}`);
        return true;
      } catch (e) {
        this.counters.inc('disco-tx-udp-failed');
        this.log.debug('disco UDP send failed', { addr: addrKey(dest.addr), error: String(e) });
        return false;
      }
    }
    const ok = this.o.derp.send(ep.nodeKey, ep.homeDerp || undefined, pkt);
    this.counters.inc(ok ? `disco-tx-derp-${what}` : 'disco-tx-derp-failed');
    return ok;
  }

  /** magicsock enqueueCallMeMaybe: our endpoints to the peer over DERP (re-STUN first if stale). */
  private sendCallMeMaybe(ep: PeerEndpoint): void {
    if (!ep.discoKey) return;
    if (this.o.clock.now() - this.epsAt > ENDPOINTS_FRESH_ENOUGH_MS && this.o.autoNetcheck !== false) {
      // Stale endpoints: refresh, then send (the peer would ping addresses that no longer work).
      const disco = ep.discoKey;
      void this.refreshEndpoints('call-me-maybe').then(() => {
        if (ep.discoKey?.equals(disco)) this.sendCallMeMaybeNow(ep);
      });
      return;
    }
    this.sendCallMeMaybeNow(ep);
  }

  private sendCallMeMaybeNow(ep: PeerEndpoint): void {
    if (!ep.discoKey || this.closed) return;
    const pkt = this.codec.seal(ep.discoKey, { type: 'callMeMaybe', endpoints: this.eps.map((e) => e.addr) });
    this.sendDisco(ep, { kind: 'derp' }, pkt, 'cmm');
  }

  private sendViaDerp(dst: PublicKey<'node'>, bytes: Uint8Array): void {
    const ep = this.peers.get(dst.toString());
    if (!this.o.derp.send(dst, ep?.homeDerp || undefined, bytes)) this.counters.inc('derp-send-failed');
    // A WireGuard packet on its way over DERP is outbound data: discover a direct path.
    ep?.noteSend();
  }

  // ---- disco in -----------------------------------------------------------------------------

  private knownDisco = (k: PublicKey<'disco'>): boolean => this.byDisco.has(k.toString());

  private onUdpDisco(srcText: string, bytes: Uint8Array): void {
    const src = parseIpPort(srcText);
    if (!src) {
      this.counters.inc('bad-source-addr');
      return;
    }
    const opened = this.codec.open(bytes, this.knownDisco);
    if (!opened) return;
    const eps = [...(this.byDisco.get(opened.sender.toString()) ?? [])];
    const m = opened.msg;
    switch (m.type) {
      case 'ping': {
        this.counters.inc('disco-rx-udp-ping');
        // Every peer with this disco key learns src as a candidate; a repeated TxID from the same
        // address is a duplicate and gets no second pong (v1.98.10 magicsock.go handlePingLocked,
        // endpoint.go addCandidateEndpoint).
        let dup = false;
        for (const ep of eps) dup = !ep.notePingFrom(src, m.txid) || dup;
        if (dup) {
          this.counters.inc('disco-rx-dup-ping');
          return;
        }
        const pong = this.codec.seal(opened.sender, { type: 'pong', txid: m.txid, src });
        try {
          this.o.dataPlane.sendUdp(srcText, pong);
          this.counters.inc('disco-tx-udp-pong');
        } catch {
          this.counters.inc('disco-tx-udp-failed');
        }
        return;
      }
      case 'pong':
        this.counters.inc('disco-rx-udp-pong');
        if (!eps.some((ep) => ep.handlePong(m.txid, src, m.src))) this.counters.inc('disco-rx-pong-unmatched');
        return;
      case 'callMeMaybe':
        // CallMeMaybe is only valid over DERP (magicsock: "should only come via DERP").
        this.counters.inc('disco-rx-cmm-over-udp');
        return;
      case 'relay':
        this.counters.inc('disco-rx-relay-ignored');
        return;
    }
  }

  private onDerpPacket(region: number, src: PublicKey<'node'>, data: Uint8Array): void {
    if (!looksLikeDisco(data)) {
      // WireGuard over DERP: the addon decrypts it (and counts packets from unknown keys).
      this.o.dataPlane.injectFromDerp(src, data);
      return;
    }
    const opened = this.codec.open(data, this.knownDisco);
    if (!opened) return;
    const byKey = this.peers.get(src.toString());
    // The DERP source key names the sender only if its netmap disco key matches the box's sender.
    const ep = byKey && byKey.discoKey?.equals(opened.sender) ? byKey : undefined;
    const m = opened.msg;
    switch (m.type) {
      case 'ping': {
        // Over DERP the relay's source key must be a netmap peer (handlePingLocked: numNodes == 0 → drop).
        if (!byKey) {
          this.counters.inc('disco-rx-derp-ping-unknown-node');
          return;
        }
        this.counters.inc('disco-rx-derp-ping');
        const pong = this.codec.seal(opened.sender, { type: 'pong', txid: m.txid, src: { ip: DERP_MAGIC_IP, port: region } });
        if (!this.o.derp.send(src, region, pong)) this.counters.inc('disco-tx-derp-failed');
        else this.counters.inc('disco-tx-derp-pong');
        return;
      }
      case 'pong': {
        this.counters.inc('disco-rx-derp-pong');
        const eps = ep ? [ep] : [...(this.byDisco.get(opened.sender.toString()) ?? [])];
        if (!eps.some((e) => e.handlePong(m.txid, undefined, m.src))) this.counters.inc('disco-rx-pong-unmatched');
        return;
      }
      case 'callMeMaybe':
        if (!ep) {
          this.counters.inc('disco-rx-cmm-unknown-sender');
          return;
        }
        this.counters.inc('disco-rx-derp-cmm');
        ep.handleCallMeMaybe(m.endpoints);
        return;
      case 'relay':
        this.counters.inc('disco-rx-relay-ignored');
        return;
    }
  }

  // ---- CLI ping, status, metrics ------------------------------------------------------------

  /** One disco ping (tailscale ping's default mode); undefined when nothing answered in time. */
  async ping(peer: PublicKey<'node'>, timeoutMs: number): Promise<PingOutcome | undefined> {
    const ep = this.peers.get(peer.toString());
    if (!ep) throw new Error('no matching peer');
    if (!ep.discoKey) throw new Error('peer has no disco key (too old to ping)');
    const r = await ep.cliPing(timeoutMs);
    if (!r) return undefined;
    const out: PingOutcome = { latencyMs: r.latencyMs };
    if (r.endpoint) out.endpoint = r.endpoint;
    if (r.derp) {
      out.derpRegionId = ep.homeDerp;
      out.derpRegionCode = this.regionCode(ep.homeDerp);
    }
    return out;
  }

  regionCode(id: number): string {
    return this.derpMap?.Regions?.[String(id)]?.RegionCode ?? '';
  }

  /** Data-plane facts for `status --json` (ipnstate.PeerStatus). */
  peerStatus(peer: PublicKey<'node'>): PeerPathStatus {
    const k = peer.toString();
    const ep = this.peers.get(k);
    const wg = this.wgPeers.get(k);
    const now = this.o.clock.now();
    const st = this.freshStats().get(k);
    const out: PeerPathStatus = {
      CurAddr: ep?.curAddr ?? '',
      RxBytes: st?.rxBytes ?? 0,
      TxBytes: st?.txBytes ?? 0,
      Active: ep?.isActive(now) ?? false,
      InMagicSock: ep !== undefined,
      InEngine: wg !== undefined && !wg.expired && wg.allowedIps.length > 0,
    };
    // The addon reports "ms since the last handshake"; absent (null/undefined) or absurd values mean none.
    const hs = st?.lastHandshakeMs;
    if (typeof hs === 'number' && Number.isFinite(hs) && hs >= 0 && hs < 10 * 365 * 86_400_000) out.LastHandshake = formatGoTime(now - hs);
    return out;
  }

  /** Per-peer counters at most 200 ms old (a status of N peers reads the addon once, not N times). */
  private freshStats(): Map<string, PeerStats> {
    const now = this.o.clock.now();
    if (this.freshAt !== undefined && now - this.freshAt < 200) return this.fresh;
    try {
      this.fresh = new Map(this.o.dataPlane.peerStats().map((s) => [s.publicKey.toString(), s] as const));
      this.freshAt = now;
    } catch {
      return this.lastStats;
    }
    return this.fresh;
  }

  /** Debug view of one peer's paths. */
  peerDebug(peer: PublicKey<'node'>): Record<string, unknown> | undefined {
    const ep = this.peers.get(peer.toString());
    if (!ep) return undefined;
    const now = this.o.clock.now();
    return { curAddr: ep.curAddr, trusted: ep.isTrusted(now), latencyMs: ep.bestLatencyMs ?? null, candidates: ep.candidateAddrs(), homeDerp: ep.homeDerp, ...ep.pathFor(now) };
  }

  /** Drops and events by reason: magicsock, disco codec, DERP, netcheck and data-plane counters. */
  metrics(): Record<string, number> {
    const out: Record<string, number> = {
      ...this.counters.snapshot(),
      ...this.codec.counters.snapshot(),
      ...this.o.derp.counters.snapshot(),
      ...this.netcheck.counters.snapshot(),
      ...(this.o.portMapper ? this.o.portMapper.counters.snapshot() : {}),
    };
    try {
      const c = this.o.dataPlane.counters();
      for (const [r, n] of Object.entries(c.drops)) out[`dataplane_drop_${r}`] = n;
      for (const [r, n] of Object.entries(c.toJs)) out[`dataplane_to_js_${r}`] = n;
      for (const p of ['direct', 'derp', 'tun'] as const) {
        for (const [r, n] of Object.entries(c[p])) out[`dataplane_${p}_${r}`] = n;
      }
      out.dataplane_udp_send_from_js = c.udpSendFromJs;
    } catch {
      /* closed */
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.tickTimer?.cancel();
    this.restunTimer?.cancel();
    for (const u of this.unsub) u();
    for (const ep of this.peers.values()) ep.stop();
  }

  private safely(where: string, fn: () => void): void {
    if (this.closed) return;
    try {
      fn();
    } catch (e) {
      this.counters.inc(`internal-error-${where}`);
      this.log.error('magicsock handler failed', { where, error: String(e) });
    }
  }
}

/** NetNode-like input → MagicPeer, shared by the backend and tests. */
export function magicPeerFromNode(n: {
  Key: string; DiscoKey?: string | null | undefined; HomeDERP: number; Endpoints?: readonly string[] | null | undefined;
  AllowedIPs: readonly string[]; Addresses?: readonly string[] | null | undefined; Expired?: boolean | null | undefined;
}, opts: { routeAll?: boolean } = {}): MagicPeer {
  const own = new Set(n.Addresses ?? []);
  // Without --accept-routes only the peer's own addresses are routed to it (dataplane.md §5).
  const allowed = opts.routeAll ? n.AllowedIPs : n.AllowedIPs.filter((a) => own.has(a));
  return {
    nodeKey: PK.parse('node', n.Key),
    discoKey: n.DiscoKey ? PK.parse('disco', n.DiscoKey) : undefined,
    homeDerp: n.HomeDERP,
    endpoints: n.Endpoints ?? [],
    allowedIps: allowed,
    expired: n.Expired === true,
  };
}
