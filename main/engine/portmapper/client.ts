// The port mapper: asks the home router for a UDP port mapping of our WireGuard/disco port with
// NAT-PMP, PCP or UPnP IGD, keeps it renewed and deletes it on close, and says which of the three
// answered (for netcheck). Behaviour follows tailscale net/portmapper/portmapper.go at v1.98.10
// (Probe, createOrGetMapping, GetCachedMappingOrStartCreatingOne, invalidateMappingsLocked):
//   - probing sends a NAT-PMP public-address request, a PCP ANNOUNCE and SSDP M-SEARCHes (unicast to
//     the gateway and multicast) from one ephemeral socket and listens 250 ms; services seen in the
//     last 10 min are not probed again;
//   - a mapping is made with NAT-PMP when it answered, else PCP, else UPnP (tailscale's order), for
//     7200 s, renewed at half its lifetime asking for the same external port, and dropped (with a
//     change notification) when it runs out unrenewed;
//   - a PMP/PCP epoch that went backwards means the router lost its state: the mapping is redone;
//   - close() and a local-port change delete the mapping (PMP/PCP lifetime 0, UPnP DeletePortMapping).
// Clock, randomness, sockets and HTTP are injected (io.ts); malformed replies are counted, never thrown.
import { Counters } from '../derp/counters.js';
import type { Clock, Logger, Random, Timer } from '../ports/ports.js';
import type { GatewayInfo, PortmapAddr, PortmapIO, PortmapUdp } from './io.js';
import { buildPcpAnnounceRequest, buildPcpMapRequest, parsePcpResponse, PCP_MAP_LIFETIME_S, PCP_OP_ANNOUNCE, PCP_OP_MAP, PCP_PROTO_UDP, PCP_VERSION, PcpResult } from './pcp.js';
import { buildPmpMapRequest, buildPmpPublicAddrRequest, parsePmpResponse, PMP_MAP_LIFETIME_S, PMP_VERSION, PmpResult, PXP_PORT } from './pmp.js';
import {
  buildSoapRequest, dedupeSsdp, parseRootDesc, parseSoapResponse, parseSsdpResponse, SSDP_MULTICAST, SSDP_PORT,
  SSDP_SEARCH_ALL, SSDP_SEARCH_IGD, type IgdService, type SsdpResponse,
} from './upnp.js';

export type MappingType = 'pmp' | 'pcp' | 'upnp';

export interface ProbeResult {
  upnp: boolean;
  pmp: boolean;
  pcp: boolean;
}

export interface PortMapping {
  type: MappingType;
  external: PortmapAddr;
  internal: PortmapAddr;
  gateway: string;
  /** ms timestamps */
  goodUntil: number;
  renewAfter: number;
  epoch?: number;
  /** PCP: the MAP nonce (renewals and the delete reuse it). */
  nonce?: Uint8Array;
  /** UPnP: where to delete it. */
  service?: IgdService;
}

/** How long a gateway has to answer (tailscale portMapServiceTimeout). */
export const SERVICE_TIMEOUT_MS = 250;
/**
 * A map request waits longer than a probe: the router installs its firewall/NAT rules before it
 * answers (miniupnpd under load took longer than 250 ms in the lab, and a lost answer costs a
 * minute until the next try).
 */
export const MAP_TIMEOUT_MS = 2_000;
/** RFC 6886 §3.1's first retransmission interval. */
const RETRANSMIT_MS = 250;
/** After the first answer, wait this much more for further SSDP answers (tailscale: 50 ms). */
const UPNP_LINGER_MS = 50;
/** A service seen this recently is not probed again (tailscale trustServiceStillAvailableDuration). */
export const TRUST_SERVICE_MS = 10 * 60_000;
/** Retry a failed mapping attempt after this long. */
export const RETRY_MS = 60_000;
const UPNP_HTTP_TIMEOUT_MS = 1000;
const UPNP_DESC = 'meshtray-portmap';

export interface PortMapperOptions {
  clock: Clock;
  random: Random;
  logger: Logger;
  io: PortmapIO;
  counters?: Counters;
  /** Per-exchange wait (default 250 ms; each PMP/PCP request is sent twice within it). */
  timeoutMs?: number;
}

type ChangeListener = (m: PortMapping | undefined) => void;

export class PortMapper {
  readonly counters: Counters;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly mapTimeoutMs: number;
  private localPort = 0;
  private mapping: PortMapping | undefined;
  private creating: Promise<void> | undefined;
  private timer: Timer | undefined;
  private readonly listeners = new Set<ChangeListener>();
  private closed = false;
  private lastGw: GatewayInfo | undefined;
  // What the last probes saw (ms timestamps, 0 = not seen), and the gateway's epochs.
  private pmpSeenAt = 0;
  private pmpPublicIp: string | undefined;
  private pcpSeenAt = 0;
  private upnpSeenAt = 0;
  private upnpMetas: SsdpResponse[] = [];
  private lastProbeAt = 0;
  private lastProbe: ProbeResult | undefined;
  private probing: Promise<ProbeResult> | undefined;
  private failedAt = 0;

  constructor(private readonly o: PortMapperOptions) {
    this.counters = o.counters ?? new Counters('portmap_');
    this.log = o.logger.child('portmapper');
    this.timeoutMs = o.timeoutMs ?? SERVICE_TIMEOUT_MS;
    this.mapTimeoutMs = Math.max(this.timeoutMs, MAP_TIMEOUT_MS);
  }

  /** The UDP port to map (our WireGuard socket). A change deletes the old mapping. */
  setLocalPort(port: number): void {
    if (port === this.localPort) return;
    this.localPort = port;
    this.invalidate(true);
  }

  /** The mapping if it is still good now (no I/O). */
  get current(): PortMapping | undefined {
    const m = this.mapping;
    return m && this.o.clock.now() < m.goodUntil ? m : undefined;
  }

  /**
   * The mapped external address if we have a good one; starts creating (or renewing) one in the
   * background when there is none or it is due (GetCachedMappingOrStartCreatingOne). Listeners
   * hear about the result.
   */
  currentOrStart(): PortMapping | undefined {
    const now = this.o.clock.now();
    const m = this.current;
    if (!m || now >= m.renewAfter) {
      if (!m && this.failedAt && now - this.failedAt < RETRY_MS) return undefined; // failed recently
      void this.ensure();
    }
    return m;
  }

  onChange(cb: ChangeListener): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Creates or renews the mapping now (one attempt at a time). */
  ensure(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.creating ??= this.create().finally(() => {
      this.creating = undefined;
    });
    return this.creating;
  }

  // ---- probing -------------------------------------------------------------------------------

  /** Which of UPnP, NAT-PMP and PCP answer on the LAN (netcheck's PortMapping line). */
  probe(): Promise<ProbeResult> {
    if (this.closed) return Promise.resolve({ upnp: false, pmp: false, pcp: false });
    this.probing ??= this.probeOnce().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private gateway(): GatewayInfo | undefined {
    let g: GatewayInfo | undefined;
    try {
      g = this.o.io.gateway();
    } catch {
      g = undefined;
    }
    if (g?.gateway !== this.lastGw?.gateway || g?.self !== this.lastGw?.self) {
      // Another network: nothing we learned about the old one holds.
      if (this.lastGw) this.log.info('gateway changed', { gateway: g?.gateway ?? null });
      this.lastGw = g;
      this.invalidate(true);
    }
    return g;
  }

  private recently(at: number): boolean {
    return at !== 0 && this.o.clock.now() - at < TRUST_SERVICE_MS;
  }

  private async probeOnce(): Promise<ProbeResult> {
    const gw = this.gateway();
    const res: ProbeResult = { upnp: false, pmp: false, pcp: false };
    if (!gw) {
      this.counters.inc('no-gateway');
      return res;
    }
    res.pmp = this.recently(this.pmpSeenAt);
    res.pcp = this.recently(this.pcpSeenAt);
    res.upnp = this.recently(this.upnpSeenAt);
    if (res.pmp && res.pcp && res.upnp) return this.noteProbe(res);
    let sock: PortmapUdp;
    try {
      sock = await this.o.io.openUdp();
    } catch (e) {
      this.counters.inc('socket-failed');
      this.log.warn('cannot open a UDP socket for probing', { error: String(e) });
      return res;
    }
    const ssdp: SsdpResponse[] = [];
    let pcpHeard = res.pcp;
    try {
      await new Promise<void>((resolve) => {
        let lingerTimer: Timer | undefined;
        const deadline = this.o.clock.setTimeout(resolve, this.timeoutMs);
        const maybeDone = (): void => {
          if (!(pcpHeard && res.pmp && res.upnp)) return;
          // Everything answered; linger a little for more SSDP answers, then stop.
          lingerTimer ??= this.o.clock.setTimeout(() => {
            deadline.cancel();
            resolve();
          }, UPNP_LINGER_MS);
        };
        sock.onMessage((pkt, from) => {
          if (from.port === PXP_PORT && from.ip === gw.gateway) {
            if (pkt[0] === PCP_VERSION) {
              const p = parsePcpResponse(pkt);
              if (!p.ok) return this.drop(p.reason);
              if (p.value.opcode !== PCP_OP_ANNOUNCE) return this.drop('pcp-unexpected-opcode');
              pcpHeard = true;
              this.noteEpoch('pcp', p.value.epoch);
              if (p.value.result === PcpResult.OK) {
                res.pcp = true;
                this.pcpSeenAt = this.o.clock.now();
                this.counters.inc('pcp-ok');
              } else {
                // NOT_AUTHORIZED / ADDRESS_MISMATCH: a PCP server that will not help us.
                this.counters.inc(`pcp-result-${p.value.result}`);
              }
            } else if (pkt[0] === PMP_VERSION) {
              const p = parsePmpResponse(pkt);
              if (!p.ok) return this.drop(p.reason);
              if (p.value.op !== 'public-addr') return this.drop('pmp-unexpected-opcode');
              if (p.value.result === PmpResult.OK && p.value.publicIp) {
                res.pmp = true;
                this.noteEpoch('pmp', p.value.epoch);
                this.pmpSeenAt = this.o.clock.now();
                this.pmpPublicIp = p.value.publicIp;
                this.counters.inc('pmp-ok');
              } else {
                this.counters.inc(`pmp-result-${p.value.result}`);
              }
            } else {
              this.drop('pxp-version');
            }
            maybeDone();
            return;
          }
          // SSDP answers come from the device's unicast address, normally port 1900; some use
          // another port (tailscale #7377), so anything naming an IGD is looked at.
          const s = parseSsdpResponse(pkt);
          if (!s.ok) return this.drop(s.reason);
          if (from.ip !== gw.gateway) this.counters.inc('upnp-not-from-gateway'); // still used (tailscale #5502)
          if (ssdp.length < 10) ssdp.push(s.value);
          res.upnp = true;
          maybeDone();
        });
        if (!res.pmp) sock.send(buildPmpPublicAddrRequest(), gw.gateway, PXP_PORT);
        if (!res.pcp) sock.send(buildPcpAnnounceRequest(gw.self), gw.gateway, PXP_PORT);
        if (!res.upnp) {
          // Unicast first (teaches a host firewall to expect the gateway's answer), then multicast.
          sock.send(SSDP_SEARCH_ALL, gw.gateway, SSDP_PORT);
          sock.send(SSDP_SEARCH_ALL, SSDP_MULTICAST, SSDP_PORT);
          sock.send(SSDP_SEARCH_IGD, SSDP_MULTICAST, SSDP_PORT);
        }
        this.counters.inc('probe-sent');
      });
    } catch (e) {
      this.counters.inc('probe-send-failed');
      this.log.debug('probe send failed', { error: String(e) });
    } finally {
      sock.close();
    }
    if (ssdp.length) {
      this.upnpSeenAt = this.o.clock.now();
      this.upnpMetas = dedupeSsdp(ssdp);
      this.counters.inc('upnp-ok');
    }
    return this.noteProbe(res);
  }

  private noteProbe(res: ProbeResult): ProbeResult {
    this.lastProbeAt = this.o.clock.now();
    this.lastProbe = { ...res };
    return res;
  }

  /** A PMP/PCP epoch lower than the one our mapping was made in: the gateway rebooted (RFC 6886 §3.6). */
  private noteEpoch(kind: 'pmp' | 'pcp', epoch: number): void {
    const m = this.mapping;
    if (!m || m.type !== kind || m.epoch === undefined || epoch === 0) return;
    if (epoch < m.epoch) {
      this.counters.inc('epoch-reset');
      this.log.info('gateway epoch went backwards; redoing the mapping', { kind, was: m.epoch, now: epoch });
      this.mapping = undefined;
      this.timer?.cancel();
      this.emit();
      void this.ensure();
    }
  }

  private drop(reason: string): void {
    this.counters.inc(`drop-${reason}`);
  }

  // ---- mapping -------------------------------------------------------------------------------

  private async create(): Promise<void> {
    if (this.closed || this.localPort === 0) return;
    const gw = this.gateway();
    if (!gw) {
      this.counters.inc('no-gateway');
      return;
    }
    const now = this.o.clock.now();
    // Probe first unless a recent probe already told us what is there.
    if (!this.lastProbe || now - this.lastProbeAt > 5000) await this.probe();
    if (this.closed) return;
    const prev = this.current;
    const order: MappingType[] = [];
    if (this.recently(this.pmpSeenAt)) order.push('pmp');
    if (this.recently(this.pcpSeenAt)) order.push('pcp');
    if (this.recently(this.upnpSeenAt)) order.push('upnp');
    let made: PortMapping | undefined;
    for (const t of order) {
      try {
        made = t === 'pmp' ? await this.mapPmp(gw, prev) : t === 'pcp' ? await this.mapPcp(gw, prev) : await this.mapUpnp(gw, prev);
      } catch (e) {
        this.counters.inc(`map-error-${t}`);
        this.log.debug('mapping attempt failed', { type: t, error: String(e) });
        made = undefined;
      }
      if (this.closed) {
        if (made) await this.release(made);
        return;
      }
      if (made) break;
    }
    if (!made) {
      this.failedAt = this.o.clock.now();
      if (order.length) this.counters.inc('map-failed');
      if (!this.current) {
        if (this.mapping) {
          this.mapping = undefined;
          this.emit();
        }
      } else {
        this.schedule(Math.min(this.current.goodUntil, this.o.clock.now() + RETRY_MS));
      }
      return;
    }
    if (made.internal.port !== this.localPort || made.gateway !== this.lastGw?.gateway) {
      // The local port or the network changed while we were asking: this mapping is for the old one.
      void this.release(made);
      return;
    }
    this.failedAt = 0;
    // Compared with what holds now (an epoch reset may have dropped `prev` meanwhile).
    const cur = this.current;
    const changed = !cur || cur.type !== made.type || cur.external.ip !== made.external.ip || cur.external.port !== made.external.port;
    if (prev && prev.type !== made.type) void this.release(prev);
    this.mapping = made;
    this.counters.inc(prev ? `renew-${made.type}` : `map-ok-${made.type}`);
    this.log.info(prev ? 'port mapping renewed' : 'port mapping created', {
      type: made.type, external: `${made.external.ip}:${made.external.port}`, internal: `${made.internal.ip}:${made.internal.port}`,
      lifetimeS: Math.round((made.goodUntil - this.o.clock.now()) / 1000),
    });
    this.schedule(made.renewAfter);
    if (changed) this.emit();
  }

  /** One timer: renew at renewAfter; if that fails, retry until goodUntil, then drop. */
  private schedule(at: number): void {
    this.timer?.cancel();
    if (this.closed) return;
    this.timer = this.o.clock.setTimeout(() => {
      const m = this.mapping;
      if (m && this.o.clock.now() >= m.goodUntil) {
        this.mapping = undefined;
        this.counters.inc('expired');
        this.emit();
      }
      void this.ensure();
    }, Math.max(0, at - this.o.clock.now()));
  }

  private emit(): void {
    const m = this.current;
    for (const l of this.listeners) {
      try {
        l(m);
      } catch (e) {
        this.log.error('port mapping listener threw', { error: String(e) });
      }
    }
  }

  /**
   * Sends `pkts` (twice within the timeout, as RFC 6886 §3.1 retransmits) and resolves with the
   * first reply `accept` takes, or undefined on timeout.
   */
  private async exchange<T>(gw: string, pkts: Uint8Array[], accept: (pkt: Uint8Array) => T | undefined, timeoutMs = this.timeoutMs): Promise<T | undefined> {
    const sock = await this.o.io.openUdp();
    try {
      return await new Promise<T | undefined>((resolve) => {
        const timers: Timer[] = [];
        const done = (v: T | undefined): void => {
          for (const t of timers) t.cancel();
          resolve(v);
        };
        sock.onMessage((pkt, from) => {
          if (from.ip !== gw || from.port !== PXP_PORT) return this.drop('pxp-wrong-source');
          const v = accept(pkt);
          if (v !== undefined) done(v);
        });
        const send = (): void => {
          try {
            for (const p of pkts) sock.send(p, gw, PXP_PORT);
          } catch (e) {
            this.counters.inc('send-failed');
            this.log.debug('send failed', { error: String(e) });
          }
        };
        // RFC 6886 §3.1: retransmit with the interval doubling from 250 ms (here: within the timeout).
        send();
        const first = Math.min(RETRANSMIT_MS, Math.floor(timeoutMs / 2));
        for (let at = first, gap = first; at < timeoutMs; gap *= 2, at += gap) timers.push(this.o.clock.setTimeout(send, at));
        timers.push(this.o.clock.setTimeout(() => done(undefined), timeoutMs));
      });
    } finally {
      sock.close();
    }
  }

  private async mapPmp(gw: GatewayInfo, prev: PortMapping | undefined, lifetimeS = PMP_MAP_LIFETIME_S): Promise<PortMapping | undefined> {
    let publicIp = this.pmpPublicIp;
    let mapped: { externalPort: number; lifetimeS: number; epoch: number } | undefined;
    let refused = false;
    const req = buildPmpMapRequest(this.localPort, prev?.type === 'pmp' ? prev.external.port : 0, lifetimeS);
    const pkts = publicIp ? [req] : [buildPmpPublicAddrRequest(), req];
    await this.exchange(gw.gateway, pkts, (pkt) => {
      const p = parsePmpResponse(pkt);
      if (!p.ok) return this.drop(p.reason);
      const r = p.value;
      if (r.result !== PmpResult.OK) {
        this.counters.inc(`pmp-result-${r.result}`);
        refused = true;
        return true;
      }
      this.noteEpoch('pmp', r.epoch);
      if (r.op === 'public-addr' && r.publicIp) publicIp = r.publicIp;
      if (r.op === 'map-udp') {
        if (r.internalPort !== this.localPort) return this.drop('pmp-wrong-internal-port');
        mapped = { externalPort: r.externalPort, lifetimeS: r.lifetimeS, epoch: r.epoch };
      }
      return publicIp && mapped ? true : undefined;
    }, this.mapTimeoutMs);
    if (refused || !publicIp || !mapped) return undefined;
    const m = mapped as { externalPort: number; lifetimeS: number; epoch: number };
    if (m.externalPort === 0 || m.lifetimeS === 0) return undefined;
    this.pmpPublicIp = publicIp;
    return this.made('pmp', gw, { ip: publicIp, port: m.externalPort }, m.lifetimeS, { epoch: m.epoch });
  }

  private async mapPcp(gw: GatewayInfo, prev: PortMapping | undefined): Promise<PortMapping | undefined> {
    const renew = prev?.type === 'pcp' ? prev : undefined;
    const nonce = renew?.nonce ?? this.o.random.bytes(12);
    const req = buildPcpMapRequest({
      clientIp: gw.self, nonce, internalPort: this.localPort,
      suggestedExternalPort: renew?.external.port ?? 0, suggestedExternalIp: renew?.external.ip ?? '0.0.0.0', lifetimeS: PCP_MAP_LIFETIME_S,
    });
    const r = await this.exchange(gw.gateway, [req], (pkt) => {
      const p = parsePcpResponse(pkt);
      if (!p.ok) return this.drop(p.reason);
      if (p.value.opcode !== PCP_OP_MAP || !p.value.map) return undefined; // a late ANNOUNCE answer
      if (!sameBytes(p.value.map.nonce, nonce)) return this.drop('pcp-wrong-nonce');
      return p.value;
    }, this.mapTimeoutMs);
    if (!r?.map) return undefined;
    this.noteEpoch('pcp', r.epoch);
    if (r.result !== PcpResult.OK) {
      this.counters.inc(`pcp-result-${r.result}`);
      return undefined;
    }
    if (r.map.protocol !== PCP_PROTO_UDP || r.map.internalPort !== this.localPort) return this.drop('pcp-mismatch'), undefined;
    if (!isUsableIPv4(r.map.externalIp) || r.map.externalPort === 0 || r.lifetimeS === 0) return this.drop('pcp-bad-external'), undefined;
    return this.made('pcp', gw, { ip: r.map.externalIp, port: r.map.externalPort }, r.lifetimeS, { epoch: r.epoch, nonce });
  }

  private async mapUpnp(gw: GatewayInfo, prev: PortMapping | undefined): Promise<PortMapping | undefined> {
    // An existing mapping's service first (renewing it rather than making a second one).
    const services: IgdService[] = prev?.type === 'upnp' && prev.service ? [prev.service] : [];
    for (const meta of this.upnpMetas) {
      const loc = new URL(meta.location);
      if (loc.hostname !== gw.gateway) loc.hostname = gw.gateway; // tailscale #5502
      let body: string;
      try {
        const r = await this.o.io.http({ method: 'GET', url: loc.toString(), timeoutMs: UPNP_HTTP_TIMEOUT_MS });
        if (r.status !== 200) {
          this.counters.inc('upnp-desc-http-status');
          continue;
        }
        body = r.body;
      } catch (e) {
        this.counters.inc('upnp-desc-fetch-failed');
        this.log.debug('UPnP description fetch failed', { url: loc.toString(), error: String(e) });
        continue;
      }
      const p = parseRootDesc(body, loc.toString(), gw.gateway);
      if (!p.ok) {
        this.drop(p.reason);
        continue;
      }
      for (const s of p.value) if (!services.some((x) => x.controlUrl === s.controlUrl && x.serviceType === s.serviceType)) services.push(s);
    }
    for (const svc of services) {
      const m = await this.mapWithService(gw, svc, prev?.type === 'upnp' ? prev.external.port : 0);
      if (m) return m;
    }
    return undefined;
  }

  private async soap(svc: IgdService, action: string, args: readonly (readonly [string, string | number])[], want: readonly string[]) {
    const req = buildSoapRequest(svc.serviceType, action, args);
    const r = await this.o.io.http({ method: 'POST', url: svc.controlUrl, headers: req.headers, body: req.body, timeoutMs: UPNP_HTTP_TIMEOUT_MS });
    const p = parseSoapResponse(r.status, r.body, action, want);
    if (!p.ok) {
      this.drop(p.reason);
      return undefined;
    }
    if (!p.value.ok) this.counters.inc(`upnp-error-${p.value.errorCode ?? 'unknown'}`);
    return p.value;
  }

  private async mapWithService(gw: GatewayInfo, svc: IgdService, prevPort: number): Promise<PortMapping | undefined> {
    // Never ask for a port below 1024 (nor 0: a wildcard would forward every port to us).
    let ext = prevPort >= 1024 ? prevPort : 1024 + Math.floor(this.o.random.float() * (65535 - 1024));
    const anyPort = svc.serviceType.endsWith('WANIPConnection:2');
    const add = (lease: number) => {
      const args: [string, string | number][] = [
        ['NewRemoteHost', ''], ['NewExternalPort', ext], ['NewProtocol', 'UDP'], ['NewInternalPort', this.localPort],
        ['NewInternalClient', gw.self], ['NewEnabled', 1], ['NewPortMappingDescription', UPNP_DESC], ['NewLeaseDuration', lease],
      ];
      return anyPort ? this.soap(svc, 'AddAnyPortMapping', args, ['NewReservedPort']) : this.soap(svc, 'AddPortMapping', args, []);
    };
    let lease = PMP_MAP_LIFETIME_S;
    let r = await add(lease);
    // 402 Invalid Args / 725 OnlyPermanentLeasesSupported: ask for a permanent lease (tailscale #9343, #15223).
    if (r && !r.ok && (r.errorCode === 402 || r.errorCode === 725)) {
      lease = 0;
      r = await add(lease);
    }
    // 718 ConflictInMappingEntry (plain AddPortMapping): one more try on another random port.
    if (r && !r.ok && r.errorCode === 718 && !anyPort) {
      ext = 1024 + Math.floor(this.o.random.float() * (65535 - 1024));
      r = await add(lease);
    }
    if (!r || !r.ok) return undefined;
    if (anyPort) {
      const port = Number(r.values.NewReservedPort);
      if (!Number.isInteger(port) || port < 1 || port > 65535) return this.drop('upnp-bad-port'), undefined;
      ext = port;
    }
    const ipr = await this.soap(svc, 'GetExternalIPAddress', [], ['NewExternalIPAddress']);
    const ip = ipr?.ok ? ipr.values.NewExternalIPAddress : undefined;
    if (!ip || !isUsableIPv4(ip)) {
      this.drop('upnp-bad-external-ip');
      return undefined;
    }
    // The lease we asked for; a permanent one is still renewed on the same schedule so a router
    // reboot that lost it is noticed (tailscale does the same).
    return this.made('upnp', gw, { ip, port: ext }, PMP_MAP_LIFETIME_S, { service: svc });
  }

  private made(type: MappingType, gw: GatewayInfo, external: PortmapAddr, lifetimeS: number, extra: Partial<PortMapping>): PortMapping {
    const now = this.o.clock.now();
    return {
      type, external, internal: { ip: gw.self, port: this.localPort }, gateway: gw.gateway,
      goodUntil: now + lifetimeS * 1000, renewAfter: now + (lifetimeS * 1000) / 2, ...extra,
    };
  }

  // ---- teardown ------------------------------------------------------------------------------

  private invalidate(release: boolean): void {
    const m = this.mapping;
    this.mapping = undefined;
    this.timer?.cancel();
    this.pmpSeenAt = 0;
    this.pmpPublicIp = undefined;
    this.pcpSeenAt = 0;
    this.upnpSeenAt = 0;
    this.upnpMetas = [];
    this.lastProbe = undefined;
    this.failedAt = 0;
    if (m) {
      if (release) void this.release(m);
      this.emit();
    }
  }

  /** Deletes a mapping at the gateway; waits for the answer (PMP/PCP) at most one timeout. */
  private async release(m: PortMapping): Promise<void> {
    this.counters.inc(`release-${m.type}`);
    try {
      if (m.type === 'pmp') {
        const req = buildPmpMapRequest(m.internal.port, 0, 0);
        await this.exchange(m.gateway, [req], (pkt) => {
          const p = parsePmpResponse(pkt);
          return p.ok && p.value.op === 'map-udp' ? true : undefined;
        });
      } else if (m.type === 'pcp' && m.nonce) {
        const nonce = m.nonce;
        const req = buildPcpMapRequest({
          clientIp: m.internal.ip, nonce, internalPort: m.internal.port,
          suggestedExternalPort: m.external.port, suggestedExternalIp: m.external.ip, lifetimeS: 0,
        });
        await this.exchange(m.gateway, [req], (pkt) => {
          const p = parsePcpResponse(pkt);
          return p.ok && p.value.map && sameBytes(p.value.map.nonce, nonce) ? true : undefined;
        });
      } else if (m.type === 'upnp' && m.service) {
        await this.soap(m.service, 'DeletePortMapping', [['NewRemoteHost', ''], ['NewExternalPort', m.external.port], ['NewProtocol', 'UDP']], []);
      }
      this.log.info('port mapping deleted', { type: m.type, external: `${m.external.ip}:${m.external.port}` });
    } catch (e) {
      this.counters.inc('release-failed');
      this.log.debug('port mapping delete failed', { error: String(e) });
    }
  }

  /** Deletes our mapping (awaited, bounded by one exchange) and stops all timers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    const m = this.mapping;
    this.mapping = undefined;
    this.listeners.clear();
    await this.creating?.catch(() => undefined);
    if (m) await this.release(m);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** An external address a peer could use: IPv4, not 0.0.0.0, loopback, multicast or broadcast. */
export function isUsableIPv4(ip: string): boolean {
  const p = ip.split('.');
  if (p.length !== 4 || !p.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255)) return false;
  const a = Number(p[0]);
  return a !== 0 && a !== 127 && a < 224;
}
