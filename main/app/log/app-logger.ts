// The engine's Logger port on top of electron-log (or anything with the same four functions),
// with redaction applied to every message before any transport sees it.
import type { LogFields, Logger } from '../../engine/ports/ports.js';
import { redactValue } from './redact.js';

export interface LogSink {
  debug(...args: unknown[]): void;
  info(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

/** An electron-log hook: scrubs every argument of every message (installed in log.hooks). */
export function redactingHook<M extends { data: unknown[] }>(message: M): M {
  return { ...message, data: message.data.map((d) => redactValue(d)) };
}

export function createAppLogger(sink: LogSink, component = 'app'): Logger {
  const emit = (level: keyof LogSink) => (msg: string, fields?: LogFields) =>
    fields ? sink[level](`[${component}] ${msg}`, redactValue(fields)) : sink[level](`[${component}] ${msg}`);
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (c) => createAppLogger(sink, `${component}/${c}`),
  };
}
