import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DerpClient, type DerpClientState } from '../../../../main/engine/derp/client.js';
import type { DerpRegion } from '../../../../main/engine/derp/derp-map.js';
import { encodeFrame, FrameType } from '../../../../main/engine/derp/frames.js';
import { PrivateKey, type PublicKey } from '../../../../main/engine/keys/keys.js';
import { FakeDerpServer } from './fake-derp-server.js';
import { realClock } from '../../../doubles/real-clock.js';
import { SeededRandom } from '../../../doubles/seeded-random.js';
import { RecordingLogger } from './helpers.js';

const region: DerpRegion = { RegionID: 900, RegionCode: 'lab1', Nodes: [{ Name: '900a', RegionID: 900, HostName: 'derp.example', IPv4: '127.0.0.1' }] };

function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error('timed out waiting'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

function mkClient(srv: FakeDerpServer, seed: number, extra: Partial<ConstructorParameters<typeof DerpClient>[0]> = {}) {
  const random = new SeededRandom(seed);
  const nodeKey = PrivateKey.generate('node', random);
  const logger = new RecordingLogger();
  const c = new DerpClient({ region, nodeKey, clock: realClock, random, logger, dial: srv.dialer(), maxBackoffMs: 50, ...extra });
  const got: { src: string; data: string }[] = [];
  const states: DerpClientState[] = [];
  const gone: string[] = [];
  c.on('packet', (src, d) => got.push({ src: src.toString(), data: Buffer.from(d).toString() }));
  c.on('state', (s) => states.push(s));
  c.on('peerGone', (k: PublicKey<'node'>, why) => gone.push(`${k.toString()} ${String(why)}`));
  return { c, nodeKey, got, states, gone, logger };
}

test('upgrade request, handshake, packets both ways, ping, NotePreferred, PeerGone', async (t) => {
  const srv = new FakeDerpServer();
  await srv.listen();
  t.after(() => srv.stop());
  const a = mkClient(srv, 1, { preferred: true });
  const b = mkClient(srv, 2);
  t.after(async () => { await a.c.close(); await b.c.close(); });
  a.c.start();
  b.c.start();
  await waitFor(() => a.c.state === 'connected' && b.c.state === 'connected');
  assert.match(srv.requests[0]!, /^GET \/derp HTTP\/1\.1\r\n/);
  assert.match(srv.requests[0]!, /\r\nHost: derp\.example\r\n/);
  assert.match(srv.requests[0]!, /\r\nUpgrade: DERP(\r\n|$)/i);
  assert.match(srv.requests[0]!, /\r\nConnection: Upgrade/i);
  assert.deepEqual(srv.clientInfos[0], { version: 2, CanAckPings: true });
  assert.deepEqual(srv.preferred, [1]);
  assert.ok(a.c.serverKey?.equals(srv.key.public));

  assert.ok(a.c.send(b.nodeKey.public, new TextEncoder().encode('hello b')));
  await waitFor(() => b.got.length === 1);
  assert.deepEqual(b.got[0], { src: a.nodeKey.public.toString(), data: 'hello b' });
  b.c.send(a.nodeKey.public, new TextEncoder().encode('hello a'));
  await waitFor(() => a.got.length === 1);
  assert.equal(a.got[0]!.data, 'hello a');

  assert.ok((await a.c.ping()) >= 0);

  // Server health text reaches the listener; a server Ping is answered.
  const health: string[] = [];
  a.c.on('health', (h) => health.push(h));
  srv.sendRaw(Buffer.from(a.nodeKey.public.raw).toString('hex'), encodeFrame(FrameType.Health, new TextEncoder().encode('dup client')));
  await waitFor(() => health.length === 1);
  assert.equal(health[0], 'dup client');

  await a.c.close();
  await waitFor(() => b.gone.length === 1);
  assert.equal(b.gone[0], `${a.nodeKey.public.toString()} disconnected`);
  // No private key material in logs.
  const secret = Buffer.from(a.nodeKey.rawBytes()).toString('hex');
  assert.ok(!a.logger.lines.join('\n').includes(secret));
});

test('packets queued while connecting are delivered once connected (max 32, oldest dropped)', async (t) => {
  const srv = new FakeDerpServer();
  await srv.listen();
  t.after(() => srv.stop());
  const b = mkClient(srv, 2);
  b.c.start();
  await waitFor(() => b.c.state === 'connected');
  const a = mkClient(srv, 1);
  t.after(async () => { await a.c.close(); await b.c.close(); });
  for (let i = 0; i < 40; i++) a.c.send(b.nodeKey.public, new TextEncoder().encode(`p${i}`));
  await waitFor(() => b.got.length === 32);
  assert.equal(b.got[0]!.data, 'p8');
  assert.equal(b.got[31]!.data, 'p39');
  assert.equal(a.c.counters.get('send-queue-dropped'), 8);
});

test('reconnects with backoff after the server dies and comes back', async (t) => {
  const srv = new FakeDerpServer();
  await srv.listen();
  const port = srv.port;
  const a = mkClient(srv, 1);
  t.after(async () => { await a.c.close(); await srv.stop(); });
  a.c.start();
  await waitFor(() => a.c.state === 'connected');
  await srv.stop();
  await waitFor(() => a.c.state === 'connecting');
  await new Promise((r) => setTimeout(r, 200)); // a few failed dials
  assert.ok(a.c.counters.get('dial-failed') >= 1);
  await srv.listen(port);
  await waitFor(() => a.c.state === 'connected');
  assert.ok(a.states.filter((s) => s === 'connected').length >= 2);
});

test('refused upgrade, bad ServerInfo, wrong first frame and oversized frames are errors, then retried', async (t) => {
  for (const [mode, counter] of [
    ['refuse-upgrade', 'upgrade-refused'],
    ['bad-server-info', 'bad-server-info'],
    ['wrong-first-frame', 'handshake-unexpected-frame'],
    ['huge-frame', 'frame-too-large'],
  ] as const) {
    const srv = new FakeDerpServer();
    srv.mode = mode;
    await srv.listen();
    const a = mkClient(srv, 1);
    a.c.start();
    await waitFor(() => a.c.counters.get(counter) >= 2); // retried after the first failure
    if (mode !== 'huge-frame') assert.notEqual(a.c.state, 'connected', mode);
    await a.c.close();
    await srv.stop();
    t.diagnostic(`${mode}: ${JSON.stringify(a.c.counters.snapshot())}`);
  }
});

test('read timeout: no frame for readTimeoutMs drops the connection', async (t) => {
  const srv = new FakeDerpServer();
  await srv.listen();
  const a = mkClient(srv, 1, { readTimeoutMs: 150 });
  t.after(async () => { await a.c.close(); await srv.stop(); });
  a.c.start();
  await waitFor(() => a.c.state === 'connected');
  await waitFor(() => a.c.counters.get('read-timeout') >= 1);
});
