// The app shell's own calls (not engine calls): they exist only in the desktop app, so they are
// not in common/contract/api.ts. Same shape as the engine table: request and response schemas,
// validated by main's IPC router and by the renderer's client (one table for both sides; the
// renderer may import only common/, so it lives here).
import { z } from 'zod';
import { EmptySchema } from './api.js';

export const LoginPhaseSchema = z.enum([
  'idle', // nothing in progress
  'checking-server', // GET <server>/key answered?
  'server-unreachable', // the check failed: nothing was changed, the browser was not opened
  'starting', // engine asked to log in, waiting for its AuthURL
  'waiting-for-browser', // AuthURL opened in the system browser, waiting for control to authorize the node
  'succeeded', // engine reports Running
  'timed-out', // the browser never came back
  'failed', // the engine refused (message says why)
]);
export type LoginPhase = z.infer<typeof LoginPhaseSchema>;

export const LoginProgressSchema = z.object({
  phase: LoginPhaseSchema,
  controlURL: z.string(),
  /** The URL we opened, so the user can open it by hand if the browser did not appear. */
  authURL: z.string().optional(),
  message: z.string().optional(),
});
export type LoginProgress = z.infer<typeof LoginProgressSchema>;

export const UpdatePhaseSchema = z.enum(['idle', 'checking', 'up-to-date', 'downloading', 'ready', 'installing', 'error']);
export const UpdateStateSchema = z.object({
  phase: UpdatePhaseSchema,
  currentVersion: z.string(),
  availableVersion: z.string().optional(),
  /** Percent 0..100 while downloading. */
  percent: z.number().min(0).max(100).optional(),
  /** A clear, user-facing sentence for errors and deferrals. */
  message: z.string().optional(),
  /** The ready update waits for the user (or quit) because the engine is connecting. */
  deferredReason: z.string().optional(),
  lastCheckedAt: z.number().optional(),
});
export type UpdateState = z.infer<typeof UpdateStateSchema>;

export const EngineHostSchema = z.object({
  mode: z.enum(['attached', 'in-process', 'unavailable']),
  /** Where: the socket path we attached to, or the helper socket. */
  detail: z.string(),
});

export const AppStateSchema = z.object({
  login: LoginProgressSchema,
  update: UpdateStateSchema,
  host: EngineHostSchema,
  /** False while the engine's status stream is down (daemon stopped or crashed); the window then says so. */
  engineReachable: z.boolean(),
  /** Keychain problems (locked, missing backend) as one user-facing sentence. */
  secretsWarning: z.string().optional(),
});
export type AppState = z.infer<typeof AppStateSchema>;

export const ServerCheckRequestSchema = z.object({ URL: z.string().min(1).max(2048) }).strict();
export const ServerCheckResultSchema = z.object({
  URL: z.string(),
  reachable: z.boolean(),
  message: z.string(),
});
export type ServerCheckResult = z.infer<typeof ServerCheckResultSchema>;

export const LoginRequestSchema = z
  .object({
    ControlURL: z.string().min(1).max(2048),
    /** Log in again although logged in (key about to expire): the engine's `up --force-reauth`. */
    Reauth: z.boolean().optional(),
  })
  .strict();

/**
 * Copy a short text (an address) to the system clipboard through main (Electron's clipboard module).
 * Not navigator.clipboard: main denies every permission request, and Electron gates the async
 * Clipboard API's writes behind the 'clipboard-sanitized-write' permission (electron/electron#37158),
 * so a page-side copy would fail silently in the real app.
 */
export const CopyTextRequestSchema = z.object({ Text: z.string().min(1).max(4096) }).strict();

export const appCalls = {
  getAppState: { request: EmptySchema, response: AppStateSchema },
  checkServer: { request: ServerCheckRequestSchema, response: ServerCheckResultSchema },
  login: { request: LoginRequestSchema, response: EmptySchema },
  cancelLogin: { request: EmptySchema, response: EmptySchema },
  checkForUpdates: { request: EmptySchema, response: UpdateStateSchema },
  installUpdate: { request: EmptySchema, response: EmptySchema },
  copyText: { request: CopyTextRequestSchema, response: EmptySchema },
} as const;
export type AppCalls = typeof appCalls;
export type AppCallName = keyof AppCalls;
export type AppCallRequest<N extends AppCallName> = z.input<AppCalls[N]['request']>;
export type AppCallResponse<N extends AppCallName> = z.infer<AppCalls[N]['response']>;
