// The engine connection when no engine can be reached: every call fails with the reason, and the
// Notify stream ends at once (the app shows "engine not running" and retries the watch).
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { EngineConnection } from './engine-connection.js';

export function unavailableEngine(reason: string): EngineConnection {
  return {
    call: () => Promise.reject(new MeshtrayError('ERR_NOT_FOUND', `The Meshtray engine is not available: ${reason}`)),
    // eslint-disable-next-line require-yield
    async *watch() {
      throw new MeshtrayError('ERR_NOT_FOUND', `The Meshtray engine is not available: ${reason}`);
    },
  };
}
