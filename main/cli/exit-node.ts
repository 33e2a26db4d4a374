// `meshtray exit-node list [--filter=COUNTRY]` and `meshtray exit-node suggest`, shaped like tailscale's
// cmd/tailscale/cli/exitnode.go (runExitNodeList, peerStatus, runExitNodeSuggest). Both are computed
// from the engine's status (and, for suggest, a netcheck), not from a call of their own.
import type { PeerStatus, Status } from '../../common/schemas/status.js';
import type { ApiResponse } from '../../common/contract/api.js';
import { tabwrite } from './tabwriter.js';

/** A failure the CLI prints as one line on stderr, exiting 1 (tailscale returns these as errors). */
export class CliFail extends Error {}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** tailscale's lastSeenFmt (cmd/tailscale/cli/cli.go): "" for the zero time, else ", last seen 5m ago". */
export function lastSeenFmt(lastSeen: string | undefined, now: number): string {
  if (!lastSeen || lastSeen === ZERO_TIME) return '';
  const t = Date.parse(lastSeen);
  if (!Number.isFinite(t) || t <= 0) return '';
  const d = Math.max(now - t, 60_000); // at least one minute, as tailscale
  if (d < 3_600_000) return `, last seen ${Math.floor(d / 60_000)}m ago`;
  if (d < 86_400_000) return `, last seen ${Math.floor(d / 3_600_000)}h ago`;
  return `, last seen ${Math.floor(d / 86_400_000)}d ago`;
}

/** The STATUS column of `exit-node list` (tailscale's peerStatus). */
export function exitNodeStatus(p: PeerStatus, now: number): string {
  if (!p.Active) {
    const seen = lastSeenFmt(p.LastSeen, now);
    if (p.ExitNode) return 'selected but offline' + seen;
    if (!p.Online) return 'offline' + seen;
  }
  return p.ExitNode ? 'selected' : '-';
}

const dnsNameOf = (p: PeerStatus): string => p.DNSName.replace(/^\.+|\.+$/g, '');

/**
 * The table of `exit-node list`. tailscale groups by the country and city of tailcfg.Location, which
 * control sets only for location-based (Mullvad) exit nodes; Headscale sends none and our status has
 * no Location, so every row is country "-", city "-", rows sorted by DNS name (the order tailscale
 * gives nodes without location data), and a --filter (a country name) matches no node — the answer
 * tailscale itself gives for a tailnet without location data.
 */
export function formatExitNodeList(st: Status, filter: string, now: number): string {
  const peers = Object.values(st.Peer ?? {}).filter((p) => p.ExitNodeOption);
  if (peers.length === 0) throw new CliFail('no exit nodes found');
  peers.sort((a, b) => (a.DNSName < b.DNSName ? -1 : a.DNSName > b.DNSName ? 1 : 0));
  const country = ''; // no location data (see above)
  const shown = filter === '' ? peers : peers.filter(() => country.toLowerCase() === filter.toLowerCase());
  if (shown.length === 0) throw new CliFail(`no exit nodes found for ${JSON.stringify(filter)}`);
  let t = `\n ${['IP', 'HOSTNAME', 'COUNTRY', 'CITY', 'STATUS'].join('\t')}\t`;
  for (const p of shown) {
    t += `\n ${[p.TailscaleIPs[0] ?? '', dnsNameOf(p), '-', '-', exitNodeStatus(p, now)].join('\t')}\t`;
  }
  t += '\n\n';
  t += '# To view the complete list of exit nodes for a country, use `meshtray exit-node list --filter=` followed by the country name.\n';
  t += '# To use an exit node, use `meshtray set --exit-node=` followed by the IP or hostname.\n';
  if (suggestionCandidates(st).length > 0) t += '# To have Meshtray suggest an exit node, use `meshtray exit-node suggest`.\n';
  return tabwrite(t, { minWidth: 10, padding: 5 });
}

/** Peers a suggestion may pick: offering an exit node, online, key not expired. */
function suggestionCandidates(st: Status): PeerStatus[] {
  return Object.values(st.Peer ?? {}).filter((p) => p.ExitNodeOption && p.Online && !p.Expired);
}

export interface ExitNodeSuggestion {
  /** The node's MagicDNS name with its trailing dot, as tailscale's res.Name. */
  name: string;
  id: string;
  /** Why this one, in words: printed as a comment line, since our choice differs from tailscale's (below). */
  basis: string;
}

/**
 * tailscale's DERP-based suggestion (ipn/ipnlocal/local.go suggestExitNodeUsingDERP): among the online
 * exit nodes, those whose home DERP region has the lowest latency from here (netcheck's
 * RegionLatency) win. Differences, because the engine does not expose them: tailscale only considers
 * peers carrying the "suggest-exit-node" node capability (our status has no CapMap, so every online
 * exit node counts), and breaks ties at random preferring its previous suggestion; we break ties by
 * preferring the exit node in use, then the first by DNS name, so the answer is reproducible.
 * Peers without a home region are only used when none has one (tailscale then ranks by Location,
 * which Headscale does not send).
 */
export function suggestExitNode(st: Status, netcheck: ApiResponse<'netcheck'> | undefined): ExitNodeSuggestion | undefined {
  const cands = suggestionCandidates(st).sort((a, b) => (a.DNSName < b.DNSName ? -1 : a.DNSName > b.DNSName ? 1 : 0));
  if (cands.length === 0) return undefined;
  const pick = (ps: PeerStatus[], basis: string): ExitNodeSuggestion => {
    const p = ps.find((x) => x.ExitNode) ?? ps[0]!;
    return { name: p.DNSName, id: p.ID, basis };
  };
  if (cands.length === 1) return pick(cands, 'the only online exit node');
  const byRegion = new Map<string, PeerStatus[]>();
  for (const p of cands) {
    if (!p.Relay) continue;
    byRegion.set(p.Relay, [...(byRegion.get(p.Relay) ?? []), p]);
  }
  if (byRegion.size === 0) return pick(cands, 'no exit node has a home DERP region');
  const idOf = new Map((netcheck?.Regions ?? []).map((r) => [r.RegionCode, r.RegionID]));
  let best: { code: string; ns: number } | undefined;
  for (const code of [...byRegion.keys()].sort()) {
    const id = idOf.get(code);
    const ns = id === undefined ? undefined : netcheck?.Report.RegionLatency[String(id)];
    if (ns === undefined || ns <= 0) continue;
    if (!best || ns < best.ns) best = { code, ns };
  }
  if (!best) return pick([...byRegion.values()].flat(), 'no DERP latency measured to any exit node\'s home region');
  return pick(byRegion.get(best.code)!, `home DERP region "${best.code}" has the lowest latency (${(best.ns / 1e6).toFixed(1)} ms)`);
}

/** tailscale's suggest output; the name is shell-quoted as shellquote.Join would. */
export function formatSuggestion(s: ExitNodeSuggestion | undefined): string {
  if (!s) return 'No exit node suggestion is available.\n';
  return `Suggested exit node: ${s.name}\nTo accept this suggestion, use \`meshtray set --exit-node=${shellQuote(s.name)}\`.\n# Chosen because: ${s.basis}.\n`;
}

/** go-shellquote's Join for one word: unchanged when it has only safe characters, else single-quoted. */
function shellQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
