// The netmap's part of `status --json`, shaped like tailscale's ipnstate.Status
// (common/schemas/status.ts) so tools written for `tailscale status --json` read ours.
// Field by field this follows tailscale ipn/ipnlocal/local.go (UpdateStatus,
// populatePeerStatusLocked, peerStatusFromNode) and wgengine/magicsock (Relay, Addrs); data-plane
// fields (CurAddr, Rx/TxBytes, LastHandshake, Active, InMagicSock, InEngine) come from `extras`
// and stay zero until the data plane exists.
import type { PeerStatus, UserProfile } from '../../../common/schemas/status.js';
import type { NetMap, NetNode } from './netmap.js';
import { containsExitRoutes, isTailscaleIP, parseIP } from './ip.js';
import { GO_ZERO_TIME, isZeroTime, roundGoTimeToSecond } from './go-time.js';

/** What the data plane knows about a peer; everything defaults to "nothing yet". */
export interface PeerExtras {
  /** ip:port of the direct path in use; "" when relayed or idle. */
  CurAddr?: string;
  RxBytes?: number;
  TxBytes?: number;
  /** Go time text of the last WireGuard handshake. */
  LastHandshake?: string;
  Active?: boolean;
  InMagicSock?: boolean;
  InEngine?: boolean;
}

export interface StatusOptions {
  /** StableID of the exit node selected in prefs ("" or absent = none); sets ExitNode on that peer. */
  exitNodeID?: string;
  /** Data-plane facts per peer. */
  peerExtras?: (peer: NetNode) => PeerExtras | undefined;
}

export interface SelfExtras {
  /** Whether the map poll is up (tailscale: health.GetInPollNetMap). Required: only the backend knows. */
  inMapPoll: boolean;
  /** Our OS as Hostinfo reports it ("linux", "windows", "macOS"); defaults to the self node's Hostinfo.OS. */
  OS?: string;
  /** Our current UDP endpoints (magicsock lastEndpoints). */
  Addrs?: string[];
  /** Region code of our current home DERP; defaults to the region of the self node's HomeDERP. */
  Relay?: string;
}

/**
 * Addresses as bare IPs: single-IP prefixes only; for peers only Tailscale-range IPs
 * (tsaddr.IsTailscaleIP). Prefixes in the netmap are canonical (tailcfg.ts), so the common case
 * is a string slice, not a parse: this runs for every peer on every status.
 */
function bareIPs(addresses: readonly string[] | null | undefined, tailscaleOnly: boolean): string[] {
  const out: string[] = [];
  for (const a of addresses ?? []) {
    const slash = a.indexOf('/');
    const bits = a.slice(slash + 1);
    const v6 = a.includes(':');
    if (bits !== (v6 ? '128' : '32')) continue;
    const ip = a.slice(0, slash);
    if (tailscaleOnly) {
      // Canonical text of an address in fd7a:115c:a1e0::/48 always starts with "fd7a:115c:a1e0:".
      if (v6 ? !ip.startsWith(TS_ULA_TEXT) : !isTailscaleIP(parseIP(ip)!)) continue;
    }
    out.push(ip);
  }
  return out;
}

const TS_ULA_TEXT = 'fd7a:115c:a1e0:';

function goTime(t: string | null | undefined): string {
  return t && !isZeroTime(t) ? t : GO_ZERO_TIME;
}

/** peerStatusFromNode + the netmap-derived fields shared by self and peers. */
function fromNode(n: NetNode, nm: NetMap, tailscaleOnly: boolean): PeerStatus {
  const ps: PeerStatus = {
    ID: n.StableID ?? '',
    PublicKey: n.Key,
    HostName: n.Hostinfo?.Hostname ?? '',
    DNSName: n.Name ?? '',
    OS: n.Hostinfo?.OS ?? '',
    UserID: n.User ?? 0,
    TailscaleIPs: bareIPs(n.Addresses, tailscaleOnly),
    Addrs: n.Endpoints && n.Endpoints.length > 0 ? n.Endpoints.slice() : null,
    CurAddr: '',
    Relay: nm.derpRegionCode(n.HomeDERP),
    RxBytes: 0,
    TxBytes: 0,
    Created: goTime(n.Created),
    // ipnstate.PeerStatus.LastSeen is a time.Time: zero when control did not send one (online nodes).
    LastSeen: goTime(n.LastSeen),
    LastHandshake: GO_ZERO_TIME,
    Online: n.Online === true,
    ExitNode: false,
    ExitNodeOption: containsExitRoutes(n.AllowedIPs),
    Active: false,
    InNetworkMap: true,
    InMagicSock: false,
    InEngine: false,
  };
  // tailscale leaves these out (omitempty pointers) when empty.
  if (n.AllowedIPs.length > 0) ps.AllowedIPs = n.AllowedIPs.slice();
  if (n.Tags && n.Tags.length > 0) ps.Tags = n.Tags.slice();
  if (n.PrimaryRoutes && n.PrimaryRoutes.length > 0) ps.PrimaryRoutes = n.PrimaryRoutes.slice();
  if (n.Expired) ps.Expired = true;
  if (n.KeyExpiry && !isZeroTime(n.KeyExpiry)) ps.KeyExpiry = roundGoTimeToSecond(n.KeyExpiry);
  return ps;
}

/** One peer's PeerStatus. */
export function peerStatus(node: NetNode, netmap: NetMap, extras: PeerExtras = {}, exitNodeID = ''): PeerStatus {
  const ps = fromNode(node, netmap, true);
  ps.ExitNode = !!node.StableID && node.StableID === exitNodeID;
  if (extras.CurAddr) ps.CurAddr = extras.CurAddr;
  if (extras.RxBytes) ps.RxBytes = extras.RxBytes;
  if (extras.TxBytes) ps.TxBytes = extras.TxBytes;
  if (extras.LastHandshake) ps.LastHandshake = goTime(extras.LastHandshake);
  if (extras.Active) ps.Active = true;
  if (extras.InMagicSock) ps.InMagicSock = true;
  if (extras.InEngine) ps.InEngine = true;
  return ps;
}

/** Status.Peer: every peer keyed by its node key text, as tailscale keys it. */
export function peerStatusMap(netmap: NetMap, opts: StatusOptions = {}): Record<string, PeerStatus> | null {
  if (!netmap.hasNetmap) return null;
  const out: Record<string, PeerStatus> = {};
  for (const p of netmap.peers()) out[p.Key] = peerStatus(p, netmap, opts.peerExtras?.(p) ?? {}, opts.exitNodeID ?? '');
  return out;
}

/** Status.Self, or null before the first netmap. */
export function selfStatus(netmap: NetMap, extras: SelfExtras): PeerStatus | null {
  const self = netmap.self;
  if (!self) return null;
  const ps = fromNode(self, netmap, false);
  ps.Online = extras.inMapPoll;
  if (extras.OS) ps.OS = extras.OS;
  ps.Addrs = extras.Addrs ? extras.Addrs.slice() : [];
  if (extras.Relay !== undefined) ps.Relay = extras.Relay;
  return ps;
}

/** Status.TailscaleIPs: the self node's single-IP addresses, or null before the first netmap. */
export function tailscaleIPs(netmap: NetMap): string[] | null {
  return netmap.self ? bareIPs(netmap.self.Addresses, false) : null;
}

/** Status.CurrentTailnet (Name = control's Domain; MagicDNSEnabled = DNSConfig.Proxied). */
export function currentTailnet(netmap: NetMap): { Name: string; MagicDNSSuffix: string; MagicDNSEnabled: boolean } | null {
  if (!netmap.self) return null;
  return { Name: netmap.domain, MagicDNSSuffix: netmap.magicDNSSuffix, MagicDNSEnabled: netmap.dnsConfig?.Proxied === true };
}

function toProfile(up: { ID: number; LoginName?: string | undefined; DisplayName?: string | undefined; ProfilePicURL?: string | undefined }): UserProfile {
  const out: UserProfile = { ID: up.ID, LoginName: up.LoginName ?? '', DisplayName: up.DisplayName ?? '' };
  if (up.ProfilePicURL) out.ProfilePicURL = up.ProfilePicURL;
  return out;
}

/**
 * Status.User keyed by decimal user ID: the profiles of the self user and of every peer's User
 * and Sharer that control sent (mapSession.netmap's addUserProfile), or null before the first netmap.
 */
export function usersMap(netmap: NetMap): Record<string, UserProfile> | null {
  const self = netmap.self;
  if (!self) return null;
  const all = netmap.userProfiles;
  const out: Record<string, UserProfile> = {};
  const add = (id: number | undefined) => {
    if (!id) return;
    const key = String(id);
    if (key in out) return;
    const up = all.get(id);
    if (up) out[key] = toProfile(up);
  };
  add(self.User);
  for (const p of netmap.peers()) {
    add(p.Sharer);
    add(p.User);
  }
  return out;
}
