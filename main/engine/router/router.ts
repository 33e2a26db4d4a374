// The OS router port (tailscale wgengine/router/router.go Router + Config): the engine hands it the
// desired state, the OS implementation reconciles. One implementation per OS (linux.ts); index.ts
// picks it.
import type { KernelACL } from '../filter/kernel-acl.js';
import type { FilterRule } from '../netmap/tailcfg.js';
import type { RouteTable } from '../routes/route-table.js';

/** tsconst/linuxfw.go: the engine's own sockets carry this mark and bypass the tunnel. */
export const BYPASS_MARK = 0x80000;
/** Forwarded tailnet traffic (subnet router / exit node) is tagged with this. */
export const SUBNET_ROUTE_MARK = 0x40000;
export const FWMARK_MASK = 0xff0000;
/** Tailscale's table ("52" = "TS" on a phone keypad, roughly). */
export const ROUTE_TABLE = 52;
/** Rule priorities (router_linux.go ipRules, base 5200 + offsets). */
export const RULE_PRIORITIES = { bypassMain: 5210, bypassDefault: 5230, bypassUnreachable: 5250, table52: 5270 } as const;

export interface RouterConfig {
  readonly tunName: string;
  readonly mtu: number;
  /** Our addresses on the TUN ("100.64.0.1/32", "fd7a:…/128"). */
  readonly localAddrs: readonly string[];
  /** Into the tunnel (table 52). */
  readonly routes: readonly string[];
  /** Throw routes in table 52 (exit-node LAN access, VM networks). */
  readonly localRoutes: readonly string[];
  /** This node routes for others: forwarding, SNAT unless disabled, MSS clamping. */
  readonly forwarding: { readonly enabled: boolean; readonly snat: boolean; readonly statefulFiltering: boolean };
  /** 'on': our own iptables chains; 'off': touch no firewall (tailscale --netfilter-mode=off). */
  readonly netfilter: 'on' | 'off';
  /**
   * The netmap's packet filter compiled for the kernel (filter/kernel-acl.ts): when present, traffic
   * arriving from the tunnel (to this host or forwarded) must pass it. Needs netfilter 'on'.
   */
  readonly acl?: KernelACL & {
    /** The netmap filter and local networks `acl` was compiled from (filter/kernel-acl.ts compileKernelACL). */
    readonly source?: { readonly rules: readonly FilterRule[]; readonly localNets: readonly string[] };
  };
  /**
   * Service addresses to make local on the loopback (e.g. quad-100 "100.100.100.100/32",
   * "fd7a:115c:a1e0::53/128"), so a resolver on real sockets answers UDP and TCP for them; the
   * local table wins over table 52. Peers cannot reach them: they are not local networks for the
   * kernel ACL.
   */
  readonly serviceAddrs?: readonly string[];
}

export interface Router {
  /** Brings the OS to `cfg` (adds first, then removes what is no longer wanted). */
  set(cfg: RouterConfig): Promise<void>;
  /** Removes exactly what this router (or a killed predecessor, per the state file) installed. Idempotent. */
  restore(): Promise<void>;
  /** At start: restore whatever a killed process left, per the state file. */
  repair(): Promise<void>;
}

export function routerConfigFromTable(t: RouteTable, o: { tunName: string; mtu?: number; netfilter?: 'on' | 'off'; acl?: RouterConfig['acl'] }): RouterConfig {
  return {
    ...(o.acl ? { acl: o.acl } : {}),
    tunName: o.tunName,
    mtu: o.mtu ?? 1280,
    localAddrs: t.localAddrs,
    routes: t.routes.map((r) => r.prefix),
    localRoutes: t.localRoutes,
    forwarding: { enabled: t.advertise.routes.length > 0, snat: t.advertise.snat, statefulFiltering: t.advertise.statefulFiltering },
    netfilter: o.netfilter ?? 'on',
  };
}

/** Runs one command (argv[0] is the program); never throws for a non-zero exit. */
export interface CommandRunner {
  run(argv: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}
