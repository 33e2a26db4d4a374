// The app side of the descriptor handover, meant to run as an UNPRIVILEGED user (setpriv
// --reuid=65534): asks the helper for the descriptors (helperExchange), builds the engine's native
// DataPlane from them, and is driven by the test over the Node IPC channel (ops below). It answers
// ICMP echo requests that reach it through the TUN's intercept path, so a ping from the
// namespace proves both TUN directions.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { addonCandidates } from '../../../main/engine/dataplane/native-loader.js';
import { openNativeDataPlane } from '../../../main/engine/dataplane/native-data-plane.js';
import type { DataPlane } from '../../../main/engine/dataplane/data-plane.js';
import { PublicKey } from '../../../main/engine/keys/keys.js';

interface FdApi {
  openTunFd(o: { name: string; mtu: number }): { fd: number; name: string; offload: boolean };
  helperExchange(socketPath: string, requestLine: string, timeoutMs: number): Promise<{ reply: string; fds: number[] }>;
}

type Msg = { id: number; op: string; [k: string]: unknown };
const api = createRequire(import.meta.url)(addonCandidates().find((p) => existsSync(p))!) as FdApi;
let dp: DataPlane | undefined;
const send = (m: unknown): void => { if (process.connected) process.send?.(m, undefined, {}, () => {}); };

async function handle(m: Msg): Promise<unknown> {
  switch (m.op) {
    case 'whoami':
      return { uid: process.getuid?.(), gid: process.getgid?.() };
    case 'tryOpenTun':
      // What the app could do on its own: nothing (that is why the helper exists).
      try {
        api.openTunFd({ name: 'mtfd-self', mtu: 1280 });
        return { code: 'opened' };
      } catch (e) {
        return { code: (e as { code?: string }).code, message: (e as Error).message };
      }
    case 'adopt': {
      const got = await api.helperExchange(String(m.socketPath), JSON.stringify({ op: 'tun.open' }) + '\n', 5000);
      const [tunFd, udpFd] = got.fds;
      dp = openNativeDataPlane({
        tunName: 'label-only', mtu: 1280, listenPort: 9,
        privateKey: m.privateKey ? new Uint8Array(Buffer.from(String(m.privateKey), 'base64')) : new Uint8Array(randomBytes(32)),
        intercept: m.intercept as string[], tunFd: tunFd!, udpFd: udpFd!, tunOffload: false,
      });
      dp.onDisco((src, bytes) => send({ event: 'disco', src, text: Buffer.from(bytes).toString('latin1') }));
      dp.onIntercept((packet) => {
        const reply = icmpEchoReply(packet);
        send({ event: 'intercept', len: packet.length, echo: !!reply });
        if (reply) dp!.writeToTun(reply);
      });
      return { reply: got.reply, fds: got.fds, port: dp.port, tunName: dp.tunName, offload: dp.offload };
    }
    case 'setPeers':
      dp!.setPeers((m.peers as { publicKey: string; allowedIps: string[]; endpoint: string | null; useDerp: boolean }[]).map((p) => ({
        ...p, publicKey: PublicKey.fromRaw('node', new Uint8Array(Buffer.from(p.publicKey, 'base64'))),
      })));
      return null;
    case 'peerStats':
      return dp!.peerStats().map((p) => ({ ...p, publicKey: p.publicKey.toString() }));
    case 'sendUdp':
      dp!.sendUdp(String(m.addr), Buffer.from(String(m.text)));
      return null;
    case 'counters':
      return dp!.counters();
    case 'close':
      dp?.close();
      return null;
    default:
      throw new Error(`unknown op ${m.op}`);
  }
}

/** IPv4 ICMP echo request -> echo reply (swap addresses, type 0, fix checksums). */
function icmpEchoReply(p: Uint8Array): Uint8Array | undefined {
  const b = Buffer.from(p);
  if (b.length < 28 || b[0]! >> 4 !== 4 || b[9] !== 1) return undefined;
  const ihl = (b[0]! & 0x0f) * 4;
  if (b[ihl] !== 8) return undefined;
  const src = Buffer.from(b.subarray(12, 16));
  b.set(b.subarray(16, 20), 12);
  b.set(src, 16);
  b[ihl] = 0;
  b.writeUInt16BE(0, ihl + 2);
  b.writeUInt16BE(checksum(b.subarray(ihl)), ihl + 2);
  b.writeUInt16BE(0, 10);
  b.writeUInt16BE(checksum(b.subarray(0, ihl)), 10);
  return b;
}

function checksum(b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < b.length; i += 2) s += (b[i]! << 8) + (b[i + 1] ?? 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

process.on('message', (m: Msg) => {
  handle(m).then(
    (result) => send({ id: m.id, result }),
    (e: unknown) => send({ id: m.id, error: e instanceof Error ? e.message : String(e), code: (e as { code?: string }).code }),
  );
});
process.on('disconnect', () => { dp?.close(); process.exit(0); });
send({ event: 'ready' });
