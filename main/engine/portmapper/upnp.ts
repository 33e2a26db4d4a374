// UPnP IGD pieces: SSDP discovery (M-SEARCH over UDP 1900), the root device description, and the
// SOAP calls of the WAN*Connection services (UPnP-gw-WANIPConnection-v2). Pure text in, values
// out; the client does the HTTP. Behaviour checked against tailscale net/portmapper/upnp.go and
// portmapper.go (uPnPPacket/uPnPIGDPacket, parseUPnPDiscoResponse, selectBestService,
// addAnyPortMapping, getUPnPErrorCode) at v1.98.10. No XML library: these documents are small and
// we only need a few leaf elements, so a tolerant tag matcher (any namespace prefix) is enough.
import type { Parsed } from './pmp.js';

export const SSDP_PORT = 1900;
export const SSDP_MULTICAST = '239.255.255.250';
const IGD1 = 'urn:schemas-upnp-org:device:InternetGatewayDevice:1';

function mSearch(st: string): Uint8Array {
  return new TextEncoder().encode(`M-SEARCH * HTTP/1.1\r\nHOST: ${SSDP_MULTICAST}:${SSDP_PORT}\r\nST: ${st}\r\nMAN: "ssdp:discover"\r\nMX: 2\r\n\r\n`);
}
/** ssdp:all, and IGD:1 explicitly: some devices answer ssdp:all with their first descriptor only (tailscale #3557). */
export const SSDP_SEARCH_ALL = mSearch('ssdp:all');
export const SSDP_SEARCH_IGD = mSearch(IGD1);

export interface SsdpResponse {
  location: string;
  server: string;
  usn: string;
  st: string;
}

/** An HTTP-over-UDP answer to M-SEARCH. Only answers naming an InternetGatewayDevice are kept. */
export function parseSsdpResponse(pkt: Uint8Array): Parsed<SsdpResponse> {
  if (pkt.length > 8192) return { ok: false, reason: 'ssdp-too-long' };
  const text = new TextDecoder('utf-8', { fatal: false }).decode(pkt);
  const lines = text.split(/\r?\n/);
  if (!/^HTTP\/1\.[01] 200\b/.test(lines[0] ?? '')) return { ok: false, reason: 'ssdp-not-200' };
  const h = new Map<string, string>();
  for (const l of lines.slice(1)) {
    if (l === '') break;
    const i = l.indexOf(':');
    if (i <= 0) return { ok: false, reason: 'ssdp-bad-header' };
    h.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  if (!text.includes(':InternetGatewayDevice:')) return { ok: false, reason: 'ssdp-not-igd' };
  const location = h.get('location') ?? '';
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    return { ok: false, reason: 'ssdp-bad-location' };
  }
  if (url.protocol !== 'http:') return { ok: false, reason: 'ssdp-bad-location' };
  return { ok: true, value: { location, server: h.get('server') ?? '', usn: h.get('usn') ?? '', st: h.get('st') ?? '' } };
}

/**
 * Several answers (unicast + multicast, ssdp:all + IGD:1) usually name one device: sort by USN
 * descending (IGD:2 before IGD:1), then location, and keep one per (location, server)
 * (tailscale processUPnPResponses).
 */
export function dedupeSsdp(list: readonly SsdpResponse[]): SsdpResponse[] {
  const sorted = [...list].sort((a, b) => cmp(b.usn, a.usn) || cmp(a.location, b.location) || cmp(a.server, b.server));
  const out: SsdpResponse[] = [];
  for (const r of sorted) if (!out.some((o) => o.location === r.location && o.server === r.server)) out.push(r);
  return out;
}
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Service types we can map with, best first (tailscale selectBestService order). */
export const WAN_SERVICES = [
  'urn:schemas-upnp-org:service:WANIPConnection:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANPPPConnection:1',
] as const;

export interface IgdService {
  serviceType: string;
  /** Absolute URL of the SOAP control endpoint. */
  controlUrl: string;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, e: string) => {
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'amp') return '&';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const n = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(n) && n > 0 && n < 0x110000 ? String.fromCodePoint(n) : '';
  });
}

/** Text of the first `<[prefix:]name>` leaf in `xml`, or undefined. */
export function xmlLeaf(xml: string, name: string): string | undefined {
  const m = new RegExp(`<(?:[A-Za-z_][\\w.-]*:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:[A-Za-z_][\\w.-]*:)?${name}\\s*>`).exec(xml);
  return m ? unescapeXml(m[1]!.trim()) : undefined;
}

/**
 * The WAN connection services of a root device description, best first. Control URLs are resolved
 * against URLBase when present, else the description's own URL; a host other than the gateway is
 * repointed at the gateway (tailscale #5502: some routers announce a stale or floating address).
 */
export function parseRootDesc(xml: string, descUrl: string, gateway: string): Parsed<IgdService[]> {
  if (xml.length > 256 * 1024) return { ok: false, reason: 'upnp-desc-too-long' };
  if (!/<(?:\w+:)?root[\s>]/.test(xml)) return { ok: false, reason: 'upnp-desc-not-root' };
  const base = xmlLeaf(xml, 'URLBase') || descUrl;
  const found: IgdService[] = [];
  for (const m of xml.matchAll(/<(?:\w+:)?service(?:\s[^>]*)?>([\s\S]*?)<\/(?:\w+:)?service\s*>/g)) {
    const body = m[1]!;
    const serviceType = xmlLeaf(body, 'serviceType');
    const control = xmlLeaf(body, 'controlURL');
    if (!serviceType || !control || !(WAN_SERVICES as readonly string[]).includes(serviceType)) continue;
    let u: URL;
    try {
      u = new URL(control, base);
    } catch {
      continue;
    }
    if (u.protocol !== 'http:') continue;
    if (u.hostname !== gateway) u.hostname = gateway;
    found.push({ serviceType, controlUrl: u.toString() });
  }
  if (found.length === 0) return { ok: false, reason: 'upnp-no-wan-service' };
  found.sort((a, b) => WAN_SERVICES.indexOf(a.serviceType as never) - WAN_SERVICES.indexOf(b.serviceType as never));
  return { ok: true, value: found };
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

export interface SoapRequest {
  headers: Record<string, string>;
  body: string;
}

/** A SOAP 1.1 action call; argument order matters to some routers, so it is the caller's order. */
export function buildSoapRequest(serviceType: string, action: string, args: readonly (readonly [string, string | number])[]): SoapRequest {
  const inner = args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('');
  const body =
    '<?xml version="1.0"?>\r\n' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${escapeXml(serviceType)}">${inner}</u:${action}></s:Body></s:Envelope>\r\n`;
  return {
    headers: { 'Content-Type': 'text/xml; charset="utf-8"', SOAPAction: `"${serviceType}#${action}"` },
    body,
  };
}

export type SoapResult = { ok: true; values: Record<string, string> } | { ok: false; errorCode: number | undefined; description: string };

/**
 * A SOAP answer: 200 with `<u:ActionResponse>` leaves, or a fault carrying a UPnPError code
 * (e.g. 606 "Action not authorized", 718 ConflictInMappingEntry, 725 OnlyPermanentLeasesSupported).
 */
export function parseSoapResponse(status: number, xml: string, action: string, want: readonly string[]): Parsed<SoapResult> {
  if (xml.length > 64 * 1024) return { ok: false, reason: 'soap-too-long' };
  if (/<(?:\w+:)?Fault[\s>]/.test(xml)) {
    const code = xmlLeaf(xml, 'errorCode');
    const n = code !== undefined && /^\d+$/.test(code) ? Number(code) : undefined;
    return { ok: true, value: { ok: false, errorCode: n, description: xmlLeaf(xml, 'errorDescription') ?? xmlLeaf(xml, 'faultstring') ?? '' } };
  }
  if (status !== 200) return { ok: false, reason: 'soap-http-status' };
  if (!new RegExp(`<(?:\\w+:)?${action}Response[\\s>/]`).test(xml)) return { ok: false, reason: 'soap-no-response-element' };
  const values: Record<string, string> = {};
  for (const k of want) {
    const v = xmlLeaf(xml, k);
    if (v === undefined) return { ok: false, reason: 'soap-missing-value' };
    values[k] = v;
  }
  return { ok: true, value: { ok: true, values } };
}
