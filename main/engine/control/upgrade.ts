// Dialing the ts2021 transport: an HTTP/1.1 `POST /ts2021` carrying the 101-byte Noise initiation
// in X-Tailscale-Handshake (standard base64 with padding), a `101 Switching Protocols` with
// `Upgrade: tailscale-control-protocol`, then the raw 51-byte handshake response on the same socket
// (see tailscale control/controlhttp/client.go and controlhttpcommon; Headscale hscontrol/noise.go).
// Bytes after the 101 headers can arrive in the same read: Node hands them over as `head`, and they
// are the start of the Noise response, so nothing may be dropped or read by anyone else.
import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { ClientHandshake, RESPONSE_LEN } from './noise/handshake.js';
import { HEADER_LEN, protocolError } from './noise/frames.js';
import { abortReason } from './deadline.js';

export const UPGRADE_PROTOCOL = 'tailscale-control-protocol';
export const HANDSHAKE_HEADER = 'X-Tailscale-Handshake';

/** Lets tests (and later proxies) supply the byte stream instead of a TCP/TLS socket. */
export type SocketFactory = (target: { host: string; port: number; tls: boolean }) => Duplex;

export interface UpgradeResult {
  socket: Duplex;
  /** The 51-byte handshake response. */
  response: Uint8Array;
  /** Bytes after the response that were already read: the first Noise records. */
  leftover: Uint8Array;
}

export interface UpgradeOptions {
  serverURL: URL;
  initiation: Uint8Array;
  signal: AbortSignal;
  createSocket?: SocketFactory | undefined;
}

/** Thrown when the server hung up after the 101: it could not open our initiation (stale server key, capver too low). */
export class HandshakeRejected extends MeshtrayError {
  constructor(reason: string) {
    super('ERR_CONTROL_PROTOCOL', reason);
  }
}

export function upgradeTarget(u: URL): { host: string; port: number; tls: boolean } {
  const tls = u.protocol === 'https:';
  if (!tls && u.protocol !== 'http:') throw new MeshtrayError('ERR_BAD_REQUEST', `control URL must be http or https, got ${u.protocol}`);
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port: u.port ? Number(u.port) : tls ? 443 : 80, tls };
}

export function upgrade(opts: UpgradeOptions): Promise<UpgradeResult> {
  const { serverURL, initiation, signal } = opts;
  if (initiation.length !== 101) throw new Error('upgrade: initiation must be 101 bytes');
  const target = upgradeTarget(serverURL);
  return new Promise<UpgradeResult>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    let settled = false;
    let upgradedSocket: Duplex | undefined;
    const settle = (err: Error | undefined, value?: UpgradeResult) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err) {
        req.destroy();
        upgradedSocket?.destroy();
        reject(err);
      } else resolve(value!);
    };
    const onAbort = () => settle(abortReason(signal));
    const headers = {
      Host: serverURL.host,
      Upgrade: UPGRADE_PROTOCOL,
      Connection: 'upgrade',
      [HANDSHAKE_HEADER]: Buffer.from(initiation).toString('base64'),
      'Content-Length': '0',
    };
    const common = {
      host: target.host,
      port: target.port,
      method: 'POST',
      path: '/ts2021',
      headers,
      // A fresh connection, never a pooled one: it is about to stop being HTTP. (With createConnection
      // Node uses no agent at all.)
      ...(opts.createSocket ? { createConnection: () => opts.createSocket!(target) } : { agent: false as const }),
    };
    // No ALPN (h2 cannot switch protocols) and no certificate check on this hop: Noise authenticates
    // the server, as Tailscale does (control/controlhttp/client.go demotes cert errors to logs).
    const req = target.tls
      ? https.request({ ...common, rejectUnauthorized: false, servername: /^[\d.:]+$/.test(target.host) ? undefined : target.host } as https.RequestOptions)
      : http.request(common as http.RequestOptions);
    signal.addEventListener('abort', onAbort, { once: true });
    req.on('error', (e) => settle(new MeshtrayError('ERR_CONTROL_UNREACHABLE', `control server ${serverURL.host} unreachable: ${e.message}`, undefined, { cause: e })));
    req.on('response', (res) => {
      // Not a 101: collect a short hint of the body for the error, then give up on this dial.
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        if (n < 512) chunks.push(c);
        n += c.length;
      });
      const done = () => {
        const text = Buffer.concat(chunks).toString('utf8').slice(0, 200).trim();
        settle(protocolErrorWithStatus(`control upgrade refused: HTTP ${res.statusCode}${text ? `: ${text}` : ''}`, res.statusCode ?? 0));
      };
      res.on('end', done);
      res.on('error', done);
    });
    req.on('upgrade', (res, socket: Duplex, head: Buffer) => {
      upgradedSocket = socket;
      // Grab every byte from now on; the listener must be attached in this same tick.
      let buf: Buffer = Buffer.from(head);
      const onData = (c: Buffer) => {
        buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
        check();
      };
      const cleanup = () => {
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('close', onEnd);
        socket.off('error', onErr);
      };
      const onEnd = () => {
        cleanup();
        settle(new HandshakeRejected('control server closed the connection after the 101 without a handshake response (stale server key or unsupported capability version?)'));
      };
      const onErr = (e: Error) => {
        cleanup();
        settle(new MeshtrayError('ERR_CONTROL_UNREACHABLE', `control connection failed during the handshake: ${e.message}`, undefined, { cause: e }));
      };
      const check = () => {
        if (buf.length < HEADER_LEN) return;
        let hdr: { isError: boolean; length: number };
        try {
          hdr = ClientHandshake.parseHeader(buf);
        } catch (e) {
          cleanup();
          settle(e as Error);
          return;
        }
        if (hdr.isError) {
          if (buf.length < HEADER_LEN + hdr.length) return;
          cleanup();
          // Unauthenticated text: a hint only, shortened and stripped of control characters.
          const text = buf.subarray(HEADER_LEN, HEADER_LEN + hdr.length).toString('utf8').replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
          settle(new HandshakeRejected(`control server refused the handshake: ${text}`));
          return;
        }
        if (buf.length < RESPONSE_LEN) return;
        cleanup();
        socket.pause();
        settle(undefined, { socket, response: Uint8Array.from(buf.subarray(0, RESPONSE_LEN)), leftover: Uint8Array.from(buf.subarray(RESPONSE_LEN)) });
      };
      if (res.statusCode !== 101) {
        settle(protocolErrorWithStatus(`control upgrade: unexpected status ${res.statusCode}`, res.statusCode ?? 0));
        return;
      }
      if (res.headers['upgrade'] !== UPGRADE_PROTOCOL) {
        settle(protocolError(`control server switched to unexpected protocol ${JSON.stringify(res.headers['upgrade'] ?? '')}`));
        return;
      }
      socket.on('data', onData);
      socket.on('end', onEnd);
      socket.on('close', onEnd);
      socket.on('error', onErr);
      socket.resume();
      check();
    });
    req.end();
  });
}

function protocolErrorWithStatus(msg: string, status: number): MeshtrayError {
  return new MeshtrayError('ERR_CONTROL_PROTOCOL', msg, { status });
}
