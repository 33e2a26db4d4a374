// What the backend needs from the ts2021 control client (main/engine/control/client.ts), as an
// interface so the backend runs against a test double and so the daemon wires the real one.
import type { Clock, Logger, Random } from '../ports/ports.js';
import type { PrivateKey } from '../keys/keys.js';
import type { MapRequest, RegisterRequest, RegisterResponse } from '../control/messages.js';

export interface ControlClientPort {
  register(req: RegisterRequest, opts?: { signal?: AbortSignal }): Promise<RegisterResponse>;
  /** Resolves when the server ends the stream, rejects on any error; onMessage gets each decoded JSON message. */
  mapStream(req: MapRequest, onMessage: (msg: unknown) => void, opts: { signal: AbortSignal }): Promise<void>;
  /** Lite update (Stream:false, OmitPeers:true). */
  mapUpdate(req: MapRequest, opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;
  /**
   * Answers a MapResponse.PingRequest with an empty Types field: a HEAD to its URL, over Noise when
   * URLIsNoise. Headscale uses these to check that a node is alive (HA subnet routers, its debug page).
   */
  answerPing?(req: { URL: string; URLIsNoise?: boolean | undefined }, opts?: { signal?: AbortSignal }): Promise<number>;
  close(): void;
}

export interface ControlClientFactoryOptions {
  serverURL: string;
  machineKey: PrivateKey<'machine'>;
  logger: Logger;
  clock: Clock;
  random: Random;
}

export type ControlClientFactory = (opts: ControlClientFactoryOptions) => ControlClientPort;

/**
 * Whether a control error means "this node is not (or no longer) known with this key": Headscale
 * answers /machine/map with 404 then (control.md §7.2), and the fix is to re-run registration.
 */
export function isNodeNotFound(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as { code?: unknown; details?: { status?: unknown; httpStatus?: unknown }; status?: unknown; statusCode?: unknown; message?: unknown };
  const status = o.details?.status ?? o.details?.httpStatus ?? o.status ?? o.statusCode;
  if (status === 404) return true;
  if (o.code === 'ERR_CONTROL_UNAUTHORIZED' || o.code === 'ERR_NEEDS_LOGIN') return true;
  return typeof o.message === 'string' && /\b404\b|node not found/i.test(o.message);
}
