// Reconnect backoff as tailscale util/backoff: after the n-th consecutive failure wait
// min(n² × 10 ms, max) scaled by a random factor in [0.5, 1.5); reset after a success.
import type { Random } from '../ports/ports.js';

export class Backoff {
  private n = 0;
  constructor(private readonly random: Random, private readonly maxMs = 5000) {}
  /** Delay before the next attempt, counting one more failure. */
  next(): number {
    this.n++;
    const base = Math.min(this.n * this.n * 10, this.maxMs);
    return Math.round(base * (0.5 + this.random.float()));
  }
  reset(): void {
    this.n = 0;
  }
  get failures(): number {
    return this.n;
  }
}
