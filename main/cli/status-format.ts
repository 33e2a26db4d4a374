// `status` text output in the layout of tailscale's cmd/tailscale/cli/status.go: one line per node,
// self first, columns IP, name, owner, OS, state, laid out by text/tabwriter (minwidth 0, padding 2).
import type { PeerStatus, Status } from '../../common/schemas/status.js';
import { lastSeenFmt } from './exit-node.js';
import { tabwrite } from './tabwriter.js';

function shortName(p: PeerStatus, suffix: string): string {
  let n = p.DNSName.replace(/\.$/, '');
  if (suffix && n.endsWith('.' + suffix)) n = n.slice(0, -(suffix.length + 1));
  return n || p.HostName || p.PublicKey.slice(0, 15);
}

function owner(st: Status, p: PeerStatus): string {
  if (p.Tags && p.Tags.length) return 'tagged-devices';
  const u = st.User?.[String(p.UserID)];
  const login = u?.LoginName ?? '';
  // tailscale's ownerLogin (cmd/tailscale/cli/status.go) keeps a login up to and including its "@":
  // "alice@example.com" shows as "alice@", so the column stays narrow.
  const at = login.indexOf('@');
  if (at !== -1) return login.slice(0, at + 1);
  return login || (p.UserID ? `user${p.UserID}` : '-');
}

/**
 * The status column, as tailscale's printPS (cmd/tailscale/cli/status.go) writes it: idle peers say
 * "-" (or "idle; exit node" / "idle; offers exit node" / "offline"), active ones
 * "active; [exit node; |offers exit node; ]relay "code"|direct ip:port", then ", tx N rx M" once
 * there was traffic. The exit node in use is the peer with ExitNode set (status-builder marks it).
 */
function peerState(p: PeerStatus, now: number): string {
  if (p.Expired) return 'expired';
  const anyTraffic = p.TxBytes !== 0 || p.RxBytes !== 0;
  const seen = lastSeenFmt(p.LastSeen, now);
  const offline = p.Online ? '' : `; offline${seen}`;
  let s: string;
  if (!p.Active) {
    if (p.ExitNode) s = `idle; exit node${offline}`;
    else if (p.ExitNodeOption) s = `idle; offers exit node${offline}`;
    else if (anyTraffic) s = `idle${offline}`;
    else if (!p.Online) s = `offline${seen}`;
    else s = '-';
  } else {
    s = 'active; ';
    if (p.ExitNode) s += 'exit node; ';
    else if (p.ExitNodeOption) s += 'offers exit node; ';
    if (p.CurAddr) s += `direct ${p.CurAddr}`;
    else if (p.Relay) s += `relay "${p.Relay}"`;
    s += offline;
  }
  if (anyTraffic) s += `, tx ${p.TxBytes} rx ${p.RxBytes}`;
  return s;
}

/** One tabwriter line: five tab-terminated cells, as printPS writes them. */
function line(st: Status, p: PeerStatus, self: boolean, now: number): string {
  const ip = p.TailscaleIPs[0] ?? '-';
  const state = self ? '-' : peerState(p, now);
  return [ip, shortName(p, st.MagicDNSSuffix), owner(st, p), p.OS || '-', state].join('\t') + '\t';
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** tailscale's ipnstate.SortPeers order: DNS name, host name, first IP, node key, compared bytewise. */
function comparePeers(a: PeerStatus, b: PeerStatus): number {
  return cmp(a.DNSName, b.DNSName) || cmp(a.HostName, b.HostName) || compareIP(a.TailscaleIPs[0] ?? '', b.TailscaleIPs[0] ?? '') || cmp(a.PublicKey, b.PublicKey);
}

/** netip.Addr.Compare for the cases a status holds: IPv4 before IPv6, IPv4 numerically. */
function compareIP(a: string, b: string): number {
  const v6a = a.includes(':');
  const v6b = b.includes(':');
  if (v6a !== v6b) return v6a ? 1 : -1;
  if (!v6a) {
    const n = (s: string) => s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    return n(a) - n(b);
  }
  return cmp(a, b);
}

/** tailscale's printHealth: "# Health check:" then one "#     - " line per warning. */
function healthText(st: Status): string {
  if (!st.Health || st.Health.length === 0) return '';
  return '# Health check:\n' + st.Health.map((h) => `#     - ${h}`).join('\n') + '\n';
}

export interface StatusText {
  text: string;
  exitCode: number;
}

/** status's table flags (tailscale's --self, --peers, --active, --header; `now` for "last seen"). */
export interface StatusView {
  self?: boolean;
  peers?: boolean;
  active?: boolean;
  header?: boolean;
  now?: number;
}

/** The text `meshtray status` prints and its exit code (non-zero when not running, like tailscale). */
export function formatStatus(st: Status, view: StatusView = {}): StatusText {
  const now = view.now ?? Date.now();
  switch (st.BackendState) {
    case 'Stopped':
      return { text: 'Meshtray is stopped.\n', exitCode: 1 };
    case 'NeedsLogin':
      return { text: st.AuthURL ? `Logged out.\n\nLog in at: ${st.AuthURL}\n` : 'Logged out.\n', exitCode: 1 };
    case 'NeedsMachineAuth':
      return { text: 'Machine is not yet approved by tailnet admin.\n', exitCode: 1 };
    case 'NoState':
      // tailscale prints the health warnings before the description while starting: they often say why.
      return { text: (healthText(st) ? healthText(st) + '\n' : '') + 'Meshtray is starting.\n', exitCode: 1 };
    default:
      break;
  }
  if (!st.Self) return { text: 'Meshtray is starting.\n', exitCode: st.BackendState === 'Running' ? 0 : 1 };
  const lines: string[] = [];
  if (view.header) lines.push('IP\tHostname\tOwner\tOS\tStatus\t', '--\t--------\t-----\t--\t------\t');
  if (view.self !== false) lines.push(line(st, st.Self, true, now));
  if (view.peers !== false) {
    const peers = Object.values(st.Peer ?? {}).sort(comparePeers);
    for (const p of peers) if (!view.active || p.Active) lines.push(line(st, p, false, now));
  }
  // tailscale's cells end in a tab, so its last column is padded too; we drop that trailing blank.
  let text = lines.length ? tabwrite(lines.join('\n'), { minWidth: 0, padding: 2 }).split('\n').map((l) => l.trimEnd()).join('\n') + '\n' : '';
  if (healthText(st)) text += '\n' + healthText(st);
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
