// Builds the common Status (tailscale's ipnstate.Status field names and meanings, see tailscale
// ipn/ipnstate/ipnstate.go and LocalBackend.UpdateStatus) from the netmap. Nothing secret lives in
// a netmap, and only public keys are copied.
import type { BackendState, PeerStatus, Status, UserProfile } from '../../../common/schemas/status.js';
import type { NetMap, NetNode } from '../netmap/netmap.js';
import { containsExitRoutes } from '../netmap/ip.js';
import { isZeroTime, goTimeToMs } from '../netmap/go-time.js';

export const GO_ZERO = '0001-01-01T00:00:00Z';

export interface StatusInputs {
  version: string;
  state: BackendState;
  haveNodeKey: boolean;
  authURL: string;
  /** Undefined before the first netmap (or after logout). */
  netmap: NetMap | undefined;
  health: string[];
  tun: boolean;
  /** For Expired: now by the control clock, ms. */
  now: number;
}

/** "100.64.0.1/32" → "100.64.0.1"; only single-address prefixes are TailscaleIPs. */
function addrsOf(n: NetNode): string[] {
  const out: string[] = [];
  for (const p of n.Addresses ?? []) {
    const [ip, bits] = p.split('/');
    if (ip && (bits === undefined || bits === '32' || bits === '128')) out.push(ip);
  }
  return out;
}

function peerStatus(nm: NetMap, n: NetNode, now: number, self: boolean, online?: boolean): PeerStatus {
  const expiry = n.KeyExpiry && !isZeroTime(n.KeyExpiry) ? n.KeyExpiry : undefined;
  const ps: PeerStatus = {
    ID: n.StableID ?? String(n.ID),
    PublicKey: n.Key,
    HostName: n.Hostinfo?.Hostname ?? '',
    DNSName: n.Name ?? '',
    OS: n.Hostinfo?.OS ?? '',
    UserID: n.User ?? 0,
    TailscaleIPs: addrsOf(n),
    AllowedIPs: [...n.AllowedIPs],
    Addrs: n.Endpoints ? [...n.Endpoints] : null,
    CurAddr: '',
    Relay: nm.derpRegionCode(n.HomeDERP),
    RxBytes: 0,
    TxBytes: 0,
    Created: n.Created ?? GO_ZERO,
    LastHandshake: GO_ZERO,
    Online: online ?? n.Online === true,
    ExitNode: false,
    ExitNodeOption: !self && containsExitRoutes(n.AllowedIPs),
    Active: false,
    InNetworkMap: true,
    InMagicSock: false,
    InEngine: false,
  };
  if (n.Tags && n.Tags.length) ps.Tags = [...n.Tags];
  if (n.PrimaryRoutes && n.PrimaryRoutes.length) ps.PrimaryRoutes = [...n.PrimaryRoutes];
  if (n.LastSeen && !isZeroTime(n.LastSeen)) ps.LastSeen = n.LastSeen;
  if (expiry) {
    ps.KeyExpiry = expiry;
    if (goTimeToMs(expiry) <= now) ps.Expired = true;
  }
  return ps;
}

function userProfile(nm: NetMap, id: number): UserProfile | undefined {
  const u = nm.userProfiles.get(id);
  if (!u) return undefined;
  const up: UserProfile = { ID: u.ID, LoginName: u.LoginName ?? '', DisplayName: u.DisplayName ?? '' };
  if (u.ProfilePicURL) up.ProfilePicURL = u.ProfilePicURL;
  return up;
}

export function buildStatus(i: StatusInputs): Status {
  const nm = i.netmap;
  const base: Status = {
    Version: i.version,
    TUN: i.tun,
    BackendState: i.state,
    HaveNodeKey: i.haveNodeKey,
    AuthURL: i.authURL,
    TailscaleIPs: null,
    Self: null,
    Health: i.health.length ? [...i.health] : null,
    MagicDNSSuffix: '',
    CurrentTailnet: null,
    Peer: null,
    User: null,
  };
  if (!nm || !nm.self) return base;
  const self = nm.self;
  base.Self = peerStatus(nm, self, i.now, true, i.state === 'Running');
  base.TailscaleIPs = addrsOf(self);
  base.MagicDNSSuffix = nm.magicDNSSuffix;
  base.CurrentTailnet = {
    Name: nm.domain,
    MagicDNSSuffix: nm.magicDNSSuffix,
    MagicDNSEnabled: nm.dnsConfig?.Proxied === true,
  };
  const peers: Record<string, PeerStatus> = {};
  const users: Record<string, UserProfile> = {};
  const addUser = (id: number | undefined): void => {
    if (id === undefined || users[String(id)]) return;
    const u = userProfile(nm, id);
    if (u) users[String(id)] = u;
  };
  addUser(self.User);
  for (const p of nm.peers()) {
    peers[p.Key] = peerStatus(nm, p, i.now, false);
    addUser(p.User);
  }
  base.Peer = peers;
  base.User = users;
  return base;
}
