// Real sockets for the MagicDNS resolver: UDP and TCP on each service address (100.100.100.100:53,
// [fd7a:115c:a1e0::53]:53). Used where the address is local to the host (the router can put it on
// a dummy interface or the TUN), and by tests and the benchmark. The TUN-intercept path
// (intercept.ts) is the alternative that needs no local address.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import type { Logger } from '../ports/ports.js';
import type { MagicDNSResolver } from './resolver.js';

const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNS = 256;

export class MagicDNSServer {
  private udp: Socket[] = [];
  private tcp: Server[] = [];

  constructor(private readonly resolver: MagicDNSResolver, private readonly logger?: Logger) {}

  /** Binds UDP+TCP on every address; on any failure closes what was bound and rethrows. */
  async listen(addrs: readonly string[], port = 53): Promise<void> {
    try {
      for (const a of addrs) {
        await this.listenUdp(a, port);
        await this.listenTcp(a, port);
      }
    } catch (e) {
      await this.close();
      throw e;
    }
  }

  /** The UDP port actually bound on the first address (for port 0 in tests). */
  get port(): number {
    return this.udp[0]?.address().port ?? 0;
  }

  private listenUdp(addr: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = createSocket({ type: addr.includes(':') ? 'udp6' : 'udp4', reuseAddr: false });
      s.once('error', reject);
      s.on('message', (msg, rinfo) => {
        this.resolver.handle(new Uint8Array(msg), 'udp').then(
          (r) => r && s.send(r, rinfo.port, rinfo.address),
          (e: unknown) => this.logger?.warn('dns: handler failed', { err: String(e) }),
        );
      });
      s.bind(port, addr, () => {
        s.off('error', reject);
        s.on('error', (e) => this.logger?.warn('dns: udp socket error', { err: String(e) }));
        this.udp.push(s);
        resolve();
      });
    });
  }

  private listenTcp(addr: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const srv = createServer((c) => {
        c.setTimeout(TCP_IDLE_MS, () => c.destroy());
        let buf = Buffer.alloc(0);
        c.on('error', () => c.destroy());
        c.on('data', (d) => {
          buf = Buffer.concat([buf, d]);
          // Several length-prefixed queries may share one connection (RFC 7766).
          while (buf.length >= 2) {
            const n = buf.readUInt16BE(0);
            if (buf.length < 2 + n) break;
            const q = new Uint8Array(buf.subarray(2, 2 + n));
            buf = buf.subarray(2 + n);
            this.resolver.handle(q, 'tcp').then(
              (r) => {
                if (!r || c.destroyed) return;
                const len = Buffer.alloc(2);
                len.writeUInt16BE(r.length);
                c.write(Buffer.concat([len, r]));
              },
              () => c.destroy(),
            );
          }
        });
      });
      srv.maxConnections = MAX_TCP_CONNS;
      srv.once('error', reject);
      srv.listen({ host: addr, port: port === 0 ? this.port : port, exclusive: true }, () => {
        srv.off('error', reject);
        this.tcp.push(srv);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.udp) s.close();
    this.udp = [];
    await Promise.all(this.tcp.map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.tcp = [];
  }
}
