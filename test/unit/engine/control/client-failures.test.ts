// Every way the control server or the connection can misbehave must end the call with a
// MeshtrayError carrying a reason (and a log line), never a crash or an unhandled rejection; and
// the client must dial again on the next call.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { PrivateKey } from '../../../../main/engine/keys/keys.js';
import { systemRandom } from '../../../../main/engine/ports/system.js';
import { ControlClient, type ControlClientOptions } from '../../../../main/engine/control/client.js';
import { sealRecord } from '../../../../main/engine/control/noise/frames.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { FakeControl, jsonFrame, mapFrame, zstdStored, type FakeControlOptions } from './fake-control.js';
import { clock, recordingLogger, renderLogs } from './helpers.js';

const unhandled: unknown[] = [];
const onUnhandled = (r: unknown) => unhandled.push(r);
process.on('unhandledRejection', onUnhandled);
after(() => {
  process.off('unhandledRejection', onUnhandled);
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

const machineKey = PrivateKey.generate('machine', systemRandom);
const nodeKey = PrivateKey.generate('node', systemRandom).public.toString();
const discoKey = PrivateKey.generate('disco', systemRandom).public.toString();
const hostinfo = { Hostname: 'laptop', OS: 'linux' };
const mapReq = { NodeKey: nodeKey, DiscoKey: discoKey, Hostinfo: hostinfo };
const okRegister: FakeControlOptions['onRegister'] = (_b, res) => res.end(JSON.stringify({ MachineAuthorized: true }));
const selfMsg = { Node: { ID: 1 } };

async function withFake(opts: FakeControlOptions, extra: Partial<ControlClientOptions>, fn: (c: ControlClient, fake: FakeControl, logs: () => string) => Promise<void>) {
  const fake = new FakeControl(opts);
  const logger = recordingLogger();
  const client = new ControlClient({ serverURL: fake.serverURL, machineKey, logger, clock, random: systemRandom, createSocket: fake.createSocket, pingIntervalMs: 0, ...extra });
  try {
    await fn(client, fake, () => renderLogs(logger.lines));
  } finally {
    client.close();
    fake.close();
  }
}

const code = (c: string, re?: RegExp) => (e: unknown) => {
  assert.ok(MeshtrayError.is(e), `expected MeshtrayError, got ${String(e)}`);
  assert.equal(e.code, c, e.message);
  if (re) assert.match(e.message, re);
  return true;
};

test('a corrupted Noise record from the server rejects with a reason; the next call redials and works', async () => {
  const opts: FakeControlOptions = {
    onRegister: okRegister,
    afterHandshake: (tx, socket) => {
      const rec = sealRecord(tx, Buffer.from('garbage'));
      rec[rec.length - 1]! ^= 0xff;
      socket.write(rec);
    },
  };
  await withFake(opts, {}, async (c, fake, logs) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /failed to authenticate/));
    assert.match(logs(), /noise connection dropped/);
    assert.ok(c.stats.protocolErrors >= 1);
    delete opts.afterHandshake;
    const r = await c.register({ NodeKey: nodeKey, Hostinfo: hostinfo });
    assert.equal(r.MachineAuthorized, true);
    assert.equal(fake.upgrades, 2);
  });
});

test('an oversize or wrongly typed record from the server is rejected', async () => {
  for (const bytes of [Buffer.from([4, 0x10, 0x00]), Buffer.from([2, 0, 48])]) {
    await withFake({ onRegister: okRegister, afterHandshake: (_tx, s) => s.write(bytes) }, {}, async (c) => {
      await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /4096|unexpected message type/));
    });
  }
});

test('a connection that ends inside a record is reported as truncated', async () => {
  await withFake({ onRegister: okRegister, afterHandshake: (tx, s) => s.end(sealRecord(tx, Buffer.alloc(100)).subarray(0, 40)) }, {}, async (c) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /truncated/));
  });
});

test('garbage instead of HTTP/2 (valid Noise) kills the session with a reason', async () => {
  await withFake({ onRegister: okRegister, afterHandshake: (tx, s) => s.write(sealRecord(tx, Buffer.from('HTTP/1.1 200 OK\r\n\r\nthis is not h2'))) }, {}, async (c) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), (e: unknown) => MeshtrayError.is(e) && /HTTP\/2|stream|closed/.test(e.message));
  });
});

test('a stream reset by the server rejects register and map, and the connection stays usable', async () => {
  let reset = true;
  await withFake(
    {
      onRegister: (_b, res) => (reset ? res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR) : res.end(JSON.stringify({ MachineAuthorized: true }))),
      onMap: (_b, res) => {
        res.writeHead(200);
        res.write(jsonFrame(selfMsg));
        setTimeout(() => res.stream.close(http2.constants.NGHTTP2_PROTOCOL_ERROR), 10);
      },
    },
    {},
    async (c, fake) => {
      await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /reset/));
      const got: unknown[] = [];
      await assert.rejects(c.mapStream(mapReq, (m) => got.push(m), { signal: new AbortController().signal }), code('ERR_CONTROL_PROTOCOL', /reset/));
      assert.equal(got.length, 1);
      reset = false;
      assert.equal((await c.register({ NodeKey: nodeKey, Hostinfo: hostinfo })).MachineAuthorized, true);
      assert.equal(fake.upgrades, 1);
    },
  );
});

test('map stream: a garbage zstd frame after good ones rejects; the good ones were delivered', async () => {
  await withFake(
    {
      onMap: (_b, res) => {
        res.writeHead(200);
        res.write(Buffer.concat([jsonFrame(selfMsg), jsonFrame({ KeepAlive: true }), mapFrame(Buffer.from('\x28\xb5\x2f\xfdgarbage-not-zstd'))]));
      },
    },
    {},
    async (c, _f, logs) => {
      const got: unknown[] = [];
      await assert.rejects(c.mapStream(mapReq, (m) => got.push(m), { signal: new AbortController().signal }), code('ERR_CONTROL_PROTOCOL', /zstd/));
      assert.equal(got.length, 2);
      assert.match(logs(), /map stream failed.*zstd/);
      assert.ok(c.stats.protocolErrors >= 1);
    },
  );
});

test('map stream: bad JSON, a non-object, a first message without Node, a zero-length frame', async () => {
  const cases: [Buffer, RegExp][] = [
    [mapFrame(zstdStored(Buffer.from('{"Node":'))), /not valid JSON/],
    [jsonFrame([1, 2]), /not a JSON object/],
    [jsonFrame({ Peers: [] }), /first MapResponse has no Node/],
    [Buffer.from([0, 0, 0, 0]), /zero-length/],
    [Buffer.from([0xff, 0xff, 0xff, 0x7f]), /exceeds/],
  ];
  for (const [bytes, re] of cases) {
    await withFake({ onMap: (_b, res) => (res.writeHead(200), res.write(bytes)) }, {}, async (c) => {
      await assert.rejects(c.mapStream(mapReq, () => {}, { signal: new AbortController().signal }), code('ERR_CONTROL_PROTOCOL', re));
    });
  }
});

test('map stream: the server ending mid-message is truncation; a clean end resolves', async () => {
  await withFake({ onMap: (_b, res) => (res.writeHead(200), res.end(jsonFrame(selfMsg).subarray(0, 10))) }, {}, async (c) => {
    await assert.rejects(c.mapStream(mapReq, () => {}, { signal: new AbortController().signal }), code('ERR_CONTROL_PROTOCOL', /ended inside a message/));
  });
  await withFake({ onMap: (_b, res) => (res.writeHead(200), res.end(jsonFrame(selfMsg))) }, {}, async (c) => {
    const got: unknown[] = [];
    await c.mapStream(mapReq, (m) => got.push(m), { signal: new AbortController().signal });
    assert.deepEqual(got, [selfMsg]);
  });
});

test('uncompressed map frames when Compress is ""', async () => {
  await withFake({ onMap: (b, res) => (res.writeHead(200), res.end(jsonFrame(selfMsg, (b as { Compress?: string }).Compress === 'zstd'))) }, {}, async (c, fake) => {
    const got: unknown[] = [];
    await c.mapStream({ ...mapReq, Compress: '' }, (m) => got.push(m), { signal: new AbortController().signal });
    assert.deepEqual(got, [selfMsg]);
    assert.equal((fake.requests[0]!.body as Record<string, unknown>)['Compress'], undefined);
  });
});

test('HTTP errors carry the status and the server text', async () => {
  await withFake(
    {
      onMap: (_b, res) => (res.writeHead(404), res.end('node not found')),
      onRegister: (_b, res) => (res.writeHead(400), res.end('unsupported client version: v1.0 (100)')),
    },
    {},
    async (c) => {
      await assert.rejects(c.mapStream(mapReq, () => {}, { signal: new AbortController().signal }), (e: unknown) => {
        code('ERR_CONTROL_PROTOCOL', /map: HTTP 404: node not found/)(e);
        assert.deepEqual((e as MeshtrayError).details, { status: 404 });
        return true;
      });
      await assert.rejects(c.mapUpdate(mapReq), code('ERR_CONTROL_PROTOCOL', /HTTP 404/));
      await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /HTTP 400: unsupported client version/));
    },
  );
});

test('a register answer that is not a RegisterResponse is rejected', async () => {
  await withFake({ onRegister: (_b, res) => res.end('{"MachineAuthorized":"yes"}') }, {}, async (c) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /MachineAuthorized/));
  });
  await withFake({ onRegister: (_b, res) => res.end('<html>') }, {}, async (c) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /not JSON/));
  });
});

test('a server that never answers the upgrade: the dial times out', async () => {
  await withFake({ onUpgrade: () => {} }, { dialTimeoutMs: 300 }, async (c, _f, logs) => {
    const t0 = Date.now();
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_TIMEOUT', /control dial timed out after 300 ms/));
    assert.ok(Date.now() - t0 < 3000);
    assert.match(logs(), /register failed/);
  });
});

test('a server that sends the 101 but no handshake response: timeout', async () => {
  await withFake({ onUpgrade: (_r, s) => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n\r\n') }, { dialTimeoutMs: 300 }, async (c) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_TIMEOUT'));
  });
});

test('upgrade refusals: a non-101 status, a wrong Upgrade header, a type-3 error', async () => {
  await withFake({ onUpgrade: (_r, s) => s.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 21\r\n\r\nunknown next protocol') }, {}, async (c) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /HTTP 400: unknown next protocol/));
  });
  await withFake({ onUpgrade: (_r, s) => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n') }, {}, async (c) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /unexpected protocol "websocket"/));
  });
  await withFake({ onUpgrade: (_r, s) => s.end(Buffer.concat([Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: tailscale-control-protocol\r\nConnection: upgrade\r\n\r\n'), Buffer.from([3, 0, 9]), Buffer.from('go away\x00\x01')])) }, {}, async (c) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /refused the handshake: go away\?\?/));
  });
});

test('a stale server key: 101 then EOF, the key is fetched again and the next dial works', async () => {
  const opts: FakeControlOptions = { onRegister: okRegister, advertisedKey: PrivateKey.generate('machine', systemRandom).public };
  await withFake(opts, {}, async (c, fake, logs) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_CONTROL_PROTOCOL', /closed the connection after the 101/));
    assert.match(logs(), /server key will be re-fetched/);
    delete opts.advertisedKey;
    assert.equal((await c.register({ NodeKey: nodeKey, Hostinfo: hostinfo })).MachineAuthorized, true);
    assert.equal(fake.keyRequests, 2);
    assert.equal(c.stats.handshakeFailures, 1);
  });
});

test('a map stream that goes silent hits the watchdog; silence before the headers too', async () => {
  await withFake({ onMap: (_b, res) => (res.writeHead(200), res.write(jsonFrame(selfMsg))) }, { mapWatchdogMs: 300 }, async (c) => {
    const got: unknown[] = [];
    await assert.rejects(c.mapStream(mapReq, (m) => got.push(m), { signal: new AbortController().signal }), code('ERR_TIMEOUT', /nothing from the control server for 300 ms/));
    assert.equal(got.length, 1);
  });
  await withFake({ onMap: () => {} }, { mapWatchdogMs: 300 }, async (c) => {
    await assert.rejects(c.mapStream(mapReq, () => {}, { signal: new AbortController().signal }), code('ERR_TIMEOUT'));
  });
});

test('a register without Followup times out; a hung followup waits until aborted', async () => {
  await withFake({ onRegister: () => {} }, { requestTimeoutMs: 300 }, async (c) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Hostinfo: hostinfo }), code('ERR_TIMEOUT', /register timed out/));
    const ac = new AbortController();
    const p = c.register({ NodeKey: nodeKey, Hostinfo: hostinfo, Followup: 'http://control.test:8080/register/x' }, { signal: ac.signal });
    let settled = false;
    p.catch(() => {}).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(settled, false);
    ac.abort();
    await assert.rejects(p, (e: unknown) => (e as Error).name === 'AbortError');
  });
});

test('abort mid-stream rejects with AbortError and leaves the connection usable', async () => {
  await withFake({ onRegister: okRegister, onMap: (_b, res) => (res.writeHead(200), res.write(jsonFrame(selfMsg))) }, {}, async (c, fake) => {
    const ac = new AbortController();
    const p = c.mapStream(mapReq, () => ac.abort(), { signal: ac.signal });
    await assert.rejects(p, (e: unknown) => (e as Error).name === 'AbortError');
    assert.equal((await c.register({ NodeKey: nodeKey, Hostinfo: hostinfo })).MachineAuthorized, true);
    assert.equal(fake.upgrades, 1);
  });
});

test('connection loss mid-stream (server restart) rejects; the next call dials a new connection', async () => {
  await withFake({ onRegister: okRegister, onMap: (_b, res) => (res.writeHead(200), res.write(jsonFrame(selfMsg))) }, {}, async (c, fake) => {
    const p = c.mapStream(mapReq, () => setTimeout(() => fake.dropAll(), 5), { signal: new AbortController().signal });
    await assert.rejects(p, code('ERR_CONTROL_UNREACHABLE'));
    assert.equal(c.connected, false);
    assert.equal((await c.register({ NodeKey: nodeKey, Hostinfo: hostinfo })).MachineAuthorized, true);
    assert.equal(fake.upgrades, 2);
  });
});

test('close() rejects a pending map stream', async () => {
  await withFake({ onMap: (_b, res) => (res.writeHead(200), res.write(jsonFrame(selfMsg))) }, {}, async (c) => {
    const p = c.mapStream(mapReq, () => setTimeout(() => c.close(), 5), { signal: new AbortController().signal });
    await assert.rejects(p, code('ERR_CONTROL_UNREACHABLE', /closed/));
  });
});

test('an exception in onMessage ends the stream with that error', async () => {
  await withFake({ onMap: (_b, res) => (res.writeHead(200), res.write(jsonFrame(selfMsg))) }, {}, async (c) => {
    await assert.rejects(c.mapStream(mapReq, () => { throw new Error('netmap rejected it'); }, { signal: new AbortController().signal }), /netmap rejected it/);
  });
});

test('invalid requests are refused before anything is sent', async () => {
  await withFake({}, {}, async (c, fake) => {
    await assert.rejects(c.register({ NodeKey: '', Hostinfo: hostinfo }), code('ERR_BAD_REQUEST', /NodeKey/));
    await assert.rejects(c.mapStream({ ...mapReq, DiscoKey: `discokey:${'0'.repeat(63)}` }, () => {}, { signal: new AbortController().signal }), code('ERR_BAD_REQUEST', /DiscoKey/));
    assert.equal(fake.upgrades, 0);
  });
});

test('the pre-auth key never reaches the logs, even when the server echoes it', async () => {
  const authKey = 'hskey-auth-AbCdEfGh1234-ZYXWVUTSRQPONMLKJIHGFEDCBA0123456789';
  await withFake({ onRegister: (b, res) => res.end(JSON.stringify({ Error: `invalid authkey ${(b as { Auth: { AuthKey: string } }).Auth.AuthKey}` })) }, {}, async (c, fake, logs) => {
    const r = await c.register({ NodeKey: nodeKey, Auth: { AuthKey: authKey }, Hostinfo: hostinfo });
    assert.match(r.Error, /invalid authkey/);
    assert.equal((fake.requests[0]!.body as { Auth: { AuthKey: string } }).Auth.AuthKey, authKey);
    const text = logs();
    assert.match(text, /register answered/);
    assert.match(text, /<redacted>/);
    assert.ok(!text.includes(authKey));
    assert.ok(!text.includes('ZYXWVUTSRQPONMLKJIHGFEDCBA'));
  });
  await withFake({ onRegister: (b, res) => (res.writeHead(500), res.end(`boom ${(b as { Auth: { AuthKey: string } }).Auth.AuthKey}`)) }, {}, async (c, _f, logs) => {
    await assert.rejects(c.register({ NodeKey: nodeKey, Auth: { AuthKey: authKey }, Hostinfo: hostinfo }), (e: unknown) => !(e as Error).message.includes(authKey));
    assert.ok(!logs().includes(authKey));
    assert.ok(!logs().includes(Buffer.from(machineKey.rawBytes()).toString('hex')));
  });
});

test('early payload variants: none, one record, three records', async () => {
  for (const earlyPayload of ['none', 'whole', 'split'] as const) {
    await withFake({ earlyPayload, onRegister: okRegister }, {}, async (c) => {
      assert.equal((await c.register({ NodeKey: nodeKey, Hostinfo: hostinfo })).MachineAuthorized, true);
      assert.equal(c.earlyPayload === undefined, earlyPayload === 'none');
    });
  }
});

test('HTTP/2 PINGs answered by the server keep the session up', async () => {
  await withFake({ onRegister: okRegister }, { pingIntervalMs: 50 }, async (c) => {
    await c.register({ NodeKey: nodeKey, Hostinfo: hostinfo });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(c.connected, true);
  });
});

test('PingRequest answers: HEAD over plain HTTP and over Noise; bad URLs refused', async () => {
  await withFake({}, {}, async (c, fake) => {
    assert.equal(await c.answerPing({ URL: `${fake.serverURL}/machine/ping-response?id=abc`, URLIsNoise: false }), 200);
    assert.equal(await c.answerPing({ URL: `${fake.serverURL}/machine/ping-response?id=def`, URLIsNoise: true }), 200);
    assert.deepEqual(fake.pings, [
      { path: '/machine/ping-response?id=abc', noise: false },
      { path: '/machine/ping-response?id=def', noise: true },
    ]);
    await assert.rejects(c.answerPing({ URL: 'file:///etc/passwd' }), code('ERR_BAD_REQUEST'));
    await assert.rejects(c.answerPing({ URL: 'not a url' }), code('ERR_BAD_REQUEST'));
  });
});

test('a capability version outside uint16 is refused at construction', () => {
  assert.throws(() => new ControlClient({ serverURL: 'http://x', machineKey, logger: recordingLogger(), clock, random: systemRandom, capVer: 70000 }), code('ERR_BAD_REQUEST'));
  assert.throws(() => new ControlClient({ serverURL: 'ftp://x', machineKey, logger: recordingLogger(), clock, random: systemRandom }), code('ERR_BAD_REQUEST'));
});
