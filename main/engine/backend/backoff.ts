// Retry delays for the register loop, the map poll and lite updates: tailscale's
// util/backoff (min(n²·10 ms, 30 s) × U[0.5, 1.5), reset on success; control.md §13).
import type { Clock, Random } from '../ports/ports.js';

export const BACKOFF_MAX_MS = 30_000;

/** Delay before retry number `failures` (1 = after the first failure). */
export function backoffDelay(failures: number, random: Random, maxMs = BACKOFF_MAX_MS): number {
  if (failures <= 0) return 0;
  const base = Math.min(failures * failures * 10, maxMs);
  return Math.floor(base * (0.5 + random.float()));
}

/** Resolves after `ms` on the injected clock, or early (resolving false) when `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      t.cancel();
      resolve(false);
    };
    const t = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
