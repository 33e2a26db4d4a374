// `status` text output in the layout of tailscale's cmd/tailscale/cli/status.go: one line per node,
// self first, columns IP, name, owner, OS, state.
import type { PeerStatus, Status } from '../../common/schemas/status.js';

function shortName(p: PeerStatus, suffix: string): string {
  let n = p.DNSName.replace(/\.$/, '');
  if (suffix && n.endsWith('.' + suffix)) n = n.slice(0, -(suffix.length + 1));
  return n || p.HostName || p.PublicKey.slice(0, 15);
}

function owner(st: Status, p: PeerStatus): string {
  if (p.Tags && p.Tags.length) return 'tagged-devices';
  const u = st.User?.[String(p.UserID)];
  const login = u?.LoginName ?? '';
  // tailscale shows "alice@" for logins without a domain and trims the domain of the self user's tailnet.
  return login || (p.UserID ? `user${p.UserID}` : '-');
}

function line(st: Status, p: PeerStatus, self: boolean): string {
  const ip = p.TailscaleIPs[0] ?? '-';
  let state = '-';
  if (!self) {
    if (!p.Online) state = 'offline';
    else if (p.Active) state = p.CurAddr ? `active; direct ${p.CurAddr}` : p.Relay ? `active; relay "${p.Relay}"` : 'active';
    if (p.Expired) state = 'expired';
  }
  return `${ip.padEnd(15)} ${shortName(p, st.MagicDNSSuffix).padEnd(20)} ${owner(st, p).padEnd(12)} ${(p.OS || '-').padEnd(7)} ${state}`.trimEnd();
}

export interface StatusText {
  text: string;
  exitCode: number;
}

/** The text `meshtray status` prints and its exit code (non-zero when not running, like tailscale). */
export function formatStatus(st: Status): StatusText {
  switch (st.BackendState) {
    case 'Stopped':
      return { text: 'Meshtray is stopped.\n', exitCode: 1 };
    case 'NeedsLogin':
      return { text: st.AuthURL ? `Logged out.\n\nLog in at: ${st.AuthURL}\n` : 'Logged out.\n', exitCode: 1 };
    case 'NeedsMachineAuth':
      return { text: 'Machine is not yet approved by tailnet admin.\n', exitCode: 1 };
    case 'NoState':
      return { text: 'Meshtray is starting.\n', exitCode: 1 };
    default:
      break;
  }
  if (!st.Self) return { text: 'Meshtray is starting.\n', exitCode: st.BackendState === 'Running' ? 0 : 1 };
  const lines = [line(st, st.Self, true)];
  const peers = Object.values(st.Peer ?? {}).sort((a, b) => shortName(a, st.MagicDNSSuffix).localeCompare(shortName(b, st.MagicDNSSuffix)));
  for (const p of peers) lines.push(line(st, p, false));
  let text = lines.join('\n') + '\n';
  if (st.Health && st.Health.length) text += '\n# Health check:\n' + st.Health.map((h) => `#     - ${h}`).join('\n') + '\n';
  return { text, exitCode: 0 };
}

/** `ip` target lookup: a peer by IP, full DNS name, short name or HostName. */
export function findPeer(st: Status, q: string): PeerStatus | undefined {
  const want = q.toLowerCase().replace(/\.$/, '');
  const all = [...(st.Self ? [st.Self] : []), ...Object.values(st.Peer ?? {})];
  return (
    all.find((p) => p.TailscaleIPs.includes(q)) ??
    all.find((p) => p.DNSName.toLowerCase().replace(/\.$/, '') === want) ??
    all.find((p) => shortName(p, st.MagicDNSSuffix).toLowerCase() === want) ??
    all.find((p) => p.HostName.toLowerCase() === want)
  );
}
