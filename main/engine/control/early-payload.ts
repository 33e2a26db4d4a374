// The optional "early payload" a ts2021 server sends before its HTTP/2 SETTINGS (see tailscale
// control/ts2021/conn.go readHeader, Headscale hscontrol/noise.go earlyNoise):
//   ff ff ff 'T' 'S' | BE32 length | JSON tailcfg.EarlyNoise
// The first 9 plaintext bytes are either that header or the header of an HTTP/2 frame; in the
// second case they are handed back untouched. Headscale writes it as three Noise records (5, 4 and
// n bytes), so the header is assembled across records.
import { protocolError } from './noise/frames.js';
import { EarlyNoiseSchema, type EarlyNoise } from './messages.js';

export const EARLY_PAYLOAD_MAGIC = Uint8Array.of(0xff, 0xff, 0xff, 0x54, 0x53);
const HEADER_LEN = 9;
/** Tailscale refuses early payloads over 10 MiB. */
export const MAX_EARLY_PAYLOAD = 10 << 20;

export class EarlyPayloadSniffer {
  private state: 'header' | 'body' | 'passthrough' = 'header';
  private buf = Buffer.alloc(0);
  private bodyLen = 0;
  payload: EarlyNoise | undefined;

  constructor(private readonly onPayload?: (p: EarlyNoise) => void) {}

  /** Feeds decrypted bytes from the server; returns the bytes that belong to HTTP/2 (possibly empty). Throws on a malformed payload. */
  feed(chunk: Uint8Array): Uint8Array {
    if (this.state === 'passthrough') return chunk;
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    if (this.state === 'header') {
      if (this.buf.length < HEADER_LEN) return new Uint8Array(0);
      const isMagic = EARLY_PAYLOAD_MAGIC.every((b, i) => this.buf[i] === b);
      if (!isMagic) {
        this.state = 'passthrough';
        const out = this.buf;
        this.buf = Buffer.alloc(0);
        return out;
      }
      this.bodyLen = this.buf.readUInt32BE(5);
      if (this.bodyLen > MAX_EARLY_PAYLOAD) throw protocolError(`early payload length ${this.bodyLen} exceeds 10 MiB`);
      this.buf = this.buf.subarray(HEADER_LEN);
      this.state = 'body';
    }
    if (this.buf.length < this.bodyLen) return new Uint8Array(0);
    const json = this.buf.subarray(0, this.bodyLen).toString('utf8');
    const rest = this.buf.subarray(this.bodyLen);
    this.buf = Buffer.alloc(0);
    this.state = 'passthrough';
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      throw protocolError('early payload is not valid JSON', e);
    }
    const r = EarlyNoiseSchema.safeParse(parsed);
    if (!r.success) throw protocolError(`early payload does not match EarlyNoise: ${r.error.issues[0]?.message ?? 'invalid'}`);
    this.payload = r.data;
    this.onPayload?.(r.data);
    return Uint8Array.from(rest);
  }
}
