// The privileged helper's API: the only OS work the desktop app cannot do as the user. It hosts the
// engine's Router port (main/engine/router: addresses, table-52 routes, ip rules, firewall chains,
// with exact restore) for an app that runs the engine in-process. Tiny on purpose, and every
// request schema-checked by the helper before it acts: the helper trusts nothing the app sends.
// Wire: one JSON request per line on a root-owned 0600 unix socket, one JSON reply per line.
// Not here yet: opening the TUN (its descriptor must travel over SCM_RIGHTS, which Node's net
// module cannot receive; the native addon will) and DNS (the engine's resolv.conf manager).
import { z } from 'zod';
import { ErrorBodySchema } from '../../../common/errors/errors.js';
import { FilterRuleSchema } from '../../engine/netmap/tailcfg.js';

export const HELPER_PROTOCOL_VERSION = 1;

const IfName = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'interface names are 1-15 of [A-Za-z0-9_.-]');
const IPv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/);
const IPv6 = z.string().regex(/^[0-9a-fA-F:.]{2,45}$/).refine((s) => s.includes(':'), 'not an IPv6 address');
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
    tunName: IfName,
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

export const HelperRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('hello'), version: z.number().int() }).strict(),
  z.object({ op: z.literal('router.set'), config: RouterConfigSchema, filter: HelperFilterSchema.optional() }).strict(),
  /** Undo exactly what this helper installed (per its state file). Idempotent. */
  z.object({ op: z.literal('router.restore') }).strict(),
  /** After a crash: restore what a killed predecessor left. */
  z.object({ op: z.literal('router.repair') }).strict(),
]);
export type HelperRequest = z.infer<typeof HelperRequestSchema>;

export const HelperReplySchema = z.union([
  z.object({ ok: z.literal(true), version: z.number().int().optional() }).strict(),
  z.object({ ok: z.literal(false), error: ErrorBodySchema }).strict(),
]);
export type HelperReply = z.infer<typeof HelperReplySchema>;

/** Longest request line the helper reads (a big route set is ~30 bytes per route). */
export const HELPER_MAX_LINE = 4 << 20;
