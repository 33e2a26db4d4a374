// The streamed map body: LE32 length + zstd frame per message. Checked against a real Headscale
// recording (decoded independently by the zstd CLI), split at every possible byte boundary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MapFrameDecoder, decompressZstd, zstdImplementation } from '../../../../main/engine/control/map-frames.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { fixturePath } from './helpers.js';
import { jsonFrame, mapFrame, zstdStored } from './fake-control.js';

const body = readFileSync(fixturePath('headscale-v0.29.2-map-stream.bin'));
const expected = (JSON.parse(readFileSync(fixturePath('headscale-v0.29.2-map-stream.json'), 'utf8')) as { messages: unknown[] }).messages;
const isProtocol = (re: RegExp) => (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_CONTROL_PROTOCOL' && re.test(e.message);

test(`a recorded Headscale map stream decodes to what the zstd CLI decoded (${zstdImplementation})`, () => {
  const d = new MapFrameDecoder({ compressed: true });
  assert.deepEqual(d.feedAll(body), expected);
  assert.equal(d.bufferedBytes, 0);
  const first = expected[0] as { Node?: { Addresses?: string[] }; DERPMap?: unknown };
  assert.ok(first.Node?.Addresses?.length);
  assert.ok(first.DERPMap);
});

test('the same stream split at every byte boundary, and fed byte by byte', () => {
  for (let cut = 1; cut < body.length; cut++) {
    const d = new MapFrameDecoder({ compressed: true });
    const got = [...d.feedAll(body.subarray(0, cut)), ...d.feedAll(body.subarray(cut))];
    assert.deepEqual(got, expected, `cut at ${cut}`);
  }
  const d = new MapFrameDecoder({ compressed: true });
  const got: unknown[] = [];
  for (let i = 0; i < body.length; i++) d.feed(body.subarray(i, i + 1), (m) => got.push(m));
  assert.deepEqual(got, expected);
});

test('the length prefix is little-endian', () => {
  const payload = Buffer.from('{"KeepAlive":true}');
  const le = Buffer.concat([Buffer.from([payload.length, 0, 0, 0]), payload]);
  assert.deepEqual(new MapFrameDecoder({ compressed: false }).feedAll(le), [{ KeepAlive: true }]);
  const be = Buffer.concat([Buffer.from([0, 0, 0, payload.length]), payload]);
  assert.throws(() => new MapFrameDecoder({ compressed: false }).feedAll(be), isProtocol(/exceeds/));
});

test('good messages before a bad one are delivered, then the decoder refuses more', () => {
  const d = new MapFrameDecoder({ compressed: true });
  const got: unknown[] = [];
  assert.throws(() => d.feed(Buffer.concat([jsonFrame({ A: 1 }), jsonFrame({ B: 2 }), mapFrame(Buffer.from('not zstd at all'))]), (m) => got.push(m)), isProtocol(/zstd/));
  assert.deepEqual(got, [{ A: 1 }, { B: 2 }]);
  assert.throws(() => d.feedAll(jsonFrame({ C: 3 })), isProtocol(/after a failure/));
});

test('size limits: compressed frame and decompressed JSON', () => {
  const big = Buffer.from(JSON.stringify({ x: 'y'.repeat(5000) }));
  assert.throws(() => new MapFrameDecoder({ compressed: true, maxFrameBytes: 1000 }).feedAll(mapFrame(zstdStored(big))), isProtocol(/exceeds the 1000-byte limit/));
  assert.throws(() => new MapFrameDecoder({ compressed: true, maxJsonBytes: 1000 }).feedAll(mapFrame(zstdStored(big))), isProtocol(/decompressed size exceeds 1000|exceeds the limit/));
  // a real (compressed) frame from the recording, with a limit below its decoded size
  const firstLen = body.readUInt32LE(0);
  assert.throws(() => decompressZstd(body.subarray(4, 4 + firstLen), 100), isProtocol(/exceeds 100/));
});

test('garbage, truncated and empty zstd frames are protocol errors', () => {
  const firstLen = body.readUInt32LE(0);
  const frame = body.subarray(4, 4 + firstLen);
  assert.throws(() => decompressZstd(frame.subarray(0, frame.length - 10)), isProtocol(/zstd/));
  assert.throws(() => decompressZstd(Buffer.from('hello world, not zstd')), isProtocol(/zstd/));
  assert.throws(() => new MapFrameDecoder({ compressed: true }).feedAll(Buffer.from([0, 0, 0, 0])), isProtocol(/zero-length/));
});
