import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameReader, FrameType, DerpFrameError, encodeFrame, encodeSendPacket, encodeNotePreferred, encodeClientInfo,
  encodeServerKey, encodeRecvPacket, encodePeerGone, DERP_MAGIC, MAX_PACKET_SIZE,
} from '../../../../main/engine/derp/frames.js';
import { Counters } from '../../../../main/engine/derp/counters.js';

const key = (n: number): Uint8Array => new Uint8Array(32).fill(n);

test('SendPacket / NotePreferred bytes as the server expects them', () => {
  const f = encodeSendPacket(key(1), new Uint8Array([9, 8, 7]));
  assert.deepEqual(Array.from(f.subarray(0, 5)), [0x04, 0, 0, 0, 35]);
  assert.deepEqual(f.subarray(5, 37), key(1));
  assert.deepEqual(Array.from(f.subarray(37)), [9, 8, 7]);
  assert.deepEqual(Array.from(encodeNotePreferred(true)), [0x07, 0, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(encodeNotePreferred(false)), [0x07, 0, 0, 0, 1, 0]);
  const ci = encodeClientInfo(key(2), new Uint8Array(50));
  assert.equal(ci[0], 0x02);
  assert.equal(new DataView(ci.buffer).getUint32(1), 82);
});

test('refuses to build packets over 64 KiB or with bad keys', () => {
  assert.throws(() => encodeSendPacket(key(1), new Uint8Array(MAX_PACKET_SIZE + 1)), (e) => e instanceof DerpFrameError && e.reason === 'packet-too-large');
  encodeSendPacket(key(1), new Uint8Array(MAX_PACKET_SIZE));
  assert.throws(() => encodeSendPacket(new Uint8Array(31), new Uint8Array(1)), DerpFrameError);
});

test('reader reassembles frames split at every byte boundary', () => {
  const stream = concat(
    encodeServerKey(key(5)),
    encodeRecvPacket(key(6), new Uint8Array([1, 2, 3])),
    encodeFrame(FrameType.KeepAlive),
    encodePeerGone(key(6), 1),
    encodeFrame(FrameType.Ping, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])),
    encodeFrame(FrameType.Health, new TextEncoder().encode('duplicate client')),
    encodeFrame(FrameType.Restarting, new Uint8Array([0, 0, 3, 0xe8, 0, 0, 0x27, 0x10])),
  );
  for (let cut = 0; cut <= stream.length; cut++) {
    const c = new Counters();
    const r = new FrameReader(c);
    const frames = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))];
    assert.equal(r.pending(), 0);
    assert.deepEqual(frames.map((f) => f.type), ['serverKey', 'recvPacket', 'keepAlive', 'peerGone', 'ping', 'health', 'restarting']);
    const [sk, rp, , pg, , h, rs] = frames;
    assert.ok(sk?.type === 'serverKey' && sk.key.every((b) => b === 5));
    assert.ok(rp?.type === 'recvPacket' && rp.src.every((b) => b === 6) && rp.data.length === 3);
    assert.ok(pg?.type === 'peerGone' && pg.reason === 1);
    assert.ok(h?.type === 'health' && h.problem === 'duplicate client');
    assert.ok(rs?.type === 'restarting' && rs.reconnectInMs === 1000 && rs.tryForMs === 10000);
    assert.equal(c.total(), 0);
  }
});

test('short known frames and unknown types are dropped and counted; stream stays in sync', () => {
  const c = new Counters();
  const r = new FrameReader(c);
  const frames = r.push(concat(
    encodeFrame(FrameType.RecvPacket, new Uint8Array(10)),
    encodeFrame(0x77, new Uint8Array(3)),
    encodeFrame(FrameType.PeerGone, new Uint8Array(31)),
    encodeFrame(FrameType.ServerKey, concat(new Uint8Array(8), key(1))),
    encodeFrame(FrameType.Ping, new Uint8Array(7)),
    encodePeerGone(key(3), 0).subarray(0, 5 + 32 + 1),
    encodeFrame(FrameType.KeepAlive),
  ));
  assert.deepEqual(frames.map((f) => f.type), ['peerGone', 'keepAlive']);
  assert.deepEqual(c.snapshot(), {
    'bad-server-key-magic': 1, 'short-peer-gone': 1, 'short-ping': 1, 'short-recv-packet': 1, 'unknown-frame-type': 1,
  });
});

test('PeerGone without reason byte means Disconnected', () => {
  const r = new FrameReader(new Counters());
  const [f] = r.push(encodeFrame(FrameType.PeerGone, key(4)));
  assert.ok(f?.type === 'peerGone' && f.reason === 0);
});

test('a frame announcing more than 1 MiB is fatal and counted', () => {
  const c = new Counters();
  const r = new FrameReader(c);
  const hdr = new Uint8Array([0x05, 0x00, 0x10, 0x00, 0x01]);
  assert.throws(() => r.push(hdr), (e) => e instanceof DerpFrameError && e.reason === 'frame-too-large');
  assert.equal(c.get('frame-too-large'), 1);
  assert.throws(() => r.push(new Uint8Array(1)), DerpFrameError);
});

test('truncated trailing frame is counted at end of stream', () => {
  const c = new Counters();
  const r = new FrameReader(c);
  assert.deepEqual(r.push(encodeServerKey(key(1)).subarray(0, 20)), []);
  r.end();
  assert.equal(c.get('truncated-frame'), 1);
});

test('magic constant', () => {
  assert.equal(new TextDecoder().decode(DERP_MAGIC), 'DERP🔑');
});

function concat(...a: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(a.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of a) { out.set(x, o); o += x.length; }
  return out;
}
