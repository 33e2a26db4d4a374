// The one API of the engine. The LocalAPI server (daemon), its client (CLI, desktop app),
// the Electron IPC bridge and the renderer's test harness are all built from this table,
// so no call is declared twice. Every request and response has a runtime schema.
import { z } from 'zod';
import { StatusSchema } from '../schemas/status.js';
import { MaskedPrefsSchema, PrefsSchema } from '../schemas/prefs.js';

export const StartRequestSchema = z.object({
  /** Preferences to apply before starting (from `up` flags). */
  Prefs: MaskedPrefsSchema.optional(),
  /** Pre-auth key for a non-interactive login. Never logged, never echoed back. */
  AuthKey: z.string().optional(),
  /** Drop the node key and log in again even if logged in (`up --force-reauth`). */
  ForceReauth: z.boolean().optional(),
});
export type StartRequest = z.infer<typeof StartRequestSchema>;

export const PingRequestSchema = z.object({
  /** A tailnet IP or a peer's name. */
  Target: z.string(),
  Type: z.enum(['disco', 'TSMP', 'ICMP']).default('disco'),
  TimeoutMs: z.number().int().positive().max(60_000).default(5_000),
});
export const PingResultSchema = z.object({
  IP: z.string(),
  NodeIP: z.string().optional(),
  NodeName: z.string().optional(),
  Err: z.string().optional(),
  LatencySeconds: z.number().optional(),
  /** ip:port when the pong came over the direct path. */
  Endpoint: z.string().optional(),
  /** DERP region ID when relayed. */
  DERPRegionID: z.number().optional(),
  DERPRegionCode: z.string().optional(),
});
export type PingResult = z.infer<typeof PingResultSchema>;

export const EmptySchema = z.object({}).strict();

/** Each call: HTTP method + path on the LocalAPI, request body schema (or query), response schema. */
export const api = {
  status: { method: 'GET', path: '/localapi/v0/status', request: EmptySchema, response: StatusSchema },
  getPrefs: { method: 'GET', path: '/localapi/v0/prefs', request: EmptySchema, response: PrefsSchema },
  editPrefs: { method: 'PATCH', path: '/localapi/v0/prefs', request: MaskedPrefsSchema, response: PrefsSchema },
  start: { method: 'POST', path: '/localapi/v0/start', request: StartRequestSchema, response: EmptySchema },
  loginInteractive: { method: 'POST', path: '/localapi/v0/login-interactive', request: EmptySchema, response: EmptySchema },
  down: { method: 'POST', path: '/localapi/v0/down', request: EmptySchema, response: EmptySchema },
  logout: { method: 'POST', path: '/localapi/v0/logout', request: EmptySchema, response: EmptySchema },
  ping: { method: 'POST', path: '/localapi/v0/ping', request: PingRequestSchema, response: PingResultSchema },
} as const;

export type Api = typeof api;
export type ApiName = keyof Api;
export type ApiRequest<N extends ApiName> = z.input<Api[N]['request']>;
export type ApiResponse<N extends ApiName> = z.infer<Api[N]['response']>;

/** The Notify stream: newline-delimited JSON of NotifySchema objects. */
export const WATCH_PATH = '/localapi/v0/watch-ipn-bus';
