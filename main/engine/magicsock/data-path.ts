// The data path of one logged-in session, assembled for the backend: the data plane (TUN + the
// shared UDP socket + WireGuard), the DERP manager and MagicConn, fed from the NetMap, plus the
// routes that send the tailnet's addresses into the TUN. The backend creates it when the first
// netmap arrives, calls `update` on every netmap change, sends `endpoints()`/`netInfo()` to
// control when `onEndpointsChanged` fires, and asks it for ping, status extras and metrics.
// (tailscale: ipnlocal.LocalBackend → wgengine.userspaceEngine → magicsock.Conn.)
import { spawnSync } from 'node:child_process';
import { DerpManager } from '../derp/manager.js';
import { tlsDialer } from '../derp/dial.js';
import type { DerpMap } from '../derp/derp-map.js';
import type { DataPlane, DataPlaneOptions } from '../dataplane/data-plane.js';
import { PublicKey, type PrivateKey } from '../keys/keys.js';
import type { NetcheckReport } from '../netcheck/report.js';
import type { NetMap, NetNode } from '../netmap/netmap.js';
import type { PeerExtras, SelfExtras } from '../netmap/status.js';
import type { Clock, Logger, Random } from '../ports/ports.js';
import { addrKey } from './addr.js';
import type { LocalEndpoint } from './local-endpoints.js';
import { MagicConn, magicPeerFromNode, type DerpPort, type NetInfoLite, type PortMapperPort } from './magic-conn.js';
import { PortMapper } from '../portmapper/client.js';
import { systemPortmapIO } from '../portmapper/system.js';
import type { PingResult } from '../../../common/contract/api.js';

/** Tailscale's bypass mark for its own sockets (shared/spec/os-integration.md §1.4). */
export const BYPASS_FWMARK = 0x80000;
/** tailscale net/tstun/mtu.go safeTUNMTU. */
export const TUN_MTU = 1280;

export interface DataPathOptions {
  nodeKey: PrivateKey<'node'>;
  discoKey: PrivateKey<'disco'>;
  tunName: string;
  port: number;
  clock: Clock;
  random: Random;
  logger: Logger;
  openDataPlane: (o: DataPlaneOptions) => DataPlane;
  /** Runs `ip …` (default: spawnSync). Tests pass a recorder. */
  ip?: (args: string[]) => { ok: boolean; error?: string };
  /** Accept subnet routes from peers (prefs RouteAll). */
  routeAll?: boolean;
  derp?: DerpPort;
  /**
   * Add the two tailnet routes to the main table (default true). Turn off when the OS router
   * (main/engine/router OSIntegration, table 52 + policy rules) installs routes instead.
   */
  manageRoutes?: boolean;
  /** Our interface IPs for endpoints (default: the host's interfaces). */
  localIps?: () => string[];
  /**
   * Router port mapping (UPnP/NAT-PMP/PCP) of our UDP port. Default: the real one, unless the
   * environment says TS_DISABLE_PORTMAPPER (tailscale's knob, same meaning); false = none.
   */
  portMapper?: (PortMapperPort & { close(): Promise<void> }) | false;
}

/** tailscale envknob.Bool: "1", "true", "t" (any case) are true. */
export function portMapperDisabledByEnv(env: Record<string, string | undefined> = process.env): boolean {
  return /^(1|t|true)$/i.test(env.TS_DISABLE_PORTMAPPER ?? '');
}

/** The LocalAPI ping answer: one type, from the contract (common/contract/api.ts PingResultSchema). */
export type DataPathPing = PingResult;

function defaultIp(args: string[]): { ok: boolean; error?: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? { ok: true } : { ok: false, error: (r.stderr || String(r.error ?? '')).trim() };
}

const TAILNET_ROUTES: [string, string][] = [['-4', '100.64.0.0/10'], ['-6', 'fd7a:115c:a1e0::/48']];

export class DataPath {
  readonly conn: MagicConn;
  readonly dataPlane: DataPlane;
  private readonly derp: DerpPort & { close?: () => Promise<void> };
  private readonly log: Logger;
  private readonly ip: (args: string[]) => { ok: boolean; error?: string };
  private readonly portMapper: (PortMapperPort & { close(): Promise<void> }) | undefined;
  private addresses: string[];
  private netmap: NetMap;
  private closed = false;

  constructor(private readonly o: DataPathOptions, netmap: NetMap) {
    this.log = o.logger.child('datapath');
    this.ip = o.ip ?? defaultIp;
    this.netmap = netmap;
    this.addresses = [...(netmap.self?.Addresses ?? [])];
    this.dataPlane = o.openDataPlane({
      tunName: o.tunName, mtu: TUN_MTU, listenPort: o.port, privateKey: o.nodeKey.rawBytes(),
      addresses: this.addresses, fwmark: BYPASS_FWMARK,
    });
    this.derp = o.derp ?? new DerpManager({ nodeKey: o.nodeKey, clock: o.clock, random: o.random, logger: o.logger });
    this.portMapper = o.portMapper === false ? undefined
      : o.portMapper ?? (portMapperDisabledByEnv() ? undefined : new PortMapper({ clock: o.clock, random: o.random, logger: o.logger, io: systemPortmapIO }));
    if (o.portMapper === undefined && !this.portMapper) this.log.info('port mapping disabled (TS_DISABLE_PORTMAPPER)');
    this.conn = new MagicConn({
      dataPlane: this.dataPlane, derp: this.derp, nodeKey: o.nodeKey.public, discoKey: o.discoKey,
      clock: o.clock, random: o.random, logger: o.logger, httpsFallback: tlsDialer(o.clock),
      ...(o.localIps ? { localIps: o.localIps } : {}),
      ...(this.portMapper ? { portMapper: this.portMapper } : {}),
    });
    this.addRoutes();
    this.update(netmap);
    this.conn.start();
    this.log.info('data path up', { tun: this.dataPlane.tunName, port: this.dataPlane.port, addresses: this.addresses });
  }

  /** Routes for the tailnet ranges into the TUN (the full router with table 52 is main/engine/router's job). */
  private addRoutes(): void {
    if (this.o.manageRoutes === false) return;
    for (const [fam, prefix] of TAILNET_ROUTES) {
      const r = this.ip([fam, 'route', 'replace', prefix, 'dev', this.dataPlane.tunName]);
      if (!r.ok) this.log.warn('could not add route', { prefix, error: r.error });
    }
  }

  /** Applies a netmap (peers, DERP map, our own addresses). Cheap when nothing relevant changed. */
  update(netmap: NetMap): void {
    if (this.closed) return;
    this.netmap = netmap;
    const dm = netmap.derpMap;
    if (dm) this.conn.setDerpMap(dm as DerpMap);
    this.conn.setPeers(netmap.peers().map((n) => magicPeerFromNode(n, { routeAll: this.o.routeAll === true })));
    const want = [...(netmap.self?.Addresses ?? [])];
    if (JSON.stringify(want) !== JSON.stringify(this.addresses)) {
      // Our tailnet address changed (rare: re-registration): move the TUN to the new addresses.
      for (const a of this.addresses) if (!want.includes(a)) this.ip([a.includes(':') ? '-6' : '-4', 'addr', 'del', a, 'dev', this.dataPlane.tunName]);
      for (const a of want) if (!this.addresses.includes(a)) this.ip([a.includes(':') ? '-6' : '-4', 'addr', 'replace', a, 'dev', this.dataPlane.tunName]);
      this.addresses = want;
      this.addRoutes();
    }
  }

  endpoints(): LocalEndpoint[] {
    return this.conn.endpoints();
  }

  /** MapRequest.Endpoints / EndpointTypes. */
  endpointFields(): { Endpoints: string[]; EndpointTypes: number[] } {
    const eps = this.conn.endpoints();
    return { Endpoints: eps.map((e) => addrKey(e.addr)), EndpointTypes: eps.map((e) => e.type) };
  }

  /** Hostinfo.NetInfo (tailcfg.NetInfo): how peers find our home DERP. */
  netInfo(): NetInfoLite {
    return this.conn.netInfo();
  }

  onEndpointsChanged(cb: () => void): () => void {
    return this.conn.onEndpointsChanged(() => cb());
  }

  get lastReport(): NetcheckReport | undefined {
    return this.conn.lastReport;
  }

  async netcheck(): Promise<NetcheckReport | undefined> {
    await this.conn.refreshEndpoints('netcheck command');
    return this.conn.lastReport;
  }

  /** `ping` (disco): target is a tailnet IP or a MagicDNS name, as tailscale ping resolves it. */
  async ping(target: string, timeoutMs: number): Promise<DataPathPing> {
    const self = this.netmap.self;
    const selfIPs = (self?.Addresses ?? []).map((a) => a.split('/')[0]!);
    if (selfIPs.includes(target)) return { IP: target, Err: `${target} is local Tailscale IP` };
    const peer = this.netmap.peerByIP(target) ?? this.netmap.peerByName(target);
    if (!peer) return { IP: target, Err: 'no matching peer' };
    const nodeIP = (peer.Addresses ?? []).map((a) => a.split('/')[0]!).find((a) => !a.includes(':')) ?? (peer.Addresses ?? [])[0]?.split('/')[0];
    const base: DataPathPing = { IP: target, NodeName: this.netmap.displayName(peer), ...(nodeIP ? { NodeIP: nodeIP } : {}) };
    if (peer.Expired) return { ...base, Err: 'peer\'s node key has expired' };
    try {
      const r = await this.conn.ping(PublicKey.parse('node', peer.Key), timeoutMs);
      if (!r) return { ...base, Err: 'timeout' };
      const out: DataPathPing = { ...base, LatencySeconds: r.latencyMs / 1000 };
      if (r.endpoint) out.Endpoint = r.endpoint;
      if (r.derpRegionId !== undefined) {
        out.DERPRegionID = r.derpRegionId;
        out.DERPRegionCode = r.derpRegionCode ?? '';
      }
      return out;
    } catch (e) {
      return { ...base, Err: e instanceof Error ? e.message : String(e) };
    }
  }

  /** Data-plane fields of a peer's PeerStatus. */
  peerExtras(n: NetNode): PeerExtras {
    const s = this.conn.peerStatus(PublicKey.parse('node', n.Key));
    const out: PeerExtras = { CurAddr: s.CurAddr, RxBytes: s.RxBytes, TxBytes: s.TxBytes, Active: s.Active, InMagicSock: s.InMagicSock, InEngine: s.InEngine };
    if (s.LastHandshake) out.LastHandshake = s.LastHandshake;
    return out;
  }

  /** Our endpoints and home relay for Status.Self. */
  selfExtras(): Pick<SelfExtras, 'Addrs' | 'Relay'> {
    const home = this.netInfo().PreferredDERP;
    return { Addrs: this.endpointFields().Endpoints, Relay: home ? this.conn.regionCode(home) : '' };
  }

  metrics(): Record<string, number> {
    return this.conn.metrics();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.conn.close();
    // Delete the router's mapping while the network is still there (tailscale Conn.Close →
    // portMapper.Close). Bounded: one 250 ms exchange, or one UPnP HTTP call.
    await this.portMapper?.close().catch((e: unknown) => this.log.warn('port mapping delete failed', { error: String(e) }));
    await this.derp.close?.();
    try {
      this.dataPlane.close(); // removing the TUN removes its addresses and routes
    } catch (e) {
      this.log.warn('closing the data plane failed', { error: String(e) });
    }
    this.log.info('data path down');
  }
}
