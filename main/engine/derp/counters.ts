// Per-reason drop/error counters. Bad input from the network is dropped and counted, never thrown
// past the parser boundary (issue 5 "Bad input"); the engine exposes a snapshot in its debug/metrics
// command, so the reason names are stable identifiers.
export class Counters {
  private readonly m = new Map<string, number>();
  constructor(readonly prefix = '') {}
  inc(reason: string, by = 1): void {
    const k = this.prefix + reason;
    this.m.set(k, (this.m.get(k) ?? 0) + by);
  }
  get(reason: string): number {
    return this.m.get(this.prefix + reason) ?? 0;
  }
  total(): number {
    let t = 0;
    for (const v of this.m.values()) t += v;
    return t;
  }
  /** Plain object, sorted by name, for JSON output. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
