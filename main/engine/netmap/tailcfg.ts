// What the client reads from control's MapResponse, as zod schemas with tailscale's JSON field
// names (tailcfg/tailcfg.go, tailcfg/derpmap.go; control.md §7.4, §8–§10, §14–§15).
//
// Validation is deliberately loose: only fields Meshtray uses are checked, every object passes
// unknown fields through (servers add fields all the time and Go ignores unknown ones), and `null`
// is accepted wherever Go would write a nil slice/map/pointer. A field we use that has the wrong
// type (or an address/key/time that Go's decoder would refuse) rejects the whole message with a
// reason naming the path, so the caller keeps its last good netmap.
import { z } from 'zod';
import { canonicalPrefix, parseAddrPort, parseIP } from './ip.js';
import { isRFC3339 } from './go-time.js';

// ---- scalars ---------------------------------------------------------------------------------

/** int64 IDs. JSON numbers beyond 2^53 lose precision in JS, so we refuse them instead of guessing. */
const Int = z.number().int();
const NodeID = Int;

function keyText(prefix: string) {
  const re = new RegExp(`^${prefix}[0-9a-fA-F]{64}$`);
  // Tailscale parses key hex in either case and writes lower case; we store lower case so that
  // lookups by key text do not depend on the server's spelling.
  return z
    .string()
    .refine((s) => re.test(s), { message: `expected "${prefix}" followed by 64 hex digits` })
    .transform((s) => s.toLowerCase());
}
export const NodeKeyText = keyText('nodekey:');
export const DiscoKeyText = keyText('discokey:');
export const MachineKeyText = keyText('mkey:');

/** Go time.Time text. */
export const GoTime = z.string().refine(isRFC3339, { message: 'expected an RFC 3339 time' });

/** netip.Prefix text, stored canonical ("0.0.0.0/0", "fd7a:115c:a1e0::1/128"). */
export const PrefixText = z.string().transform((s, ctx) => {
  const c = canonicalPrefix(s);
  if (c === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected an IP prefix, got ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return c;
});

/** netip.AddrPort text. */
export const AddrPortText = z.string().refine((s) => parseAddrPort(s) !== undefined, { message: 'expected ip:port' });

export const IPText = z.string().refine((s) => parseIP(s) !== undefined, { message: 'expected an IP address' });

/** Decimal keys of Go maps keyed by integers (NodeID, DERP region ID). */
const IntKey = z.string().regex(/^-?\d+$/, { message: 'expected a decimal integer map key' });

/** A Go slice: absent or null = nil. */
const list = <T extends z.ZodType>(t: T) => z.array(t).nullish();

/** CapMap values are arbitrary raw JSON values; keep them as they came. */
const CapMap = z.record(z.string(), z.array(z.unknown()).nullable());

// ---- Hostinfo (only what we show or route on) -------------------------------------------------

export const ServiceSchema = z.looseObject({ Proto: z.string(), Port: Int, Description: z.string().optional() });

export const NetInfoSchema = z.looseObject({
  PreferredDERP: Int.optional(),
  LinkType: z.string().optional(),
});

export const HostinfoSchema = z.looseObject({
  IPNVersion: z.string().optional(),
  OS: z.string().optional(),
  OSVersion: z.string().optional(),
  Hostname: z.string().optional(),
  /** ANNOUNCED routes (not approved ones; those are in Node.AllowedIPs). */
  RoutableIPs: list(PrefixText),
  RequestTags: list(z.string()),
  Services: list(ServiceSchema),
  NetInfo: NetInfoSchema.nullish(),
  ShieldsUp: z.boolean().optional(),
  ShareeNode: z.boolean().optional(),
  sshHostKeys: list(z.string()),
});
export type Hostinfo = z.infer<typeof HostinfoSchema>;

// ---- Node ------------------------------------------------------------------------------------

export const NodeSchema = z.looseObject({
  ID: NodeID,
  StableID: z.string().optional(),
  /** FQDN with trailing dot (MagicDNS name); Headscale without base_domain sends the bare label. */
  Name: z.string().optional(),
  User: Int.optional(),
  Sharer: Int.optional(),
  Key: NodeKeyText,
  /** Absent or zero time = never expires. */
  KeyExpiry: GoTime.nullish(),
  KeySignature: z.string().nullish(),
  Machine: MachineKeyText.nullish(),
  DiscoKey: DiscoKeyText.nullish(),
  Addresses: list(PrefixText),
  /** Absent/null = same as Addresses; [] = route nothing (control.md §8). Normalised by the netmap. */
  AllowedIPs: list(PrefixText),
  Endpoints: list(AddrPortText),
  /** Legacy home DERP, "127.3.3.40:<region>". Folded into HomeDERP by the netmap. */
  DERP: z.string().nullish(),
  HomeDERP: Int.optional(),
  Hostinfo: HostinfoSchema.nullish(),
  Created: GoTime.nullish(),
  Cap: Int.optional(),
  Tags: list(z.string()),
  PrimaryRoutes: list(PrefixText),
  /** Only set for offline nodes (Headscale); absent = unknown. */
  LastSeen: GoTime.nullish(),
  /** Absent = unknown. */
  Online: z.boolean().nullish(),
  MachineAuthorized: z.boolean().optional(),
  /** Deprecated; the netmap folds it into CapMap for the self node. */
  Capabilities: list(z.string()),
  CapMap: CapMap.nullish(),
  UnsignedPeerAPIOnly: z.boolean().optional(),
  Expired: z.boolean().optional(),
  IsWireGuardOnly: z.boolean().optional(),
  IsJailed: z.boolean().optional(),
});
export type Node = z.infer<typeof NodeSchema>;

// ---- PeerChange (PeersChangedPatch) -----------------------------------------------------------

/** Every field except NodeID is optional; absent/zero = unchanged (control.md §7.6). */
export const PeerChangeSchema = z.looseObject({
  NodeID: NodeID,
  DERPRegion: Int.optional(),
  Cap: Int.optional(),
  CapMap: CapMap.nullish(),
  Endpoints: list(AddrPortText),
  Key: NodeKeyText.nullish(),
  KeySignature: z.string().nullish(),
  DiscoKey: DiscoKeyText.nullish(),
  Online: z.boolean().nullish(),
  LastSeen: GoTime.nullish(),
  KeyExpiry: GoTime.nullish(),
});
export type PeerChange = z.infer<typeof PeerChangeSchema>;

// ---- DERP map (tailcfg/derpmap.go; control.md §15) --------------------------------------------

export const DERPNodeSchema = z.looseObject({
  Name: z.string(),
  RegionID: Int,
  HostName: z.string(),
  CertName: z.string().optional(),
  IPv4: z.string().optional(),
  IPv6: z.string().optional(),
  /** 0 = 3478, -1 = no STUN. */
  STUNPort: Int.optional(),
  STUNOnly: z.boolean().optional(),
  /** 0 = 443. */
  DERPPort: Int.optional(),
  InsecureForTests: z.boolean().optional(),
  STUNTestIP: z.string().optional(),
  CanPort80: z.boolean().optional(),
});
export type DERPNode = z.infer<typeof DERPNodeSchema>;

export const DERPRegionSchema = z.looseObject({
  RegionID: Int,
  RegionCode: z.string(),
  RegionName: z.string().optional(),
  Latitude: z.number().optional(),
  Longitude: z.number().optional(),
  Avoid: z.boolean().optional(),
  NoMeasureNoHome: z.boolean().optional(),
  Nodes: list(DERPNodeSchema),
});
export type DERPRegion = z.infer<typeof DERPRegionSchema>;

export const DERPHomeParamsSchema = z.looseObject({
  RegionScore: z.record(IntKey, z.number()).nullish(),
});

export const DERPMapSchema = z.looseObject({
  HomeParams: DERPHomeParamsSchema.nullish(),
  /** Null region values were seen from Headscale; the netmap drops them. Null Regions = keep the previous ones. */
  Regions: z.record(IntKey, DERPRegionSchema.nullable()).nullish(),
  omitDefaultRegions: z.boolean().optional(),
});
export type DERPMap = z.infer<typeof DERPMapSchema>;

// ---- DNS (control.md §9) ---------------------------------------------------------------------

export const ResolverSchema = z.looseObject({
  Addr: z.string().optional(),
  BootstrapResolution: list(IPText),
  UseWithExitNode: z.boolean().optional(),
});
export type Resolver = z.infer<typeof ResolverSchema>;

export const DNSRecordSchema = z.looseObject({ Name: z.string(), Type: z.string().optional(), Value: z.string() });

export const DNSConfigSchema = z.looseObject({
  Resolvers: list(ResolverSchema),
  /** Split DNS. An empty (or null) list for a suffix means "answer it ourselves" and must be kept. */
  Routes: z.record(z.string(), z.array(ResolverSchema).nullable()).nullish(),
  FallbackResolvers: list(ResolverSchema),
  Domains: list(z.string()),
  /** MagicDNS on. */
  Proxied: z.boolean().optional(),
  ExtraRecords: list(DNSRecordSchema),
  CertDomains: list(z.string()),
  ExitNodeFilteredSet: list(z.string()),
});
export type DNSConfig = z.infer<typeof DNSConfigSchema>;

// ---- Packet filter (control.md §10) -----------------------------------------------------------

export const PortRangeSchema = z.looseObject({ First: Int.min(0).max(65535), Last: Int.min(0).max(65535) });

export const NetPortRangeSchema = z.looseObject({
  /** IP, CIDR, range "a-b" or "*"; parsed (and bad entries dropped) by the filter, as Tailscale does. */
  IP: z.string(),
  Bits: Int.nullish(),
  Ports: PortRangeSchema,
});

export const CapGrantSchema = z.looseObject({
  Dsts: list(PrefixText),
  Caps: list(z.string()),
  CapMap: z.record(z.string(), z.array(z.unknown()).nullable()).nullish(),
});

export const FilterRuleSchema = z.looseObject({
  SrcIPs: list(z.string()),
  SrcBits: list(Int),
  DstPorts: list(NetPortRangeSchema),
  IPProto: list(Int),
  CapGrant: list(CapGrantSchema),
});
export type FilterRule = z.infer<typeof FilterRuleSchema>;

// ---- Users, pings, the rest -------------------------------------------------------------------

export const TailcfgUserProfileSchema = z.looseObject({
  ID: Int,
  LoginName: z.string().optional(),
  DisplayName: z.string().optional(),
  ProfilePicURL: z.string().optional(),
  Groups: list(z.string()),
});
export type TailcfgUserProfile = z.infer<typeof TailcfgUserProfileSchema>;

export const PingRequestSchema = z.looseObject({
  URL: z.string(),
  URLIsNoise: z.boolean().optional(),
  Log: z.boolean().optional(),
  /** Empty = HEAD URL; else comma list of disco,TSMP,ICMP,peerapi or "c2n". */
  Types: z.string().optional(),
  IP: z.string().optional(),
  /** base64 ([]byte). */
  Payload: z.string().nullish(),
});
export type PingRequest = z.infer<typeof PingRequestSchema>;

export const DebugSchema = z.looseObject({
  SleepSeconds: z.number().optional(),
  DisableLogTail: z.boolean().optional(),
  Exit: Int.nullish(),
});

export const DisplayMessageSchema = z.looseObject({
  Title: z.string().optional(),
  Text: z.string().optional(),
  Severity: z.string().optional(),
  ImpactsConnectivity: z.boolean().optional(),
});
export type DisplayMessage = z.infer<typeof DisplayMessageSchema>;

/** Tailscale SSH policy: lower-case JSON names; we only carry it (Meshtray runs no SSH server yet). */
export const SSHPolicySchema = z.looseObject({ rules: list(z.looseObject({})) });
export type SSHPolicy = z.infer<typeof SSHPolicySchema>;

// ---- MapResponse -----------------------------------------------------------------------------

export const MapResponseSchema = z.looseObject({
  MapSessionHandle: z.string().optional(),
  Seq: Int.optional(),
  /** Only a keep-alive: everything but PingRequest/ControlTime/PopBrowserURL is ignored. */
  KeepAlive: z.boolean().optional(),
  PingRequest: PingRequestSchema.nullish(),
  PopBrowserURL: z.string().optional(),
  /** Self node; absent = unchanged; mandatory in the first non-keep-alive message of a stream. */
  Node: NodeSchema.nullish(),
  DERPMap: DERPMapSchema.nullish(),
  /** Non-empty = the COMPLETE peer list; all other peer deltas in the message are ignored. */
  Peers: list(NodeSchema),
  PeersChanged: list(NodeSchema),
  PeersRemoved: list(NodeID),
  PeersChangedPatch: list(PeerChangeSchema),
  PeerSeenChange: z.record(IntKey, z.boolean()).nullish(),
  OnlineChange: z.record(IntKey, z.boolean()).nullish(),
  DNSConfig: DNSConfigSchema.nullish(),
  /** Tailnet display name (Headscale: its server_url host); "" = unchanged. */
  Domain: z.string().optional(),
  /** opt.Bool: true/false, null = unchanged. */
  CollectServices: z.boolean().nullish(),
  /** Legacy whole filter = named chunk "base"; [] = deny all. */
  PacketFilter: list(FilterRuleSchema),
  /** Named chunks; key "*" with null clears all; a null chunk deletes it. */
  PacketFilters: z.record(z.string(), z.array(FilterRuleSchema).nullable()).nullish(),
  UserProfiles: list(TailcfgUserProfileSchema),
  /** Present = replace ([] = healthy). */
  Health: list(z.string()),
  DisplayMessages: z.record(z.string(), DisplayMessageSchema.nullable()).nullish(),
  SSHPolicy: SSHPolicySchema.nullish(),
  ControlTime: GoTime.nullish(),
  TKAInfo: z.looseObject({}).nullish(),
  DomainDataPlaneAuditLogID: z.string().optional(),
  Debug: DebugSchema.nullish(),
  ControlDialPlan: z.looseObject({}).nullish(),
  ClientVersion: z.looseObject({}).nullish(),
  DefaultAutoUpdate: z.boolean().nullish(),
});
export type MapResponse = z.infer<typeof MapResponseSchema>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** "Peers[3].Addresses[0]" from a zod issue path. */
function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(root)';
}

/** At most three issues, each "path: message": enough to find the bad field in a log line. */
export function describeIssues(err: z.ZodError): string {
  const issues = err.issues;
  const shown = issues.slice(0, 3).map((i) => `${pathText(i.path)}: ${i.message}`);
  if (issues.length > 3) shown.push(`(+${issues.length - 3} more)`);
  return shown.join('; ');
}

/**
 * Validates one decoded MapResponse (the JSON value, after framing and zstd). Never throws.
 * The returned value is a fresh object: keys are lower-cased, prefixes canonical.
 */
export function parseMapResponse(raw: unknown): ParseResult<MapResponse> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, reason: `MapResponse must be a JSON object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'an array' : typeof raw}` };
  }
  const r = MapResponseSchema.safeParse(raw);
  if (!r.success) return { ok: false, reason: `invalid MapResponse: ${describeIssues(r.error)}` };
  return { ok: true, value: r.data };
}
