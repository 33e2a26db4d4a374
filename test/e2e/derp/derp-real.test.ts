// Meshtray's DERP client against the real derper v1.98.10 (two regions on loopback, TLS with
// pinned self-signed certs): packets both ways, PeerGone, reconnect after derper is killed and
// restarted, a wrong pin refused, and the manager reaching a peer in another region.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DerpClient } from '../../../main/engine/derp/client.js';
import { DerpManager } from '../../../main/engine/derp/manager.js';
import { PrivateKey, type PublicKey } from '../../../main/engine/keys/keys.js';
import { systemRandomForTests, realClock, logger } from './support.js';
import { RealDerper, rootSkipReason } from './real-derper.js';

const skip = rootSkipReason();
const base = mkdtempSync(join(tmpdir(), 'meshtray-derp-e2e-'));
const portBase = 20000 + (process.pid % 20000);
const d1 = new RealDerper({ dir: join(base, 'd1'), ip: '127.0.0.1', port: portBase, stunPort: portBase + 1 });
const d2 = new RealDerper({ dir: join(base, 'd2'), ip: '127.0.0.1', port: portBase + 2, stunPort: portBase + 3 });
after(async () => {
  await d1.stop('SIGKILL');
  await d2.stop('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

function client(region: ReturnType<RealDerper['region']>, name: string) {
  const random = systemRandomForTests();
  const nodeKey = PrivateKey.generate('node', random);
  const log = logger(name);
  const c = new DerpClient({ region, nodeKey, clock: realClock, random, logger: log, maxBackoffMs: 300 });
  const got: { src: string; data: string }[] = [];
  const gone: { key: string; reason: string }[] = [];
  const errors: string[] = [];
  c.on('packet', (src, d) => got.push({ src: src.toString(), data: Buffer.from(d).toString() }));
  c.on('peerGone', (k: PublicKey<'node'>, r) => gone.push({ key: k.toString(), reason: String(r) }));
  c.on('state', (_s, info) => { if (info.error) errors.push(info.error); });
  return { c, nodeKey, got, gone, errors, log };
}

test('real derper: two Meshtray clients exchange packets, see PeerGone, survive a derper restart', { skip, timeout: 90_000 }, async () => {
  await d1.start();
  const region = d1.region(900, 'lab1');
  const a = client(region, 'a');
  const b = client(region, 'b');
  try {
    a.c.start();
    b.c.start();
    await until(() => a.c.state === 'connected' && b.c.state === 'connected', 10_000, 'both connected');
    assert.equal(a.c.connectedNode, '900a');

    a.c.send(b.nodeKey.public, Buffer.from('hello from a'));
    await until(() => b.got.length === 1, 5000, 'b receives');
    assert.deepEqual(b.got[0], { src: a.nodeKey.public.toString(), data: 'hello from a' });
    b.c.send(a.nodeKey.public, Buffer.from('hello from b'));
    await until(() => a.got.length === 1, 5000, 'a receives');
    assert.deepEqual(a.got[0], { src: b.nodeKey.public.toString(), data: 'hello from b' });

    // A 64 KiB packet (MaxPacketSize) crosses intact.
    const big = Buffer.alloc(64 << 10, 0x61);
    a.c.send(b.nodeKey.public, big);
    await until(() => b.got.length === 2, 5000, 'big packet');
    assert.equal(b.got[1]!.data.length, 64 << 10);

    assert.ok((await a.c.ping(3000)) < 3000, 'DERP ping answered by derper');

    // b disconnects: derper tells a (who received from b) that b is gone.
    await b.c.close();
    await until(() => a.gone.length >= 1, 5000, 'PeerGone');
    assert.deepEqual(a.gone[0], { key: b.nodeKey.public.toString(), reason: 'disconnected' });

    // Sending to an unknown key: derper answers PeerGone NotHere only for disco packets.
    const disco = new Uint8Array(80);
    disco.set([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);
    a.c.send(b.nodeKey.public, disco);
    await until(() => a.gone.some((g) => g.reason === 'not-here'), 5000, 'PeerGone NotHere');

    // Kill derper: a notices and keeps retrying; restart it on the same port/cert: a reconnects.
    await d1.stop('SIGKILL');
    await until(() => a.c.state === 'connecting', 10_000, 'a sees the connection drop');
    await new Promise((r) => setTimeout(r, 500));
    await d1.start();
    await until(() => a.c.state === 'connected', 15_000, 'a reconnects');
    const b2 = client(region, 'b2');
    b2.c.start();
    await until(() => b2.c.state === 'connected', 10_000, 'b2 connected');
    a.c.send(b2.nodeKey.public, Buffer.from('after restart'));
    await until(() => b2.got.length === 1, 5000, 'packet after restart');
    assert.equal(b2.got[0]!.data, 'after restart');
    await b2.c.close();
  } finally {
    await a.c.close();
    await b.c.close();
  }
});

test('real derper: a wrong pin is refused and nothing is sent', { skip, timeout: 30_000 }, async () => {
  await d1.start(); // no-op when already running
  const region = d1.region(900, 'lab1', 'sha256-raw:' + '00'.repeat(32));
  const a = client(region, 'wrongpin');
  try {
    a.c.start();
    await until(() => a.c.counters.get('dial-failed') >= 2, 10_000, 'dial failures');
    assert.notEqual(a.c.state, 'connected');
    assert.match(a.errors.join('\n') + a.log.lines.join('\n'), /cert-pin-mismatch/);
    // The same node without any pin and without InsecureForTests: the self-signed cert fails CA checks.
    const noPin = client({ ...region, Nodes: [{ ...region.Nodes[0]!, CertName: undefined }] } as never, 'nopin');
    noPin.c.start();
    await until(() => noPin.c.counters.get('dial-failed') >= 1, 10_000, 'CA failure');
    assert.notEqual(noPin.c.state, 'connected');
    await noPin.c.close();
    // InsecureForTests (no CertName) is honoured.
    const insecure = client({ ...region, Nodes: [{ ...region.Nodes[0]!, CertName: undefined, InsecureForTests: true }] } as never, 'insecure');
    insecure.c.start();
    await until(() => insecure.c.state === 'connected', 10_000, 'insecure connects');
    await insecure.c.close();
  } finally {
    await a.c.close();
  }
});

test('real derpers: manager reaches a peer homed in another region, home marked preferred', { skip, timeout: 60_000 }, async () => {
  await d1.start();
  await d2.start();
  const map = { Regions: { '900': d1.region(900, 'lab1'), '901': d2.region(901, 'lab2') } };
  const random = systemRandomForTests();
  const keyA = PrivateKey.generate('node', random);
  const keyB = PrivateKey.generate('node', random);
  const mA = new DerpManager({ nodeKey: keyA, clock: realClock, random, logger: logger('mA') });
  const mB = new DerpManager({ nodeKey: keyB, clock: realClock, random, logger: logger('mB') });
  const gotA: string[] = [];
  const gotB: string[] = [];
  mA.on('packet', (r, _s, d) => gotA.push(`${r}:${Buffer.from(d).toString()}`));
  mB.on('packet', (r, _s, d) => gotB.push(`${r}:${Buffer.from(d).toString()}`));
  try {
    mA.setDerpMap(map);
    mB.setDerpMap(map);
    mA.setHome(900);
    mB.setHome(901);
    await until(() => mA.client(900)?.state === 'connected' && mB.client(901)?.state === 'connected', 10_000, 'homes connected');
    // A sends to B's home (901): A opens a second connection there.
    mA.send(keyB.public, 901, Buffer.from('to B via its home'));
    await until(() => gotB.length === 1, 10_000, 'B receives');
    assert.equal(gotB[0], '901:to B via its home');
    // B answers without knowing A's home: the reverse route (901) carries it.
    assert.equal(mB.reverseRoute(keyA.public), 901);
    mB.send(keyA.public, undefined, Buffer.from('reply'));
    await until(() => gotA.length === 1, 10_000, 'A receives');
    assert.equal(gotA[0], '901:reply');
    assert.deepEqual(mA.status().map((s) => [s.regionId, s.state, s.home]), [[900, 'connected', true], [901, 'connected', false]]);
  } finally {
    await mA.close();
    await mB.close();
  }
});
