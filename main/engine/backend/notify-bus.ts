// The Notify bus (tailscale ipn/ipnlocal/bus.go idea): every subscriber first gets a full
// snapshot, then changes in order. Status snapshots are rate-limited so a burst of netmap deltas
// becomes one Status message per interval; other fields (State, BrowseToURL, …) go out at once.
import type { Notify } from '../../../common/schemas/notify.js';
import type { Status } from '../../../common/schemas/status.js';
import type { Clock, Timer, Logger } from '../ports/ports.js';

export class NotifyBus {
  private readonly subs = new Set<(n: Notify) => void>();
  private pending: Timer | undefined;
  private lastStatusAt = -Infinity;

  constructor(
    private readonly clock: Clock,
    private readonly snapshot: () => Notify,
    private readonly status: () => Status,
    private readonly log: Logger,
    private readonly minIntervalMs = 250,
  ) {}

  get subscriberCount(): number {
    return this.subs.size;
  }

  subscribe(fn: (n: Notify) => void): () => void {
    this.deliver(fn, this.snapshot());
    this.subs.add(fn);
    return () => {
      this.subs.delete(fn);
    };
  }

  publish(n: Notify): void {
    for (const fn of [...this.subs]) this.deliver(fn, n);
  }

  /** Something in Status changed: send a fresh one now, or at the end of the current interval. */
  statusChanged(): void {
    if (this.pending) return;
    const wait = Math.max(0, this.lastStatusAt + this.minIntervalMs - this.clock.now());
    this.pending = this.clock.setTimeout(() => {
      this.pending = undefined;
      this.lastStatusAt = this.clock.now();
      if (this.subs.size) this.publish({ Status: this.status() });
    }, wait);
  }

  close(): void {
    this.pending?.cancel();
    this.pending = undefined;
    this.subs.clear();
  }

  private deliver(fn: (n: Notify) => void, n: Notify): void {
    try {
      fn(n);
    } catch (e) {
      // A broken subscriber must not stop the engine or the other subscribers.
      this.log.warn('notify subscriber threw', { err: e });
    }
  }
}
