// The real HostProbe: stat the socket, and see whether the LocalAPI answers a status call.
import { stat } from 'node:fs/promises';
import { LocalClient } from '../../client/localapi-client.js';
import type { HostProbe } from './host-choice.js';

export const nodeHostProbe: HostProbe = {
  async stat(path) {
    try {
      const s = await stat(path);
      return { uid: s.uid, isSocket: s.isSocket() };
    } catch {
      return undefined;
    }
  },
  async answers(path) {
    try {
      await new LocalClient({ socketPath: path, timeoutMs: 2_000 }).call('status', {});
      return true;
    } catch {
      return false;
    }
  },
  currentUid: () => (typeof process.getuid === 'function' ? process.getuid() : -1),
};
