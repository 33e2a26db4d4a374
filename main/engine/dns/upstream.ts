// Plain DNS to upstream resolvers over UDP and TCP (tailscale net/dns/resolver/forwarder.go): one
// fresh UDP socket per query (so answers cannot be confused between clients using the same ID), a
// parallel TCP attempt when UDP has not answered within 2 s, a TCP retry for truncated answers.
// These sockets are deliberately NOT bypass-marked: a resolver behind a peer, an accepted subnet
// route or the exit node must be reached through the tunnel (os-integration.md §4.5).
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import type { UpstreamResolver } from './dns-config.js';
import type { Upstream } from './resolver.js';

const UDP_TO_TCP_MS = 2000;

function udpQuery(msg: Uint8Array, to: UpstreamResolver, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(to.ip.includes(':') ? 'udp6' : 'udp4');
    const done = (err: Error | undefined, r?: Uint8Array) => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(r!);
    };
    const timer = setTimeout(() => done(new Error(`${to.ip}:${to.port} timed out (udp)`)), timeoutMs);
    sock.on('error', (e) => done(e));
    sock.on('message', (m, rinfo) => {
      // Only the resolver we asked, only an answer to our ID.
      if (rinfo.port !== to.port || m.length < 12 || m[0] !== msg[0] || m[1] !== msg[1]) return;
      done(undefined, new Uint8Array(m));
    });
    sock.send(msg, to.port, to.ip, (e) => e && done(e));
  });
}

export function tcpQuery(msg: Uint8Array, to: UpstreamResolver, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: to.ip, port: to.port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, r?: Uint8Array) => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(r!);
    };
    const timer = setTimeout(() => done(new Error(`${to.ip}:${to.port} timed out (tcp)`)), timeoutMs);
    s.on('error', (e) => done(e));
    s.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(msg.length);
      s.write(Buffer.concat([len, msg]));
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (buf.length >= 2 + n) done(undefined, new Uint8Array(buf.subarray(2, 2 + n)));
      }
    });
    s.on('end', () => done(new Error(`${to.ip}:${to.port} closed the connection`)));
  });
}

/**
 * DNS over HTTPS (RFC 8484 POST), e.g. to an exit node's peerapi over the tunnel. The answer gets
 * the query's ID back, since DoH servers may answer with ID 0.
 */
export async function dohQuery(msg: Uint8Array, url: string, timeoutMs: number): Promise<Uint8Array> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/dns-message', accept: 'application/dns-message' },
    body: msg,
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((e: unknown) => {
    throw new Error(`${url}: ${(e as Error).name === 'TimeoutError' ? 'timed out (doh)' : String((e as Error).cause ?? e)}`);
  });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const out = new Uint8Array(await res.arrayBuffer());
  if (out.length >= 2) {
    out[0] = msg[0]!;
    out[1] = msg[1]!;
  }
  return out;
}

export const nodeUpstream: Upstream = {
  async query(msg, to, { tcp, timeoutMs }) {
    if (to.url) return dohQuery(msg, to.url, timeoutMs);
    if (tcp) return tcpQuery(msg, to, timeoutMs);
    const started = Date.now();
    const udp = udpQuery(msg, to, timeoutMs);
    // After 2 s without a UDP answer, race a TCP query too (forwarder.go sendDoTCP fallback).
    let fallbackTimer: NodeJS.Timeout | undefined;
    const tcpFallback = new Promise<Uint8Array>((resolve, reject) => {
      if (timeoutMs <= UDP_TO_TCP_MS) return reject(new Error('no time for tcp'));
      fallbackTimer = setTimeout(() => tcpQuery(msg, to, timeoutMs - UDP_TO_TCP_MS).then(resolve, reject), UDP_TO_TCP_MS);
    });
    try {
      const r = await Promise.any([udp, tcpFallback]);
      // Truncated: ask again over TCP with the time left.
      if (r[2]! & 0x02) return await tcpQuery(msg, to, Math.max(100, timeoutMs - (Date.now() - started)));
      return r;
    } catch (e) {
      const errs = e instanceof AggregateError ? e.errors.map((x: unknown) => (x as Error).message) : [String(e)];
      throw new Error(errs.filter((m) => m !== 'no time for tcp').join('; '));
    } finally {
      clearTimeout(fallbackTimer);
    }
  },
};
