// The checks a local admin web UI needs, as plain functions (unit-tested without a server):
// - listen only on loopback (a LAN address would hand the tailnet's controls to the LAN);
// - a per-run random token on every call and stream (any local user or web page can reach a
//   loopback port; only whoever was shown the printed URL has the token);
// - the Host header must name our loopback address (DNS rebinding: evil.example resolving to
//   127.0.0.1 would otherwise be "same origin" with us);
// - POSTs must come from our own origin (CSRF), judged as tailscale's client/web/web.go csrfProtect
//   does: Sec-Fetch-Site when the browser sends it, else Origin against Host.
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { RENDERER_CSP } from '../app/window/window-security.js';

export const TOKEN_COOKIE = 'meshtray_web';
export const TOKEN_HEADER = 'x-meshtray-token';

export interface ListenAddress {
  host: '127.0.0.1' | '::1';
  port: number;
}

/**
 * Parses `--listen` (tailscale web's spelling: host:port, port 0 = any free port; the default is
 * localhost:8088). Only loopback is accepted: there is no flag to serve the LAN.
 */
export function parseListen(spec: string): ListenAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(spec.trim());
  if (!m) throw new Error(`--listen must be host:port (e.g. 127.0.0.1:8088), got "${spec}"`);
  const host = (m[1] ?? m[2] ?? '').toLowerCase();
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`--listen port ${port} is out of range`);
  if (host === '' || host === 'localhost' || host === '127.0.0.1') return { host: '127.0.0.1', port };
  if (host === '::1') return { host: '::1', port };
  const what = isIP(host) ? 'a non-loopback address' : 'not a loopback address';
  throw new Error(`--listen ${spec}: ${host} is ${what}; meshtray web serves only this machine (127.0.0.1, ::1 or localhost)`);
}

/** The Host header values that name this server: its loopback address or localhost, with its port. */
export function allowedHosts(listen: ListenAddress, port: number): Set<string> {
  const ip = listen.host === '::1' ? '[::1]' : '127.0.0.1';
  return new Set([`${ip}:${port}`, `localhost:${port}`]);
}

/** undefined when the Host header is ours, else the reason for a 403. */
export function hostRefusal(host: string | undefined, allowed: ReadonlySet<string>): string | undefined {
  if (!host) return 'no Host header';
  return allowed.has(host.toLowerCase()) ? undefined : `Host ${JSON.stringify(host.slice(0, 100))} is not this server (DNS rebinding?)`;
}

/** Constant-time token comparison (a timing leak would let a local process guess it byte by byte). */
export function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The cookie's value from a Cookie header, if any. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export interface RequestHeaders {
  host?: string | undefined;
  origin?: string | undefined;
  secFetchSite?: string | undefined;
}

/** CSRF check for state-changing requests; undefined when allowed, else the reason for a 403. */
export function originRefusal(h: RequestHeaders): string | undefined {
  // Browsers send Sec-Fetch-Site to potentially trustworthy origins (loopback is one).
  if (h.secFetchSite !== undefined && h.secFetchSite !== 'same-origin') return `cross-site request (Sec-Fetch-Site ${h.secFetchSite})`;
  if (!h.origin) return 'no Origin header';
  let o: URL;
  try {
    o = new URL(h.origin);
  } catch {
    return 'unparsable Origin header';
  }
  if (o.protocol !== 'http:' || o.host !== (h.host ?? '').toLowerCase()) return `Origin ${JSON.stringify(h.origin.slice(0, 100))} is not this server`;
  return undefined;
}

/**
 * The window's CSP served as a header: the Electron window's policy (window-security.ts), except
 * that this page must talk to its own server (connect-src 'self': fetch + EventSource, nothing else).
 */
export function webCsp(): string {
  return RENDERER_CSP.replace("connect-src 'none'", "connect-src 'self'");
}

/** Headers on every response: no framing, no sniffing, no caching, no referrer leaving the page. */
export function securityHeaders(): Record<string, string> {
  return {
    'content-security-policy': webCsp(),
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    'cross-origin-opener-policy': 'same-origin',
    'cache-control': 'no-store',
  };
}
