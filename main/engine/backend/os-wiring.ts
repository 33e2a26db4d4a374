// The backend's side of issue 6: one object that owns the OS integration for a running engine
// (main/engine/router OSIntegration: route table → Linux router with the kernel ACL, MagicDNS on
// quad-100, the OS resolver per --accept-dns) and turns what it does into things the backend can
// show: the table for WireGuard AllowedIPs and Hostinfo.RoutableIPs, health lines, counters, `why`.
// The wiring order follows main/engine/router/README.md: the data plane (TUN) first, then start()
// (repairs what a killed run left), apply() after every netmap change and prefs edit, down() on
// down/logout/exit.
import { join } from 'node:path';
import type { DNSStatus, OSMetrics } from '../../../common/contract/api.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Prefs } from '../../../common/schemas/prefs.js';
import type { DNSPlan } from '../dns/dns-config.js';
import { buildDNSStatus } from '../dns/dns-status.js';
import type { OSResolverConfigurator } from '../dns/resolv-conf.js';
import { MagicDNSResolver, type Upstream } from '../dns/resolver.js';
import type { NetMap, NetNode } from '../netmap/netmap.js';
import type { Clock, Logger } from '../ports/ports.js';
import { OSIntegration } from '../router/os-integration.js';
import type { Router } from '../router/router.js';
import { resolveExitNode, type LocalInterface, type RouteTable } from '../routes/route-table.js';
import type { PeerPath, WhyAnswer } from '../routes/why.js';

/** The router, plus the Linux router's drop counters when it has them. */
export type CountingRouter = Router & { aclDrops?(): Promise<{ acl: number; notLocal: number }> };

export interface OSWiringOptions {
  router: CountingRouter;
  /** Undefined: never touch the OS resolver (not root, or userspace networking). */
  osDNS?: OSResolverConfigurator;
  /**
   * The MagicDNS resolver to use (default: a new one on `upstream`). The desktop app passes its own so
   * the data plane's quad-100 intercept answers from the same resolver the OS integration configures.
   */
  resolver?: MagicDNSResolver;
  upstream: Upstream;
  tunName: string;
  clock: Clock;
  logger: Logger;
  /** Control and DERP server addresses: kept off the tunnel (our control/DERP sockets carry no bypass mark). */
  controlIPs: () => string[];
  /** Health lines of the OS integration changed (apply errors, route warnings). */
  onHealth: (lines: readonly string[]) => void;
  quad100?: 'local' | 'intercept';
  interfaces?: () => LocalInterface[];
}

/** What a host gives the backend to drive the OS (meshtrayd: newOSRouter + DirectResolvConf + nodeUpstream). */
export type OSDeps = Pick<OSWiringOptions, 'router' | 'osDNS' | 'upstream' | 'tunName' | 'quad100' | 'interfaces' | 'resolver'>;

/**
 * The netmap as the data path should see it: each peer's AllowedIPs replaced by what the route
 * table gives it (self addresses, won subnet routes with --accept-routes, /0 only for the chosen
 * exit node). Before the first table: the peer's own addresses only. Everything else (lookups by
 * IP/name for ping, the DERP map, self) is the real netmap. Use with DataPath routeAll: true.
 */
export function netmapWithAllowedIPs(nm: NetMap, allowed: ReadonlyMap<number, readonly string[]> | undefined): NetMap {
  const peers = (): NetNode[] =>
    nm.peers().map((n) => {
      const own = new Set(n.Addresses ?? []);
      return { ...n, AllowedIPs: [...(allowed?.get(n.ID) ?? n.AllowedIPs.filter((a) => own.has(a)))] };
    });
  return new Proxy(nm, {
    get(target, prop) {
      if (prop === 'peers') return peers;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Control host + every DERP node's addresses from the netmap (README: "controlIPs"). */
export function controlAndDerpIPs(controlURL: string, nm: NetMap | undefined): string[] {
  const out: string[] = [];
  try {
    if (controlURL) out.push(new URL(controlURL).hostname.replace(/^\[|\]$/g, ''));
  } catch {
    /* a bad URL never reaches here (validated by `up`); nothing to keep off the tunnel */
  }
  const regions = (nm?.derpMap?.Regions ?? {}) as Record<string, { Nodes?: { IPv4?: string; IPv6?: string; HostName?: string }[] } | null>;
  for (const r of Object.values(regions)) {
    for (const n of r?.Nodes ?? []) for (const ip of [n.IPv4, n.IPv6, n.HostName]) if (ip && ip !== 'none') out.push(ip);
  }
  return [...new Set(out)];
}

/**
 * `set --exit-node=<arg>` → the prefs to store. An IP given before there is a netmap is kept as
 * ExitNodeIP (tailscale resolves it once the netmap arrives); a name needs the netmap. Errors are
 * MeshtrayError ERR_NO_SUCH_PEER / ERR_NOT_EXIT_NODE / ERR_BAD_REQUEST with one clear line.
 */
export function exitNodePrefs(nm: NetMap | undefined, arg: string): Pick<Prefs, 'ExitNodeID' | 'ExitNodeIP'> {
  const want = arg.trim();
  if (want === '') return { ExitNodeID: '', ExitNodeIP: '' };
  if (!nm || !nm.self) {
    if (/^[0-9.]+$|:/.test(want)) return { ExitNodeID: '', ExitNodeIP: want };
    throw new MeshtrayError('ERR_NO_SUCH_PEER', `cannot resolve exit node "${want}": not connected to the tailnet yet (use its tailnet IP, or run "meshtray up" first)`);
  }
  const node = resolveExitNode(nm, want);
  if (!node.StableID) {
    // Headscale always sends StableID; without one, the IP is the only stable handle we have.
    const ip = (node.Addresses ?? []).map((a) => a.split('/')[0]!).find((a) => !a.includes(':'));
    if (!ip) throw new MeshtrayError('ERR_INTERNAL', `exit node ${want} has neither a stable ID nor an address`);
    return { ExitNodeID: '', ExitNodeIP: ip };
  }
  return { ExitNodeID: node.StableID, ExitNodeIP: '' };
}

export class OSWiring {
  readonly resolver: MagicDNSResolver;
  private readonly osi: OSIntegration;
  private readonly log: Logger;
  private health: string[] = [];
  private applies = 0;
  private applyErrors = 0;
  private active = false;
  /** The DNS plan of the last successful apply (what resolv.conf and quad-100 got); cleared on down. */
  private lastDNS: DNSPlan | undefined;

  constructor(private readonly o: OSWiringOptions) {
    this.log = o.logger;
    this.resolver = o.resolver ?? new MagicDNSResolver({ upstream: o.upstream, logger: o.logger.child('dns') });
    this.osi = new OSIntegration({
      router: o.router,
      resolver: this.resolver,
      ...(o.osDNS ? { osDNS: o.osDNS } : {}),
      tunName: o.tunName,
      clock: o.clock,
      logger: o.logger,
      quad100: o.quad100 ?? 'local',
      controlIPs: o.controlIPs,
      ...(o.interfaces ? { interfaces: o.interfaces } : {}),
    });
  }

  /** At daemon start: undo what a killed predecessor left (routes, rules, iptables, resolv.conf). */
  async start(): Promise<void> {
    try {
      await this.osi.start();
    } catch (e) {
      this.log.error('os: repairing a previous run failed', { err: e });
      this.setHealth([`could not clean up after a previous run: ${errText(e)}`]);
    }
  }

  /**
   * Brings the OS in line with the netmap and prefs. Never throws: a failure becomes a health line
   * (the previous OS state stays, the router restores on down) and undefined is returned.
   */
  async apply(nm: NetMap, prefs: Prefs): Promise<RouteTable | undefined> {
    this.active = true;
    try {
      const a = await this.osi.apply(nm, prefs);
      this.applies++;
      const table = a?.table;
      if (a) this.lastDNS = a.dns;
      this.setHealth((table?.warnings ?? []).map((w) => `routes: ${w.message}`));
      return table;
    } catch (e) {
      this.applyErrors++;
      const msg = MeshtrayError.is(e) ? e.message : errText(e);
      this.log.error('os: applying routes/DNS failed', { err: e });
      this.setHealth([`could not configure the OS routes/DNS: ${msg}`]);
      return undefined;
    }
  }

  /** The table installed last. */
  get table(): RouteTable | undefined {
    return this.osi.table;
  }

  why(dest: string, pathOf?: (n: NetNode) => PeerPath): WhyAnswer {
    const a = this.osi.why(dest, pathOf);
    if (!a) throw new MeshtrayError('ERR_NEEDS_LOGIN', 'no route table yet: the node is not running (run "meshtray up")');
    return a;
  }

  async metrics(): Promise<OSMetrics> {
    let drops = { acl: 0, notLocal: 0 };
    if (this.active && this.o.router.aclDrops) {
      try {
        drops = await this.o.router.aclDrops();
      } catch (e) {
        this.log.warn('os: reading the filter counters failed', { err: e });
      }
    }
    return {
      FilterDrops: drops,
      DNS: { ...this.resolver.stats() } as unknown as Record<string, number>,
      RouteWarnings: (this.osi.table?.warnings ?? []).map((w) => ({ code: w.code, message: w.message })),
      OSResolverInstalled: this.osi.osResolverInstalled,
      Applies: this.applies,
      ApplyErrors: this.applyErrors,
    };
  }

  /**
   * `dns status`: the netmap's DNS settings, the OS's own resolver config (read now, as tailscale's
   * GetDNSOSConfig does), and what the last apply did with them. Reading the OS config may fail
   * (the desktop app's helper is gone): that becomes SystemDNSError, never a failed call.
   */
  async dnsStatus(nm: NetMap | undefined, prefs: Prefs): Promise<DNSStatus> {
    let system: { config: Awaited<ReturnType<OSResolverConfigurator['baseConfig']>> } | { error: string } | undefined;
    if (this.o.osDNS) {
      try {
        system = { config: await this.o.osDNS.baseConfig() };
      } catch (e) {
        system = { error: errText(e) };
      }
    }
    return buildDNSStatus({
      corpDNS: prefs.CorpDNS,
      netmap: nm,
      plan: this.active ? this.lastDNS : undefined,
      osResolverInstalled: this.osi.osResolverInstalled,
      osResolverManaged: this.o.osDNS !== undefined,
      system,
    });
  }

  /** down, logout, exit: routes, rules, iptables and resolv.conf back as they were. Never throws. */
  async down(): Promise<void> {
    this.active = false;
    this.lastDNS = undefined;
    try {
      await this.osi.down();
      this.setHealth([]);
    } catch (e) {
      this.log.error('os: restoring the OS failed', { err: e });
      this.setHealth([`could not restore the OS routes/DNS: ${errText(e)}`]);
    }
  }

  private setHealth(lines: string[]): void {
    if (JSON.stringify(lines) === JSON.stringify(this.health)) return;
    this.health = lines;
    this.o.onHealth(lines);
  }
}

/** Router state and the resolv.conf backup live next to the daemon's state. */
export function osStatePaths(stateDir: string): { routerState: string; resolvBackup: string } {
  return { routerState: join(stateDir, 'router-state.json'), resolvBackup: join(stateDir, 'resolv.conf.pre-meshtray') };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
