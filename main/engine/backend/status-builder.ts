// Builds the common Status (tailscale's ipnstate.Status, see ipn/ipnlocal/local.go UpdateStatus):
// the backend's own fields here, the netmap's part from main/engine/netmap/status.ts. Nothing
// secret lives in a netmap, and only public keys are copied.
import type { BackendState, Status } from '../../../common/schemas/status.js';
import type { NetMap, NetNode } from '../netmap/netmap.js';
import type { PeerExtras } from '../netmap/status.js';
import { currentTailnet, peerStatusMap, selfStatus, tailscaleIPs, usersMap } from '../netmap/status.js';
import { goTimeToMs } from '../netmap/go-time.js';

export interface StatusInputs {
  version: string;
  state: BackendState;
  haveNodeKey: boolean;
  authURL: string;
  /** Undefined before the first netmap (or after logout). */
  netmap: NetMap | undefined;
  health: string[];
  tun: boolean;
  /** Whether the map poll is up right now (Self.Online, as tailscale's health.GetInPollNetMap). */
  inMapPoll: boolean;
  /** "Now" by control's clock, ms: peers whose KeyExpiry passed are flagged Expired (tailscale flagExpiredPeers). */
  now: number;
  exitNodeID?: string;
  /** Data-path facts per peer (CurAddr, bytes, handshake…), when a data path runs. */
  peerExtras?: (n: NetNode) => PeerExtras;
  /** Our endpoints and home relay for Self. */
  selfExtras?: { Addrs?: string[]; Relay?: string };
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
  base.Self = selfStatus(nm, { inMapPoll: i.inMapPoll, OS: 'linux', ...(i.selfExtras?.Addrs ? { Addrs: i.selfExtras.Addrs } : {}), ...(i.selfExtras?.Relay ? { Relay: i.selfExtras.Relay } : {}) });
  base.TailscaleIPs = tailscaleIPs(nm);
  base.MagicDNSSuffix = nm.magicDNSSuffix;
  base.CurrentTailnet = currentTailnet(nm);
  base.Peer = peerStatusMap(nm, { ...(i.exitNodeID ? { exitNodeID: i.exitNodeID } : {}), ...(i.peerExtras ? { peerExtras: i.peerExtras } : {}) });
  for (const p of Object.values(base.Peer ?? {})) {
    if (p.KeyExpiry && goTimeToMs(p.KeyExpiry) <= i.now) p.Expired = true;
  }
  base.User = usersMap(nm);
  return base;
}
