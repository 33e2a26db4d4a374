// Keeps the latency of a few peers fresh while a view shows them: each target is pinged through
// the engine (measureLatency: a disco ping, recorded in the store's pings) one at a time, again
// once its measurement is older than LATENCY_MAX_AGE_MS (a failed one after LATENCY_RETRY_MS). Used by the device list (the rows in
// view) and the exit-node picker (the online exit nodes). A peer that does not answer shows no
// latency; its Ping button (device list) says why.
import { useEffect } from 'react';
import { useServices } from '../context.js';
import { LATENCY_RETRY_MS, measureLatency, needsMeasuring } from './measure-latency.js';

const SETTLE_MS = 250;

export function useLatencies(targets: readonly string[], max: number, timeoutMs = 3_000): void {
  const { client, store } = useServices();
  // A string key: callers build a new array on every status update, the same peers need no new run.
  const key = targets.slice(0, max).join(' ');
  useEffect(() => {
    if (!key) return;
    const list = key.split(' ');
    let stopped = false;
    const run = async (): Promise<void> => {
      for (const ip of list) {
        if (stopped) return;
        if (!needsMeasuring(store.getState().pings[ip], Date.now())) continue;
        await measureLatency(client, store, ip, timeoutMs).catch(() => undefined);
      }
    };
    // A short pause first: rows a fast scroll only passes by are not pinged.
    const first = setTimeout(() => void run(), SETTLE_MS);
    // needsMeasuring decides per peer: a failed one again soon, an answered one after a minute.
    const again = setInterval(() => void run(), LATENCY_RETRY_MS);
    return () => {
      stopped = true;
      clearTimeout(first);
      clearInterval(again);
    };
  }, [key, client, store, timeoutMs]);
}
