// The privileged helper's API: the only OS work the desktop app cannot do as the user, for an app
// that runs the engine in-process (README "The privileged helper"). Tiny on purpose, and every
// request schema-checked by the helper before it acts: the helper trusts nothing the app sends.
//   - tun.open: create the TUN (name must start with "meshtray") and a UDP socket carrying the
//     bypass mark (SO_MARK needs CAP_NET_ADMIN), and hand both descriptors over SCM_RIGHTS with the
//     reply line (the native addon sends and receives them; Node's net module cannot).
//   - router.*: the engine's Router port (main/engine/router: addresses, table-52 routes, ip rules,
//     firewall chains incl. the kernel ACL, which the helper compiles itself from the packet
//     filter), with exact restore.
//   - dns.*: the engine's DirectResolvConf (resolv.conf with a byte-for-byte backup in the
//     helper's state directory).
//   - session.hold: a connection the app keeps open while it uses the helper; when the last one
//     closes (the app quit or crashed) the helper restores routes, DNS and removes its TUN.
// Wire: one JSON request per line on a unix socket (SO_PEERCRED checked), one JSON reply per line;
// tun.open's reply line carries two descriptors (TUN, then UDP).
import { z } from 'zod';
import { ErrorBodySchema } from '../../../common/errors/errors.js';
import { FilterRuleSchema } from '../../engine/netmap/tailcfg.js';

/** 2: tun.open, dns.set/restore/base, session.hold; router.set only on a "meshtray…" interface. */
export const HELPER_PROTOCOL_VERSION = 2;

const IfName = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'interface names are 1-15 of [A-Za-z0-9_.-]');
/**
 * The only interfaces the helper configures: its own TUNs. Without this an allowed user could put
 * addresses, routes or an MTU on eth0 as root.
 */
export const TunNameSchema = IfName.refine((s) => /^meshtray[0-9a-z_-]{0,7}$/.test(s), 'the helper only manages interfaces named meshtray…');
const IPv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/);
const IPv6 = z.string().regex(/^[0-9a-fA-F:.]{2,45}$/).refine((s) => s.includes(':'), 'not an IPv6 address');
export const IPSchema = z.union([IPv4, IPv6]);
export const PrefixSchema = z.string().refine((s) => {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const n = Number(bits);
  if (IPv4.safeParse(addr).success) return n <= 32;
  return IPv6.safeParse(addr).success && n <= 128;
}, 'expected an IP prefix like 100.64.0.1/32 or fd7a:115c:a1e0::1/128');

/**
 * main/engine/router RouterConfig, field for field, except `acl`: compiled iptables chains are
 * never accepted from the app (that would let it install any firewall rule as root). The app sends
 * the netmap's packet filter instead (`filter` below) and the helper compiles it itself with the
 * engine's compileKernelACL.
 */
export const RouterConfigSchema = z
  .object({
    tunName: TunNameSchema,
    mtu: z.number().int().min(576).max(9000),
    localAddrs: z.array(PrefixSchema).max(16),
    routes: z.array(PrefixSchema).max(100_000),
    localRoutes: z.array(PrefixSchema).max(10_000),
    forwarding: z.object({ enabled: z.boolean(), snat: z.boolean(), statefulFiltering: z.boolean() }).strict(),
    netfilter: z.enum(['on', 'off']),
    serviceAddrs: z.array(PrefixSchema).max(8).optional(),
  })
  .strict();

/** The netmap's packet filter (tailcfg FilterRule, as the engine parses it) and our local networks. */
export const HelperFilterSchema = z
  .object({
    rules: z.array(FilterRuleSchema).max(10_000),
    localNets: z.array(PrefixSchema).max(1_000),
  })
  .strict();

/** A search domain as resolv.conf(5) takes it: labels only, so nothing can smuggle in a second line. */
const DomainSchema = z.string().max(253).regex(/^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/, 'not a DNS name');

/** main/engine/dns OSDNSConfig: what goes into resolv.conf. */
export const OSDNSConfigSchema = z
  .object({
    nameservers: z.array(IPSchema).max(8),
    searchDomains: z.array(DomainSchema).max(32),
  })
  .strict();

export const TunOpenSchema = z
  .object({
    name: TunNameSchema,
    mtu: z.number().int().min(1280).max(9000),
    /** CIDRs for the TUN: at most one IPv4 (native openTunFd). */
    addresses: z.array(PrefixSchema).max(4).refine((a) => a.filter((p) => !p.includes(':')).length <= 1, 'at most one IPv4 address'),
    /** 0 = any; never a privileged port (the socket is created as root). */
    port: z.number().int().min(0).max(65535).refine((p) => p === 0 || p >= 1024, 'ports below 1024 are refused'),
  })
  .strict();
export type TunOpen = z.infer<typeof TunOpenSchema>;

export const HelperRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('hello'), version: z.number().int() }).strict(),
  z.object({ op: z.literal('router.set'), config: RouterConfigSchema, filter: HelperFilterSchema.optional() }).strict(),
  /** Undo exactly what this helper installed (per its state file). Idempotent. */
  z.object({ op: z.literal('router.restore') }).strict(),
  /** After a crash: restore what a killed predecessor left. */
  z.object({ op: z.literal('router.repair') }).strict(),
  z.object({ op: z.literal('tun.open'), tun: TunOpenSchema }).strict(),
  /** Install this resolver config; no nameservers = restore the original. */
  z.object({ op: z.literal('dns.set'), config: OSDNSConfigSchema }).strict(),
  z.object({ op: z.literal('dns.restore') }).strict(),
  /** The OS's own resolver config (from the backup while ours is installed). */
  z.object({ op: z.literal('dns.base') }).strict(),
  /** Keep this connection open while the app uses the helper; its end restores everything. */
  z.object({ op: z.literal('session.hold') }).strict(),
]);
export type HelperRequest = z.infer<typeof HelperRequestSchema>;

export const HelperReplySchema = z.union([
  z
    .object({
      ok: z.literal(true),
      version: z.number().int().optional(),
      /** tun.open: the kernel's name for the TUN, the UDP socket's port, whether the TUN has offloads. */
      tun: z.object({ name: IfName, port: z.number().int().min(1).max(65535), offload: z.boolean() }).strict().optional(),
      /** dns.base. */
      base: OSDNSConfigSchema.optional(),
    })
    .strict(),
  z.object({ ok: z.literal(false), error: ErrorBodySchema }).strict(),
]);
export type HelperReply = z.infer<typeof HelperReplySchema>;

/** Longest request line the helper reads (a big route set is ~30 bytes per route). */
export const HELPER_MAX_LINE = 4 << 20;
