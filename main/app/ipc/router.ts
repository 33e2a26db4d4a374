// Every invoke from the renderer lands here: sender check, request schema, handler, response
// schema, error envelope. The Electron glue (electron-main.ts) only forwards ipcMain.handle calls;
// the Chromium test harness forwards HTTP calls to the same router, so both paths share one gate.
import type { ZodType } from 'zod';
import { api, type ApiName } from '../../../common/contract/api.js';
import type { Logger } from '../../engine/ports/ports.js';
import type { EngineConnection } from '../engine-host/engine-connection.js';
import { appCalls, type AppCallName, type AppCallRequest, type AppCallResponse } from './app-contract.js';
import { appChannel, engineChannel } from './channels.js';
import { errorToBody, failure, success, type IpcEnvelope } from './envelope.js';
import type { IpcSender, SenderPolicy } from './sender-policy.js';

export type AppHandlers = { [N in AppCallName]: (req: AppCallRequest<N>) => Promise<AppCallResponse<N>> };

interface Route {
  request: ZodType;
  response: ZodType;
  run: (req: unknown) => Promise<unknown>;
}

export interface RouterStats {
  handled: number;
  refusedSender: number;
  badRequest: number;
  badResponse: number;
  failed: number;
}

export class IpcRouter {
  private readonly routes = new Map<string, Route>();
  readonly stats: RouterStats = { handled: 0, refusedSender: 0, badRequest: 0, badResponse: 0, failed: 0 };

  constructor(
    engine: EngineConnection,
    app: AppHandlers,
    private readonly policy: SenderPolicy,
    private readonly log: Logger,
  ) {
    for (const name of Object.keys(api) as ApiName[]) {
      const entry = api[name];
      this.routes.set(engineChannel(name), {
        request: entry.request,
        response: entry.response,
        run: (req) => engine.call(name, req as never),
      });
    }
    for (const name of Object.keys(appCalls) as AppCallName[]) {
      const entry = appCalls[name];
      const handler = app[name] as (req: unknown) => Promise<unknown>;
      this.routes.set(appChannel(name), { request: entry.request, response: entry.response, run: (req) => handler(req) });
    }
  }

  channels(): string[] {
    return [...this.routes.keys()];
  }

  async handle(channel: string, sender: IpcSender, payload: unknown): Promise<IpcEnvelope> {
    const refusal = this.policy.refusal(sender);
    if (refusal !== undefined) {
      this.stats.refusedSender++;
      this.log.warn('ipc: refused sender', { channel, reason: refusal });
      return failure({ code: 'ERR_FORBIDDEN', message: `IPC refused: ${refusal}` });
    }
    const route = this.routes.get(channel);
    if (!route) {
      this.stats.badRequest++;
      this.log.warn('ipc: unknown channel', { channel });
      return failure({ code: 'ERR_NOT_FOUND', message: `no such call: ${channel}` });
    }
    const parsed = route.request.safeParse(payload ?? {});
    if (!parsed.success) {
      this.stats.badRequest++;
      const reason = describeIssues(parsed.error.issues);
      // Only the reason is logged, never the payload: it may carry an auth key.
      this.log.warn('ipc: request failed its schema', { channel, reason });
      return failure({ code: 'ERR_BAD_REQUEST', message: `invalid request for ${channel}: ${reason}` });
    }
    let value: unknown;
    try {
      value = await route.run(parsed.data);
    } catch (e) {
      this.stats.failed++;
      const body = errorToBody(e);
      this.log.info('ipc: call failed', { channel, code: body.code, message: body.message });
      return failure(body);
    }
    const checked = route.response.safeParse(value ?? {});
    if (!checked.success) {
      this.stats.badResponse++;
      const reason = describeIssues(checked.error.issues);
      this.log.error('ipc: response failed its schema', { channel, reason });
      return failure({ code: 'ERR_INTERNAL', message: `the engine answered ${channel} with an unexpected shape: ${reason}` });
    }
    this.stats.handled++;
    return success(checked.data);
  }
}

export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
