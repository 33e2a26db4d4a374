// One LocalAPI call through the contract, whatever carries it (the unix-socket server, or the app's
// in-process host): request checked against the call's schema, a missing optional call answered
// "not supported", the backend's answer checked against the response schema before anyone sees it.
import type { z } from 'zod';
import { api, type ApiName } from '../../../common/contract/api.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Logger } from '../ports/ports.js';

/** zod issues as one short line: "path: message; …". */
export function describeIssues(e: z.ZodError): string {
  return e.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

export async function invokeBackend(backend: object, name: ApiName, raw: unknown, log?: Logger): Promise<unknown> {
  const call = api[name];
  const parsed = (call.request as z.ZodType).safeParse(raw ?? {});
  if (!parsed.success) throw new MeshtrayError('ERR_BAD_REQUEST', `invalid ${name} request: ${describeIssues(parsed.error)}`);
  const handler = (backend as Record<string, unknown>)[name] as ((r: unknown) => Promise<unknown>) | undefined;
  if (typeof handler !== 'function') throw new MeshtrayError('ERR_NOT_FOUND', `this engine does not support ${name}`);
  const out = await handler.call(backend, parsed.data);
  const checked = (call.response as z.ZodType).safeParse(out);
  if (!checked.success) {
    log?.error('localapi: handler returned an invalid response', { call: name, reason: describeIssues(checked.error) });
    throw new MeshtrayError('ERR_INTERNAL', `internal error building ${name} response`);
  }
  return checked.data;
}
