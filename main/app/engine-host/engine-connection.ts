// What the app needs from the engine, whichever host runs it: the calls of the one table and the
// Notify stream. Both the LocalAPI client (attached to a running meshtrayd) and an in-process host
// satisfy it, so the tray, window and login flow look and behave the same either way.
import type { ApiName, ApiRequest, ApiResponse } from '../../../common/contract/api.js';
import type { Notify } from '../../../common/schemas/notify.js';

export interface EngineConnection {
  call<N extends ApiName>(name: N, request: ApiRequest<N>): Promise<ApiResponse<N>>;
  /** The engine's Notify stream: a full snapshot first, then changes. Ends when `signal` aborts. */
  watch(signal: AbortSignal): AsyncIterable<Notify>;
}
