// One way to measure a peer's latency from the window: a disco ping through the engine (the same
// as `meshtray ping`), recorded in the store's pings so every view that shows a latency (device
// list, exit-node picker, Route check) shows the same measurement.
import type { PingResult } from '../../common/contract/api.js';
import type { UiStore } from '../store/engine-store.js';
import type { MeshtrayClient } from './client.js';

/** Pings `ip` through the engine and records the result; a failed call is recorded, then rethrown. */
export async function measureLatency(client: MeshtrayClient, store: UiStore, ip: string, timeoutMs = 5_000): Promise<PingResult> {
  store.getState().setPing(ip, { pending: true });
  try {
    const r = await client.call('ping', { Target: ip, TimeoutMs: timeoutMs });
    const via = r.Endpoint ? `direct ${r.Endpoint}` : r.DERPRegionCode ? `DERP ${r.DERPRegionCode}` : undefined;
    store.getState().setPing(ip, {
      pending: false,
      at: Date.now(),
      ...(r.LatencySeconds !== undefined ? { latencyMs: r.LatencySeconds * 1000 } : {}),
      ...(via ? { via, path: r.Endpoint ? 'direct' : 'relayed' } : {}),
      ...(r.Err ? { error: r.Err } : {}),
    });
    return r;
  } catch (e) {
    store.getState().setPing(ip, { pending: false, at: Date.now(), error: e instanceof Error ? e.message : String(e) });
    throw e;
  }
}

/** A measurement older than this is taken again when a view wants it. */
export const LATENCY_MAX_AGE_MS = 60_000;
/**
 * A failed measurement (no answer yet: a DERP connection or a hole punch still forming) is tried
 * again this soon, not after a whole minute: the first ping to a new peer often fails.
 */
export const LATENCY_RETRY_MS = 10_000;

/** Whether a view should (re)measure: never measured, failed and older than LATENCY_RETRY_MS, or older than LATENCY_MAX_AGE_MS. */
export function needsMeasuring(p: { pending: boolean; at?: number; latencyMs?: number; error?: string } | undefined, nowMs: number): boolean {
  if (!p) return true;
  if (p.pending) return false;
  if (p.at === undefined) return true;
  const failed = p.error !== undefined || p.latencyMs === undefined;
  return nowMs - p.at > (failed ? LATENCY_RETRY_MS : LATENCY_MAX_AGE_MS);
}
