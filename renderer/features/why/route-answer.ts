// The Route check's words: turns the engine's `why` answer (common/contract/api.ts WhyAnswerSchema,
// computed by main/engine/routes/why.ts from the table the OS router installed) into what the
// window shows. Pure, so the wording is unit-tested under Node; every fact shown comes from the
// engine's answer or a ping the engine answered, never from the renderer's own guess.
import type { PingResult, WhyAnswerWire } from '../../../common/contract/api.js';

export type RouteTone = 'tunnel' | 'local' | 'outside' | 'dropped';

export interface RouteView {
  /** One sentence: where the packet goes. */
  headline: string;
  /** Why (the engine's reason). */
  detail: string;
  /** How the tunnel reaches the peer right now, when the engine knows it. */
  path?: string;
  /** The route that matched, e.g. "table 52: 0.0.0.0/0". */
  route?: string;
  tone: RouteTone;
  /** The address whose latency is worth measuring (the peer that carries the packet). */
  pingTarget?: string;
}

const PATH_NOTE = ' (the tunnel picks the path; it may change as peers find a direct route)';

function pathLine(a: WhyAnswerWire): string | undefined {
  const p = a.path;
  if (!p || p.kind === 'unknown' || !a.node) return undefined;
  return p.kind === 'direct'
    ? `Direct connection to ${a.node.name} at ${p.endpoint}`
    : `Relayed through DERP region ${p.derpRegion}${PATH_NOTE}`;
}

/** 100.64.0.0/10 and fd7a:115c:a1e0::/48: the tailnet's own ranges (tailscale net/tsaddr). */
export function isTailnetAddress(ip: string): boolean {
  const v4 = /^(\d+)\.(\d+)\.\d+\.\d+$/.exec(ip);
  if (v4) return Number(v4[1]) === 100 && (Number(v4[2]) & 0xc0) === 64;
  return /^fd7a:115c:a1e0:/i.test(ip);
}

export function describeRoute(a: WhyAnswerWire): RouteView {
  const name = a.node?.name ?? 'a peer';
  const pingTarget = a.node ? (a.node.addresses.find((x) => !x.includes(':')) ?? a.node.addresses[0]) : undefined;
  const path = pathLine(a);
  const withPeer = (v: Omit<RouteView, 'path' | 'pingTarget'>): RouteView => ({
    ...v,
    ...(path ? { path } : {}),
    ...(pingTarget ? { pingTarget } : {}),
  });
  const route = a.prefix ? (a.interface ? `${a.prefix} on ${a.interface}` : a.prefix) : undefined;
  const r = route ? { route } : {};
  switch (a.verdict) {
    case 'self':
      return { headline: 'This device: it is one of its own tailnet addresses.', detail: a.reason, tone: 'local' };
    case 'magicdns':
      return { headline: 'Answered by MagicDNS inside Meshtray; never sent to a peer.', detail: a.reason, tone: 'local', ...r };
    case 'peer':
      return withPeer({ headline: `Through the tunnel to ${name}.`, detail: a.reason, tone: 'tunnel', ...r });
    case 'exit-node':
      return withPeer({ headline: `Through exit node ${name}.`, detail: a.reason, tone: 'tunnel', ...r });
    case 'subnet-router':
      return withPeer({ headline: `Through ${name}, the subnet router for ${a.prefix ?? 'this address'}.`, detail: a.reason, tone: 'tunnel', ...r });
    case 'local-lan':
      return { headline: `On your local network${a.interface ? ` (${a.interface})` : ''}, not through the tunnel.`, detail: a.reason, tone: 'local', ...r };
    case 'blocked':
      return { headline: 'Dropped: the exit node you picked cannot carry it.', detail: a.reason, tone: 'dropped', ...r };
    case 'not-routed':
      // why.ts says "not routed" both for a tailnet address nobody reachable owns (nothing carries
      // it: the packet is lost) and for any other address (it leaves by the OS's default route).
      return isTailnetAddress(a.ip)
        ? { headline: 'Not delivered: no reachable device in your tailnet has this address.', detail: a.reason, tone: 'dropped', ...r }
        : {
            headline: "Not through the tailnet: out through this device's own network (the default route).",
            detail: a.reason,
            tone: 'outside',
            // Here the engine names a route a peer OFFERS (accept-routes is off), not one installed.
            ...(a.prefix ? { route: a.node ? `${a.prefix}, offered by ${a.node.name} but not in use` : a.prefix } : {}),
          };
  }
}

/** A ping's result as the latency row: milliseconds and the path the pong came over, or why there is none. */
export function describePing(p: PingResult): string {
  if (p.Err) return `No answer to a ping: ${p.Err}`;
  if (p.LatencySeconds === undefined) return 'No answer to a ping.';
  const ms = p.LatencySeconds * 1000;
  const shown = ms < 10 ? ms.toFixed(1) : String(Math.round(ms));
  const via = p.Endpoint ? `direct, ${p.Endpoint}` : p.DERPRegionCode ? `via DERP ${p.DERPRegionCode}` : p.DERPRegionID !== undefined ? `via DERP region ${p.DERPRegionID}` : '';
  return `${shown} ms${via ? ` (${via})` : ''}`;
}

/** What the user typed, checked before asking the engine (the same limits as WhyRequestSchema). */
export function checkDestination(raw: string): { ok: true; dest: string } | { ok: false; message: string } {
  const dest = raw.trim();
  if (!dest) return { ok: false, message: 'Type an IP address or a device name to check.' };
  if (dest.length > 255) return { ok: false, message: 'That is too long for an address or a name (255 characters at most).' };
  if (/\s/.test(dest)) return { ok: false, message: 'An address or a name has no spaces; check one at a time.' };
  return { ok: true, dest };
}

export interface WhyErrorView {
  /** What went wrong, in the user's terms. */
  summary: string;
  /** The engine's own words, kept so nothing is hidden. */
  detail: string;
}

/**
 * The engine's refusal as the user should read it; the engine's own message is kept beside it.
 * `running`: the window shows the engine Running. The engine reports Running as soon as it has a
 * netmap and installs its routes right after (main/engine/backend/local-backend.ts osApply), so a
 * "no route table yet" in that moment means "not ready yet", not "not connected".
 */
export function describeWhyError(code: string, message: string, dest: string, running = false): WhyErrorView {
  const summary = ((): string => {
    switch (code) {
      case 'ERR_NO_SUCH_PEER':
        return `"${dest}" is not an IP address or a device in your tailnet.`;
      case 'ERR_NEEDS_LOGIN':
        return running ? 'The engine is still installing its routes; check again in a moment.' : 'Not connected, so there is no route to check.';
      case 'ERR_NOT_FOUND':
        return 'This engine cannot answer route checks (it does not manage this device\'s routes).';
      case 'ERR_BAD_REQUEST':
        return 'The engine refused the request.';
      case 'ERR_TIMEOUT':
        return 'The engine did not answer in time.';
      default:
        return 'The route check failed.';
    }
  })();
  return { summary, detail: message };
}

/** A check the window refused before asking the engine. */
export function inputError(message: string): WhyErrorView {
  return { summary: message, detail: '' };
}
