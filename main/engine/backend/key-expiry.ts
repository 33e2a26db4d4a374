// Time as control sees it, and our node key's expiry by that time (control.md §13). Headscale
// sends ControlTime; when our clock is more than a minute off, expiry (ours and the peers') is
// judged by control's clock so a skewed laptop neither logs in again too early nor too late.
import type { NetMap } from '../netmap/netmap.js';
import { goTimeToMs, isZeroTime } from '../netmap/go-time.js';

/** Offsets smaller than this are our clock's normal drift, not skew worth correcting. */
const SKEW_TOLERANCE_MS = 60_000;

/** Control's idea of now, in ms: `localNow`, shifted by the ControlTime offset when it is large. */
export function controlNow(localNow: number, controlTime: string | undefined): number {
  if (!controlTime || isZeroTime(controlTime)) return localNow;
  const off = goTimeToMs(controlTime) - localNow;
  return Math.abs(off) > SKEW_TOLERANCE_MS ? localNow + off : localNow;
}

/**
 * How long until the self node's key expires, by `now` (control's clock): undefined when it never
 * expires (no self node, or the zero time Headscale sends for keys without expiry); ≤ 0 once expired.
 */
export function selfKeyExpiresInMs(nm: NetMap, now: number): number | undefined {
  const exp = nm.self?.KeyExpiry;
  if (!exp || isZeroTime(exp)) return undefined;
  return goTimeToMs(exp) - now;
}

/** The longest delay a timer can hold (setTimeout's signed 32-bit limit, ~24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;
