// The wall clock for tests that run real sockets. Unlike ports/system.ts's systemClock it does NOT
// unref its timers: in a test a pending timeout may be the only thing the event loop has left, and
// the test must see it fire.
import type { Clock } from '../../main/engine/ports/ports.js';

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};
