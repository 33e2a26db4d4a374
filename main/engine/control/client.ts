// The control client the backend drives: fetches the server's Noise key, keeps one ts2021
// connection (HTTP/1.1 upgrade → Noise IK → HTTP/2) and runs the two RPCs over it,
// /machine/register and /machine/map (see control.md §0–§7 and tailscale control/ts2021/client.go,
// control/controlclient/direct.go). It holds no login state: the backend decides what to send.
// Nothing secret reaches the logger: keys are logged with .short(), the auth key never, and server
// error texts have the auth key we sent redacted in case a server echoes it.
import type { PrivateKey, PublicKey } from '../keys/keys.js';
import type { Clock, Logger, Random } from '../ports/ports.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { CURRENT_CAPABILITY_VERSION } from './capver.js';
import {
  MapRequestSchema,
  RegisterRequestSchema,
  RegisterResponseSchema,
  type EarlyNoise,
  type MapRequest,
  type RegisterRequest,
  type RegisterResponse,
} from './messages.js';
import { ClientHandshake } from './noise/handshake.js';
import { NoiseConn } from './noise/conn.js';
import { protocolError } from './noise/frames.js';
import { EarlyPayloadSniffer } from './early-payload.js';
import { HandshakeRejected, upgrade, type SocketFactory } from './upgrade.js';
import { ControlSession, cancelStream, type ResponseHead } from './http2-session.js';
import { MapFrameDecoder } from './map-frames.js';
import { fetchServerKey, plainHead } from './server-key.js';
import { abortReason, deadline, raceAbort } from './deadline.js';

export interface ControlClientOptions {
  serverURL: string; // e.g. http://198.51.100.10:8080 (http or https; trailing / trimmed)
  machineKey: PrivateKey<'machine'>;
  logger: Logger;
  clock: Clock;
  random: Random;
  /** Default CURRENT_CAPABILITY_VERSION (142); Headscale needs >= 113. */
  capVer?: number;
  /** TCP + upgrade + Noise handshake (and the /key fetch when needed). Default 10_000. */
  dialTimeoutMs?: number;
  /** No map message (keep-alives included) for this long ends the stream with ERR_TIMEOUT. Default 120_000, as Tailscale's watchdog. */
  mapWatchdogMs?: number;
  /** Timeout of a register without Followup and of a lite map update. Default 60_000. Followups wait forever (until aborted). */
  requestTimeoutMs?: number;
  /** HTTP/2 PING interval on the shared connection; 0 disables. Default 30_000. */
  pingIntervalMs?: number;
  /** Seam for tests (and later proxies): supplies the byte stream instead of a TCP/TLS socket. */
  createSocket?: SocketFactory;
  /** PEM certificates trusted in addition to the system roots for the https GET /key (Tailscale's ExtraRootCAs). */
  extraRootCAs?: string[];
}

/** Counters for status/diagnostics. */
export interface ControlClientStats {
  dials: number;
  dialFailures: number;
  handshakeFailures: number;
  protocolErrors: number;
  mapMessages: number;
}

const MAX_REGISTER_BODY = 1 << 20;
const MAX_ERROR_BODY = 4 << 10;

export class ControlClient {
  readonly serverURL: string;
  readonly capVer: number;
  readonly stats: ControlClientStats = { dials: 0, dialFailures: 0, handshakeFailures: 0, protocolErrors: 0, mapMessages: 0 };
  private readonly opts: ControlClientOptions;
  private readonly log: Logger;
  private cachedKey: PublicKey<'machine'> | undefined;
  private keyFetch: Promise<PublicKey<'machine'>> | undefined;
  private current: ControlSession | undefined;
  private dialing: Promise<ControlSession> | undefined;
  private dialAbort: AbortController | undefined;
  private early: EarlyNoise | undefined;

  constructor(opts: ControlClientOptions) {
    this.opts = opts;
    this.serverURL = opts.serverURL.replace(/\/+$/, '');
    const u = new URL(this.serverURL); // throws on garbage early, before any dial
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new MeshtrayError('ERR_BAD_REQUEST', `control URL must be http or https: ${u.protocol}`);
    this.capVer = opts.capVer ?? CURRENT_CAPABILITY_VERSION;
    if (!Number.isInteger(this.capVer) || this.capVer < 1 || this.capVer > 0xffff) throw new MeshtrayError('ERR_BAD_REQUEST', `capability version must be an integer in 1..65535, got ${this.capVer}`);
    this.log = opts.logger.child('control');
  }

  /** The early payload of the current connection, if the server sent one. */
  get earlyPayload(): EarlyNoise | undefined {
    return this.early;
  }

  /** True while a Noise+HTTP/2 connection is up. */
  get connected(): boolean {
    return this.current?.alive === true;
  }

  /** GET /key?v=capver (plain HTTP), cached; re-fetched after a handshake failure. */
  serverKey(signal?: AbortSignal): Promise<PublicKey<'machine'>> {
    if (this.cachedKey) return Promise.resolve(this.cachedKey);
    if (!this.keyFetch) {
      const dl = deadline(this.opts.clock, this.opts.dialTimeoutMs ?? 10_000, 'control /key fetch');
      this.keyFetch = fetchServerKey({ base: this.serverURL, capVer: this.capVer, signal: dl.signal, createSocket: this.opts.createSocket, extraRootCAs: this.opts.extraRootCAs })
        .then((k) => {
          this.cachedKey = k;
          this.log.info('control server key', { server: this.host, serverKey: k.short() });
          return k;
        })
        .finally(() => {
          dl.dispose();
          this.keyFetch = undefined;
        });
    }
    return raceAbort(this.keyFetch, signal);
  }

  /** POST /machine/register over the shared Noise+HTTP/2 connection (dialed on demand, redialed after failure). */
  async register(req: RegisterRequest, opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<RegisterResponse> {
    const body = encode('RegisterRequest', RegisterRequestSchema, { ...req, Version: req.Version ?? this.capVer });
    const secret = req.Auth?.AuthKey;
    const timeout = opts?.timeoutMs ?? (req.Followup ? undefined : (this.opts.requestTimeoutMs ?? 60_000));
    const dl = deadline(this.opts.clock, timeout, 'control register', opts?.signal);
    try {
      const session = await this.connection(dl.signal);
      const head = await session.request('/machine/register', body, dl.signal);
      const text = (await readBody(head, head.status === 200 ? MAX_REGISTER_BODY : MAX_ERROR_BODY, dl.signal)).toString('utf8');
      if (head.status !== 200) throw this.httpError('register', head.status, text, secret);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (e) {
        throw this.countProtocol(protocolError('register: answer is not JSON', e));
      }
      const r = RegisterResponseSchema.safeParse(json);
      if (!r.success) throw this.countProtocol(protocolError(`register: answer does not match RegisterResponse: ${describeIssue(r.error.issues[0])}`));
      const resp = r.data;
      this.log.info('register answered', {
        nodeKey: shortKeyText(req.NodeKey),
        followup: Boolean(req.Followup),
        withAuthKey: secret !== undefined,
        machineAuthorized: resp.MachineAuthorized,
        nodeKeyExpired: resp.NodeKeyExpired,
        authURLPending: resp.AuthURL !== '',
        ...(resp.Error ? { error: redact(resp.Error, secret) } : {}),
      });
      return resp;
    } catch (e) {
      throw this.logFailure('register', e, secret);
    } finally {
      dl.dispose();
    }
  }

  /**
   * POST /machine/map with Stream:true. Calls onMessage with each decoded MapResponse JSON, in order,
   * keep-alives included. Resolves when the server ends the stream; rejects on any error (bad frame,
   * decompression, JSON, HTTP status, connection loss, watchdog, abort via signal).
   */
  async mapStream(req: MapRequest, onMessage: (msg: unknown) => void, opts: { signal: AbortSignal }): Promise<void> {
    const compressed = (req.Compress ?? 'zstd') === 'zstd';
    const full = { ...req, Version: req.Version ?? this.capVer, KeepAlive: req.KeepAlive ?? true, Stream: true };
    if (compressed) full.Compress = 'zstd';
    else delete full.Compress;
    const body = encode('MapRequest', MapRequestSchema, full);
    const watchdogMs = this.opts.mapWatchdogMs ?? 120_000;
    // The watchdog covers the time to the response headers too (Tailscale's watchdogTimeout).
    const wdAbort = new AbortController();
    const armWatchdog = () =>
      this.opts.clock.setTimeout(() => wdAbort.abort(new MeshtrayError('ERR_TIMEOUT', `map stream: nothing from the control server for ${watchdogMs} ms`)), watchdogMs);
    let watchdog = armWatchdog();
    const dl = deadline(this.opts.clock, undefined, 'map stream', opts.signal, wdAbort.signal);
    try {
      const session = await this.connection(dl.signal);
      const head = await session.request('/machine/map', body, dl.signal);
      watchdog.cancel();
      watchdog = armWatchdog();
      if (head.status !== 200) {
        const text = (await readBody(head, MAX_ERROR_BODY, dl.signal)).toString('utf8');
        throw this.httpError('map', head.status, text);
      }
      this.log.info('map stream open', { nodeKey: shortKeyText(req.NodeKey), compressed });
      await new Promise<void>((resolve, reject) => {
        const decoder = new MapFrameDecoder({ compressed });
        let settled = false;
        let sawFull = false;
        const finish = (err?: Error) => {
          if (settled) return;
          settled = true;
          dl.signal.removeEventListener('abort', onAbort);
          if (err) {
            cancelStream(head.stream);
            reject(err);
          } else resolve();
        };
        const onAbort = () => finish(abortReason(dl.signal));
        const onMsg = (m: unknown) => {
          if (settled) return;
          watchdog.cancel();
          watchdog = armWatchdog();
          if (typeof m !== 'object' || m === null || Array.isArray(m)) throw protocolError('map frame: MapResponse is not a JSON object');
          const isKeepAlive = (m as { KeepAlive?: unknown }).KeepAlive === true;
          // The first real message of a stream must carry the self node (direct.go aborts otherwise).
          if (!isKeepAlive && !sawFull) {
            if ((m as { Node?: unknown }).Node == null) throw protocolError('map stream: first MapResponse has no Node');
            sawFull = true;
          }
          this.stats.mapMessages++;
          try {
            onMessage(m);
          } catch (e) {
            throw new CallerError(e);
          }
        };
        const onData = (chunk: Buffer) => {
          if (settled) return;
          try {
            decoder.feed(chunk, onMsg);
          } catch (e) {
            if (e instanceof CallerError) finish(e.inner);
            else finish(this.countProtocol(e as Error));
          }
        };
        dl.signal.addEventListener('abort', onAbort, { once: true });
        if (dl.signal.aborted) onAbort();
        head.body.consume({
          data: onData,
          end: () => {
            if (decoder.bufferedBytes > 0) finish(this.countProtocol(protocolError(`map stream ended inside a message (${decoder.bufferedBytes} bytes pending)`)));
            else finish();
          },
          error: (e) => finish(e),
        });
      });
      this.log.info('map stream ended by the server');
    } catch (e) {
      throw this.logFailure('map stream', e);
    } finally {
      watchdog.cancel();
      dl.dispose();
    }
  }

  /** POST /machine/map with Stream:false (lite update of Hostinfo/Endpoints; OmitPeers:true). */
  async mapUpdate(req: MapRequest, opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void> {
    const body = encode('MapRequest', MapRequestSchema, {
      ...req,
      Version: req.Version ?? this.capVer,
      Stream: false,
      OmitPeers: true,
    });
    const dl = deadline(this.opts.clock, opts?.timeoutMs ?? this.opts.requestTimeoutMs ?? 60_000, 'map update', opts?.signal);
    try {
      const session = await this.connection(dl.signal);
      const head = await session.request('/machine/map', body, dl.signal);
      const text = (await readBody(head, MAX_ERROR_BODY, dl.signal, head.status === 200)).toString('utf8');
      if (head.status !== 200) throw this.httpError('map update', head.status, text);
      this.log.debug('map update accepted', { nodeKey: shortKeyText(req.NodeKey) });
    } catch (e) {
      throw this.logFailure('map update', e);
    } finally {
      dl.dispose();
    }
  }

  /**
   * Answers a MapResponse.PingRequest whose Types is empty: a HEAD to its URL, over the Noise
   * connection when URLIsNoise, else over plain HTTP(S) (control.md §7.7; Headscale uses this to
   * health-check HA subnet routers and sends URLIsNoise=false). Resolves with the HTTP status.
   */
  async answerPing(req: { URL: string; URLIsNoise?: boolean | undefined }, opts?: { signal?: AbortSignal; timeoutMs?: number }): Promise<number> {
    let url: URL;
    try {
      url = new URL(req.URL);
    } catch {
      throw new MeshtrayError('ERR_BAD_REQUEST', 'PingRequest URL is not a URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MeshtrayError('ERR_BAD_REQUEST', `PingRequest URL must be http or https, got ${url.protocol}`);
    const dl = deadline(this.opts.clock, opts?.timeoutMs ?? 15_000, 'ping answer', opts?.signal);
    try {
      let status: number;
      if (req.URLIsNoise) {
        const session = await this.connection(dl.signal);
        const head = await session.request(url.pathname + url.search, undefined, dl.signal, 'HEAD');
        await readBody(head, MAX_ERROR_BODY, dl.signal, false);
        status = head.status;
      } else {
        status = await plainHead(url, dl.signal, this.opts.createSocket, this.opts.extraRootCAs);
      }
      this.log.debug('answered control ping', { noise: Boolean(req.URLIsNoise), status });
      return status;
    } catch (e) {
      throw this.logFailure('ping answer', e);
    } finally {
      dl.dispose();
    }
  }

  /** Closes the Noise connection and HTTP/2 session; pending calls reject. A later call dials again. */
  close(): void {
    const err = new MeshtrayError('ERR_CONTROL_UNREACHABLE', 'control client closed');
    this.dialAbort?.abort(err);
    const s = this.current;
    this.current = undefined;
    s?.close(err);
  }

  private get host(): string {
    return new URL(this.serverURL).host;
  }

  private connection(signal: AbortSignal): Promise<ControlSession> {
    if (this.current?.alive) return Promise.resolve(this.current);
    this.dialing ??= this.dial().finally(() => {
      this.dialing = undefined;
    });
    return raceAbort(this.dialing, signal);
  }

  private async dial(): Promise<ControlSession> {
    const ac = new AbortController();
    this.dialAbort = ac;
    const dl = deadline(this.opts.clock, this.opts.dialTimeoutMs ?? 10_000, 'control dial', ac.signal);
    this.stats.dials++;
    try {
      const serverKey = await this.serverKey(dl.signal);
      const hs = ClientHandshake.start(this.opts.machineKey, serverKey, this.capVer, this.opts.random);
      let up;
      try {
        up = await upgrade({ serverURL: new URL(this.serverURL), initiation: hs.initiation, signal: dl.signal, createSocket: this.opts.createSocket });
      } catch (e) {
        if (e instanceof HandshakeRejected) this.forgetServerKey(e.message);
        throw e;
      }
      let keys;
      try {
        keys = hs.finish(up.response);
      } catch (e) {
        up.socket.destroy();
        this.forgetServerKey((e as Error).message);
        throw e;
      }
      this.early = undefined;
      const sniffer = new EarlyPayloadSniffer((p) => {
        this.early = p;
        this.log.debug('early payload received', { challenge: p.nodeKeyChallenge !== undefined });
      });
      const conn = new NoiseConn({ socket: up.socket, keys, leftover: up.leftover, inbound: sniffer, logger: this.log });
      const session = new ControlSession(conn, {
        authority: this.host,
        clock: this.opts.clock,
        logger: this.log,
        ...(this.opts.pingIntervalMs !== undefined ? { pingIntervalMs: this.opts.pingIntervalMs } : {}),
      });
      session.onDead((err) => {
        if (this.current === session) this.current = undefined;
        if (MeshtrayError.is(err) && err.code === 'ERR_CONTROL_PROTOCOL') this.stats.protocolErrors++;
        this.log.info('control connection ended', { reason: err.message });
      });
      if (ac.signal.aborted) {
        session.close();
        throw abortReason(ac.signal);
      }
      this.current = session;
      this.log.info('control connection up', { server: this.host, serverKey: serverKey.short(), machineKey: this.opts.machineKey.public.short(), capVer: this.capVer });
      return session;
    } catch (e) {
      this.stats.dialFailures++;
      if (dl.signal.aborted && !ac.signal.aborted) throw abortReason(dl.signal); // the dial timeout
      throw e;
    } finally {
      dl.dispose();
      if (this.dialAbort === ac) this.dialAbort = undefined;
    }
  }

  private forgetServerKey(reason: string): void {
    this.stats.handshakeFailures++;
    this.cachedKey = undefined;
    this.log.warn('noise handshake failed; server key will be re-fetched', { reason });
  }

  private countProtocol(e: Error): Error {
    if (MeshtrayError.is(e) && e.code === 'ERR_CONTROL_PROTOCOL') this.stats.protocolErrors++;
    return e;
  }

  private httpError(what: string, status: number, body: string, secret?: string): MeshtrayError {
    const text = redact(body, secret).replace(/[^\x20-\x7e]/g, ' ').trim().slice(0, 200);
    return new MeshtrayError('ERR_CONTROL_PROTOCOL', `${what}: HTTP ${status}${text ? `: ${text}` : ''}`, { status });
  }

  private logFailure(what: string, e: unknown, secret?: string): Error {
    const err = e instanceof Error ? e : new Error(String(e));
    const safe = redact(err.message, secret);
    if (safe !== err.message) err.message = safe;
    // A cancel by the caller is not a failure worth a warning.
    if (err.name === 'AbortError') this.log.debug(`${what} cancelled`, { reason: safe });
    else this.log.warn(`${what} failed`, { reason: safe, ...(MeshtrayError.is(err) ? { code: err.code } : {}) });
    return err;
  }
}

/** Wraps an exception thrown by the caller's onMessage so it is passed on unchanged, not counted as a protocol error. */
class CallerError extends Error {
  readonly inner: Error;
  constructor(e: unknown) {
    super('onMessage threw');
    this.inner = e instanceof Error ? e : new Error(String(e));
  }
}

function encode(name: string, schema: { safeParse(v: unknown): { success: true; data: unknown } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } }, value: unknown): Uint8Array {
  const r = schema.safeParse(value);
  if (!r.success) throw new MeshtrayError('ERR_BAD_REQUEST', `invalid ${name}: ${describeIssue(r.error.issues[0])}`);
  return new TextEncoder().encode(JSON.stringify(r.data));
}

function describeIssue(issue: { path: PropertyKey[]; message: string } | undefined): string {
  if (!issue) return 'invalid';
  return `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`;
}

/** `nodekey:abcd…` → Tailscale's short log form of the same key. */
function shortKeyText(text: string): string {
  const hex = text.slice(text.indexOf(':') + 1);
  return `[${Buffer.from(hex, 'hex').toString('base64').slice(0, 5)}]`;
}

function redact(text: string, secret: string | undefined): string {
  if (!secret) return text;
  return text.split(secret).join('<redacted>');
}

/** Reads a whole response body up to `max` bytes (or drains and discards it when keep is false). */
function readBody(head: ResponseHead, max: number, signal: AbortSignal, keep = true): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    let settled = false;
    const finish = (err?: Error, value?: Buffer) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err) {
        cancelStream(head.stream);
        reject(err);
      } else resolve(value!);
    };
    const onAbort = () => finish(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    head.body.consume({
      data: (c) => {
        n += c.length;
        if (!keep || settled) return;
        if (n > max) {
          finish(protocolError(`control answer exceeds ${max} bytes`));
          return;
        }
        chunks.push(c);
      },
      end: () => finish(undefined, Buffer.concat(chunks)),
      error: (e) => finish(e),
    });
  });
}
