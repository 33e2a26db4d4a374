// The native addon's descriptor functions (native/index.d.ts: openTunFd, openUdpFd, sendFds,
// helperExchange, closeFd). Node cannot pass descriptors over a unix socket (SCM_RIGHTS) or set
// SO_MARK, so both sides of the helper protocol use the addon for that part. Loaded from the same
// file the engine's data plane uses (main/engine/dataplane/native-loader.ts addonCandidates).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { addonCandidates } from '../../engine/dataplane/native-loader.js';

export interface NativeFdApi {
  openTunFd(o: { name: string; mtu: number; addresses?: string[]; offload?: boolean }): { fd: number; name: string; offload: boolean };
  openUdpFd(o: { port: number; fwmark?: number }): { fd: number; port: number };
  sendFds(socketFd: number, data: Uint8Array, fds: number[]): void;
  helperExchange(socketPath: string, requestLine: string, timeoutMs: number): Promise<{ reply: string; fds: number[] }>;
  closeFd(fd: number): void;
}

const NAMES = ['openTunFd', 'openUdpFd', 'sendFds', 'helperExchange', 'closeFd'] as const;
let cached: NativeFdApi | undefined;

export function loadNativeFdApi(env: NodeJS.ProcessEnv = process.env): NativeFdApi {
  if (cached) return cached;
  const path = addonCandidates(env).find((p) => existsSync(p));
  if (!path) throw new MeshtrayError('ERR_INTERNAL', 'The Meshtray native addon is not built (npm run build:native); the helper cannot pass the TUN descriptor without it.');
  let mod: Record<string, unknown>;
  try {
    mod = createRequire(import.meta.url)(path) as Record<string, unknown>;
  } catch (e) {
    throw new MeshtrayError('ERR_INTERNAL', `The Meshtray native addon at ${path} failed to load: ${(e as Error).message}`, { path }, { cause: e });
  }
  const missing = NAMES.filter((n) => typeof mod[n] !== 'function');
  if (missing.length) throw new MeshtrayError('ERR_INTERNAL', `The Meshtray native addon at ${path} is too old: no ${missing.join(', ')}`, { path });
  cached = mod as unknown as NativeFdApi;
  return cached;
}
