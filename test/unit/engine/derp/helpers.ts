// Test doubles for the DERP/netcheck tests: a logger that records lines (so tests can also assert
// that no secret was logged). The manual clock, seeded random and real clock live in test/doubles/.
import type { Logger, LogFields } from '../../../../main/engine/ports/ports.js';

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
