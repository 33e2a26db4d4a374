// The renderer's side of window.meshtray: unwraps each envelope, validates the value with the same
// schema main used, and rebuilds errors as MeshtrayError with their code.
import { z, type ZodType } from 'zod';
import { api, type ApiName, type ApiRequest, type ApiResponse } from '../../common/contract/api.js';
import { ErrorBodySchema, MeshtrayError } from '../../common/errors/errors.js';
import { NotifySchema, type Notify } from '../../common/schemas/notify.js';
import { AppStateSchema, appCalls, type AppCallName, type AppCallRequest, type AppCallResponse, type AppState } from '../../common/contract/app.js';

/** What the preload (or the test harness) puts on window.meshtray. */
export type RawBridge = { [N in ApiName]: (req?: unknown) => Promise<unknown> } & {
  app: { [N in AppCallName]: (req?: unknown) => Promise<unknown> };
  onNotify(cb: (n: unknown) => void): () => void;
  onAppState(cb: (s: unknown) => void): () => void;
};

declare global {
  interface Window {
    meshtray?: RawBridge;
  }
}

const EnvelopeSchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({ ok: z.literal(false), error: ErrorBodySchema }),
]);

function unwrap<T>(raw: unknown, schema: ZodType<T>, what: string): T {
  const env = EnvelopeSchema.safeParse(raw);
  if (!env.success) throw new MeshtrayError('ERR_INTERNAL', `malformed reply to ${what}`);
  if (!env.data.ok) throw MeshtrayError.fromBody(env.data.error);
  const v = schema.safeParse(env.data.value);
  if (!v.success) throw new MeshtrayError('ERR_INTERNAL', `unexpected reply to ${what}: ${v.error.issues[0]?.message ?? ''}`);
  return v.data;
}

export class MeshtrayClient {
  droppedMessages = 0;
  /** Why the last pushed message was dropped (schema issues), for the console and tests. */
  lastDropReason: string | undefined;
  constructor(private readonly raw: RawBridge) {}

  private drop(what: string, issues: readonly { path: readonly PropertyKey[]; message: string }[]): void {
    this.droppedMessages++;
    this.lastDropReason = `${what}: ${issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ')}`;
    // The renderer has no log file; the console is where main's log would be (devtools, Electron's stdout).
    console.warn(`meshtray: dropped a malformed ${this.lastDropReason}`);
  }

  async call<N extends ApiName>(name: N, req: ApiRequest<N>): Promise<ApiResponse<N>> {
    return unwrap(await this.raw[name](req), api[name].response as unknown as ZodType<ApiResponse<N>>, name);
  }

  async app<N extends AppCallName>(name: N, req: AppCallRequest<N>): Promise<AppCallResponse<N>> {
    return unwrap(await this.raw.app[name](req), appCalls[name].response as unknown as ZodType<AppCallResponse<N>>, name);
  }

  onNotify(cb: (n: Notify) => void): () => void {
    return this.raw.onNotify((raw) => {
      const p = NotifySchema.safeParse(raw);
      if (p.success) cb(p.data);
      else this.drop('Notify', p.error.issues);
    });
  }

  onAppState(cb: (s: AppState) => void): () => void {
    return this.raw.onAppState((raw) => {
      const p = AppStateSchema.safeParse(raw);
      if (p.success) cb(p.data);
      else this.drop('app state', p.error.issues);
    });
  }
}
