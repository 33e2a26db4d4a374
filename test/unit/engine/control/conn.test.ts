// NoiseConn: the Duplex over an upgraded socket. Bytes that arrived with the handshake response
// come first, big writes leave as ≤4096-byte records, a slow reader loses nothing, and EOF inside
// a record is an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { TransportCipher, sealRecords } from '../../../../main/engine/control/noise/frames.js';
import { NoiseConn } from '../../../../main/engine/control/noise/conn.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { duplexPair } from './fake-control.js';

const k1 = new Uint8Array(32).fill(7);
const k2 = new Uint8Array(32).fill(9);

function pair() {
  const [a, b] = duplexPair();
  const client = new NoiseConn({ socket: a, keys: { tx: new TransportCipher(k1), rx: new TransportCipher(k2) } });
  const server = new NoiseConn({ socket: b, keys: { tx: new TransportCipher(k2), rx: new TransportCipher(k1) } });
  return { client, server, a, b };
}

function readN(s: NodeJS.ReadableStream, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const on = (c: Buffer) => {
      parts.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', on);
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', on);
    s.once('error', reject);
  });
}

test('round trip of a large write in both directions, each record at most 4096 bytes on the wire', async () => {
  const { client, server, a } = pair();
  const wire: Buffer[] = [];
  const origWrite = a.write.bind(a);
  a.write = ((chunk: Buffer, cb?: (e?: Error | null) => void) => {
    wire.push(Buffer.from(chunk));
    return origWrite(chunk, cb);
  }) as typeof a.write;
  const data = Buffer.alloc(200_000).map((_, i) => i % 251);
  const got = readN(server, data.length);
  client.write(data);
  assert.deepEqual(await got, data);
  const all = Buffer.concat(wire);
  let off = 0;
  let records = 0;
  while (off < all.length) {
    const len = all.readUInt16BE(off + 1);
    assert.equal(all[off], 4);
    assert.ok(3 + len <= 4096);
    off += 3 + len;
    records++;
  }
  assert.equal(records, Math.ceil(data.length / 4077));
  const back = readN(client, data.length);
  server.write(data);
  assert.deepEqual(await back, data);
  client.destroy();
  server.destroy();
});

test('leftover bytes from the handshake read come before the socket\'s next bytes', async () => {
  const sock = new PassThrough();
  const tx = new TransportCipher(k2);
  const recs = sealRecords(tx, Buffer.from('hello, world'));
  const wire = Buffer.concat([...recs, ...sealRecords(tx, Buffer.from('!'))]);
  sock.pause();
  sock.write(wire.subarray(10)); // the rest arrives on the socket
  const conn = new NoiseConn({ socket: sock, keys: { tx: new TransportCipher(k1), rx: new TransportCipher(k2) }, leftover: wire.subarray(0, 10) });
  assert.equal((await readN(conn, 13)).toString(), 'hello, world!');
  conn.destroy();
});

test('EOF inside a record is an ERR_CONTROL_PROTOCOL error, EOF between records a clean end', async () => {
  const rec = Buffer.concat(sealRecords(new TransportCipher(k2), Buffer.from('abc')));
  const s1 = new PassThrough();
  const c1 = new NoiseConn({ socket: s1, keys: { tx: new TransportCipher(k1), rx: new TransportCipher(k2) } });
  c1.resume();
  const err = new Promise<unknown>((r) => c1.once('error', r));
  s1.end(rec.subarray(0, rec.length - 1));
  const e = await err;
  assert.ok(MeshtrayError.is(e) && e.code === 'ERR_CONTROL_PROTOCOL' && /truncated/.test(e.message));

  const s2 = new PassThrough();
  const c2 = new NoiseConn({ socket: s2, keys: { tx: new TransportCipher(k1), rx: new TransportCipher(k2) } });
  const chunks: Buffer[] = [];
  c2.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((r) => c2.once('end', r));
  s2.end(rec);
  await ended;
  assert.equal(Buffer.concat(chunks).toString(), 'abc');
});

test('a slow reader gets every byte in order (backpressure pauses the socket)', async () => {
  const { client, server } = pair();
  const data = Buffer.alloc(1_000_000).map((_, i) => (i * 13) % 256);
  client.write(data);
  const got: Buffer[] = [];
  let n = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      let c: Buffer | null;
      while ((c = server.read(1000) as Buffer | null) !== null) {
        got.push(c);
        n += c.length;
      }
      if (n >= data.length) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  assert.deepEqual(Buffer.concat(got), data);
  client.destroy();
  server.destroy();
});

test('a record that does not authenticate fails the connection, and the socket is destroyed', async () => {
  const [a, b] = duplexPair();
  const client = new NoiseConn({ socket: a, keys: { tx: new TransportCipher(k1), rx: new TransportCipher(k2) } });
  client.on('error', () => {});
  const conn = new NoiseConn({ socket: b, keys: { tx: new TransportCipher(k2), rx: new TransportCipher(new Uint8Array(32)) } });
  conn.resume();
  const err = new Promise<unknown>((r) => conn.once('error', r));
  client.write('secret');
  const e = await err;
  assert.ok(MeshtrayError.is(e) && e.code === 'ERR_CONTROL_PROTOCOL' && /failed to authenticate/.test(e.message));
  assert.equal(b.destroyed, true);
});
