// The engine's status, shaped like tailscale's ipnstate.Status so that tools written for
// `tailscale status --json` read `meshtray status --json` unchanged. Field names are tailscale's.
import { z } from 'zod';

export const BackendStateSchema = z.enum(['NoState', 'NeedsLogin', 'NeedsMachineAuth', 'Stopped', 'Starting', 'Running']);
export type BackendState = z.infer<typeof BackendStateSchema>;

export const PeerStatusSchema = z.object({
  ID: z.string(),
  PublicKey: z.string(),
  HostName: z.string(),
  DNSName: z.string(),
  OS: z.string(),
  UserID: z.number(),
  TailscaleIPs: z.array(z.string()),
  AllowedIPs: z.array(z.string()).optional(),
  Tags: z.array(z.string()).optional(),
  PrimaryRoutes: z.array(z.string()).optional(),
  /** Endpoints the peer announced (ip:port). */
  Addrs: z.array(z.string()).nullable().optional(),
  /** ip:port of the direct path in use; "" when relayed or idle. */
  CurAddr: z.string(),
  /** DERP region code of the peer's home relay. */
  Relay: z.string(),
  RxBytes: z.number(),
  TxBytes: z.number(),
  Created: z.string(),
  LastSeen: z.string().optional(),
  LastHandshake: z.string(),
  Online: z.boolean(),
  ExitNode: z.boolean(),
  ExitNodeOption: z.boolean(),
  Active: z.boolean(),
  InNetworkMap: z.boolean(),
  InMagicSock: z.boolean(),
  InEngine: z.boolean(),
  Expired: z.boolean().optional(),
  KeyExpiry: z.string().optional(),
});
export type PeerStatus = z.infer<typeof PeerStatusSchema>;

export const UserProfileSchema = z.object({
  ID: z.number(),
  LoginName: z.string(),
  DisplayName: z.string(),
  ProfilePicURL: z.string().optional(),
});
export type UserProfile = z.infer<typeof UserProfileSchema>;

export const StatusSchema = z.object({
  Version: z.string(),
  TUN: z.boolean(),
  BackendState: BackendStateSchema,
  HaveNodeKey: z.boolean(),
  AuthURL: z.string(),
  TailscaleIPs: z.array(z.string()).nullable(),
  Self: PeerStatusSchema.nullable(),
  Health: z.array(z.string()).nullable(),
  MagicDNSSuffix: z.string(),
  CurrentTailnet: z.object({ Name: z.string(), MagicDNSSuffix: z.string(), MagicDNSEnabled: z.boolean() }).nullable(),
  /** Keyed by the peer's node key text (nodekey:…), as tailscale does. */
  Peer: z.record(z.string(), PeerStatusSchema).nullable(),
  /** Keyed by the user ID as a decimal string (JSON object keys), as tailscale does. */
  User: z.record(z.string(), UserProfileSchema).nullable(),
  ClientVersion: z.null().optional(),
});
export type Status = z.infer<typeof StatusSchema>;
