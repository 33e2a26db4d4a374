// A Node Duplex carrying plaintext over an upgraded socket in Noise transport records, so node:http2
// can run on top (its createConnection accepts any Duplex). Inbound: socket chunks → RecordReader →
// optional plaintext filter (the early-payload sniffer) → push. Outbound: each write is split into
// ≤4077-byte records, written as one socket write; the write callback waits for the socket's, which
// gives http2 real backpressure. Any crypto or framing error destroys the whole connection: the
// cipher state cannot resynchronise (tailscale control/controlbase/conn.go does the same).
import { Duplex } from 'node:stream';
import type { Logger } from '../../ports/ports.js';
import type { TransportKeys } from './handshake.js';
import { RecordReader, protocolError, sealRecords } from './frames.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';

export interface PlaintextFilter {
  feed(chunk: Uint8Array): Uint8Array;
}

export interface NoiseConnOptions {
  socket: Duplex;
  keys: Pick<TransportKeys, 'tx' | 'rx'>;
  /** Bytes already read from the socket after the handshake response (same TCP segment). */
  leftover?: Uint8Array;
  inbound?: PlaintextFilter;
  logger?: Logger;
}

export class NoiseConn extends Duplex {
  private readonly socket: Duplex;
  private readonly reader: RecordReader;
  private readonly keys: Pick<TransportKeys, 'tx' | 'rx'>;
  private readonly inbound: PlaintextFilter | undefined;
  private readonly logger: Logger | undefined;
  private socketEnded = false;

  constructor(opts: NoiseConnOptions) {
    super({ allowHalfOpen: false });
    this.socket = opts.socket;
    this.keys = opts.keys;
    this.reader = new RecordReader(opts.keys.rx);
    this.inbound = opts.inbound;
    this.logger = opts.logger;
    this.socket.on('data', this.onData);
    this.socket.on('end', this.onEnd);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
    // The socket is paused by the handshake reader; these bytes came before anything it still holds.
    if (opts.leftover && opts.leftover.length > 0) this.onData(opts.leftover);
  }

  private readonly onData = (chunk: Uint8Array): void => {
    if (this.destroyed) return;
    let plaintexts: Uint8Array[];
    try {
      plaintexts = this.reader.feed(chunk);
    } catch (e) {
      this.fail(e);
      return;
    }
    for (const pt of plaintexts) {
      let out = pt;
      if (this.inbound) {
        try {
          out = this.inbound.feed(pt);
        } catch (e) {
          this.fail(e);
          return;
        }
      }
      if (out.length > 0 && !this.push(out)) this.socket.pause();
    }
  };

  private readonly onEnd = (): void => {
    this.socketEnded = true;
    if (this.reader.bufferedBytes > 0) {
      this.fail(protocolError(`noise: connection ended inside a record (${this.reader.bufferedBytes} bytes of a truncated record)`));
      return;
    }
    this.push(null);
  };

  private readonly onError = (err: Error): void => {
    this.fail(new MeshtrayError('ERR_CONTROL_UNREACHABLE', `control connection failed: ${err.message}`, undefined, { cause: err }));
  };

  private readonly onClose = (): void => {
    // After a clean end the readable side drains first (autoDestroy follows); destroying now could
    // drop plaintext the HTTP/2 layer has not read yet.
    if (!this.destroyed && !this.socketEnded) this.destroy(new MeshtrayError('ERR_CONTROL_UNREACHABLE', 'control connection closed'));
  };

  private fail(e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    this.logger?.warn('noise connection dropped', { reason: err.message });
    this.destroy(err);
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    let records: Uint8Array[];
    try {
      records = sealRecords(this.keys.tx, chunk);
    } catch (e) {
      cb(e as Error);
      return;
    }
    if (records.length === 0) {
      cb();
      return;
    }
    this.socket.write(records.length === 1 ? records[0]! : Buffer.concat(records), (err) => cb(err ?? null));
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onClose);
    // Keep an error listener: a late socket error after we are gone must not become an uncaught exception.
    this.socket.off('error', this.onError);
    this.socket.on('error', () => {});
    this.socket.destroy();
    cb(err);
  }
}
