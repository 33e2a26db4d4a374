// Test doubles for the DERP/netcheck tests: a manual clock, a seeded random source and a
// logger that records lines (so tests can also assert that no secret was logged).
import type { Clock, Logger, LogFields, Random, Timer } from '../../../../main/engine/ports/ports.js';

export class ManualClock implements Clock {
  private timers: { at: number; seq: number; fn: () => void; live: boolean }[] = [];
  private seq = 0;
  constructor(public t = Date.parse('2026-11-23T12:00:00Z')) {}
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const p = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true };
    this.timers.push(p);
    return { cancel: () => { p.live = false; } };
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((p) => p.live && p.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.at);
      due.live = false;
      this.timers = this.timers.filter((p) => p.live);
      due.fn();
    }
    this.t = end;
    await settle();
  }
}

export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** xorshift32, seeded: reproducible "random" bytes. */
export class SeededRandom implements Random {
  constructor(private s = 0x12345678) {}
  private next(): number {
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
  float(): number {
    return this.next() / 0x100000000;
  }
}

export class RecordingLogger implements Logger {
  constructor(readonly lines: string[] = [], private readonly name = '') {}
  private rec(level: string, msg: string, f?: LogFields): void {
    this.lines.push(`${level} ${this.name} ${msg} ${f ? JSON.stringify(f) : ''}`);
    if (process.env.MESHTRAY_TEST_LOG) console.error(this.lines[this.lines.length - 1]);
  }
  debug(m: string, f?: LogFields): void { this.rec('debug', m, f); }
  info(m: string, f?: LogFields): void { this.rec('info', m, f); }
  warn(m: string, f?: LogFields): void { this.rec('warn', m, f); }
  error(m: string, f?: LogFields): void { this.rec('error', m, f); }
  child(c: string): Logger { return new RecordingLogger(this.lines, c); }
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};
