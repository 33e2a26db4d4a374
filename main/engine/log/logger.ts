// The engine's Logger: one JSON object per line (easy to grep in the lab, and what systemd's
// journal and log shippers read), levels, per-component children. Every message and field passes
// through redact() before it is written.
import type { LogFields, Logger } from '../ports/ports.js';
import { redactString, redactValue } from './redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LineLoggerOptions {
  /** Where lines go; defaults to stderr. */
  write?: (line: string) => void;
  level?: LogLevel;
  /** Timestamp source (the Clock port's now()); defaults to Date.now. */
  now?: () => number;
  component?: string;
}

export class LineLogger implements Logger {
  private readonly write: (line: string) => void;
  private readonly min: number;
  private readonly now: () => number;
  constructor(private readonly opts: LineLoggerOptions = {}) {
    this.write = opts.write ?? ((l) => process.stderr.write(l));
    this.min = ORDER[opts.level ?? 'info'];
    this.now = opts.now ?? Date.now;
  }
  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }
  child(component: string): Logger {
    const c = this.opts.component ? `${this.opts.component}.${component}` : component;
    return new LineLogger({ ...this.opts, write: this.write, component: c });
  }
  private log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (ORDER[level] < this.min) return;
    const rec: Record<string, unknown> = { t: new Date(this.now()).toISOString(), level };
    if (this.opts.component) rec['c'] = this.opts.component;
    rec['msg'] = redactString(msg);
    if (fields) {
      const red = redactValue(fields) as Record<string, unknown>;
      for (const [k, v] of Object.entries(red)) if (!(k in rec)) rec[k] = v;
    }
    let line: string;
    try {
      line = JSON.stringify(rec);
    } catch {
      line = JSON.stringify({ t: rec['t'], level, msg: rec['msg'], err: 'unserialisable fields' });
    }
    this.write(line + '\n');
  }
}

/** tailscaled's --verbose=N: 0 = info, ≥1 = debug. */
export function levelFromVerbose(v: number): LogLevel {
  return v >= 1 ? 'debug' : 'info';
}

/** A logger that records lines in memory, for tests and for grep-for-secrets checks. */
export function memoryLogger(level: LogLevel = 'debug'): { logger: LineLogger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new LineLogger({ level, write: (l) => lines.push(l) }), lines };
}
