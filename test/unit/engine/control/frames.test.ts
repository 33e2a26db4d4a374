// Transport records: the big-endian nonce, the 4096-byte limit, truncation, empty records, types.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { MAX_PLAINTEXT_SIZE, RecordReader, TransportCipher, sealRecord, sealRecords } from '../../../../main/engine/control/noise/frames.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';

const key = new Uint8Array(32).map((_, i) => i + 1);
const isProtocol = (re: RegExp) => (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_CONTROL_PROTOCOL' && re.test(e.message);

function record(ct: Uint8Array, type = 4): Uint8Array {
  const r = new Uint8Array(3 + ct.length);
  r[0] = type;
  r[1] = ct.length >> 8;
  r[2] = ct.length & 0xff;
  r.set(ct, 3);
  return r;
}

test('the second record only decrypts with the big-endian nonce (4 zero bytes + BE64 counter)', () => {
  const pt0 = new TextEncoder().encode('first');
  const pt1 = new TextEncoder().encode('second');
  const be1 = new Uint8Array(12);
  be1[11] = 1; // counter 1, big-endian in bytes 4..11
  const le1 = new Uint8Array(12);
  le1[4] = 1; // counter 1 as the Noise spec (little-endian) would put it
  const zero = new Uint8Array(12);
  const good = [record(chacha20poly1305(key, zero).encrypt(pt0)), record(chacha20poly1305(key, be1).encrypt(pt1))];
  const r = new RecordReader(new TransportCipher(key));
  assert.deepEqual(r.feed(good[0]!), [pt0]);
  assert.deepEqual(r.feed(good[1]!), [pt1]);
  const r2 = new RecordReader(new TransportCipher(key));
  r2.feed(record(chacha20poly1305(key, zero).encrypt(pt0)));
  assert.throws(() => r2.feed(record(chacha20poly1305(key, le1).encrypt(pt1))), isProtocol(/record 1 failed to authenticate/));
  // and our writer produces the big-endian form
  const w = new TransportCipher(key);
  const ours = [...sealRecords(w, pt0), ...sealRecords(w, pt1)];
  assert.deepEqual(ours, good);
});

test('writes are split into records of at most 4096 bytes; reader reassembles byte by byte', () => {
  const data = new Uint8Array(3 * MAX_PLAINTEXT_SIZE + 10).map((_, i) => i * 7);
  const recs = sealRecords(new TransportCipher(key), data);
  assert.equal(recs.length, 4);
  assert.ok(recs.every((r) => r.length <= 4096));
  assert.equal(recs[0]!.length, 4096);
  const wire = Buffer.concat(recs);
  const r = new RecordReader(new TransportCipher(key));
  const out: Uint8Array[] = [];
  for (let i = 0; i < wire.length; i++) out.push(...r.feed(wire.subarray(i, i + 1)));
  assert.deepEqual(Buffer.concat(out), Buffer.from(data));
  assert.equal(r.bufferedBytes, 0);
});

test('zero-length records are skipped but consume a nonce', () => {
  const w = new TransportCipher(key);
  const wire = Buffer.concat([sealRecord(w, new Uint8Array(0)), sealRecord(w, new Uint8Array(0)), sealRecord(w, Uint8Array.of(42))]);
  const r = new RecordReader(new TransportCipher(key));
  assert.deepEqual(r.feed(wire), [Uint8Array.of(42)]);
});

test('an oversize record is rejected from its header alone', () => {
  const r = new RecordReader(new TransportCipher(key));
  assert.throws(() => r.feed(Uint8Array.of(4, 0x0f, 0xfe)), isProtocol(/exceeds the 4096-byte limit/)); // 3 + 4094
  // a broken reader stays broken: the cipher state is lost
  assert.throws(() => r.feed(Uint8Array.of(4)), isProtocol(/after a failure/));
});

test('a record shorter than the tag, a wrong type and a tampered record are rejected', () => {
  assert.throws(() => new RecordReader(new TransportCipher(key)).feed(Uint8Array.of(4, 0, 5, 1, 2, 3, 4, 5)), isProtocol(/shorter than a tag/));
  assert.throws(() => new RecordReader(new TransportCipher(key)).feed(Uint8Array.of(3, 0, 2, 65, 66)), isProtocol(/unexpected message type 3/));
  const rec = sealRecord(new TransportCipher(key), Uint8Array.of(1, 2, 3));
  rec[5]! ^= 1;
  assert.throws(() => new RecordReader(new TransportCipher(key)).feed(rec), isProtocol(/failed to authenticate/));
});

test('a truncated record stays pending (the connection layer turns EOF then into an error)', () => {
  const rec = sealRecord(new TransportCipher(key), new Uint8Array(100));
  const r = new RecordReader(new TransportCipher(key));
  assert.deepEqual(r.feed(rec.subarray(0, 50)), []);
  assert.equal(r.bufferedBytes, 50);
});
