// The privileged helper's API: the only OS work the app cannot do as the user. Tiny on purpose,
// every request schema-checked by the helper before it acts (the helper trusts nothing the app
// sends). One JSON request per line on a root-owned unix socket; one JSON reply per line.
// The TUN is opened by the helper and its descriptor passed back over the socket (SCM_RIGHTS);
// Node's net module cannot receive descriptors, so the native addon does that side.
import { z } from 'zod';
import { ErrorBodySchema } from '../../../common/errors/errors.js';

const IfName = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'interface names are 1-15 of [A-Za-z0-9_.-]');
const IPv4 = z.string().regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/);
const IPv6 = z.string().regex(/^[0-9a-fA-F:]{2,39}$/).refine((s) => s.includes(':'), 'not an IPv6 address');
const IP = z.union([IPv4, IPv6]);
export const PrefixSchema = z.string().refine((s) => {
  const [addr, bits, extra] = s.split('/');
  if (extra !== undefined || addr === undefined || bits === undefined || !/^\d{1,3}$/.test(bits)) return false;
  const n = Number(bits);
  if (IPv4.safeParse(addr).success) return n <= 32;
  return IPv6.safeParse(addr).success && n <= 128;
}, 'expected an IP prefix like 100.64.0.1/32 or fd7a:115c:a1e0::1/128');
const DomainSchema = z.string().regex(/^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?)+$/);

export const HelperRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('hello'), version: z.number().int() }).strict(),
  z.object({ op: z.literal('openTun'), name: IfName, mtu: z.number().int().min(1280).max(9000) }).strict(),
  z.object({ op: z.literal('setAddresses'), ifName: IfName, prefixes: z.array(PrefixSchema).max(16) }).strict(),
  z.object({ op: z.literal('setRoutes'), ifName: IfName, routes: z.array(PrefixSchema).max(10_000), table: z.number().int().min(1).max(252).optional() }).strict(),
  z.object({ op: z.literal('setDNS'), ifName: IfName, nameservers: z.array(IP).max(8), searchDomains: z.array(DomainSchema).max(32), matchDomains: z.array(DomainSchema).max(256) }).strict(),
  /** Undo everything this helper did for ifName (addresses, routes, DNS) and close the TUN. */
  z.object({ op: z.literal('restore'), ifName: IfName }).strict(),
]);
export type HelperRequest = z.infer<typeof HelperRequestSchema>;

export const HelperReplySchema = z.union([
  z.object({ ok: z.literal(true), version: z.number().int().optional(), fdAttached: z.boolean().optional() }).strict(),
  z.object({ ok: z.literal(false), error: ErrorBodySchema }).strict(),
]);
export type HelperReply = z.infer<typeof HelperReplySchema>;

export const HELPER_PROTOCOL_VERSION = 1;

/**
 * The Linux side of the helper, as argv lists (no shell, so nothing in a request can inject a command).
 * setDNS goes through systemd-resolved's resolvectl, the way tailscaled's "direct/resolved" manager does
 * on systemd hosts (tailscale net/dns/manager_linux.go); openTun is native (ioctl TUNSETIFF) and not here.
 */
export function linuxCommands(req: HelperRequest): string[][] {
  switch (req.op) {
    case 'hello':
    case 'openTun':
      return [];
    case 'setAddresses':
      return [['ip', 'address', 'flush', 'dev', req.ifName], ...req.prefixes.map((p) => ['ip', 'address', 'add', p, 'dev', req.ifName])];
    case 'setRoutes': {
      const table = String(req.table ?? 52); // tailscale uses table 52 (wgengine/router/osrouter/router_linux.go)
      return [['ip', 'route', 'flush', 'table', table, 'dev', req.ifName], ...req.routes.map((r) => ['ip', ...(r.includes(':') ? ['-6'] : []), 'route', 'replace', r, 'dev', req.ifName, 'table', table])];
    }
    case 'setDNS':
      return [
        ['resolvectl', 'dns', req.ifName, ...req.nameservers],
        ['resolvectl', 'domain', req.ifName, ...req.searchDomains, ...req.matchDomains.map((d) => `~${d}`)],
      ];
    case 'restore':
      return [['resolvectl', 'revert', req.ifName], ['ip', 'link', 'delete', req.ifName]];
  }
}
