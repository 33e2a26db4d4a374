// The one manual clock for the Clock port in tests (tailscale tstest/clock.go idea): timers fire
// only when the test advances time, in due order, with microtasks flushed between them.
import type { Clock, Timer } from '../../main/engine/ports/ports.js';

interface Pending { at: number; seq: number; fn: () => void; live: boolean }

export class FakeClock implements Clock {
  protected t: number;
  private seq = 0;
  private timers: Pending[] = [];
  /** Every delay ever requested, in order (for backoff assertions). */
  readonly requested: number[] = [];

  constructor(start = Date.parse('2026-11-23T12:00:00Z')) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const p: Pending = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.requested.push(ms);
    this.timers.push(p);
    return { cancel: () => { p.live = false; } };
  }
  get pendingCount(): number {
    return this.timers.filter((p) => p.live).length;
  }
  /** Advances time by `ms`, running due timers in order and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((p) => p.live && p.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.at);
      due.live = false;
      this.timers = this.timers.filter((p) => p.live);
      due.fn();
    }
    this.t = end;
    await flush();
  }
}

/** Lets queued promise callbacks run (several rounds, for chains of awaits). */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
