// One DERP connection to one region, kept up with reconnect and backoff
// (tailscale derp/derphttp/derphttp_client.go `connect`, derp/derp_client.go, magicsock derp.go
// `runDerpReader`). Protocol flow on the TLS stream:
//   C: GET /derp HTTP/1.1, Upgrade: DERP, Connection: Upgrade        S: 101 Switching Protocols
//   S: ServerKey(magic, server pub)   C: ClientInfo(our node pub, box(JSON) to the server key)
//   S: ServerInfo(box(JSON))          then SendPacket / RecvPacket / KeepAlive / PeerGone / Ping…
// We never use "Derp-Fast-Start": it needs the metacert from the TLS chain, which Node does not
// expose reliably, and the plain upgrade works with derper and Headscale (dataplane.md §1.2).
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import { SharedBox } from '../crypto/nacl-box.js';
import { PublicKey, type PrivateKey } from '../keys/keys.js';
import type { Clock, Logger, Random, Timer } from '../ports/ports.js';
import { Backoff } from './backoff.js';
import { Counters } from './counters.js';
import { Listeners } from './listeners.js';
import type { DerpNode, DerpRegion } from './derp-map.js';
import { tlsDialer, type DerpDialer } from './dial.js';
import {
  encodeClientInfo, encodeNotePreferred, encodePing, encodePong, encodeSendPacket, FrameReader,
  MAX_PACKET_SIZE, PeerGoneReason, PROTOCOL_VERSION, DerpFrameError, type DerpFrame,
} from './frames.js';

export type DerpClientState = 'idle' | 'connecting' | 'connected' | 'closed';

export interface DerpClientEvents {
  /** A packet relayed from `src` (disco or WireGuard bytes; the caller demultiplexes). */
  packet: (src: PublicKey<'node'>, data: Uint8Array) => void;
  /** The server says `peer` went away (`disconnected`) or is unknown to it (`not-here`). */
  peerGone: (peer: PublicKey<'node'>, reason: 'disconnected' | 'not-here' | number) => void;
  state: (state: DerpClientState, info: { error?: string; node?: string }) => void;
  /** Server health text; empty string = healthy again. */
  health: (problem: string) => void;
}

export interface DerpClientOptions {
  region: DerpRegion;
  nodeKey: PrivateKey<'node'>;
  clock: Clock;
  random: Random;
  logger: Logger;
  dial?: DerpDialer;
  counters?: Counters;
  /** Send NotePreferred(true) on connect: this is our home region. */
  preferred?: boolean;
  /** Go: 2 missed 60 s keep-alives. */
  readTimeoutMs?: number;
  /** Go: 10 s for DNS + TCP + TLS + upgrade + handshake. */
  connectTimeoutMs?: number;
  maxBackoffMs?: number;
}

const ServerInfoJSON = z.looseObject({
  version: z.number().int().optional(),
  TokenBucketBytesPerSecond: z.number().int().nonnegative().optional(),
  TokenBucketBytesBurst: z.number().int().nonnegative().optional(),
});

/** magicsock's per-region write queue depth (wgengine/magicsock/derp.go bufferedDerpWritesBeforeDrop). */
const QUEUE_DEPTH = 32;
/** Stop writing into a socket that holds this much unsent data: the link is stalled. */
const MAX_SOCKET_BACKLOG = 4 << 20;
const MAX_HTTP_HEADER = 16 << 10;

export class DerpClient {
  readonly counters: Counters;
  readonly regionId: number;
  private readonly log: Logger;
  private readonly dial: DerpDialer;
  private readonly backoff: Backoff;
  private readonly listeners: Listeners<DerpClientEvents>;
  private st: DerpClientState = 'idle';
  private conn: Connection | undefined;
  private queue: { dst: Uint8Array; data: Uint8Array }[] = [];
  private loopRunning = false;
  private sleepTimer: Timer | undefined;
  private wake: (() => void) | undefined;
  private preferred: boolean;
  private srvKey: PublicKey<'node'> | undefined;
  private nodeName: string | undefined;
  private lastRecvAt = 0;
  private lastWriteAt = 0;

  constructor(private readonly o: DerpClientOptions) {
    this.counters = o.counters ?? new Counters('derp_');
    this.regionId = o.region.RegionID;
    this.log = o.logger.child(`derp-${o.region.RegionID}`);
    this.listeners = new Listeners<DerpClientEvents>(this.log);
    this.dial = o.dial ?? tlsDialer(o.clock);
    this.backoff = new Backoff(o.random, o.maxBackoffMs ?? 5000);
    this.preferred = o.preferred ?? false;
  }

  on<K extends keyof DerpClientEvents>(event: K, fn: DerpClientEvents[K]): () => void {
    return this.listeners.on(event, fn);
  }

  get state(): DerpClientState {
    return this.st;
  }
  /** The server's public key, once a handshake completed. */
  get serverKey(): PublicKey<'node'> | undefined {
    return this.srvKey;
  }
  get connectedNode(): string | undefined {
    return this.st === 'connected' ? this.nodeName : undefined;
  }
  /** ms timestamp of the last frame received (0 = never). */
  get lastReceive(): number {
    return this.lastRecvAt;
  }
  get lastWrite(): number {
    return this.lastWriteAt;
  }

  private setState(s: DerpClientState, info: { error?: string; node?: string } = {}): void {
    if (this.st === s && !info.error) return;
    this.st = s;
    this.listeners.emit('state', s, info);
  }

  /** Starts connecting (and keeps reconnecting until close()). */
  start(): void {
    if (this.st === 'closed' || this.loopRunning) return;
    this.loopRunning = true;
    void this.loop();
  }

  /** Drops the current connection (if any) and reconnects at once, e.g. after a link change. */
  reconnect(): void {
    this.conn?.close(new Error('reconnect requested'));
    this.backoff.reset();
    this.wakeUp();
  }

  async close(): Promise<void> {
    if (this.st === 'closed') return;
    this.setState('closed');
    this.queue = [];
    this.wakeUp();
    const c = this.conn;
    this.conn = undefined;
    if (c) {
      c.close(new Error('client closed'));
      await c.done;
    }
  }

  private isClosed(): boolean {
    return this.st === 'closed';
  }

  private wakeUp(): void {
    this.sleepTimer?.cancel();
    this.sleepTimer = undefined;
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.sleepTimer = this.o.clock.setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
    });
  }

  private async loop(): Promise<void> {
    while (this.st !== 'closed') {
      this.setState('connecting');
      let err: Error;
      try {
        err = await this.connectAndServe();
      } catch (e) {
        err = e instanceof Error ? e : new Error(String(e));
      }
      this.conn = undefined;
      if (this.isClosed()) break;
      this.counters.inc('disconnects');
      const delay = this.backoff.next();
      this.log.info('derp connection ended; reconnecting', { error: err.message, delayMs: delay });
      this.setState('connecting', { error: err.message });
      await this.sleep(delay);
    }
    this.loopRunning = false;
  }

  private async connectAndServe(): Promise<Error> {
    const nodes = (this.o.region.Nodes ?? []).filter((n) => !n.STUNOnly);
    if (nodes.length === 0) throw new Error(`region ${this.regionId} has no DERP nodes`);
    const budget = this.o.connectTimeoutMs ?? 10_000;
    let sock: Duplex | undefined;
    let node: DerpNode | undefined;
    let lastErr: Error | undefined;
    for (const n of nodes) {
      try {
        sock = await this.dial(n, budget);
        node = n;
        break;
      } catch (e) {
        lastErr = e instanceof Error ? e : new Error(String(e));
        this.counters.inc('dial-failed');
        this.log.warn('derp dial failed', { node: n.Name, error: lastErr.message });
      }
      if (this.isClosed()) break;
    }
    if (!sock || !node) throw lastErr ?? new Error('no node dialled');
    if (this.isClosed()) {
      sock.destroy();
      return new Error('client closed');
    }
    const idealNode = nodes[0]!.Name !== node.Name ? nodes[0]!.Name : undefined;
    const c = new Connection(this, sock, node, idealNode, budget);
    this.conn = c;
    this.nodeName = node.Name;
    return c.done;
  }

  // ---- called by Connection ----

  /** @internal */ ctx(): DerpClientOptions {
    return this.o;
  }
  /** @internal */ onServerKey(k: PublicKey<'node'>): void {
    this.srvKey = k;
  }
  /** @internal */ onHandshakeSent(c: Connection): void {
    if (this.preferred) c.write(encodeNotePreferred(true));
    const q = this.queue;
    this.queue = [];
    for (const p of q) c.sendPacket(p.dst, p.data);
  }
  /** @internal */ onConnected(c: Connection): void {
    this.backoff.reset();
    this.log.info('derp connected', { node: c.node.Name, server: this.srvKey?.short() });
    this.setState('connected', { node: c.node.Name });
  }
  /** @internal */ onFrame(c: Connection, f: DerpFrame): void {
    this.lastRecvAt = this.o.clock.now();
    switch (f.type) {
      case 'recvPacket':
        this.counters.inc('packets-received');
        this.listeners.emit('packet', PublicKey.fromRaw('node', f.src), f.data);
        break;
      case 'peerGone':
        this.listeners.emit('peerGone', PublicKey.fromRaw('node', f.key),
          f.reason === PeerGoneReason.Disconnected ? 'disconnected' : f.reason === PeerGoneReason.NotHere ? 'not-here' : f.reason);
        break;
      case 'ping':
        c.write(encodePong(f.data)); // best effort, as Go's client does
        break;
      case 'pong':
        c.onPong(f.data);
        break;
      case 'health':
        this.listeners.emit('health', f.problem);
        break;
      case 'restarting':
        this.log.info('derp server restarting', { reconnectInMs: f.reconnectInMs, tryForMs: f.tryForMs });
        break;
      case 'keepAlive':
      case 'serverInfo':
      case 'serverKey':
      case 'peerPresent':
        break;
    }
  }
  /** @internal */ noteWrite(): void {
    this.lastWriteAt = this.o.clock.now();
  }

  // ---- public sending API ----

  /**
   * Sends `data` to the peer with node key `dst` via this region. Returns false if it was
   * dropped (too large, client closed). While (re)connecting up to 32 packets are queued,
   * dropping the oldest, like magicsock's per-region write queue.
   */
  send(dst: PublicKey<'node'>, data: Uint8Array): boolean {
    if (this.st === 'closed') {
      this.counters.inc('send-closed');
      return false;
    }
    if (data.length > MAX_PACKET_SIZE) {
      this.counters.inc('send-too-large');
      return false;
    }
    this.lastWriteAt = this.o.clock.now();
    const c = this.conn;
    if (c && c.handshakeSent) return c.sendPacket(dst.raw, data);
    if (this.queue.length >= QUEUE_DEPTH) {
      this.queue.shift();
      this.counters.inc('send-queue-dropped');
    }
    this.queue.push({ dst: dst.raw, data: Uint8Array.from(data) });
    this.start();
    return true;
  }

  /** Tells the server whether this is our home region (statistics only on the server). */
  setPreferred(preferred: boolean): void {
    if (this.preferred === preferred) return;
    this.preferred = preferred;
    const c = this.conn;
    if (c?.handshakeSent) c.write(encodeNotePreferred(preferred));
  }

  /** Round trip of a DERP Ping/Pong on the current connection, in ms (rejects after timeoutMs). */
  ping(timeoutMs = 5000): Promise<number> {
    const c = this.conn;
    if (!c || this.st !== 'connected') return Promise.reject(new Error('derp not connected'));
    return c.ping(timeoutMs);
  }
}

/** One attempt: HTTP upgrade, handshake, then frames until the stream ends. */
class Connection {
  readonly done: Promise<Error>;
  handshakeSent = false;
  private finish!: (e: Error) => void;
  private finished = false;
  private phase: 'http' | 'server-key' | 'server-info' | 'ready' = 'http';
  private httpBuf = new Uint8Array(0);
  private readonly reader: FrameReader;
  private readTimer: Timer | undefined;
  private handshakeTimer: Timer | undefined;
  private box: SharedBox | undefined;
  private bucket: { rate: number; burst: number; tokens: number; at: number } | undefined;
  private readonly pings = new Map<string, { resolve: (ms: number) => void; reject: (e: Error) => void; timer: Timer; at: number }>();

  constructor(private readonly client: DerpClient, private readonly sock: Duplex, readonly node: DerpNode, idealNode: string | undefined, budgetMs: number) {
    this.done = new Promise((r) => (this.finish = r));
    const o = client.ctx();
    this.reader = new FrameReader(client.counters);
    this.handshakeTimer = o.clock.setTimeout(() => this.close(new Error('derp handshake timed out')), budgetMs);
    sock.on('data', (chunk: Buffer) => this.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    sock.on('error', (e: Error) => this.close(e));
    sock.on('close', () => this.close(new Error('connection closed by server')));
    sock.on('end', () => {
      this.reader.end();
      this.close(new Error('connection closed by server'));
    });
    const headers = [
      'GET /derp HTTP/1.1',
      `Host: ${node.HostName}`,
      'User-Agent: meshtray',
      'Connection: Upgrade',
      'Upgrade: DERP',
      ...(idealNode ? [`Ideal-Node: ${idealNode}`] : []),
    ];
    this.write(new TextEncoder().encode(headers.join('\r\n') + '\r\n\r\n'));
    this.armReadTimer();
  }

  close(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.readTimer?.cancel();
    this.handshakeTimer?.cancel();
    for (const p of this.pings.values()) {
      p.timer.cancel();
      p.reject(new Error('derp connection closed'));
    }
    this.pings.clear();
    this.sock.destroy();
    this.finish(err);
  }

  private armReadTimer(): void {
    const o = this.client.ctx();
    this.readTimer?.cancel();
    const ms = o.readTimeoutMs ?? 120_000;
    this.readTimer = o.clock.setTimeout(() => {
      this.client.counters.inc('read-timeout');
      this.close(new Error(`no frame from server in ${ms} ms`));
    }, ms);
  }

  write(b: Uint8Array): boolean {
    if (this.finished) return false;
    if (this.sock.writableLength > MAX_SOCKET_BACKLOG) {
      this.client.counters.inc('send-backlog-dropped');
      return false;
    }
    this.sock.write(b);
    this.client.noteWrite();
    return true;
  }

  sendPacket(dst: Uint8Array, data: Uint8Array): boolean {
    if (this.bucket && !this.takeTokens(5 + 32 + data.length)) {
      this.client.counters.inc('send-rate-limited');
      return false;
    }
    const ok = this.write(encodeSendPacket(dst, data));
    if (ok) this.client.counters.inc('packets-sent');
    return ok;
  }

  private takeTokens(n: number): boolean {
    const b = this.bucket!;
    const now = this.client.ctx().clock.now();
    b.tokens = Math.min(b.burst, b.tokens + ((now - b.at) / 1000) * b.rate);
    b.at = now;
    if (b.tokens < n) return false;
    b.tokens -= n;
    return true;
  }

  ping(timeoutMs: number): Promise<number> {
    const o = this.client.ctx();
    const data = o.random.bytes(8);
    const key = Buffer.from(data).toString('hex');
    return new Promise((resolve, reject) => {
      const timer = o.clock.setTimeout(() => {
        this.pings.delete(key);
        reject(new Error(`derp ping timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pings.set(key, { resolve, reject, timer, at: o.clock.now() });
      this.write(encodePing(data));
    });
  }

  onPong(data: Uint8Array): void {
    const key = Buffer.from(data).toString('hex');
    const p = this.pings.get(key);
    if (!p) return;
    this.pings.delete(key);
    p.timer.cancel();
    p.resolve(this.client.ctx().clock.now() - p.at);
  }

  private onData(chunk: Uint8Array): void {
    if (this.finished) return;
    this.armReadTimer();
    if (this.phase === 'http') {
      const buf = new Uint8Array(this.httpBuf.length + chunk.length);
      buf.set(this.httpBuf);
      buf.set(chunk, this.httpBuf.length);
      const end = indexOfCrlfCrlf(buf);
      if (end < 0) {
        if (buf.length > MAX_HTTP_HEADER) this.close(new Error('derp: HTTP response header too large'));
        else this.httpBuf = buf;
        return;
      }
      const head = new TextDecoder().decode(buf.subarray(0, end));
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (!status || status[1] !== '101') {
        this.client.counters.inc('upgrade-refused');
        const body = new TextDecoder().decode(buf.subarray(end + 4, end + 4 + 200));
        this.close(new Error(`derp: upgrade refused: ${head.split('\r\n')[0] ?? ''} ${body}`.trim()));
        return;
      }
      this.httpBuf = new Uint8Array(0);
      this.phase = 'server-key';
      // Bytes after the blank line already belong to the DERP stream (often the ServerKey frame).
      chunk = buf.subarray(end + 4);
    }
    let frames: DerpFrame[];
    try {
      frames = this.reader.push(chunk);
    } catch (e) {
      this.close(e instanceof DerpFrameError ? e : new Error(String(e)));
      return;
    }
    for (const f of frames) {
      if (this.finished) return;
      this.onFrame(f);
    }
  }

  private onFrame(f: DerpFrame): void {
    const o = this.client.ctx();
    if (this.phase === 'server-key') {
      if (f.type !== 'serverKey') {
        this.client.counters.inc('handshake-unexpected-frame');
        this.close(new Error(`derp: expected ServerKey first, got ${f.type}`));
        return;
      }
      const serverPub = PublicKey.fromRaw('node', f.key);
      this.client.onServerKey(serverPub);
      try {
        this.box = SharedBox.between(o.nodeKey, serverPub);
      } catch (e) {
        this.close(new Error(`derp: bad server key: ${String(e)}`));
        return;
      }
      const info = new TextEncoder().encode(JSON.stringify({ version: PROTOCOL_VERSION, CanAckPings: true }));
      this.write(encodeClientInfo(o.nodeKey.public.raw, this.box.seal(info, o.random)));
      this.phase = 'server-info';
      this.handshakeSent = true;
      this.client.onHandshakeSent(this);
      return;
    }
    if (f.type === 'serverInfo') {
      const plain = this.box?.open(f.sealed);
      if (!plain) {
        this.client.counters.inc('bad-server-info');
        this.close(new Error('derp: ServerInfo does not open with the server key'));
        return;
      }
      let parsed: z.infer<typeof ServerInfoJSON>;
      try {
        parsed = ServerInfoJSON.parse(JSON.parse(new TextDecoder().decode(plain)));
      } catch (e) {
        this.client.counters.inc('bad-server-info');
        this.close(new Error(`derp: invalid ServerInfo JSON: ${String(e)}`));
        return;
      }
      const rate = parsed.TokenBucketBytesPerSecond ?? 0;
      this.bucket = rate > 0
        ? { rate, burst: parsed.TokenBucketBytesBurst ?? rate, tokens: parsed.TokenBucketBytesBurst ?? rate, at: o.clock.now() }
        : undefined;
      if (this.phase === 'server-info') {
        this.phase = 'ready';
        this.handshakeTimer?.cancel();
        this.handshakeTimer = undefined;
        this.client.onConnected(this);
      }
      return;
    }
    this.client.onFrame(this, f);
  }
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

