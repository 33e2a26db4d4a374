// A small in-process DERP server over plain TCP, written from the protocol notes, for client
// unit tests (failure modes a real derper will not produce on demand). Real-derper tests live in
// test/e2e/derp.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { SharedBox } from '../../../../main/engine/crypto/nacl-box.js';
import { Counters } from '../../../../main/engine/derp/counters.js';
import type { DerpDialer } from '../../../../main/engine/derp/dial.js';
import {
  encodeFrame, encodePeerGone, encodeRecvPacket, encodeServerKey, FrameType, FRAME_HEADER_LEN,
} from '../../../../main/engine/derp/frames.js';
import { PrivateKey, PublicKey } from '../../../../main/engine/keys/keys.js';
import { SeededRandom } from '../../../doubles/seeded-random.js';

export type FakeMode = 'normal' | 'refuse-upgrade' | 'bad-server-info' | 'huge-frame' | 'wrong-first-frame';

export class FakeDerpServer {
  readonly key = PrivateKey.fromRaw('node', new Uint8Array(32).fill(0x5a));
  mode: FakeMode = 'normal';
  readonly requests: string[] = [];
  readonly clientInfos: unknown[] = [];
  readonly preferred: number[] = [];
  private conns = new Map<string, Socket>();
  private sentTo = new Map<string, Set<string>>(); // src -> dsts it sent to
  private sockets = new Set<Socket>();
  private server: Server | undefined;
  port = 0;
  private readonly random = new SeededRandom(7);

  async listen(port = 0): Promise<void> {
    this.server = createServer((s) => this.onConn(s));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Closes the listener and every connection (a "derper crash"). */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }

  dialer(): DerpDialer {
    return (_node, _t) =>
      new Promise((resolve, reject) => {
        const s = connect(this.port, '127.0.0.1');
        s.once('connect', () => { s.removeListener('error', reject); resolve(s); });
        s.once('error', reject);
      });
  }

  connectedKeys(): string[] {
    return [...this.conns.keys()];
  }

  private onConn(s: Socket): void {
    this.sockets.add(s);
    let buf = Buffer.alloc(0);
    let phase: 'http' | 'info' | 'steady' = 'http';
    let me: string | undefined;
    s.on('error', () => {});
    s.on('close', () => {
      this.sockets.delete(s);
      if (me && this.conns.get(me) === s) {
        this.conns.delete(me);
        // PeerGone to everyone who received from `me`.
        for (const dst of this.sentTo.get(me) ?? []) this.conns.get(dst)?.write(encodePeerGone(hexKey(me), 0));
      }
    });
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (phase === 'http') {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        this.requests.push(buf.subarray(0, end).toString());
        buf = buf.subarray(end + 4);
        if (this.mode === 'refuse-upgrade') {
          s.end('HTTP/1.1 426 Upgrade Required\r\nContent-Length: 33\r\n\r\nDERP requires connection upgrade\n');
          return;
        }
        const first = this.mode === 'wrong-first-frame' ? encodeFrame(FrameType.KeepAlive) : encodeServerKey(this.key.public.raw);
        s.write(Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: DERP\r\nConnection: Upgrade\r\nDerp-Version: 2\r\n\r\n'), first]));
        phase = 'info';
      }
      while (buf.length >= FRAME_HEADER_LEN) {
        const t = buf[0]!;
        const n = buf.readUInt32BE(1);
        if (buf.length < FRAME_HEADER_LEN + n) break;
        const p = new Uint8Array(buf.subarray(FRAME_HEADER_LEN, FRAME_HEADER_LEN + n));
        buf = buf.subarray(FRAME_HEADER_LEN + n);
        if (phase === 'info') {
          if (t !== FrameType.ClientInfo) { s.destroy(); return; }
          const clientPub = PublicKey.fromRaw('node', p.subarray(0, 32));
          const box = SharedBox.between(this.key, clientPub);
          const plain = box.open(p.subarray(32));
          if (!plain) { s.destroy(); return; }
          this.clientInfos.push(JSON.parse(new TextDecoder().decode(plain)));
          me = Buffer.from(clientPub.raw).toString('hex');
          this.conns.get(me)?.destroy();
          this.conns.set(me, s);
          const info = this.mode === 'bad-server-info'
            ? SharedBox.between(PrivateKey.fromRaw('node', new Uint8Array(32).fill(3)), clientPub).seal(new TextEncoder().encode('{}'), this.random)
            : box.seal(new TextEncoder().encode('{"version":2}'), this.random);
          s.write(encodeFrame(FrameType.ServerInfo, info));
          if (this.mode === 'huge-frame') s.write(Buffer.from([0x05, 0x7f, 0xff, 0xff, 0xff]));
          phase = 'steady';
          continue;
        }
        if (t === FrameType.SendPacket && me) {
          const dst = Buffer.from(p.subarray(0, 32)).toString('hex');
          const target = this.conns.get(dst);
          if (!this.sentTo.has(me)) this.sentTo.set(me, new Set());
          this.sentTo.get(me)!.add(dst);
          if (target) target.write(encodeRecvPacket(hexKey(me), p.subarray(32)));
          else s.write(encodePeerGone(p.subarray(0, 32), 1));
        } else if (t === FrameType.NotePreferred) {
          this.preferred.push(p[0]!);
        } else if (t === FrameType.Ping) {
          s.write(encodeFrame(FrameType.Pong, p));
        }
      }
    });
  }

  /** Sends a raw frame to a connected client (health, ping, garbage). */
  sendRaw(clientKeyHex: string, bytes: Uint8Array): void {
    this.conns.get(clientKeyHex)?.write(bytes);
  }
}

const hexKey = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
export { Counters };
