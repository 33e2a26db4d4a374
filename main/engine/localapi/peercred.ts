// Who is on the other end of a LocalAPI connection: Linux SO_PEERCRED on the accepted unix
// socket (tailscale's ipnauth uses the same kernel facility via peercred). Node exposes no API
// for it, so libc's getsockopt is called through koffi. The fd is the accepted socket's
// (libuv handle's) descriptor.
import * as koffi from 'koffi';
import type { Socket } from 'node:net';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

type GetsockoptFn = (fd: number, level: number, name: number, out: Record<string, number>, len: number[]) => number;
let getsockopt: GetsockoptFn | null | undefined;

function load(): GetsockoptFn | null {
  if (getsockopt !== undefined) return getsockopt;
  try {
    if (process.platform !== 'linux') throw new Error('SO_PEERCRED is Linux-only');
    const libc = koffi.load('libc.so.6');
    const ucred = koffi.struct('meshtray_ucred', { pid: 'int32', uid: 'uint32', gid: 'uint32' });
    getsockopt = libc.func('int getsockopt(int fd, int level, int name, _Out_ meshtray_ucred *val, _Inout_ uint32_t *len)') as GetsockoptFn;
    void ucred;
  } catch {
    getsockopt = null;
  }
  return getsockopt;
}

/** The peer's credentials, or undefined when they cannot be read (then the caller must refuse). */
export function peerCred(socket: Socket): PeerCred | undefined {
  const fn = load();
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (!fn || typeof fd !== 'number' || fd < 0) return undefined;
  const out: Record<string, number> = {};
  const len = [12];
  if (fn(fd, SOL_SOCKET, SO_PEERCRED, out, len) !== 0) return undefined;
  if (typeof out['uid'] !== 'number' || typeof out['pid'] !== 'number' || typeof out['gid'] !== 'number') return undefined;
  return { pid: out['pid'], uid: out['uid'], gid: out['gid'] };
}

/** Root and the daemon's own user may operate the daemon; nobody else (tailscale's default without an operator). */
export function isAllowedPeer(cred: PeerCred | undefined, daemonUid: number, extraUids: readonly number[] = []): boolean {
  if (!cred) return false;
  return cred.uid === 0 || cred.uid === daemonUid || extraUids.includes(cred.uid);
}
