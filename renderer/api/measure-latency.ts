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

/** Whether a view should (re)measure: never measured, or done and older than LATENCY_MAX_AGE_MS. */
export function needsMeasuring(p: { pending: boolean; at?: number } | undefined, nowMs: number): boolean {
  if (!p) return true;
  if (p.pending) return false;
  return p.at === undefined || nowMs - p.at > LATENCY_MAX_AGE_MS;
}
