// Child process that hosts one native DataPlane inside a network namespace (started with
// `ip netns exec <ns> node netns-worker.js`; a process's TUN and sockets live in its namespace).
// The test drives it over the Node IPC channel; callbacks from the addon are forwarded as events.
import { createSocket } from 'node:dgram';
import { PublicKey } from '../../../main/engine/keys/keys.js';
import { openNativeDataPlane } from '../../../main/engine/dataplane/native-data-plane.js';
import type { DataPlane } from '../../../main/engine/dataplane/data-plane.js';

type Msg = { id: number; op: string; [k: string]: unknown };

let dp: DataPlane | undefined;
const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const unb64 = (s: unknown): Uint8Array => new Uint8Array(Buffer.from(String(s), 'base64'));
// After the parent disconnects, late callbacks must not crash the worker with EPIPE.
const send = (m: unknown): void => { if (process.connected) process.send?.(m, undefined, {}, () => {}); };

async function handle(m: Msg): Promise<unknown> {
  switch (m.op) {
    case 'open': {
      dp = openNativeDataPlane({
        tunName: String(m.tunName), mtu: Number(m.mtu), listenPort: Number(m.listenPort),
        privateKey: unb64(m.privateKey), addresses: m.addresses as string[],
        ...(m.intercept ? { intercept: m.intercept as string[] } : {}),
        ...(m.fwmark !== undefined ? { fwmark: Number(m.fwmark) } : {}),
        ...(m.offload !== undefined ? { offload: Boolean(m.offload) } : {}),
      });
      dp.onDisco((src, bytes) => send({ event: 'disco', src, bytes: b64(bytes) }));
      dp.onStun((src, bytes) => send({ event: 'stun', src, bytes: b64(bytes) }));
      dp.onDerpSend((dst, bytes) => send({ event: 'derp', dst: b64(dst.raw), bytes: b64(bytes) }));
      dp.onPeerAddr((peer, addr) => send({ event: 'peerAddr', peer: b64(peer.raw), addr }));
      dp.onIntercept((packet) => {
        send({ event: 'intercept', bytes: b64(packet) });
        // Answer ICMP echo requests to the intercepted address, as a quad-100 responder would
        // answer DNS: proves the writeToTun direction end to end.
        const reply = icmpEchoReply(packet);
        if (reply) dp!.writeToTun(reply);
      });
      return { port: dp.port, tunName: dp.tunName, offload: dp.offload };
    }
    case 'setPeers':
      dp!.setPeers((m.peers as { publicKey: string; allowedIps: string[]; endpoint: string | null; useDerp: boolean; keepalive?: number }[]).map((p) => ({
        ...p, publicKey: PublicKey.fromRaw('node', unb64(p.publicKey)),
      })));
      return null;
    case 'inject':
      dp!.injectFromDerp(PublicKey.fromRaw('node', unb64(m.src)), unb64(m.bytes));
      return null;
    case 'sendUdp':
      dp!.sendUdp(String(m.addr), unb64(m.bytes));
      return null;
    case 'writeToTun':
      dp!.writeToTun(unb64(m.bytes));
      return null;
    case 'counters':
      return dp!.counters();
    case 'peerStats':
      return dp!.peerStats().map((p) => ({ ...p, publicKey: p.publicKey.toString() }));
    case 'rawSend': {
      // A separate, ordinary UDP socket: the "attacker" sending malformed datagrams.
      const s = createSocket(String(m.addr).includes('[') ? 'udp6' : 'udp4');
      const [host, port] = splitHostPort(String(m.addr));
      for (const p of m.packets as string[]) {
        await new Promise<void>((res, rej) => s.send(unb64(p), port, host, (e) => (e ? rej(e) : res())));
      }
      s.close();
      return null;
    }
    case 'close':
      // Keep the object: later calls must fail inside the addon ("closed"), not here.
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
  const src = b.subarray(12, 16).toString('hex');
  b.set(b.subarray(16, 20), 12);
  b.set(Buffer.from(src, 'hex'), 16);
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

function splitHostPort(a: string): [string, number] {
  const i = a.lastIndexOf(':');
  return [a.slice(0, i).replace(/^\[|\]$/g, ''), Number(a.slice(i + 1))];
}

process.on('message', (m: Msg) => {
  handle(m).then(
    (result) => send({ id: m.id, result }),
    (e: unknown) => send({ id: m.id, error: e instanceof Error ? `${e.message}` : String(e), code: (e as { code?: string }).code }),
  );
});
process.on('disconnect', () => { dp?.close(); process.exit(0); });
send({ event: 'ready' });
