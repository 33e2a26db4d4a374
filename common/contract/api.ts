// The one API of the engine. The LocalAPI server (daemon), its client (CLI, desktop app),
// the Electron IPC bridge and the renderer's test harness are all built from this table,
// so no call is declared twice. Every request and response has a runtime schema.
import { z } from 'zod';
import { StatusSchema } from '../schemas/status.js';
import { MaskedPrefsSchema, PrefsSchema } from '../schemas/prefs.js';

export const StartRequestSchema = z.object({
  /** Preferences to apply before starting (from `up` flags). */
  Prefs: MaskedPrefsSchema.optional(),
  /** Pre-auth key for a non-interactive login. Never logged, never echoed back. */
  AuthKey: z.string().optional(),
  /** Drop the node key and log in again even if logged in (`up --force-reauth`). */
  ForceReauth: z.boolean().optional(),
});
export type StartRequest = z.infer<typeof StartRequestSchema>;

export const PingRequestSchema = z.object({
  /** A tailnet IP or a peer's name. */
  Target: z.string(),
  Type: z.enum(['disco', 'TSMP', 'ICMP']).default('disco'),
  TimeoutMs: z.number().int().positive().max(60_000).default(5_000),
});
export const PingResultSchema = z.object({
  IP: z.string(),
  NodeIP: z.string().optional(),
  NodeName: z.string().optional(),
  Err: z.string().optional(),
  LatencySeconds: z.number().optional(),
  /** ip:port when the pong came over the direct path. */
  Endpoint: z.string().optional(),
  /** DERP region ID when relayed. */
  DERPRegionID: z.number().optional(),
  DERPRegionCode: z.string().optional(),
});
export type PingResult = z.infer<typeof PingResultSchema>;

export const EmptySchema = z.object({}).strict();

/** `meshtray why <ip|name>`: which way a packet to that address would go right now. */
export const WhyRequestSchema = z.object({
  /** A tailnet IP, any IP, or a peer's MagicDNS name (short or FQDN). */
  Dest: z.string().min(1).max(255),
});
const PeerPathSchema = z.union([
  z.object({ kind: z.literal('direct'), endpoint: z.string() }),
  z.object({ kind: z.literal('relayed'), derpRegion: z.string() }),
  z.object({ kind: z.literal('unknown') }),
]);
/** The engine's answer (main/engine/routes/why.ts WhyAnswer), from the route table it installed. */
export const WhyAnswerSchema = z.object({
  dest: z.string(),
  ip: z.string(),
  verdict: z.enum(['self', 'magicdns', 'local-lan', 'exit-node', 'subnet-router', 'peer', 'blocked', 'not-routed']),
  node: z.object({ id: z.number(), name: z.string(), addresses: z.array(z.string()) }).optional(),
  prefix: z.string().optional(),
  interface: z.string().optional(),
  path: PeerPathSchema.optional(),
  reason: z.string(),
  /** The one line the CLI prints and the app shows. */
  text: z.string(),
});
export type WhyAnswerWire = z.infer<typeof WhyAnswerSchema>;

/** OS-integration counters and state for `meshtray debug metrics` and the app's diagnostics. */
export const OSMetricsSchema = z.object({
  /** Inbound packets dropped by the netmap's packet filter (kernel ACL), by reason. */
  FilterDrops: z.object({ acl: z.number(), notLocal: z.number() }),
  /** MagicDNS resolver counters (queries, local, forwarded, servfail, nxdomain, malformed, dropped). */
  DNS: z.record(z.string(), z.number()),
  /** Route-table warnings of the last apply (overlaps, conflicts, an unusable exit node). */
  RouteWarnings: z.array(z.object({ code: z.string(), message: z.string() })),
  /** Whether MagicDNS is installed as the OS resolver right now (--accept-dns). */
  OSResolverInstalled: z.boolean(),
  /** OS applies that succeeded / failed since start. */
  Applies: z.number(),
  ApplyErrors: z.number(),
});
export type OSMetrics = z.infer<typeof OSMetricsSchema>;

/** `netcheck`: the report in `tailscale netcheck --format=json` shape, plus region names to print it. */
export const NetcheckResultSchema = z.object({
  Report: z.looseObject({
    Now: z.string(),
    UDP: z.boolean(),
    IPv4: z.boolean(),
    IPv6: z.boolean(),
    OSHasIPv6: z.boolean(),
    MappingVariesByDestIP: z.boolean().nullable(),
    PreferredDERP: z.number(),
    RegionLatency: z.record(z.string(), z.number()),
    GlobalV4: z.string(),
    GlobalV6: z.string(),
  }),
  Regions: z.array(z.object({ RegionID: z.number(), RegionCode: z.string(), RegionName: z.string() })),
});

/** The data path's counters for `debug metrics` (drops by reason, packets into JS, disco, DERP). */
export const MetricsResultSchema = z.object({ Counters: z.record(z.string(), z.number()) });

/** One DNS resolver as `tailscale dns status --json` prints it (tsdnsjsonv0.ResolverInfo). */
export const DNSResolverInfoSchema = z.object({
  /** A plain IP, ip:port, or a DoH URL. */
  Addr: z.string(),
  BootstrapResolution: z.array(z.string()).optional(),
});
export type DNSResolverInfo = z.infer<typeof DNSResolverInfoSchema>;

/** Nameservers + search domains of a resolver configuration (tsdnsjsonv0.SystemConfig). */
const DNSOSConfigSchema = z.object({
  Nameservers: z.array(z.string()),
  SearchDomains: z.array(z.string()),
  /** Suffixes these nameservers are limited to; empty = primary resolver (always empty in direct resolv.conf mode). */
  MatchDomains: z.array(z.string()),
});

/**
 * `meshtray dns status`: the fields of `tailscale dns status --json` (tailscale
 * cmd/tailscale/tsdnsjsonv0/status.go StatusResponse, same names, so scripts read both), plus what
 * this engine did with them (`Meshtray`): the resolver it wrote into the OS and where quad-100
 * sends each suffix. Read-only and secret-free, so the desktop app may expose it over IPC like `why`.
 * Optional: an engine that does not manage the OS (userspace networking, not root) answers ERR_NOT_FOUND.
 */
export const DNSStatusSchema = z.object({
  /** Prefs.CorpDNS (--accept-dns): whether the tailnet's DNS settings are used on this device. */
  TailscaleDNS: z.boolean(),
  /** Absent before the first netmap (not logged in / never connected). */
  CurrentTailnet: z
    .object({
      /** DNSConfig.Proxied: MagicDNS on for the whole tailnet. */
      MagicDNSEnabled: z.boolean(),
      MagicDNSSuffix: z.string().optional(),
      /** This device's FQDN with the trailing dot. */
      SelfDNSName: z.string().optional(),
    })
    .optional(),
  /** The netmap's DNSConfig as control sent it (not what this device does with it: see Meshtray). */
  Resolvers: z.array(DNSResolverInfoSchema).optional(),
  /** Suffixes with their own resolvers; suffixes control sends without resolvers are left out, as tailscale does. */
  SplitDNSRoutes: z.record(z.string(), z.array(DNSResolverInfoSchema)).optional(),
  FallbackResolvers: z.array(DNSResolverInfoSchema).optional(),
  SearchDomains: z.array(z.string()).optional(),
  CertDomains: z.array(z.string()).optional(),
  ExtraRecords: z.array(z.object({ Name: z.string(), Type: z.string().optional(), Value: z.string() })).optional(),
  ExitNodeFilteredSet: z.array(z.string()).optional(),
  /** The OS's own resolver configuration (the one from before Meshtray changed it, as tailscale's GetBaseConfig). */
  SystemDNS: DNSOSConfigSchema.optional(),
  SystemDNSError: z.string().optional(),
  /** What this engine did: absent when it has not applied a netmap yet (not running). */
  Meshtray: z
    .object({
      /** Whether Meshtray's resolver configuration is in the OS right now (resolv.conf written by us). */
      OSResolverInstalled: z.boolean(),
      /** How the OS resolver is configured: 'direct' = /etc/resolv.conf; 'none' = not managed on this host. */
      OSResolverMode: z.enum(['direct', 'none']),
      /** What was written into the OS when installed (e.g. nameserver 100.100.100.100 + the search domains). */
      OSResolver: DNSOSConfigSchema.optional(),
      /** Why the OS resolver is not installed, in one line (when it is not). */
      OSResolverReason: z.string().optional(),
      /** Where quad-100 forwards each suffix ("." = everything else), longest suffix wins. */
      Routes: z.record(z.string(), z.array(DNSResolverInfoSchema)),
      /** Suffixes quad-100 answers itself (MagicDNS names, reverse zones, extra records); never forwarded. */
      LocalDomains: z.array(z.string()),
    })
    .optional(),
});
export type DNSStatus = z.infer<typeof DNSStatusSchema>;

/** Each call: HTTP method + path on the LocalAPI, request body schema (or query), response schema. */
export const api = {
  status: { method: 'GET', path: '/localapi/v0/status', request: EmptySchema, response: StatusSchema },
  getPrefs: { method: 'GET', path: '/localapi/v0/prefs', request: EmptySchema, response: PrefsSchema },
  editPrefs: { method: 'PATCH', path: '/localapi/v0/prefs', request: MaskedPrefsSchema, response: PrefsSchema },
  start: { method: 'POST', path: '/localapi/v0/start', request: StartRequestSchema, response: EmptySchema },
  loginInteractive: { method: 'POST', path: '/localapi/v0/login-interactive', request: EmptySchema, response: EmptySchema },
  down: { method: 'POST', path: '/localapi/v0/down', request: EmptySchema, response: EmptySchema },
  logout: { method: 'POST', path: '/localapi/v0/logout', request: EmptySchema, response: EmptySchema },
  ping: { method: 'POST', path: '/localapi/v0/ping', request: PingRequestSchema, response: PingResultSchema },
  why: { method: 'POST', path: '/localapi/v0/why', request: WhyRequestSchema, response: WhyAnswerSchema },
  osMetrics: { method: 'GET', path: '/localapi/v0/os-metrics', request: EmptySchema, response: OSMetricsSchema },
  netcheck: { method: 'POST', path: '/localapi/v0/netcheck', request: EmptySchema, response: NetcheckResultSchema },
  metrics: { method: 'GET', path: '/localapi/v0/metrics', request: EmptySchema, response: MetricsResultSchema },
  dnsStatus: { method: 'GET', path: '/localapi/v0/dns-status', request: EmptySchema, response: DNSStatusSchema },
} as const;

/**
 * Calls an engine may lack (an older engine, a test double, the app's in-process host before it
 * has an OS integration): the LocalAPI answers ERR_NOT_FOUND for them instead of failing to build.
 */
export const OPTIONAL_CALLS = ['why', 'osMetrics', 'netcheck', 'metrics', 'dnsStatus'] as const satisfies readonly ApiName[];
export type OptionalApiName = (typeof OPTIONAL_CALLS)[number];

export type Api = typeof api;
export type ApiName = keyof Api;
export type ApiRequest<N extends ApiName> = z.input<Api[N]['request']>;
export type ApiResponse<N extends ApiName> = z.infer<Api[N]['response']>;

/** The Notify stream: newline-delimited JSON of NotifySchema objects. */
export const WATCH_PATH = '/localapi/v0/watch-ipn-bus';
