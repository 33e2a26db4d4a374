// HTTP/2 with prior knowledge over the Noise duplex (tailscale control/ts2021/client.go: one
// connection, all /machine/* requests as streams on it). node:http2 accepts any Duplex from
// `createConnection` and must get it synchronously, so the caller finishes upgrade + handshake
// first (dependencies.md §8). There is no TCP keep-alive we can see through the wrapper, so
// liveness is an HTTP/2 PING; on goaway/close/error everything is destroyed so the event loop is
// not held open and the next request dials afresh.
import * as http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Clock, Logger, Timer } from '../ports/ports.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { abortReason } from './deadline.js';

export interface ControlSessionOptions {
  /** Only used for :authority; Headscale routes on the path alone. */
  authority: string;
  clock: Clock;
  logger: Logger;
  /** Interval between PINGs; 0 disables. Default 30 s. */
  pingIntervalMs?: number;
  /** A PING unanswered this long kills the session. Default 15 s. */
  pingTimeoutMs?: number;
}

export interface ResponseHead {
  status: number;
  headers: http2.IncomingHttpHeaders;
  stream: http2.ClientHttp2Stream;
  body: ResponseBody;
}

export interface BodySink {
  data(chunk: Buffer): void;
  end(): void;
  error(err: Error): void;
}

/**
 * Taps a response stream from the moment its headers arrive, so no chunk, end or reset is missed
 * while the caller is still between awaits (a headers-only answer can end and close the stream
 * before anyone listens). Events are held until `consume` attaches the real reader.
 */
export class ResponseBody {
  private held: Buffer[] = [];
  private ended = false;
  private failure: Error | undefined;
  private sink: BodySink | undefined;

  constructor(stream: http2.ClientHttp2Stream, closedError: () => Error, sessionError: () => Error | undefined) {
    stream.on('data', (c: Buffer) => {
      if (this.sink) this.sink.data(c);
      else this.held.push(c);
    });
    stream.once('end', () => {
      // Node ends the readable side of every stream when the session is torn down; that is a
      // lost connection, not the server finishing its answer.
      const broken = sessionError();
      if (broken) {
        this.failure = broken;
        this.sink?.error(broken);
        return;
      }
      this.ended = true;
      this.sink?.end();
    });
    stream.once('close', () => {
      if (this.ended || this.failure) return;
      this.failure = closedError();
      this.sink?.error(this.failure);
    });
  }

  consume(sink: BodySink): void {
    if (this.sink) throw new Error('response body consumed twice');
    this.sink = sink;
    for (const c of this.held.splice(0)) sink.data(c);
    if (this.ended) sink.end();
    else if (this.failure) sink.error(this.failure);
  }
}

export class ControlSession {
  readonly session: http2.ClientHttp2Session;
  private deadReason: Error | undefined;
  private pingTimer: Timer | undefined;
  private readonly listeners: ((err: Error) => void)[] = [];
  private readonly logger: Logger;

  constructor(
    private readonly conn: Duplex,
    private readonly opts: ControlSessionOptions,
  ) {
    this.logger = opts.logger;
    // createConnection must return synchronously: the Noise duplex is ready by now.
    this.session = http2.connect(`http://${opts.authority}`, {
      createConnection: () => conn,
      // Big netmaps arrive on one stream; give nghttp2 room (MiB).
      maxSessionMemory: 64,
    });
    this.session.on('error', (e) => this.kill(new MeshtrayError('ERR_CONTROL_UNREACHABLE', `control HTTP/2 session failed: ${e.message}`, undefined, { cause: e })));
    this.session.on('goaway', (code) => this.kill(new MeshtrayError('ERR_CONTROL_UNREACHABLE', `control server sent GOAWAY (code ${code})`)));
    this.session.on('close', () => this.kill(new MeshtrayError('ERR_CONTROL_UNREACHABLE', 'control HTTP/2 session closed')));
    conn.on('error', (e: Error) => this.kill(MeshtrayError.is(e) ? e : new MeshtrayError('ERR_CONTROL_UNREACHABLE', `control connection failed: ${e.message}`, undefined, { cause: e })));
    conn.on('close', () => this.kill(new MeshtrayError('ERR_CONTROL_UNREACHABLE', 'control connection closed')));
    this.schedulePing();
  }

  get alive(): boolean {
    return this.deadReason === undefined;
  }

  /** Why the session died (the error pending requests should see). */
  get reason(): Error | undefined {
    return this.deadReason;
  }

  onDead(fn: (err: Error) => void): void {
    if (this.deadReason) fn(this.deadReason);
    else this.listeners.push(fn);
  }

  /** Sends a request (normally a POST with a JSON body); resolves at the response headers. The caller owns the body. */
  request(path: string, body: Uint8Array | undefined, signal?: AbortSignal, method: 'POST' | 'HEAD' | 'GET' = 'POST'): Promise<ResponseHead> {
    if (this.deadReason) return Promise.reject(this.deadReason);
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.session.request(
        body
          ? { ':method': method, ':path': path, 'content-type': 'application/json', 'content-length': String(body.length) }
          : { ':method': method, ':path': path },
      );
    } catch (e) {
      const err = new MeshtrayError('ERR_CONTROL_UNREACHABLE', `cannot open an HTTP/2 stream: ${(e as Error).message}`, undefined, { cause: e });
      this.kill(err);
      return Promise.reject(err);
    }
    // A stream error must never become an uncaught exception; the body readers look at 'close'.
    stream.on('error', (e) => this.logger.debug('control stream error', { path, reason: e.message }));
    if (body) stream.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
    else stream.end();
    return new Promise<ResponseHead>((resolve, reject) => {
      let done = false;
      const finish = (err?: Error, head?: ResponseHead) => {
        if (done) return;
        done = true;
        signal?.removeEventListener('abort', onAbort);
        stream.off('close', onClose);
        if (err) reject(err);
        else resolve(head!);
      };
      const onAbort = () => {
        cancelStream(stream);
        finish(abortReason(signal!));
      };
      const onClose = () => finish(this.streamClosedError(stream, 'before the response headers'));
      signal?.addEventListener('abort', onAbort, { once: true });
      stream.once('response', (headers) => {
        const body = new ResponseBody(
          stream,
          () => this.streamClosedError(stream, 'before the answer ended'),
          () => this.deadReason,
        );
        finish(undefined, { status: Number(headers[':status']), headers, stream, body });
      });
      stream.on('close', onClose);
    });
  }

  /** The error for a stream that closed without a clean end. */
  streamClosedError(stream: http2.ClientHttp2Stream, when: string): Error {
    if (this.deadReason) return this.deadReason;
    return new MeshtrayError('ERR_CONTROL_PROTOCOL', `control HTTP/2 stream reset ${when} (code ${stream.rstCode ?? 'none'})`, { rstCode: stream.rstCode });
  }

  /** Tears everything down; pending streams close and their requests reject with `reason`. */
  close(reason?: Error): void {
    this.kill(reason ?? new MeshtrayError('ERR_CONTROL_UNREACHABLE', 'control connection closed by the client'));
  }

  private kill(err: Error): void {
    if (this.deadReason) return;
    this.deadReason = err;
    this.pingTimer?.cancel();
    this.logger.debug('control session ended', { reason: err.message });
    try {
      this.session.destroy();
    } catch {
      /* already gone */
    }
    this.conn.destroy();
    for (const fn of this.listeners.splice(0)) fn(err);
  }

  private schedulePing(): void {
    const every = this.opts.pingIntervalMs ?? 30_000;
    if (every <= 0) return;
    this.pingTimer = this.opts.clock.setTimeout(() => {
      if (this.deadReason) return;
      let answered = false;
      const timeoutMs = this.opts.pingTimeoutMs ?? 15_000;
      const guard = this.opts.clock.setTimeout(() => {
        if (!answered) this.kill(new MeshtrayError('ERR_TIMEOUT', `control server did not answer an HTTP/2 PING within ${timeoutMs} ms`));
      }, timeoutMs);
      try {
        this.session.ping((err) => {
          answered = true;
          guard.cancel();
          if (err) this.kill(new MeshtrayError('ERR_CONTROL_UNREACHABLE', `HTTP/2 PING failed: ${err.message}`));
          else this.schedulePing();
        });
      } catch (e) {
        guard.cancel();
        this.kill(new MeshtrayError('ERR_CONTROL_UNREACHABLE', `HTTP/2 PING failed: ${(e as Error).message}`));
      }
    }, every);
  }
}

export function cancelStream(stream: http2.ClientHttp2Stream): void {
  if (!stream.closed && !stream.destroyed) {
    try {
      stream.close(http2.constants.NGHTTP2_CANCEL);
    } catch {
      stream.destroy();
    }
  }
}
