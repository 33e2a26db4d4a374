// The engine hosted inside the app process (README: desktop hosts without a running meshtrayd):
// the same LocalBackend the daemon runs, with the real ts2021 control client, and the app's
// keychain-backed StateStore. Calls go through the contract's schemas exactly as over the
// LocalAPI socket, so the window and tray behave the same in both hosts.
import { hostname, machine, release } from 'node:os';
import type { z } from 'zod';
import { api, type ApiName, type ApiRequest, type ApiResponse } from '../../../common/contract/api.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Notify } from '../../../common/schemas/notify.js';
import { LocalBackend } from '../../engine/backend/local-backend.js';
import { ControlClient } from '../../engine/control/client.js';
import type { LocalApiBackend } from '../../engine/localapi/server.js';
import type { Logger, StateStore } from '../../engine/ports/ports.js';
import { systemClock, systemRandom } from '../../engine/ports/system.js';
import type { EngineConnection } from './engine-connection.js';

/** An EngineConnection straight onto a backend object (no socket), validating both directions. */
export function backendConnection(backend: LocalApiBackend): EngineConnection {
  return {
    async call<N extends ApiName>(name: N, request: ApiRequest<N>): Promise<ApiResponse<N>> {
      const entry = api[name];
      const req = (entry.request as z.ZodType).safeParse(request ?? {});
      if (!req.success) throw new MeshtrayError('ERR_BAD_REQUEST', `invalid ${name} request: ${req.error.issues[0]?.message ?? ''}`);
      const handler = backend[name] as (r: unknown) => Promise<unknown>;
      const res = (entry.response as z.ZodType).safeParse(await handler.call(backend, req.data));
      if (!res.success) throw new MeshtrayError('ERR_INTERNAL', `engine answered ${name} with an unexpected shape`);
      return res.data as ApiResponse<N>;
    },
    watch(signal: AbortSignal): AsyncIterable<Notify> {
      return {
        [Symbol.asyncIterator](): AsyncIterator<Notify> {
          const queue: Notify[] = [];
          let wake: (() => void) | undefined;
          const unsubscribe = backend.watch((n) => {
            queue.push(n);
            wake?.();
          });
          const onAbort = (): void => wake?.();
          signal.addEventListener('abort', onAbort, { once: true });
          return {
            async next(): Promise<IteratorResult<Notify>> {
              for (;;) {
                if (signal.aborted) {
                  unsubscribe();
                  return { value: undefined, done: true };
                }
                const n = queue.shift();
                if (n) return { value: n, done: false };
                await new Promise<void>((r) => (wake = r));
                wake = undefined;
              }
            },
            async return(): Promise<IteratorResult<Notify>> {
              unsubscribe();
              signal.removeEventListener('abort', onAbort);
              return { value: undefined, done: true };
            },
          };
        },
      };
    },
  };
}

export interface InProcessEngine {
  engine: EngineConnection;
  backend: LocalBackend;
  stop(): Promise<void>;
}

export async function startInProcessEngine(o: { store: StateStore; log: Logger; version: string }): Promise<InProcessEngine> {
  const backend = new LocalBackend({
    store: o.store,
    clock: systemClock,
    random: systemRandom,
    logger: o.log.child('backend'),
    controlFactory: (c) => new ControlClient(c),
    // Control plane only for now, as in meshtrayd: the TUN/route/DNS work will go to the helper.
    hostFacts: { hostname: hostname(), osVersion: release(), version: o.version, userspace: true, machine: machine() },
    version: o.version,
  });
  await backend.init();
  return { engine: backendConnection(backend), backend, stop: () => backend.shutdown() };
}
