// Chooses the store from tailscaled-style flags: --state=mem: or a path, else <statedir>/meshtrayd.state.
import { join } from 'node:path';
import type { StateStore } from '../ports/ports.js';
import { FileStateStore } from './file-state-store.js';
import { MemoryStateStore } from './memory-state-store.js';

export const STATE_FILE_NAME = 'meshtrayd.state';

export function openStateStore(opts: { state?: string | undefined; statedir?: string | undefined }): StateStore {
  if (opts.state === 'mem:') return new MemoryStateStore();
  if (opts.state) return new FileStateStore(opts.state);
  if (opts.statedir) return new FileStateStore(join(opts.statedir, STATE_FILE_NAME));
  throw new Error('one of --state or --statedir is required');
}
