// What the engine needs from outside, injected so that protocol logic runs in tests with a
// fake clock, fixed randomness and in-memory storage (Tailscale's tstest clock; wireguard-go's
// NewDevice(tun, bind, logger)). No engine logic calls Date.now, setTimeout or randomBytes directly.

export interface Timer { cancel(): void }

export interface Clock {
  now(): number; // ms since epoch
  setTimeout(fn: () => void, ms: number): Timer;
}

export interface Random {
  bytes(n: number): Uint8Array;
  /** Uniform float in [0, 1), for jitter. */
  float(): number;
}

export type LogFields = Record<string, unknown>;
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(component: string): Logger;
}

/**
 * Secret and non-secret state of the engine (machine key, node key, prefs, profile).
 * The daemon keeps it in a 0600 file; the desktop app keeps the secrets in the OS keychain.
 */
export interface StateStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}
