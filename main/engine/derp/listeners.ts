// Typed event listeners for the DERP client and manager: a listener that throws is logged and
// skipped, so one bad subscriber (magicsock, the status view) cannot break packet delivery to the
// others or unwind the read loop that emitted the event.
import type { Logger } from '../ports/ports.js';

type EventMap<E> = { [K in keyof E]: (...args: any[]) => void };

export class Listeners<E extends EventMap<E>> {
  private readonly sets = new Map<keyof E, Set<E[keyof E]>>();

  constructor(private readonly log: Logger) {}

  /** Adds `fn` for `event`; the returned function removes it. */
  on<K extends keyof E>(event: K, fn: E[K]): () => void {
    let set = this.sets.get(event);
    if (!set) this.sets.set(event, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): void {
    const set = this.sets.get(event);
    if (!set) return;
    for (const fn of set) {
      try {
        (fn as E[K])(...args);
      } catch (e) {
        this.log.error('listener threw', { event: String(event), error: String(e) });
      }
    }
  }
}
