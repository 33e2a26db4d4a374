// Finds and loads the compiled addon (native/meshtray-native.node, built by `npm run build:native`).
// The engine does not import native/index.js (the layering check keeps main/engine self-contained);
// it resolves the file itself: MESHTRAY_NATIVE_PATH, else the nearest ancestor's native/ folder,
// which covers both the source tree (tsx) and dist/main/engine/dataplane.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeshtrayError } from '../../../common/errors/errors.js';

export const ADDON_FILE = 'meshtray-native.node';

export interface NativeDataPlaneCtor {
  new (opts: {
    tunName: string; mtu: number; listenPort: number; privateKey: Uint8Array;
    addresses?: string[]; maxDatagram?: number; intercept?: string[]; fwmark?: number; bindDevice?: string; offload?: boolean;
    /** Adopted descriptors from the privileged helper (native/index.d.ts). */
    tunFd?: number; udpFd?: number; tunOffload?: boolean;
  }): NativeDataPlaneHandle;
}

export interface NativeDataPlaneHandle {
  readonly port: number;
  readonly tunName: string;
  readonly offload: boolean;
  setPeers(peers: { publicKey: Uint8Array; allowedIps: string[]; endpoint?: string; useDerp: boolean; keepalive?: number }[]): void;
  injectFromDerp(src: Uint8Array, data: Uint8Array): void;
  sendUdp(addr: string, data: Uint8Array): void;
  onDisco(cb: (src: string, data: Buffer) => void): void;
  onStun(cb: (src: string, data: Buffer) => void): void;
  onDerpSend(cb: (dst: Buffer, data: Buffer) => void): void;
  onPeerAddr(cb: (key: Buffer, addr: string) => void): void;
  onIntercept(cb: (packet: Buffer) => void): void;
  writeToTun(packet: Uint8Array): void;
  counters(): Record<string, number>;
  peerStats(): { publicKey: Buffer; endpoint: string | null; useDerp: boolean; lastHandshakeMs: number | null; txBytes: number; rxBytes: number; lastRxAddr: string | null }[];
  close(): void;
}

/** Where the addon is looked for, in order. */
export function addonCandidates(env: NodeJS.ProcessEnv = process.env, from: string = fileURLToPath(import.meta.url)): string[] {
  const out: string[] = [];
  if (env.MESHTRAY_NATIVE_PATH) out.push(env.MESHTRAY_NATIVE_PATH);
  let dir = dirname(from);
  for (;;) {
    out.push(join(dir, 'native', ADDON_FILE));
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return out;
}

let cached: NativeDataPlaneCtor | undefined;

export function loadNativeDataPlane(env: NodeJS.ProcessEnv = process.env): NativeDataPlaneCtor {
  if (cached && !env.MESHTRAY_NATIVE_PATH) return cached;
  const candidates = addonCandidates(env);
  // An explicit path must exist; do not silently fall back to another build.
  const path = env.MESHTRAY_NATIVE_PATH ? (existsSync(env.MESHTRAY_NATIVE_PATH) ? env.MESHTRAY_NATIVE_PATH : undefined) : candidates.find((p) => existsSync(p));
  if (!path) {
    throw new MeshtrayError(
      'ERR_INTERNAL',
      'The Meshtray data-plane addon is not built. Run `npm run build:native` (needs Rust/cargo), ' +
        'or set MESHTRAY_NATIVE_PATH to a built meshtray-native.node.',
      { looked: env.MESHTRAY_NATIVE_PATH ? [env.MESHTRAY_NATIVE_PATH] : candidates.slice(0, 6) },
    );
  }
  const require = createRequire(import.meta.url);
  let mod: unknown;
  try {
    mod = require(path);
  } catch (e) {
    throw new MeshtrayError('ERR_INTERNAL', `The Meshtray data-plane addon at ${path} failed to load: ${(e as Error).message}`, { path }, { cause: e });
  }
  const ctor = (mod as { DataPlane?: unknown }).DataPlane;
  if (typeof ctor !== 'function') {
    throw new MeshtrayError('ERR_INTERNAL', `${path} is not a Meshtray data-plane addon (no DataPlane export)`, { path });
  }
  if (!env.MESHTRAY_NATIVE_PATH) cached = ctor as NativeDataPlaneCtor;
  return ctor as NativeDataPlaneCtor;
}
