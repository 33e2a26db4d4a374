// Real clock/random and a recording logger for e2e tests (the engine takes them as ports).
import { randomBytes } from 'node:crypto';
import type { Random } from '../../../main/engine/ports/ports.js';
import { RecordingLogger } from '../../unit/engine/derp/helpers.js';

export { realClock } from '../../doubles/real-clock.js';

export function systemRandomForTests(): Random {
  return { bytes: (n) => new Uint8Array(randomBytes(n)), float: () => Math.random() };
}

export function logger(name: string): RecordingLogger {
  return new RecordingLogger([], name);
}
