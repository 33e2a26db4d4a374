// Cancellation plumbing on the injected Clock (no global timers in engine logic): an AbortSignal
// that fires on a timeout and/or when any parent signal fires, and a race helper for promises.
import type { Clock } from '../ports/ports.js';
import { MeshtrayError } from '../../../common/errors/errors.js';

export interface Deadline {
  signal: AbortSignal;
  /** Stops the timer and detaches from the parents; call when the guarded work is over. */
  dispose(): void;
}

export function deadline(clock: Clock, ms: number | undefined, what: string, ...parents: (AbortSignal | undefined)[]): Deadline {
  const ac = new AbortController();
  const cleanups: (() => void)[] = [];
  for (const p of parents) {
    if (!p) continue;
    if (p.aborted) {
      ac.abort(p.reason);
      break;
    }
    const on = () => ac.abort(p.reason);
    p.addEventListener('abort', on, { once: true });
    cleanups.push(() => p.removeEventListener('abort', on));
  }
  if (ms !== undefined && ms > 0 && !ac.signal.aborted) {
    const t = clock.setTimeout(() => ac.abort(new MeshtrayError('ERR_TIMEOUT', `${what} timed out after ${ms} ms`)), ms);
    cleanups.push(() => t.cancel());
  }
  return { signal: ac.signal, dispose: () => cleanups.splice(0).forEach((f) => f()) };
}

/** The error to reject with when a signal fired: its reason if that is an Error, else a generic abort error. */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  const e = new Error(typeof r === 'string' ? r : 'aborted');
  e.name = 'AbortError';
  return e;
}

/** Resolves/rejects like `p`, or rejects with the abort reason as soon as `signal` fires. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const on = () => reject(abortReason(signal));
    signal.addEventListener('abort', on, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', on);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', on);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
