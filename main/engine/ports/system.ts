// Real implementations of the ports, for the daemon and the app.
import { randomBytes } from 'node:crypto';
import type { Clock, Random } from './ports.js';

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
};

export const systemRandom: Random = {
  bytes: (n) => new Uint8Array(randomBytes(n)),
  float: () => randomBytes(4).readUInt32BE(0) / 2 ** 32,
};
