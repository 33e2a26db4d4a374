// The LocalAPI: HTTP/1.1 over a unix socket, as tailscaled serves /localapi/v0/* (see tailscale
// ipn/localapi/localapi.go and ipn/ipnserver). Routes are generated from common/contract/api.ts;
// every body is validated with its schema both ways. Access: the socket file is 0600, and each
// connection's SO_PEERCRED uid must be root or the daemon's own uid (403 otherwise).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { chmod, lstat, unlink, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { z } from 'zod';
import { api, WATCH_PATH, type Api, type ApiName, type ApiResponse, type OptionalApiName } from '../../../common/contract/api.js';
import { MeshtrayError, type ErrorBody } from '../../../common/errors/errors.js';
import type { Notify } from '../../../common/schemas/notify.js';
import type { Logger } from '../ports/ports.js';
import { httpStatusFor } from './http-status.js';
import { isAllowedPeer, peerCred, type PeerCred } from './peercred.js';
import { describeIssues, invokeBackend } from './invoke.js';

export { describeIssues };

export type ApiHandlers = {
  [N in ApiName]: (req: z.infer<Api[N]['request']>) => Promise<ApiResponse<N>>;
};

/** Every call of the table; the OPTIONAL_CALLS may be missing (answered ERR_NOT_FOUND). */
export type RequiredApiHandlers = Omit<ApiHandlers, OptionalApiName> & Partial<Pick<ApiHandlers, OptionalApiName>>;

export interface LocalApiBackend extends RequiredApiHandlers {
  /** Subscribe to the Notify bus: the first call of fn carries the full snapshot. Returns unsubscribe. */
  watch(fn: (n: Notify) => void): () => void;
}

export interface LocalApiServerOptions {
  socketPath: string;
  backend: LocalApiBackend;
  logger: Logger;
  /** Defaults to process.getuid(). */
  daemonUid?: number;
  /** Test seam: replaces the SO_PEERCRED lookup. */
  credOf?: (s: Socket) => PeerCred | undefined;
}

const MAX_BODY = 1 << 20;

export class LocalApiServer {
  private server: Server | undefined;
  private readonly creds = new WeakMap<Socket, PeerCred | undefined>();
  private readonly watchers = new Set<ServerResponse>();
  private readonly daemonUid: number;
  private readonly log: Logger;
  private rejected = 0;

  constructor(private readonly opts: LocalApiServerOptions) {
    this.daemonUid = opts.daemonUid ?? process.getuid?.() ?? 0;
    this.log = opts.logger;
  }

  /** Count of requests refused for bad input or access (for tests and health). */
  get rejectedCount(): number {
    return this.rejected;
  }

  async listen(): Promise<void> {
    const path = this.opts.socketPath;
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await removeStaleSocket(path);
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (sock: Socket) => {
      this.creds.set(sock, (this.opts.credOf ?? peerCred)(sock));
    });
    server.on('clientError', (_err, sock: Socket) => {
      this.rejected++;
      if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
    // The socket file is created by bind(): a tight umask closes the window before chmod.
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(oldMask);
    }
    await chmod(path, 0o600);
    this.server = server;
    this.log.info('localapi listening', { socket: path });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    for (const w of this.watchers) w.end();
    this.watchers.clear();
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
    await unlink(this.opts.socketPath).catch(() => undefined);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const cred = this.creds.get(req.socket);
    if (!isAllowedPeer(cred, this.daemonUid)) {
      this.rejected++;
      this.log.warn('localapi: refused connection', { uid: cred?.uid ?? null, pid: cred?.pid ?? null });
      return sendError(res, new MeshtrayError('ERR_FORBIDDEN', cred ? `uid ${cred.uid} may not use the local API` : 'peer credentials unavailable'));
    }
    const url = new URL(req.url ?? '/', 'http://local-tailscaled.sock');
    try {
      if (url.pathname === WATCH_PATH) {
        if (req.method !== 'GET') throw new MeshtrayError('ERR_BAD_REQUEST', 'watch needs GET');
        return this.serveWatch(req, res);
      }
      const name = routeOf(req.method ?? 'GET', url.pathname);
      if (!name) {
        const pathKnown = Object.values(api).some((c) => c.path === url.pathname);
        throw new MeshtrayError(pathKnown ? 'ERR_BAD_REQUEST' : 'ERR_NOT_FOUND', pathKnown ? `method ${req.method} not allowed on ${url.pathname}` : `no such endpoint ${url.pathname}`);
      }
      const body = await readBody(req);
      const call = api[name];
      let raw: unknown = {};
      if (call.method !== 'GET' && body.length > 0) {
        try {
          raw = JSON.parse(body.toString('utf8'));
        } catch {
          throw new MeshtrayError('ERR_BAD_REQUEST', 'request body is not valid JSON');
        }
      }
      const checked = await invokeBackend(this.opts.backend, name, raw, this.log);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(checked));
    } catch (e) {
      const err = MeshtrayError.is(e) ? e : new MeshtrayError('ERR_INTERNAL', e instanceof Error ? e.message : String(e));
      if (err.code === 'ERR_BAD_REQUEST' || err.code === 'ERR_NOT_FOUND') this.rejected++;
      if (err.code === 'ERR_INTERNAL') this.log.error('localapi: request failed', { path: url.pathname, err });
      else this.log.debug('localapi: request refused', { path: url.pathname, code: err.code, reason: err.message });
      sendError(res, err);
    }
  }

  private serveWatch(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
    this.watchers.add(res);
    const unsubscribe = this.opts.backend.watch((n) => {
      if (!res.writableEnded) res.write(JSON.stringify(n) + '\n');
    });
    const done = (): void => {
      unsubscribe();
      this.watchers.delete(res);
    };
    req.socket.once('close', done);
    res.once('close', done);
  }
}

function routeOf(method: string, path: string): ApiName | undefined {
  for (const [name, c] of Object.entries(api) as Array<[ApiName, Api[ApiName]]>) {
    if (c.path === path && c.method === method) return name;
  }
  return undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY) {
        reject(new MeshtrayError('ERR_BAD_REQUEST', 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendError(res: ServerResponse, err: MeshtrayError): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body: ErrorBody = err.toBody();
  res.writeHead(httpStatusFor(err.code), { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}


/** Removes a socket file left by a dead daemon; refuses to steal one a live daemon still answers on. */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
    const alive = await new Promise<boolean>((resolve) => {
      const c = connect(path);
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (alive) throw new Error(`another daemon is already listening on ${path}`);
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
