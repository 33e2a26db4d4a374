// An in-process stand-in for a ts2021 control server (Headscale's transport behaviour), reachable
// through the client's createSocket seam over an in-memory duplex pair: no network. It answers
// GET /key, upgrades POST /ts2021 with our Noise responder (101 + 51-byte response + the early
// payload as three records in ONE write, as Headscale does), then serves h2c on the Noise stream.
// Tests plug in handlers for /machine/register and /machine/map.
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { Duplex } from 'node:stream';
import { PrivateKey, type PublicKey } from '../../../../main/engine/keys/keys.js';
import { systemRandom } from '../../../../main/engine/ports/system.js';
import type { Random } from '../../../../main/engine/ports/ports.js';
import { respondToInitiation } from '../../../../main/engine/control/noise/handshake.js';
import { NoiseConn } from '../../../../main/engine/control/noise/conn.js';
import { sealRecord, type TransportCipher } from '../../../../main/engine/control/noise/frames.js';
import type { SocketFactory } from '../../../../main/engine/control/upgrade.js';

/** Two cross-wired in-memory Duplex ends (Node 20 has no stream.duplexPair). */
export function duplexPair(): [Duplex, Duplex] {
  const ends: Duplex[] = [];
  const mk = (i: number) =>
    new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        const peer = ends[1 - i]!;
        if (!peer.destroyed) peer.push(chunk);
        cb();
      },
      final(cb) {
        const peer = ends[1 - i]!;
        if (!peer.destroyed) peer.push(null);
        cb();
      },
      destroy(err, cb) {
        const peer = ends[1 - i]!;
        if (!peer.destroyed) peer.destroy();
        cb(err);
      },
    });
  ends.push(mk(0), mk(1));
  return [ends[0]!, ends[1]!];
}

export type H2Handler = (body: unknown, res: http2.Http2ServerResponse, req: http2.Http2ServerRequest) => void;

export interface FakeControlOptions {
  serverKey?: PrivateKey<'machine'>;
  random?: Random;
  /** How to send the early payload: Headscale's three records, one record, or none. */
  earlyPayload?: 'split' | 'whole' | 'none';
  onRegister?: H2Handler;
  onMap?: H2Handler;
  /** Replace the whole upgrade behaviour (for hostile-server tests). */
  onUpgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer, fake: FakeControl) => void;
  /** Serve this key on /key instead of the real one (a stale or rotated server key). */
  advertisedKey?: PublicKey<'machine'>;
  /** Raw bytes the server's transport sends right after the early payload (e.g. a corrupted record). */
  afterHandshake?: (tx: TransportCipher, socket: Duplex) => void;
}

export class FakeControl {
  readonly serverKey: PrivateKey<'machine'>;
  readonly serverURL = 'http://control.test:8080';
  readonly httpServer: http.Server;
  readonly h2: http2.Http2Server;
  readonly sockets: Duplex[] = [];
  keyRequests = 0;
  upgrades = 0;
  /** Machine keys of the clients that completed a handshake. */
  readonly clientMachineKeys: string[] = [];
  readonly requests: { path: string; body: unknown }[] = [];
  /** HEAD ping callbacks received, over Noise or over plain HTTP. */
  readonly pings: { path: string; noise: boolean }[] = [];

  constructor(readonly opts: FakeControlOptions = {}) {
    this.serverKey = opts.serverKey ?? PrivateKey.generate('machine', systemRandom);
    this.httpServer = http.createServer((req, res) => {
      if (req.method === 'HEAD' && req.url?.startsWith('/machine/ping-response?id=')) {
        this.pings.push({ path: req.url, noise: false });
        res.end();
        return;
      }
      if (req.method === 'GET' && req.url?.startsWith('/key?v=')) {
        this.keyRequests++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ legacyPublicKey: `mkey:${'0'.repeat(64)}`, publicKey: (this.opts.advertisedKey ?? this.serverKey.public).toString() }));
        return;
      }
      res.statusCode = 404;
      res.end('not found');
    });
    this.h2 = http2.createServer();
    this.h2.on('request', (req, res) => {
      if (req.method === 'HEAD') {
        this.pings.push({ path: req.url, noise: true });
        res.end();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        const path = req.url;
        this.requests.push({ path, body });
        const h = path === '/machine/register' ? this.opts.onRegister : path === '/machine/map' ? this.opts.onMap : undefined;
        if (!h) {
          res.statusCode = 501;
          res.end('Not implemented yet');
          return;
        }
        h(body, res, req);
      });
    });
    this.h2.on('sessionError', () => {});
    this.httpServer.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      this.upgrades++;
      if (this.opts.onUpgrade) {
        this.opts.onUpgrade(req, socket, head, this);
        return;
      }
      this.defaultUpgrade(req, socket);
    });
  }

  private defaultUpgrade(req: http.IncomingMessage, socket: Duplex): void {
    socket.on('error', () => {});
    const up = String(req.headers['upgrade'] ?? '').toLowerCase();
    const hs = req.headers['x-tailscale-handshake'];
    if (up !== 'tailscale-control-protocol' || typeof hs !== 'string') {
      socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 21\r\n\r\nunknown next protocol');
      return;
    }
    let r;
    try {
      r = respondToInitiation(this.serverKey, new Uint8Array(Buffer.from(hs, 'base64')), this.opts.random ?? systemRandom);
    } catch {
      // Headscale corks its writes: a rejected client sees the 101 and then EOF.
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n\r\n');
      return;
    }
    this.clientMachineKeys.push(r.clientMachineKey.toString());
    const parts: Uint8Array[] = [Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n\r\n'), r.response];
    const json = Buffer.from(JSON.stringify({ nodeKeyChallenge: `chalpub:${'ab'.repeat(32)}` }));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(json.length);
    const magic = Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53]);
    const mode = this.opts.earlyPayload ?? 'split';
    if (mode === 'split') parts.push(sealRecord(r.tx, magic), sealRecord(r.tx, len), sealRecord(r.tx, json));
    else if (mode === 'whole') parts.push(sealRecord(r.tx, Buffer.concat([magic, len, json])));
    socket.write(Buffer.concat(parts));
    if (this.opts.afterHandshake) {
      this.opts.afterHandshake(r.tx, socket);
      return;
    }
    const conn = new NoiseConn({ socket, keys: { tx: r.tx, rx: r.rx } });
    conn.on('error', () => {});
    this.h2.emit('connection', conn);
  }

  /** The client's socket factory: each dial gets a fresh in-memory pair whose other end this server serves. */
  readonly createSocket: SocketFactory = () => {
    const [client, server] = duplexPair();
    this.sockets.push(server);
    server.on('error', () => {});
    this.httpServer.emit('connection', server);
    return client;
  };

  /** Cuts every connection (like a server restart). */
  dropAll(): void {
    for (const s of this.sockets.splice(0)) s.destroy();
  }

  close(): void {
    this.dropAll();
    this.h2.close();
    this.httpServer.close();
  }
}

/** LE32 length | payload, one map message on the wire. */
export function mapFrame(payload: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(payload.length);
  return Buffer.concat([len, payload]);
}

/**
 * A valid zstd frame holding `data` in raw (stored) blocks (RFC 8878 §3.1.1): enough for tests
 * that need arbitrary compressed messages; real compressed bytes come from the fixture and from
 * the e2e test against Headscale.
 */
export function zstdStored(data: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  const hdr = Buffer.alloc(9);
  hdr.writeUInt32LE(0xfd2fb528, 0);
  hdr[4] = 0xa0; // FCS field 4 bytes, single segment, no checksum, no dictionary
  hdr.writeUInt32LE(data.length, 5);
  parts.push(hdr);
  const MAX_BLOCK = 128 << 10;
  let off = 0;
  do {
    const n = Math.min(MAX_BLOCK, data.length - off);
    const last = off + n >= data.length ? 1 : 0;
    const bh = Buffer.alloc(3);
    const v = last | (0 << 1) | (n << 3);
    bh[0] = v & 0xff;
    bh[1] = (v >> 8) & 0xff;
    bh[2] = (v >> 16) & 0xff;
    parts.push(bh, Buffer.from(data.subarray(off, off + n)));
    off += n;
  } while (off < data.length);
  return Buffer.concat(parts);
}

export function jsonFrame(obj: unknown, compress = true): Buffer {
  const raw = Buffer.from(JSON.stringify(obj));
  return mapFrame(compress ? zstdStored(raw) : raw);
}
