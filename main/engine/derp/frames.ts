// DERP frame codec (tailscale derp/derp.go, derp/derp_client.go `recvTimeout`).
// A frame is type(1) + BE32 payload length + payload. The client refuses frames over 1 MiB (the
// stream cannot be trusted after that, so it is fatal); known frames that are too short are
// dropped and counted like the Go client's "[unexpected] dropping short … frame"; unknown frame
// types are skipped (the Go client `continue`s) and counted.
import { Counters } from './counters.js';

export const FrameType = {
  ServerKey: 0x01,
  ClientInfo: 0x02,
  ServerInfo: 0x03,
  SendPacket: 0x04,
  RecvPacket: 0x05,
  KeepAlive: 0x06,
  NotePreferred: 0x07,
  PeerGone: 0x08,
  PeerPresent: 0x09,
  ForwardPacket: 0x0a,
  WatchConns: 0x10,
  ClosePeer: 0x11,
  Ping: 0x12,
  Pong: 0x13,
  Health: 0x14,
  Restarting: 0x15,
} as const;

/** `DERP🔑` (derp/derp.go `Magic`). */
export const DERP_MAGIC = new Uint8Array([0x44, 0x45, 0x52, 0x50, 0xf0, 0x9f, 0x94, 0x91]);
export const FRAME_HEADER_LEN = 5;
export const KEY_LEN = 32;
export const NONCE_LEN = 24;
/** Largest packet payload of SendPacket/RecvPacket (derp.go `MaxPacketSize`). */
export const MAX_PACKET_SIZE = 64 << 10;
/** Client-side cap on any received frame (derp_client.go: "unexpectedly large frame"). */
export const MAX_FRAME_SIZE = 1 << 20;
/** Server rejects ClientInfo above 256 KiB (derpserver.go), so we never build one. */
export const MAX_CLIENT_INFO_LEN = 256 << 10;
export const PROTOCOL_VERSION = 2;

export const PeerGoneReason = { Disconnected: 0x00, NotHere: 0x01 } as const;

export type DerpFrameErrorReason =
  | 'frame-too-large'
  | 'bad-server-key'
  | 'packet-too-large'
  | 'bad-key-length'
  | 'bad-length';

/** A typed error; `reason` is also the counter name. */
export class DerpFrameError extends Error {
  constructor(readonly reason: DerpFrameErrorReason, detail: string) {
    super(`derp: ${reason}: ${detail}`);
    this.name = 'DerpFrameError';
  }
}

export type DerpFrame =
  | { type: 'serverKey'; key: Uint8Array }
  | { type: 'serverInfo'; sealed: Uint8Array }
  | { type: 'recvPacket'; src: Uint8Array; data: Uint8Array }
  | { type: 'keepAlive' }
  | { type: 'peerGone'; key: Uint8Array; reason: number }
  | { type: 'peerPresent'; key: Uint8Array; ip?: Uint8Array; port?: number; flags?: number }
  | { type: 'ping'; data: Uint8Array }
  | { type: 'pong'; data: Uint8Array }
  | { type: 'health'; problem: string }
  | { type: 'restarting'; reconnectInMs: number; tryForMs: number };

// ---- encoding (client → server) ----

export function encodeFrame(type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (type < 0 || type > 0xff) throw new RangeError('frame type must be a byte');
  if (payload.length > MAX_FRAME_SIZE) throw new DerpFrameError('frame-too-large', `${payload.length} bytes`);
  const out = new Uint8Array(FRAME_HEADER_LEN + payload.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(1, payload.length, false);
  out.set(payload, FRAME_HEADER_LEN);
  return out;
}

function need32(k: Uint8Array, what: string): void {
  if (k.length !== KEY_LEN) throw new DerpFrameError('bad-key-length', `${what} must be 32 bytes, got ${k.length}`);
}

export function encodeClientInfo(clientPub: Uint8Array, sealedInfo: Uint8Array): Uint8Array {
  need32(clientPub, 'client key');
  if (KEY_LEN + sealedInfo.length > MAX_CLIENT_INFO_LEN) throw new DerpFrameError('frame-too-large', 'client info');
  const p = new Uint8Array(KEY_LEN + sealedInfo.length);
  p.set(clientPub, 0);
  p.set(sealedInfo, KEY_LEN);
  return encodeFrame(FrameType.ClientInfo, p);
}

export function encodeSendPacket(dst: Uint8Array, data: Uint8Array): Uint8Array {
  need32(dst, 'destination key');
  if (data.length > MAX_PACKET_SIZE) throw new DerpFrameError('packet-too-large', `${data.length} > ${MAX_PACKET_SIZE}`);
  const p = new Uint8Array(KEY_LEN + data.length);
  p.set(dst, 0);
  p.set(data, KEY_LEN);
  return encodeFrame(FrameType.SendPacket, p);
}

/** NotePreferred carries exactly one byte; the server closes the connection otherwise. */
export function encodeNotePreferred(preferred: boolean): Uint8Array {
  return encodeFrame(FrameType.NotePreferred, new Uint8Array([preferred ? 1 : 0]));
}

export function encodePing(data: Uint8Array): Uint8Array {
  if (data.length !== 8) throw new DerpFrameError('bad-length', 'ping payload must be 8 bytes');
  return encodeFrame(FrameType.Ping, data);
}

export function encodePong(data: Uint8Array): Uint8Array {
  if (data.length !== 8) throw new DerpFrameError('bad-length', 'pong payload must be 8 bytes');
  return encodeFrame(FrameType.Pong, data);
}

// ---- server-side frames, for tests and a fake server ----

export function encodeServerKey(serverPub: Uint8Array): Uint8Array {
  need32(serverPub, 'server key');
  const p = new Uint8Array(DERP_MAGIC.length + KEY_LEN);
  p.set(DERP_MAGIC, 0);
  p.set(serverPub, DERP_MAGIC.length);
  return encodeFrame(FrameType.ServerKey, p);
}

export function encodeRecvPacket(src: Uint8Array, data: Uint8Array): Uint8Array {
  need32(src, 'source key');
  const p = new Uint8Array(KEY_LEN + data.length);
  p.set(src, 0);
  p.set(data, KEY_LEN);
  return encodeFrame(FrameType.RecvPacket, p);
}

export function encodePeerGone(key: Uint8Array, reason: number): Uint8Array {
  need32(key, 'peer key');
  const p = new Uint8Array(KEY_LEN + 1);
  p.set(key, 0);
  p[KEY_LEN] = reason;
  return encodeFrame(FrameType.PeerGone, p);
}

// ---- decoding (server → client) ----

/**
 * Parses one frame payload. Returns undefined (after counting why) for frames a client drops:
 * too-short known frames, unknown types and client→server types.
 */
export function parseFrame(type: number, b: Uint8Array, counters: Counters): DerpFrame | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const copy = (s: Uint8Array): Uint8Array => Uint8Array.from(s);
  const short = (name: string): undefined => {
    counters.inc(`short-${name}`);
    return undefined;
  };
  switch (type) {
    case FrameType.ServerKey: {
      if (b.length < DERP_MAGIC.length + KEY_LEN) return short('server-key');
      if (!DERP_MAGIC.every((v, i) => b[i] === v)) {
        counters.inc('bad-server-key-magic');
        return undefined;
      }
      // Extra bytes are reserved for future use (derp.go): ignored.
      return { type: 'serverKey', key: copy(b.subarray(8, 8 + KEY_LEN)) };
    }
    case FrameType.ServerInfo:
      if (b.length < NONCE_LEN + 16) return short('server-info');
      return { type: 'serverInfo', sealed: copy(b) };
    case FrameType.RecvPacket:
      if (b.length < KEY_LEN) return short('recv-packet');
      return { type: 'recvPacket', src: copy(b.subarray(0, KEY_LEN)), data: copy(b.subarray(KEY_LEN)) };
    case FrameType.KeepAlive:
      return { type: 'keepAlive' };
    case FrameType.PeerGone:
      if (b.length < KEY_LEN) return short('peer-gone');
      // Older servers send no reason byte: Disconnected.
      return { type: 'peerGone', key: copy(b.subarray(0, KEY_LEN)), reason: b.length > KEY_LEN ? b[KEY_LEN]! : 0 };
    case FrameType.PeerPresent: {
      if (b.length < KEY_LEN) return short('peer-present');
      const f: DerpFrame = { type: 'peerPresent', key: copy(b.subarray(0, KEY_LEN)) };
      if (b.length >= KEY_LEN + 18) {
        f.ip = copy(b.subarray(KEY_LEN, KEY_LEN + 16));
        f.port = dv.getUint16(KEY_LEN + 16, false);
        if (b.length >= KEY_LEN + 19) f.flags = b[KEY_LEN + 18]!;
      }
      return f;
    }
    case FrameType.Ping:
      if (b.length < 8) return short('ping');
      return { type: 'ping', data: copy(b.subarray(0, 8)) };
    case FrameType.Pong:
      if (b.length < 8) return short('pong');
      return { type: 'pong', data: copy(b.subarray(0, 8)) };
    case FrameType.Health:
      return { type: 'health', problem: new TextDecoder('utf-8', { fatal: false }).decode(b) };
    case FrameType.Restarting:
      if (b.length < 8) return short('restarting');
      return { type: 'restarting', reconnectInMs: dv.getUint32(0, false), tryForMs: dv.getUint32(4, false) };
    default:
      counters.inc('unknown-frame-type');
      return undefined;
  }
}

/**
 * Incremental frame reader over a byte stream (TCP/TLS chunks arrive split or merged).
 * `push` returns the complete frames so far; it throws DerpFrameError('frame-too-large') when a
 * header announces more than 1 MiB, after which the connection must be closed.
 */
export class FrameReader {
  private buf: Uint8Array = new Uint8Array(0);
  private broken: DerpFrameError | undefined;
  constructor(private readonly counters: Counters, private readonly maxFrame = MAX_FRAME_SIZE) {}

  push(chunk: Uint8Array): DerpFrame[] {
    if (this.broken) throw this.broken;
    if (chunk.length) {
      if (this.buf.length === 0) this.buf = Uint8Array.from(chunk);
      else {
        const n = new Uint8Array(this.buf.length + chunk.length);
        n.set(this.buf, 0);
        n.set(chunk, this.buf.length);
        this.buf = n;
      }
    }
    const out: DerpFrame[] = [];
    let off = 0;
    while (this.buf.length - off >= FRAME_HEADER_LEN) {
      const type = this.buf[off]!;
      const len = new DataView(this.buf.buffer, this.buf.byteOffset + off + 1, 4).getUint32(0, false);
      if (len > this.maxFrame) {
        this.counters.inc('frame-too-large');
        this.broken = new DerpFrameError('frame-too-large', `type 0x${type.toString(16)} announces ${len} bytes`);
        this.buf = new Uint8Array(0);
        throw this.broken;
      }
      if (this.buf.length - off - FRAME_HEADER_LEN < len) break;
      const payload = this.buf.subarray(off + FRAME_HEADER_LEN, off + FRAME_HEADER_LEN + len);
      off += FRAME_HEADER_LEN + len;
      const f = parseFrame(type, payload, this.counters);
      if (f) out.push(f);
    }
    this.buf = off === 0 ? this.buf : this.buf.slice(off);
    return out;
  }

  /** Bytes of an incomplete frame still buffered (non-zero at EOF means truncation). */
  pending(): number {
    return this.buf.length;
  }

  /** Call at end of stream: counts a truncated trailing frame. */
  end(): void {
    if (this.buf.length > 0) this.counters.inc('truncated-frame');
    this.buf = new Uint8Array(0);
  }
}
