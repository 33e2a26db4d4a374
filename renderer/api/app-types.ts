// The app shell's state as the renderer sees it. Mirrors main/app/ipc/app-contract.ts (the renderer
// may import only common/); test/unit/renderer/app-types-match.test.ts fails the build if the two drift.
import { z } from 'zod';

export const LoginProgressSchema = z.object({
  phase: z.enum(['idle', 'checking-server', 'server-unreachable', 'starting', 'waiting-for-browser', 'succeeded', 'timed-out', 'failed']),
  controlURL: z.string(),
  authURL: z.string().optional(),
  message: z.string().optional(),
});
export type LoginProgress = z.infer<typeof LoginProgressSchema>;

export const UpdateStateSchema = z.object({
  phase: z.enum(['idle', 'checking', 'up-to-date', 'downloading', 'ready', 'installing', 'error']),
  currentVersion: z.string(),
  availableVersion: z.string().optional(),
  percent: z.number().min(0).max(100).optional(),
  message: z.string().optional(),
  deferredReason: z.string().optional(),
  lastCheckedAt: z.number().optional(),
});
export type UpdateState = z.infer<typeof UpdateStateSchema>;

export const AppStateSchema = z.object({
  login: LoginProgressSchema,
  update: UpdateStateSchema,
  host: z.object({ mode: z.enum(['attached', 'in-process', 'unavailable']), detail: z.string() }),
  engineReachable: z.boolean(),
  secretsWarning: z.string().optional(),
});
export type AppState = z.infer<typeof AppStateSchema>;

export const ServerCheckResultSchema = z.object({ URL: z.string(), reachable: z.boolean(), message: z.string() });
export type ServerCheckResult = z.infer<typeof ServerCheckResultSchema>;

export const EmptyResponseSchema = z.object({}).strict();

export const appResponseSchemas = {
  getAppState: AppStateSchema,
  checkServer: ServerCheckResultSchema,
  login: EmptyResponseSchema,
  cancelLogin: EmptyResponseSchema,
  checkForUpdates: UpdateStateSchema,
  installUpdate: EmptyResponseSchema,
} as const;
export type AppCallName = keyof typeof appResponseSchemas;
export type AppCallRequests = {
  getAppState: Record<string, never>;
  checkServer: { URL: string };
  login: { ControlURL: string; Reauth?: boolean };
  cancelLogin: Record<string, never>;
  checkForUpdates: Record<string, never>;
  installUpdate: Record<string, never>;
};
