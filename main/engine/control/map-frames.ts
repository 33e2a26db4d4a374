// The body of a streamed /machine/map response: messages of LE32 length | payload, where the
// payload is one independent zstd frame holding a JSON MapResponse (or the raw JSON when the
// request did not ask for "zstd"). See tailscale control/controlclient/direct.go (decodeMsg) and
// control/tsp/map.go (4 MiB cap on a compressed frame, zero-length frames rejected); Headscale
// hscontrol/poll.go writes one frame per message and flushes. The length prefix may straddle
// HTTP/2 DATA frames and Noise records, so bytes are reassembled here.
import * as zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { protocolError } from './noise/frames.js';

/** Largest compressed (or raw) message accepted, as control/tsp/map.go. */
export const MAX_MAP_FRAME_BYTES = 4 << 20;
/** Largest decompressed JSON accepted; a netmap of tens of thousands of peers fits well below. */
export const MAX_MAP_JSON_BYTES = 256 << 20;

type ZstdSync = (buf: Uint8Array, opts?: { maxOutputLength?: number }) => Buffer;
// node:zlib gained zstd in Node 23.8 / 22.15 (experimental); Node 20 has none, so fzstd is the fallback.
const nodeZstd: ZstdSync | undefined = (() => {
  const f = (zlib as unknown as Record<string, unknown>)['zstdDecompressSync'];
  return typeof f === 'function' ? (f as ZstdSync) : undefined;
})();

export const zstdImplementation: 'node:zlib' | 'fzstd' = nodeZstd ? 'node:zlib' : 'fzstd';

/** Decompresses one complete zstd frame, refusing output beyond maxOut bytes. */
export function decompressZstd(data: Uint8Array, maxOut: number = MAX_MAP_JSON_BYTES, impl: 'node:zlib' | 'fzstd' = zstdImplementation): Uint8Array {
  if (impl === 'node:zlib' && nodeZstd) {
    try {
      return nodeZstd(data, { maxOutputLength: maxOut });
    } catch (e) {
      throw protocolError(`map frame: zstd decompression failed: ${(e as Error).message}`, e);
    }
  }
  const parts: Uint8Array[] = [];
  let total = 0;
  let finished = false;
  const d = new Decompress((chunk, final) => {
    total += chunk.length;
    if (total > maxOut) throw protocolError(`map frame: decompressed size exceeds ${maxOut} bytes`);
    parts.push(chunk);
    if (final) finished = true;
  });
  try {
    d.push(data, true);
  } catch (e) {
    if (e instanceof Error && e.name === 'MeshtrayError') throw e;
    throw protocolError(`map frame: zstd decompression failed: ${(e as Error).message ?? String(e)}`, e);
  }
  if (!finished && total === 0) throw protocolError('map frame: zstd frame produced no output');
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

export interface MapFrameDecoderOptions {
  compressed: boolean;
  maxFrameBytes?: number;
  maxJsonBytes?: number;
}

/** Incremental decoder: feed body chunks, get decoded JSON values (as `unknown`, validated later by the netmap). */
export class MapFrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** 4 + length of the message being assembled, 0 while its length prefix is incomplete. */
  private need = 0;
  private failed = false;
  private readonly maxFrame: number;
  private readonly maxJson: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  /** How many bytes of the current message are still missing (for "truncated at end of stream" checks). */
  get bufferedBytes(): number {
    return this.buffered;
  }

  constructor(private readonly opts: MapFrameDecoderOptions) {
    this.maxFrame = opts.maxFrameBytes ?? MAX_MAP_FRAME_BYTES;
    this.maxJson = opts.maxJsonBytes ?? MAX_MAP_JSON_BYTES;
  }

  /**
   * Feeds body bytes and hands every completed message to `emit`, in order. A bad message throws
   * after the good ones before it were emitted; the decoder is then unusable (the stream is dead).
   */
  feed(chunk: Uint8Array, emit: (msg: unknown) => void): void {
    if (this.failed) throw protocolError('map frame: decoder used after a failure');
    // Chunks are only joined once a whole message is there: a multi-megabyte netmap arrives in
    // many small HTTP/2 DATA chunks, and joining at every chunk would be quadratic.
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.buffered += chunk.byteLength;
    try {
      if (this.need === 0) {
        if (this.buffered < 4) return;
        this.need = 4 + this.checkLength(this.flatten().readUInt32LE(0));
      }
      if (this.buffered < this.need) return;
      const buf = this.flatten();
      let off = 0;
      for (;;) {
        const len = this.need - 4;
        emit(this.decodeOne(buf.subarray(off + 4, off + 4 + len)));
        off += 4 + len;
        this.need = 0;
        if (buf.length - off < 4) break;
        this.need = 4 + this.checkLength(buf.readUInt32LE(off));
        if (buf.length - off < this.need) break;
      }
      const rest = off === buf.length ? undefined : Buffer.from(buf.subarray(off)); // copy: do not pin the big buffer
      this.chunks = rest ? [rest] : [];
      this.buffered = rest ? rest.length : 0;
    } catch (e) {
      this.failed = true;
      throw e;
    }
  }

  private checkLength(len: number): number {
    if (len === 0) throw protocolError('map frame: zero-length message');
    if (len > this.maxFrame) throw protocolError(`map frame: message of ${len} bytes exceeds the ${this.maxFrame}-byte limit`);
    return len;
  }

  private flatten(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }

  /** Convenience for tests and tools: all messages of one chunk. */
  feedAll(chunk: Uint8Array): unknown[] {
    const out: unknown[] = [];
    this.feed(chunk, (m) => out.push(m));
    return out;
  }

  private decodeOne(payload: Uint8Array): unknown {
    const raw = this.opts.compressed ? decompressZstd(payload, this.maxJson) : payload;
    if (raw.length > this.maxJson) throw protocolError(`map frame: JSON of ${raw.length} bytes exceeds the limit`);
    let text: string;
    try {
      text = this.decoder.decode(raw);
    } catch (e) {
      throw protocolError('map frame: payload is not valid UTF-8', e);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw protocolError(`map frame: payload is not valid JSON (${(e as Error).message})`, e);
    }
  }
}
