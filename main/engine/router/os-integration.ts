// One object the backend drives for everything OS-facing in issue 6: on every netmap or prefs
// change it computes the route table (routes/), installs it with the OS router (with the packet
// filter compiled for the kernel), points quad-100 at the new names and upstreams, and installs or
// restores the OS resolver per --accept-dns. `why` answers from the table it last installed.
// Applies are serialised and coalesced: a burst of netmap deltas costs one OS reconfiguration.
import { networkInterfaces } from 'node:os';
import type { Prefs } from '../../../common/schemas/prefs.js';
import type { Logger } from '../ports/ports.js';
import type { NetMap, NetNode } from '../netmap/netmap.js';
import { buildDNSPlan, type DNSPlan } from '../dns/dns-config.js';
import type { MagicDNSResolver } from '../dns/resolver.js';
import { MagicDNSServer } from '../dns/server.js';
import type { OSResolverConfigurator } from '../dns/resolv-conf.js';
import { compileKernelACL } from '../filter/kernel-acl.js';
import { localNetsFor, PacketFilter } from '../filter/filter.js';
import type { Clock } from '../ports/ports.js';
import { classifyInterfaces, computeRouteTable, type LocalInterface, type OSRoute, type RouteTable } from '../routes/route-table.js';
import { why, type PeerPath, type WhyAnswer } from '../routes/why.js';
import { routerConfigFromTable, type Router } from './router.js';

/** The host's interfaces as the route computation wants them (os.networkInterfaces). */
export function nodeInterfaces(): LocalInterface[] {
  return Object.entries(networkInterfaces()).map(([name, addrs]) => ({
    name,
    loopback: (addrs ?? []).some((a) => a.internal),
    addresses: (addrs ?? []).map((a) => a.cidr).filter((c): c is string => !!c).map((c) => c.replace(/%.*\//, '/')),
  }));
}

export interface OSIntegrationOptions {
  readonly router: Router;
  readonly resolver: MagicDNSResolver;
  /** The OS resolver configurator; undefined = never touch the OS resolver (e.g. no root). */
  readonly osDNS?: OSResolverConfigurator;
  readonly tunName: string;
  readonly mtu?: number;
  readonly netfilter?: 'on' | 'off';
  /** Enforce the netmap's packet filter in the kernel (default: on when netfilter is on). */
  readonly kernelACL?: boolean;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly interfaces?: () => LocalInterface[];
  readonly osRoutes?: () => Promise<OSRoute[]>;
  /** Control and DERP addresses, for the "route covers control" warning. */
  readonly controlIPs?: () => string[];
  /**
   * 'local' (Linux): quad-100 becomes a loopback address and a MagicDNSServer answers it on real
   * sockets, UDP and TCP. 'intercept': the caller wires DataPlane.onIntercept to Quad100Intercept
   * (UDP only, tailscale's approach). Default 'intercept'.
   */
  readonly quad100?: 'local' | 'intercept';
}

export interface Applied {
  readonly table: RouteTable;
  readonly dns: DNSPlan;
}

export class OSIntegration {
  private last: { table: RouteTable; nm: NetMap; interfaces: LocalInterface[] } | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private pending: { nm: NetMap; prefs: Prefs } | undefined;
  private lastApplied: Applied | undefined;
  private osDNSActive = false;
  private server: MagicDNSServer | undefined;

  constructor(private readonly o: OSIntegrationOptions) {}

  /** At daemon start, before the first apply: undo what a killed predecessor left. */
  async start(): Promise<void> {
    await this.o.router.repair();
    if (this.o.osDNS) {
      const r = await this.o.osDNS.repair();
      if (r !== 'nothing') this.o.logger?.info('dns: repaired resolv.conf left by a previous run', { result: r });
    }
  }

  /**
   * Brings the OS in line with this netmap and prefs. Calls made while one is running are
   * coalesced into one more run with the latest arguments. Throws what the router throws (the
   * previous OS state is then still in place, or repaired on the next start).
   */
  apply(nm: NetMap, prefs: Prefs): Promise<Applied | undefined> {
    this.pending = { nm, prefs };
    const step = this.chain.catch(() => undefined).then(async () => {
      const job = this.pending;
      if (!job) return this.lastApplied; // coalesced into an earlier step
      this.pending = undefined;
      this.lastApplied = await this.doApply(job.nm, job.prefs);
      return this.lastApplied;
    });
    this.chain = step;
    return step;
  }

  private async doApply(nm: NetMap, prefs: Prefs): Promise<Applied> {
    const interfaces = (this.o.interfaces ?? nodeInterfaces)();
    const osRoutes = this.o.osRoutes ? await this.o.osRoutes() : [];
    const table = computeRouteTable({
      netmap: nm,
      prefs,
      interfaces,
      tunName: this.o.tunName,
      osRoutes,
      ...(this.o.controlIPs ? { controlIPs: this.o.controlIPs() } : {}),
      nowMs: this.o.clock.now(),
    });
    for (const w of table.warnings) this.o.logger?.warn(`routes: ${w.message}`, { code: w.code });

    const netfilter = this.o.netfilter ?? 'on';
    let acl;
    if ((this.o.kernelACL ?? netfilter === 'on') && netfilter === 'on') {
      const lan = classifyInterfaces(interfaces, this.o.tunName);
      const local = localNetsFor(table.localAddrs, table.advertise.routes, lan.external, lan.hostIPs).prefixes();
      // --shields-up: no rules (only replies pass), like tailscale's empty filter with 'S' rejects.
      const rules = prefs.ShieldsUp ? undefined : nm.packetFilter;
      // The compiled chains, plus what they were compiled from: a router in another process (the
      // desktop app's privileged helper) compiles the chains itself and never takes them ready-made.
      acl = { ...compileKernelACL(rules, local), source: { rules: rules ?? [], localNets: local } };
      for (const s of acl.skipped) this.o.logger?.info(`filter: not enforceable in the kernel: ${s}`);
    }
    const local = this.o.quad100 === 'local';
    const svc = local ? table.routes.filter((r) => r.kind === 'quad100').map((r) => r.prefix) : [];
    const rc = routerConfigFromTable(table, { tunName: this.o.tunName, ...(this.o.mtu ? { mtu: this.o.mtu } : {}), netfilter, ...(acl ? { acl } : {}) });
    await this.o.router.set(svc.length ? { ...rc, serviceAddrs: svc } : rc);
    if (local && !this.server && svc.length) {
      const srv = new MagicDNSServer(this.o.resolver, this.o.logger);
      await srv.listen(svc.map((p) => p.split('/')[0]!), 53);
      this.server = srv;
    }

    const base = this.o.osDNS ? await this.o.osDNS.baseConfig() : undefined;
    const selfExpired = !!nm.self?.Expired;
    const dns = buildDNSPlan({
      self: nm.self,
      peers: nm.peers(),
      dns: nm.dnsConfig,
      magicDNSSuffix: nm.magicDNSSuffix,
      corpDNS: prefs.CorpDNS,
      exitNodeSelected: !!(prefs.ExitNodeID || prefs.ExitNodeIP),
      ...(table.exitNode?.usable && table.exitNode.nodeID !== undefined && nm.peerByID(table.exitNode.nodeID) ? { exitNode: nm.peerByID(table.exitNode.nodeID)! } : {}),
      selfExpired,
      ...(base ? { base } : {}),
    });
    for (const s of dns.skipped) this.o.logger?.info(`dns: resolver not supported yet, skipped: ${s}`);
    this.o.resolver.setConfig(dns.resolver);
    if (this.o.osDNS) {
      await this.o.osDNS.set(dns.os);
      this.osDNSActive = dns.os !== undefined;
    }
    this.last = { table, nm, interfaces };
    return { table, dns };
  }

  /** The table installed last (for the data plane's AllowedIPs and the UI). */
  get table(): RouteTable | undefined {
    return this.last?.table;
  }

  get osResolverInstalled(): boolean {
    return this.osDNSActive;
  }

  /** `meshtray why`: from the table the router installed last. */
  why(dest: string, pathOf?: (n: NetNode) => PeerPath): WhyAnswer | undefined {
    if (!this.last) return undefined;
    return why({ table: this.last.table, netmap: this.last.nm, interfaces: this.last.interfaces, tunName: this.o.tunName, ...(pathOf ? { pathOf } : {}) }, dest);
  }

  /** The netmap's filter as a per-packet matcher (for a data path that can call it). */
  packetFilter(nm: NetMap, prefs: Prefs, previous?: PacketFilter): PacketFilter {
    const interfaces = this.last?.interfaces ?? (this.o.interfaces ?? nodeInterfaces)();
    const lan = classifyInterfaces(interfaces, this.o.tunName);
    const t = this.last?.table;
    const local = localNetsFor(t?.localAddrs ?? nm.self?.Addresses ?? [], t?.advertise.routes ?? prefs.AdvertiseRoutes, lan.external, lan.hostIPs);
    return PacketFilter.replacing(previous, prefs.ShieldsUp ? undefined : nm.packetFilter, { clock: this.o.clock, localNets: local });
  }

  /** `down`, logout and exit: everything back as it was. Both halves run even if one fails. */
  async down(): Promise<void> {
    this.pending = undefined;
    await this.chain.catch(() => undefined);
    const errors: unknown[] = [];
    await this.server?.close();
    this.server = undefined;
    await this.o.router.restore().catch((e: unknown) => errors.push(e));
    if (this.o.osDNS) await this.o.osDNS.restore().catch((e: unknown) => errors.push(e));
    this.osDNSActive = false;
    this.o.resolver.setConfig({ hosts: new Map(), ptr: new Map(), localDomains: [], routes: new Map() });
    this.last = undefined;
    this.lastApplied = undefined;
    if (errors.length) throw errors[0];
  }
}
