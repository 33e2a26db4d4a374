// ControlClient end to end against the in-process fake control server (in-memory sockets): the
// HTTP upgrade, Noise, the early payload, HTTP/2, register, the streamed map with several zstd
// frames, lite updates, and how every kind of failure is rejected without crashing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateKey } from '../../../../main/engine/keys/keys.js';
import { systemRandom } from '../../../../main/engine/ports/system.js';
import { ControlClient } from '../../../../main/engine/control/client.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { FakeControl, jsonFrame, mapFrame, zstdStored } from './fake-control.js';
import { clock, recordingLogger, renderLogs } from './helpers.js';

const unhandled: unknown[] = [];
process.on('unhandledRejection', (r) => unhandled.push(r));

const machineKey = PrivateKey.generate('machine', systemRandom);
const nodeKey = PrivateKey.generate('node', systemRandom);
const discoKey = PrivateKey.generate('disco', systemRandom);
const hostinfo = { Hostname: 'laptop', OS: 'linux', IPNVersion: '0.1.0-meshtray' };

function mkClient(fake: FakeControl, extra: Partial<ConstructorParameters<typeof ControlClient>[0]> = {}) {
  const logger = recordingLogger();
  if (process.env.DEBUG_CONTROL) { const orig = logger.lines.push.bind(logger.lines); logger.lines.push = (...l) => { console.log(JSON.stringify(l)); return orig(...l); }; }
  const client = new ControlClient({
    serverURL: fake.serverURL + '/',
    machineKey,
    logger,
    clock,
    random: systemRandom,
    createSocket: fake.createSocket,
    pingIntervalMs: 0,
    ...extra,
  });
  return { client, logger };
}

function isCode(code: string) {
  return (e: unknown) => MeshtrayError.is(e) && e.code === code;
}

test('register and a streamed map with several zstd frames over one Noise connection', async () => {
  const selfNode = { ID: 1, Key: nodeKey.public.toString(), Addresses: ['100.64.0.1/32'] };
  const fake = new FakeControl({
    onRegister: (body, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ User: { ID: 1, DisplayName: 'alice' }, Login: { ID: 1, LoginName: 'alice' }, NodeKeyExpired: false, MachineAuthorized: true, AuthURL: '', Error: '' }));
      void body;
    },
    onMap: (body, res) => {
      const req = body as { Stream?: boolean };
      if (!req.Stream) {
        res.end();
        return;
      }
      res.writeHead(200);
      // Several messages: the first in one write, then two in one write, then one split across writes.
      res.write(jsonFrame({ Node: selfNode, DERPMap: { Regions: { '999': { RegionID: 999 } } }, Peers: [] }));
      res.write(Buffer.concat([jsonFrame({ KeepAlive: true }), jsonFrame({ PeersChanged: [{ ID: 2 }] })]));
      const last = jsonFrame({ PeersRemoved: [2], Big: 'x'.repeat(20_000) });
      res.write(last.subarray(0, 3));
      setTimeout(() => res.end(last.subarray(3)), 5);
    },
  });
  const { client, logger } = mkClient(fake);
  try {
    const reg = await client.register({ NodeKey: nodeKey.public.toString(), Auth: { AuthKey: 'hskey-auth-SECRETSECRET-verysecret' }, Hostinfo: hostinfo });
    assert.equal(reg.MachineAuthorized, true);
    assert.equal(reg.User?.DisplayName, 'alice');
    const sentReg = fake.requests.find((r) => r.path === '/machine/register')!.body as Record<string, unknown>;
    assert.equal(sentReg['Version'], 142);
    assert.equal(sentReg['NodeKey'], nodeKey.public.toString());
    assert.equal(fake.clientMachineKeys[0], machineKey.public.toString());
    assert.equal(client.earlyPayload?.nodeKeyChallenge, `chalpub:${'ab'.repeat(32)}`);

    const msgs: unknown[] = [];
    const ac = new AbortController();
    await client.mapStream({ NodeKey: nodeKey.public.toString(), DiscoKey: discoKey.public.toString(), Hostinfo: hostinfo, Endpoints: ['192.0.2.1:41641'], EndpointTypes: [1] }, (m) => msgs.push(m), { signal: ac.signal });
    assert.equal(msgs.length, 4);
    assert.deepEqual((msgs[0] as { Node: unknown }).Node, selfNode);
    assert.deepEqual(msgs[1], { KeepAlive: true });
    assert.deepEqual((msgs[3] as { PeersRemoved: unknown }).PeersRemoved, [2]);
    const sentMap = fake.requests.find((r) => r.path === '/machine/map')!.body as Record<string, unknown>;
    assert.equal(sentMap['Stream'], true);
    assert.equal(sentMap['Compress'], 'zstd');
    assert.equal(sentMap['KeepAlive'], true);
    assert.equal(sentMap['DiscoKey'], discoKey.public.toString());

    await client.mapUpdate({ NodeKey: nodeKey.public.toString(), DiscoKey: discoKey.public.toString(), Hostinfo: hostinfo });
    const lite = fake.requests.filter((r) => r.path === '/machine/map')[1]!.body as Record<string, unknown>;
    assert.equal(lite['Stream'], false);
    assert.equal(lite['OmitPeers'], true);
    // All of it on one connection.
    assert.equal(fake.upgrades, 1);
    assert.equal(fake.keyRequests, 1);
    // No secret in the logs.
    const logs = renderLogs(logger.lines);
    assert.ok(!logs.includes('SECRETSECRET'), logs);
    assert.ok(!logs.includes(Buffer.from(machineKey.rawBytes()).toString('hex')));
    assert.match(logs, /register answered/);
  } finally {
    client.close();
    fake.close();
  }
  assert.deepEqual(unhandled, []);
});
