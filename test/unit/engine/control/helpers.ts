// Shared test doubles for the control tests: scripted randomness, a recording logger, a real clock.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger, LogFields, Random } from '../../../../main/engine/ports/ports.js';

/** Returns the given byte strings in order, then fails loudly (a test that needs more randomness must say so). */
export function scriptedRandom(...chunks: Uint8Array[]): Random {
  const q = chunks.map((c) => Uint8Array.from(c));
  return {
    bytes(n) {
      const c = q.shift();
      if (!c) throw new Error('scriptedRandom: out of bytes');
      if (c.length !== n) throw new Error(`scriptedRandom: asked for ${n} bytes, next chunk has ${c.length}`);
      return c;
    },
    float: () => 0.5,
  };
}

export interface LogLine { level: string; component: string; msg: string; fields?: LogFields }

export function recordingLogger(lines: LogLine[] = [], component = 'test'): Logger & { lines: LogLine[] } {
  const mk = (level: string) => (msg: string, fields?: LogFields) => {
    lines.push(fields === undefined ? { level, component, msg } : { level, component, msg, fields });
  };
  return {
    lines,
    debug: mk('debug'),
    info: mk('info'),
    warn: mk('warn'),
    error: mk('error'),
    child: (c: string) => recordingLogger(lines, `${component}/${c}`),
  };
}

/** Every log line as one string, the way a log file would show it (for secret greps). */
export function renderLogs(lines: LogLine[]): string {
  return lines.map((l) => `${l.level} ${l.component} ${l.msg} ${l.fields === undefined ? '' : JSON.stringify(l.fields, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`).join('\n');
}

/** The shared real clock whose timers keep the process alive (see test/doubles/real-clock.ts). */
export { realClock as clock } from '../../../doubles/real-clock.js';

export function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'hex'));
}

/** Path of a file under test/fixtures/control, whether the test runs from source (tsx) or from dist/. */
export function fixturePath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('fixturePath: repository root not found');
    dir = up;
  }
  return join(dir, 'test', 'fixtures', 'control', name);
}
