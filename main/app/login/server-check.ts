// "Is this really a control server, and can we reach it?" asked BEFORE anything changes or the
// browser opens. A Tailscale-compatible control server answers GET /key?v=<capver> with
// tailcfg.OverTLSPublicKeyResponse, JSON {"publicKey":"mkey:…"} (tailscale control/controlclient
// fetches it before the ts2021 handshake; headscale hscontrol/noise.go KeyHandler serves it
// for v >= 39, NoiseCapabilityVersion). No official client checks this up front.
import { z } from 'zod';
import type { ServerCheckResult } from '../ipc/app-contract.js';

/** Tailscale's CurrentCapabilityVersion for 1.90-era clients (tailcfg/tailcfg.go); any value >= 39 gets the Noise key. */
export const KEY_CAPABILITY_VERSION = 130;

const KeyResponseSchema = z.object({ publicKey: z.string().startsWith('mkey:') }).loose();

export type FetchLike = (url: string, init: { signal: AbortSignal; redirect: 'manual' | 'follow' }) => Promise<{
  status: number;
  text(): Promise<string>;
}>;

/** Normalizes what the user typed: adds https:// when no scheme, drops a trailing slash. Returns undefined if hopeless. */
export function normalizeControlURL(input: string): string | undefined {
  const trimmed = input.trim();
  if (!trimmed) return undefined;
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  if (u.username || u.password || u.search || u.hash) return undefined;
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

export async function checkControlServer(input: string, fetchFn: FetchLike, timeoutMs = 5_000): Promise<ServerCheckResult> {
  const url = normalizeControlURL(input);
  if (!url) return { URL: input, reachable: false, message: 'That is not a valid server address (expected e.g. https://headscale.example.com).' };
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetchFn(`${url}/key?v=${KEY_CAPABILITY_VERSION}`, { signal: ctl.signal, redirect: 'follow' });
    if (res.status !== 200) {
      return { URL: url, reachable: false, message: `${url} answered HTTP ${res.status} on /key; it does not look like a Tailscale or Headscale control server.` };
    }
    const body = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      return { URL: url, reachable: false, message: `${url} answered, but not with a control server key; check the address.` };
    }
    if (!KeyResponseSchema.safeParse(json).success) {
      return { URL: url, reachable: false, message: `${url} answered, but without a control server key; check the address.` };
    }
    return { URL: url, reachable: true, message: `${url} is a reachable control server.` };
  } catch (e) {
    const why = ctl.signal.aborted ? `no answer within ${Math.round(timeoutMs / 1000)} s` : describeNetError(e);
    return { URL: url, reachable: false, message: `Cannot reach ${url}: ${why}. Nothing was changed.` };
  } finally {
    clearTimeout(timer);
  }
}

function describeNetError(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if (cause?.code === 'ENOTFOUND' || cause?.code === 'EAI_AGAIN') return 'the name does not resolve';
  if (cause?.code) return cause.code;
  return e instanceof Error ? e.message : String(e);
}
