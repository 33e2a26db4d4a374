// Derived views of the mirrored engine state (pure functions, unit-tested under Node).
import type { PeerStatus, Status } from '../../common/schemas/status.js';

export interface PeerRow {
  id: string;
  name: string;
  dnsName: string;
  addresses: string[];
  os: string;
  online: boolean;
  path: 'direct' | 'relayed' | 'idle';
  pathDetail: string;
  exitNodeOption: boolean;
  isExitNode: boolean;
  /** Lower-cased text the search matches against (computed once per status, not per keystroke). */
  haystack: string;
}

export function displayName(p: Pick<PeerStatus, 'DNSName' | 'HostName'>): string {
  const first = p.DNSName.split('.')[0];
  return first ? first : p.HostName;
}

export function peerRows(status: Status | undefined): PeerRow[] {
  const peers = Object.values(status?.Peer ?? {});
  const rows = peers.map((p): PeerRow => {
    const name = displayName(p);
    // As `tailscale status` reads the same fields (cmd/tailscale/cli/status.go): a peer with no
    // recent traffic is idle, whatever CurAddr holds; Relay alone is only the peer's home DERP
    // region, so it means "relayed" only while the peer is active and has no direct address.
    const path: PeerRow['path'] = !p.Active ? 'idle' : p.CurAddr ? 'direct' : p.Relay ? 'relayed' : 'idle';
    const pathDetail =
      path === 'direct' ? `direct ${p.CurAddr}` : path === 'relayed' ? `relayed via DERP ${p.Relay}` : 'idle: no traffic with this device recently';
    return {
      id: p.ID,
      name,
      dnsName: p.DNSName.replace(/\.$/, ''),
      addresses: p.TailscaleIPs,
      os: p.OS,
      online: p.Online,
      path,
      pathDetail,
      exitNodeOption: p.ExitNodeOption,
      isExitNode: p.ExitNode,
      haystack: `${name} ${p.HostName} ${p.DNSName} ${p.TailscaleIPs.join(' ')} ${p.OS}`.toLowerCase(),
    };
  });
  // Online first, then by name: the people you can reach now are the ones you look for.
  rows.sort((a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name, undefined, { numeric: true }) || a.id.localeCompare(b.id));
  return rows;
}

export function filterRows(rows: readonly PeerRow[], query: string): readonly PeerRow[] {
  const q = query.trim().toLowerCase();
  if (!q) return rows;
  const terms = q.split(/\s+/);
  return rows.filter((r) => terms.every((t) => r.haystack.includes(t)));
}

/** Days until the node key expires, or undefined when it does not expire / is unknown. */
export function keyExpiryDays(status: Status | undefined, nowMs: number): number | undefined {
  const exp = status?.Self?.KeyExpiry;
  if (!exp) return undefined;
  const t = Date.parse(exp);
  if (!Number.isFinite(t) || new Date(t).getUTCFullYear() < 1971) return undefined;
  return (t - nowMs) / 86_400_000;
}

/** tailscale's GUIs warn a few days ahead; we warn a week ahead so there is time to re-auth. */
export const KEY_EXPIRY_WARN_DAYS = 7;
