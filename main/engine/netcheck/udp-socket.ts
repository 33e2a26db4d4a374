// A stand-alone UDP socket for netcheck when no data-plane socket exists yet (e.g. the
// `meshtray netcheck` command before the engine is up, and tests). The engine proper sends STUN
// from its WireGuard socket and feeds replies to Netcheck.onStunPacket itself.
import { createSocket, type Socket } from 'node:dgram';
import type { Netcheck, StunSender } from './netcheck.js';

export class UdpStunSocket implements StunSender {
  private constructor(private readonly sock: Socket) {}

  /**
   * Binds udp4 on `address:port` (default any:0) and routes STUN replies to `netcheck`; any
   * other datagram goes to `onOther` (e.g. disco), else it is dropped.
   */
  static async open(
    netcheck: Netcheck,
    port = 0,
    address?: string,
    onOther?: (packet: Uint8Array, from: { ip: string; port: number }) => void,
  ): Promise<UdpStunSocket> {
    const sock = createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port, ...(address ? { address } : {}) }, () => {
        sock.removeListener('error', reject);
        resolve();
      });
    });
    sock.on('message', (msg, rinfo) => {
      const bytes = new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength);
      const from = { ip: rinfo.address, port: rinfo.port };
      if (!netcheck.onStunPacket(bytes, from)) onOther?.(bytes, from);
    });
    sock.on('error', () => {
      /* ICMP unreachable etc.: the probe simply times out */
    });
    return new UdpStunSocket(sock);
  }

  get localPort(): number {
    return this.sock.address().port;
  }

  send(packet: Uint8Array, ip: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sock.send(packet, port, ip, (err) => (err ? reject(err) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.sock.close(() => resolve()));
  }
}
