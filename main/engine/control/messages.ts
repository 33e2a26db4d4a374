// The control-protocol request/response bodies this client sends and reads, with tailscale's JSON
// field names (tailcfg/tailcfg.go: OverTLSPublicKeyResponse, RegisterRequest, RegisterResponse,
// MapRequest, Hostinfo, NetInfo, EarlyNoise). Keys travel as their text forms (`nodekey:…`).
// MapResponse and everything inside it belong to main/engine/netmap/tailcfg.ts.
import { z } from 'zod';

const hex64 = '[0-9a-fA-F]{64}';
export const MachineKeyText = z.string().regex(new RegExp(`^mkey:${hex64}$`), 'expected mkey:<64 hex>');
export const NodeKeyText = z.string().regex(new RegExp(`^nodekey:${hex64}$`), 'expected nodekey:<64 hex>');
export const DiscoKeyText = z.string().regex(new RegExp(`^discokey:${hex64}$`), 'expected discokey:<64 hex>');
/** RFC 3339 time as Go writes it; `0001-01-01T00:00:00Z` is Go's zero time ("none"). */
export const GoTime = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/, 'expected an RFC 3339 time');
export const ZERO_TIME = '0001-01-01T00:00:00Z';
/** What Tailscale sends as Expiry to log out: a time in the past (Unix 123). */
export const LOGOUT_EXPIRY = '1970-01-01T00:02:03Z';

/** GET /key?v=<capver> answer; note the lower-case JSON names (explicit tags in tailcfg). */
export const OverTLSPublicKeyResponseSchema = z.object({
  legacyPublicKey: MachineKeyText.optional(),
  publicKey: MachineKeyText,
});
export type OverTLSPublicKeyResponse = z.infer<typeof OverTLSPublicKeyResponseSchema>;

/** First plaintext after the handshake, before HTTP/2 (tailcfg.EarlyNoise). The challenge is unused by clients today. */
export const EarlyNoiseSchema = z.looseObject({
  nodeKeyChallenge: z.string().regex(new RegExp(`^chalpub:${hex64}$`)).optional(),
});
export type EarlyNoise = z.infer<typeof EarlyNoiseSchema>;

/** opt.Bool: JSON true, false or null (unknown). */
const OptBool = z.boolean().nullable().optional();

export const NetInfoSchema = z.looseObject({
  MappingVariesByDestIP: OptBool,
  WorkingIPv6: OptBool,
  OSHasIPv6: OptBool,
  WorkingUDP: OptBool,
  WorkingICMPv4: OptBool,
  HavePortMap: z.boolean().optional(),
  UPnP: OptBool,
  PMP: OptBool,
  PCP: OptBool,
  PreferredDERP: z.number().int().nonnegative().optional(),
  LinkType: z.string().optional(),
  DERPLatency: z.record(z.string(), z.number()).optional(),
  FirewallMode: z.string().optional(),
});
export type NetInfo = z.infer<typeof NetInfoSchema>;

export const ServiceSchema = z.object({
  Proto: z.string(),
  Port: z.number().int().min(0).max(65535),
  Description: z.string().optional(),
});

/** Hostinfo: what this node says about itself. Send the complete object every time (Headscale replaces the stored one). Unknown fields pass through. */
export const HostinfoSchema = z.looseObject({
  IPNVersion: z.string().optional(),
  FrontendLogID: z.string().optional(),
  BackendLogID: z.string().optional(),
  OS: z.string().optional(),
  OSVersion: z.string().optional(),
  Container: OptBool,
  Env: z.string().optional(),
  Distro: z.string().optional(),
  DistroVersion: z.string().optional(),
  DistroCodeName: z.string().optional(),
  App: z.string().optional(),
  Desktop: OptBool,
  Package: z.string().optional(),
  DeviceModel: z.string().optional(),
  Hostname: z.string().optional(),
  ShieldsUp: z.boolean().optional(),
  ShareeNode: z.boolean().optional(),
  NoLogsNoSupport: z.boolean().optional(),
  Machine: z.string().optional(),
  GoArch: z.string().optional(),
  GoArchVar: z.string().optional(),
  GoVersion: z.string().optional(),
  /** ADVERTISED routes, e.g. "10.1.0.0/24", "0.0.0.0/0", "::/0". */
  RoutableIPs: z.array(z.string()).optional(),
  /** Advertise-tags; Headscale rejects them together with a pre-auth key. */
  RequestTags: z.array(z.string()).optional(),
  WoLMACs: z.array(z.string()).optional(),
  Services: z.array(ServiceSchema).optional(),
  NetInfo: NetInfoSchema.nullable().optional(),
  sshHostKeys: z.array(z.string()).optional(),
  Cloud: z.string().optional(),
  Userspace: OptBool,
  UserspaceRouter: OptBool,
  AppConnector: OptBool,
  PeerRelay: z.boolean().optional(),
  ExitNodeID: z.string().optional(),
});
export type Hostinfo = z.infer<typeof HostinfoSchema>;

export const RegisterResponseAuthSchema = z.object({
  /** A pre-auth key: a secret, never logged. */
  AuthKey: z.string().min(1).optional(),
});

export const RegisterRequestSchema = z.object({
  /** Filled with the client's capver when absent. */
  Version: z.number().int().min(0).max(0xffff).optional(),
  NodeKey: NodeKeyText,
  /** Previous node key when rotating; omit (or the all-zero key) otherwise. Never an empty string. */
  OldNodeKey: NodeKeyText.optional(),
  NLKey: z.string().optional(),
  Auth: RegisterResponseAuthSchema.optional(),
  /** Zero time = server default; a past time (LOGOUT_EXPIRY) = log out. */
  Expiry: GoTime.optional(),
  /** The AuthURL from a previous answer: turns the request into a long poll for that login. */
  Followup: z.string().optional(),
  Hostinfo: HostinfoSchema,
  Ephemeral: z.boolean().optional(),
  Timestamp: GoTime.optional(),
  Tailnet: z.string().optional(),
});
export type RegisterRequest = z.input<typeof RegisterRequestSchema>;

const UserSchema = z.looseObject({
  ID: z.number().int(),
  DisplayName: z.string().optional(),
  ProfilePicURL: z.string().optional(),
  Created: z.string().optional(),
});
const LoginSchema = z.looseObject({
  ID: z.number().int(),
  Provider: z.string().optional(),
  LoginName: z.string().optional(),
  DisplayName: z.string().optional(),
  ProfilePicURL: z.string().optional(),
});

/** Go writes every field (no omitempty), but be lenient: absent = zero value. `Error` non-empty means failure. */
export const RegisterResponseSchema = z.looseObject({
  User: UserSchema.optional(),
  Login: LoginSchema.optional(),
  NodeKeyExpired: z.boolean().default(false),
  MachineAuthorized: z.boolean().default(false),
  AuthURL: z.string().default(''),
  NodeKeySignature: z.string().nullable().optional(),
  Error: z.string().default(''),
});
export type RegisterResponse = z.infer<typeof RegisterResponseSchema>;

/** tailcfg.EndpointType: 0 unknown, 1 local, 2 stun, 3 portmapped, 4 stun4localport, 5 explicitconf. */
export const EndpointTypeSchema = z.number().int().min(0).max(255);

export const MapRequestSchema = z.object({
  /** Filled with the client's capver when absent. */
  Version: z.number().int().min(0).max(0xffff).optional(),
  /** "zstd" (the default this client sends) or "" for raw JSON frames. */
  Compress: z.enum(['zstd', '']).optional(),
  KeepAlive: z.boolean().optional(),
  NodeKey: NodeKeyText,
  /** Always the real disco key: Headscale stores whatever arrives, a zero key breaks disco for peers. */
  DiscoKey: DiscoKeyText,
  /** Set by mapStream (true) and mapUpdate (false). */
  Stream: z.boolean().optional(),
  Hostinfo: HostinfoSchema,
  MapSessionHandle: z.string().optional(),
  MapSessionSeq: z.number().int().optional(),
  /** "ip:port" / "[v6]:port"; omitted keeps the stored list on Headscale, [] clears it. */
  Endpoints: z.array(z.string()).optional(),
  EndpointTypes: z.array(EndpointTypeSchema).optional(),
  TKAHead: z.string().optional(),
  ReadOnly: z.boolean().optional(),
  /** Set by mapUpdate (true). */
  OmitPeers: z.boolean().optional(),
  DebugFlags: z.array(z.string()).optional(),
});
export type MapRequest = z.input<typeof MapRequestSchema>;
