// Fuzz target: the DERP frame reader must never throw anything but DerpFrameError, must count
// every complete frame it drops, and must stay in sync with frame boundaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameReader, DerpFrameError, encodeFrame, encodeServerKey, encodeRecvPacket, encodePeerGone, FrameType,
  FRAME_HEADER_LEN, MAX_FRAME_SIZE,
} from '../../main/engine/derp/frames.js';
import { Counters } from '../../main/engine/derp/counters.js';
import { ITERATIONS, Rng, SEED } from './fuzz-util.js';

function seedStream(rng: Rng): Uint8Array {
  const parts = [
    encodeServerKey(rng.bytes(32)),
    encodeFrame(FrameType.ServerInfo, rng.bytes(24 + 16 + rng.int(40))),
    encodeRecvPacket(rng.bytes(32), rng.bytes(rng.int(200))),
    encodeFrame(FrameType.KeepAlive),
    encodePeerGone(rng.bytes(32), rng.int(3)),
    encodeFrame(FrameType.Ping, rng.bytes(8)),
    encodeFrame(FrameType.Health, rng.bytes(rng.int(30))),
    encodeFrame(FrameType.Restarting, rng.bytes(8)),
    encodeFrame(FrameType.PeerPresent, rng.bytes(32 + rng.int(20))),
  ];
  const pick = Array.from({ length: 1 + rng.int(6) }, () => parts[rng.int(parts.length)]!);
  const out = new Uint8Array(pick.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of pick) { out.set(p, o); o += p.length; }
  return out;
}

/** Independent count of the complete frames in a byte stream (up to a >1 MiB header). */
function completeFrames(b: Uint8Array): { frames: number; tooLarge: boolean } {
  let off = 0;
  let frames = 0;
  while (b.length - off >= FRAME_HEADER_LEN) {
    const n = new DataView(b.buffer, b.byteOffset + off + 1, 4).getUint32(0);
    if (n > MAX_FRAME_SIZE) return { frames, tooLarge: true };
    if (b.length - off - FRAME_HEADER_LEN < n) break;
    off += FRAME_HEADER_LEN + n;
    frames++;
  }
  return { frames, tooLarge: false };
}

test(`DERP frame reader survives ${ITERATIONS} mutated/random streams (seed ${SEED})`, () => {
  const rng = new Rng(SEED);
  let parsed = 0;
  let dropped = 0;
  let fatal = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const input = i % 4 === 0 ? rng.bytes(rng.int(300)) : rng.mutate(seedStream(rng));
    const counters = new Counters();
    const reader = new FrameReader(counters);
    let got = 0;
    let threw: DerpFrameError | undefined;
    // Random chunking, as TCP delivers it.
    let off = 0;
    try {
      while (off < input.length) {
        const n = 1 + rng.int(input.length - off);
        got += reader.push(input.subarray(off, off + n)).length;
        off += n;
      }
    } catch (e) {
      if (!(e instanceof DerpFrameError)) throw new Error(`iteration ${i}: unexpected ${String(e)} for ${Buffer.from(input).toString('hex')}`);
      threw = e;
    }
    const want = completeFrames(input);
    if (want.tooLarge) {
      assert.ok(threw, `iteration ${i}: oversized frame not refused`);
      assert.equal(threw.reason, 'frame-too-large');
      assert.equal(counters.get('frame-too-large'), 1);
      fatal++;
      continue;
    }
    assert.equal(threw, undefined, `iteration ${i}`);
    // Every complete frame was either delivered or counted as dropped.
    assert.equal(got + counters.total(), want.frames, `iteration ${i}: ${JSON.stringify(counters.snapshot())}`);
    parsed += got;
    dropped += counters.total();
  }
  assert.ok(parsed > 0 && dropped > 0 && fatal > 0, `coverage: parsed ${parsed}, dropped ${dropped}, fatal ${fatal}`);
});
