// Typed client of the daemon's LocalAPI (tailscale's client/local.Client): one method per call
// of common/contract/api.ts over HTTP/1.1 on the unix socket, responses validated with the same
// schemas, errors rebuilt as MeshtrayError with their code, and watch() for the Notify stream.
import { request, type IncomingMessage } from 'node:http';
import type { z } from 'zod';
import { api, WATCH_PATH, type Api, type ApiName, type ApiRequest, type ApiResponse } from '../../common/contract/api.js';
import { ErrorBodySchema, MeshtrayError } from '../../common/errors/errors.js';
import { NotifySchema, type Notify } from '../../common/schemas/notify.js';

export const DEFAULT_SOCKET = '/var/run/meshtray/meshtrayd.sock';

export interface LocalClientOptions {
  socketPath?: string;
  /** Per-call timeout (not applied to watch). Default 30 s. */
  timeoutMs?: number;
}

export class LocalClient {
  readonly socketPath: string;
  private readonly timeoutMs: number;

  constructor(opts: LocalClientOptions = {}) {
    this.socketPath = opts.socketPath ?? DEFAULT_SOCKET;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  status(): Promise<ApiResponse<'status'>> {
    return this.call('status', {});
  }
  getPrefs(): Promise<ApiResponse<'getPrefs'>> {
    return this.call('getPrefs', {});
  }
  editPrefs(mp: ApiRequest<'editPrefs'>): Promise<ApiResponse<'editPrefs'>> {
    return this.call('editPrefs', mp);
  }
  start(req: ApiRequest<'start'>): Promise<ApiResponse<'start'>> {
    return this.call('start', req);
  }
  loginInteractive(): Promise<ApiResponse<'loginInteractive'>> {
    return this.call('loginInteractive', {});
  }
  down(): Promise<ApiResponse<'down'>> {
    return this.call('down', {});
  }
  logout(): Promise<ApiResponse<'logout'>> {
    return this.call('logout', {});
  }
  ping(req: ApiRequest<'ping'>): Promise<ApiResponse<'ping'>> {
    return this.call('ping', req);
  }

  /** Any call of the table by name. */
  async call<N extends ApiName>(name: N, req: ApiRequest<N>): Promise<ApiResponse<N>> {
    const c: Api[N] = api[name];
    const body = c.method === 'GET' ? undefined : JSON.stringify(req ?? {});
    const res = await this.send(c.method, c.path, body, this.timeoutMs);
    const text = await readAll(res);
    if (res.statusCode !== 200) throw errorFrom(res.statusCode ?? 0, text);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new MeshtrayError('ERR_INTERNAL', `daemon sent invalid JSON for ${name}`);
    }
    const parsed = (c.response as z.ZodType).safeParse(raw);
    if (!parsed.success) throw new MeshtrayError('ERR_INTERNAL', `daemon sent an invalid ${name} response: ${parsed.error.issues[0]?.message ?? ''}`);
    return parsed.data as ApiResponse<N>;
  }

  /**
   * The Notify stream. The first item is the full snapshot; the iterator ends when the daemon
   * closes the stream or `signal` aborts. Lines that fail validation are skipped (counted in `skipped`).
   */
  watch(signal?: AbortSignal): AsyncIterableIterator<Notify> & { skipped: number } {
    const queue: Notify[] = [];
    let waiting: ((v: IteratorResult<Notify>) => void) | undefined;
    let failed: ((e: unknown) => void) | undefined;
    let ended = false;
    let error: unknown;
    const state = { skipped: 0 };
    let res: IncomingMessage | undefined;
    const finish = (e?: unknown): void => {
      if (ended) return;
      ended = true;
      error = e;
      if (e !== undefined && failed) failed(e);
      else if (waiting) waiting({ value: undefined, done: true });
      waiting = failed = undefined;
    };
    const push = (n: Notify): void => {
      if (waiting) {
        const w = waiting;
        waiting = failed = undefined;
        w({ value: n, done: false });
      } else queue.push(n);
    };
    const started = this.send('GET', WATCH_PATH, undefined, 0, signal).then(
      async (r) => {
        res = r;
        if (r.statusCode !== 200) return finish(errorFrom(r.statusCode ?? 0, await readAll(r)));
        let buf = '';
        r.setEncoding('utf8');
        r.on('data', (chunk: string) => {
          buf += chunk;
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i).trim();
            buf = buf.slice(i + 1);
            if (!line) continue;
            let raw: unknown;
            try {
              raw = JSON.parse(line);
            } catch {
              state.skipped++;
              continue;
            }
            const p = NotifySchema.safeParse(raw);
            if (p.success) push(p.data);
            else state.skipped++;
          }
        });
        r.on('end', () => finish());
        r.on('error', (e) => finish(signal?.aborted ? undefined : e));
        r.on('close', () => finish());
      },
      (e: unknown) => finish(signal?.aborted ? undefined : e),
    );
    void started;
    const it = {
      get skipped() {
        return state.skipped;
      },
      next(): Promise<IteratorResult<Notify>> {
        const n = queue.shift();
        if (n) return Promise.resolve({ value: n, done: false });
        if (ended) return error !== undefined ? Promise.reject(error) : Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          waiting = resolve;
          failed = reject;
        });
      },
      return(): Promise<IteratorResult<Notify>> {
        res?.destroy();
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it as AsyncIterableIterator<Notify> & { skipped: number };
  }

  private send(method: string, path: string, body: string | undefined, timeoutMs: number, signal?: AbortSignal): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path,
          // tailscale's client uses this fake host; the daemon ignores it.
          host: 'local-tailscaled.sock',
          headers: body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
          ...(signal ? { signal } : {}),
        },
        resolve,
      );
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => req.destroy(new MeshtrayError('ERR_TIMEOUT', `local API ${path} timed out after ${timeoutMs} ms`)));
      }
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (MeshtrayError.is(e)) return reject(e);
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
          return reject(new MeshtrayError('ERR_NOT_FOUND', `failed to connect to local meshtrayd at ${this.socketPath}; is meshtrayd running?`, { cause: e.code }));
        }
        if (e.code === 'EACCES') return reject(new MeshtrayError('ERR_FORBIDDEN', `access denied to ${this.socketPath}`));
        reject(e);
      });
      req.end(body);
    });
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function errorFrom(status: number, text: string): MeshtrayError {
  try {
    const p = ErrorBodySchema.safeParse(JSON.parse(text));
    if (p.success) return MeshtrayError.fromBody(p.data);
  } catch {
    /* not JSON: fall through */
  }
  return new MeshtrayError(status === 403 ? 'ERR_FORBIDDEN' : status === 404 ? 'ERR_NOT_FOUND' : 'ERR_INTERNAL', `local API error ${status}: ${text.slice(0, 200)}`);
}
