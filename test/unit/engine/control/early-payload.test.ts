// The early payload before HTTP/2: assembled across records, or the 9 bytes handed back to HTTP/2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EarlyPayloadSniffer } from '../../../../main/engine/control/early-payload.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';

const json = Buffer.from(JSON.stringify({ nodeKeyChallenge: `chalpub:${'cd'.repeat(32)}` }));
const len = Buffer.alloc(4);
len.writeUInt32BE(json.length);
const magic = Buffer.from([0xff, 0xff, 0xff, 0x54, 0x53]);
const h2 = Buffer.from([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]); // a SETTINGS frame

test('assembled from Headscale\'s three records (5, 4, n bytes), then HTTP/2 passes through', () => {
  const seen: unknown[] = [];
  const s = new EarlyPayloadSniffer((p) => seen.push(p));
  assert.equal(s.feed(magic).length, 0);
  assert.equal(s.feed(len).length, 0);
  assert.deepEqual(Buffer.from(s.feed(Buffer.concat([json, h2.subarray(0, 4)]))), h2.subarray(0, 4));
  assert.deepEqual(Buffer.from(s.feed(h2.subarray(4))), h2.subarray(4));
  assert.equal(s.payload?.nodeKeyChallenge, `chalpub:${'cd'.repeat(32)}`);
  assert.equal(seen.length, 1);
});

test('split byte by byte', () => {
  const s = new EarlyPayloadSniffer();
  const all = Buffer.concat([magic, len, json, h2]);
  const out: Buffer[] = [];
  for (let i = 0; i < all.length; i++) out.push(Buffer.from(s.feed(all.subarray(i, i + 1))));
  assert.deepEqual(Buffer.concat(out), h2);
  assert.ok(s.payload);
});

test('no early payload: the first 9 bytes go back to HTTP/2 untouched', () => {
  const s = new EarlyPayloadSniffer();
  assert.equal(s.feed(h2.subarray(0, 5)).length, 0);
  assert.deepEqual(Buffer.from(s.feed(h2.subarray(5))), h2);
  assert.equal(s.payload, undefined);
});

test('oversize length and bad JSON are protocol errors', () => {
  const big = Buffer.alloc(4);
  big.writeUInt32BE((10 << 20) + 1);
  assert.throws(() => new EarlyPayloadSniffer().feed(Buffer.concat([magic, big])), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_CONTROL_PROTOCOL' && /10 MiB/.test(e.message));
  const bad = Buffer.from('{nope');
  const l = Buffer.alloc(4);
  l.writeUInt32BE(bad.length);
  assert.throws(() => new EarlyPayloadSniffer().feed(Buffer.concat([magic, l, bad])), (e: unknown) => MeshtrayError.is(e) && /not valid JSON/.test(e.message));
  const wrong = Buffer.from('{"nodeKeyChallenge":"nodekey:00"}');
  l.writeUInt32BE(wrong.length);
  assert.throws(() => new EarlyPayloadSniffer().feed(Buffer.concat([magic, l, wrong])), (e: unknown) => MeshtrayError.is(e) && /EarlyNoise/.test(e.message));
});
