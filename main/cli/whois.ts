// `meshtray whois [--json] ip[:port]`: the machine and user behind a tailnet address, as tailscale's
// cmd/tailscale/cli/whois.go prints it. tailscale asks the LocalAPI (/localapi/v0/whois, which looks the
// address up among the netmap's nodes, self included, see ipn/localapi/localapi.go serveWhoIsWithBackend);
// we answer from the status the engine already serves, which carries the same nodes and users.
import { isIP } from 'node:net';
import type { PeerStatus, Status, UserProfile } from '../../common/schemas/status.js';
import { CliFail } from './exit-node.js';
import { tabwrite } from './tabwriter.js';

/** Canonical text of an IP (lower case, IPv6 compressed), or undefined if it is not one. */
export function canonicalIP(s: string): string | undefined {
  const v = isIP(s);
  if (v === 4) return /(^|\.)0\d/.test(s) ? undefined : s; // "010.1.1.1" is not an address netip accepts
  if (v !== 6 || s.includes('%')) return undefined; // a zone never names a tailnet address
  // The WHATWG URL parser prints IPv6 the RFC 5952 way (lower case, longest zero run compressed), as
  // netip.Addr.String does, except for v4-mapped addresses, which no tailnet node has.
  return new URL(`http://[${s}]/`).hostname.slice(1, -1);
}

/**
 * The address part of whois's argument: an IP, ip:port, [v6]:port, or a node key ("nodekey:…"), as
 * serveWhoIsWithBackend accepts. Throws CliFail with one line for anything else.
 */
export function parseWhoisArg(arg: string): { ip: string } | { nodeKey: string } {
  if (arg.startsWith('nodekey:')) {
    if (!/^nodekey:[0-9a-f]{64}$/.test(arg)) throw new CliFail(`invalid node key ${JSON.stringify(arg)}`);
    return { nodeKey: arg };
  }
  const plain = canonicalIP(arg);
  if (plain) return { ip: plain };
  // netip.ParseAddrPort: brackets for IPv6 only, "1.2.3.4:port" for IPv4.
  const m6 = /^\[([^\]]+)\]:(\d{1,5})$/.exec(arg);
  const m = m6 ?? /^([0-9.]+):(\d{1,5})$/.exec(arg);
  const ip = m ? canonicalIP(m[1]!) : undefined;
  if (!m || !ip || Number(m[2]) > 65535 || (m6 !== null) !== (isIP(m[1]!) === 6)) {
    throw new CliFail(`invalid address ${JSON.stringify(arg)}: expected an IP or ip:port`);
  }
  return { ip };
}

export interface WhoIs {
  node: PeerStatus;
  self: boolean;
  user: UserProfile | undefined;
}

/** The node (self included) holding that address or node key; CliFail "peer not found" otherwise (tailscale's ErrPeerNotFound). */
export function whoIs(st: Status, arg: string): WhoIs {
  const want = parseWhoisArg(arg);
  const nodes: Array<[PeerStatus, boolean]> = [...(st.Self ? [[st.Self, true] as [PeerStatus, boolean]] : []), ...Object.values(st.Peer ?? {}).map((p) => [p, false] as [PeerStatus, boolean])];
  const hit = nodes.find(([p]) => ('nodeKey' in want ? p.PublicKey === want.nodeKey : p.TailscaleIPs.some((a) => canonicalIP(a) === want.ip)));
  if (!hit) throw new CliFail('peer not found');
  const [node, self] = hit;
  return { node, self, user: st.User?.[String(node.UserID)] };
}

const addressPrefixes = (p: PeerStatus): string[] => p.TailscaleIPs.map((a) => (a.includes(':') ? `${a}/128` : `${a}/32`));

/** The routes a node carries beyond its own addresses (tailscale prints Node.AllowedIPs[2:]). */
function extraAllowedIPs(p: PeerStatus): string[] {
  const own = new Set(addressPrefixes(p));
  return (p.AllowedIPs ?? []).filter((a) => !own.has(a));
}

/** Go's %s of a slice: "[a b c]". */
const goList = (xs: readonly string[]): string => `[${xs.join(' ')}]`;

/** The text whois prints (printWhoIs without the tailnet part, which runWhoIs does not pass). */
export function formatWhoIs(w: WhoIs): string {
  const n = w.node;
  let t = 'Machine:\n';
  t += `  Name:\t${n.DNSName.replace(/\.$/, '')}\n`;
  t += `  ID:\t${n.ID}\n`;
  t += `  Addresses:\t${goList(addressPrefixes(n))}\n`;
  const extra = extraAllowedIPs(n);
  if (extra.length) t += `  AllowedIPs:\t${goList(extra)}\n`;
  if (n.Tags && n.Tags.length) {
    t += `  Tags:\t${n.Tags.join(', ')}\n`;
  } else {
    t += 'User:\n';
    t += `  Name:\t${w.user?.LoginName ?? ''}\n`;
    t += `  ID:\t${w.user?.ID ?? n.UserID}\n`;
  }
  return tabwrite(t, { minWidth: 10, padding: 5 });
}

/**
 * `whois --json`: apitype.WhoIsResponse's shape ({Node, UserProfile}) with the tailcfg.Node fields the
 * status carries, under tailscale's names. CapMap is left out: the status has no peer capabilities.
 */
export function whoIsJSON(w: WhoIs): unknown {
  const n = w.node;
  const extra = extraAllowedIPs(n);
  return {
    Node: {
      StableID: n.ID,
      Name: n.DNSName,
      Key: n.PublicKey,
      Addresses: addressPrefixes(n),
      AllowedIPs: [...addressPrefixes(n), ...extra],
      ...(n.Tags && n.Tags.length ? { Tags: n.Tags } : {}),
      ...(n.PrimaryRoutes && n.PrimaryRoutes.length ? { PrimaryRoutes: n.PrimaryRoutes } : {}),
      User: n.UserID,
      Online: n.Online,
      Hostinfo: { Hostname: n.HostName, OS: n.OS },
      Created: n.Created,
      ...(n.KeyExpiry ? { KeyExpiry: n.KeyExpiry } : {}),
    },
    UserProfile: w.user ?? { ID: n.UserID, LoginName: '', DisplayName: '' },
  };
}
