// WireGuard over handed-over descriptors: namespace A's TUN and dual-stack UDP socket are opened
// by a root helper and run by a uid-65534 data plane (fd-handover-receiver.ts); namespace B runs
// an ordinary data plane (netns-worker.ts). The direct path between them crosses the adopted
// dual-stack socket with IPv4 peers (sent as v4-mapped, received unmapped) and with IPv6 peers,
// and a bulk TCP transfer exercises the batched paths (UDP GSO/GRO) on it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mustRunInCI } from '../os/support.js';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonCandidates } from '../../../main/engine/dataplane/native-loader.js';
import type { DataPlaneCounters } from '../../../main/engine/dataplane/data-plane.js';
import { b64, canRunNetns, genKey, makeNsPair, sh, shAsync, Worker, type NsPair } from './harness.js';
import { Receiver, startHelper, type Helper } from './fd-handover-support.js';

const check = canRunNetns();
const addon = addonCandidates().find((p) => existsSync(p));
const skip = mustRunInCI(check.ok ? (addon ? false : 'the native addon is not built (npm run build:native)') : check.why, 'descriptor handover WireGuard tests');

const TUN_A = '100.83.0.1', TUN_B = '100.83.0.2';
const TUN6_A = 'fd7a:115c:a1e0:83::1', TUN6_B = 'fd7a:115c:a1e0:83::2';

describe('WireGuard between a handed-over (unprivileged) data plane and an ordinary one', { skip, timeout: 180_000 }, () => {
  let net: NsPair;
  let dir: string;
  let helper: Helper;
  let A: Receiver;
  let B: Worker;
  const kA = genKey(), kB = genKey();
  let portA = 0, portB = 0;

  const peersOver = async (family: 4 | 6): Promise<void> => {
    const [ipA, ipB] = family === 4 ? [net.ipA, `${net.ipB}`] : [`[${net.ip6A}]`, `[${net.ip6B}]`];
    await A.call('setPeers', { peers: [{ publicKey: b64(kB.pub), allowedIps: [`${TUN_B}/32`, `${TUN6_B}/128`], endpoint: `${ipB}:${portB}`, useDerp: false }] });
    await B.call('setPeers', { peers: [{ publicKey: b64(kA.pub), allowedIps: [`${TUN_A}/32`, `${TUN6_A}/128`], endpoint: `${ipA}:${portA}`, useDerp: false }] });
  };

  before(async () => {
    net = makeNsPair('fdwg');
    dir = mkdtempSync(join(tmpdir(), 'mt-fdwg-'));
    chmodSync(dir, 0o755);
    helper = await startHelper(net.a, join(dir, 'helper.sock'), 'mtfd0', [`${TUN_A}/24`, `${TUN6_A}/64`], 0x80000);
    A = await Receiver.start(true);
    const ra = await A.call<{ port: number }>('adopt', { socketPath: join(dir, 'helper.sock'), privateKey: b64(kA.priv) });
    portA = ra.port;
    B = await Worker.start(net.b);
    const rb = await B.call<{ port: number }>('open', { tunName: 'mt0', mtu: 1280, listenPort: 0, privateKey: b64(kB.priv), addresses: [`${TUN_B}/24`, `${TUN6_B}/64`] });
    portB = rb.port;
  });

  after(async () => {
    await Promise.allSettled([A?.stop(), B?.stop()]);
    if (helper?.proc.exitCode === null) helper.proc.kill('SIGKILL');
    net?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pings both ways over an IPv4 underlay; the peer is seen at its plain IPv4 address', async () => {
    await peersOver(4);
    const ab = sh(['ping', '-c', '3', '-i', '0.2', '-W', '3', TUN_B], { ns: net.a, allowFail: true, timeoutMs: 30_000 });
    assert.equal(ab.code, 0, ab.stdout + ab.stderr);
    const ba = sh(['ping', '-c', '3', '-i', '0.2', '-W', '3', TUN_A], { ns: net.b, allowFail: true, timeoutMs: 30_000 });
    assert.equal(ba.code, 0, ba.stdout + ba.stderr);
    const stats = await A.call<{ lastRxAddr: string | null; lastHandshakeMs: number | null }[]>('peerStats');
    assert.equal(stats[0]?.lastRxAddr, `${net.ipB}:${portB}`, 'not ::ffff:… — the engine matches endpoints by plain address');
    assert.notEqual(stats[0]?.lastHandshakeMs, null);
    const bStats = await B.call<{ lastRxAddr: string | null }[]>('peerStats');
    assert.equal(bStats[0]?.lastRxAddr, `${net.ipA}:${portA}`, 'B sees A at the adopted socket\'s port');
  });

  it('carries an exact bulk TCP transfer (batched UDP send/receive on the adopted socket)', async () => {
    const size = 16 * 1024 * 1024;
    const server = shAsync([process.execPath, '-e', `
      const h = require('crypto').createHash('sha256'); let n = 0;
      const srv = require('net').createServer((s) => {
        s.on('data', (d) => { n += d.length; h.update(d); });
        s.on('end', () => { s.end(n + ' ' + h.digest('hex')); srv.close(); });
      }).listen(7002, '${TUN_A}');
      setTimeout(() => process.exit(3), 60000).unref();`], net.a);
    await new Promise((r) => setTimeout(r, 700));
    const client = sh([process.execPath, '-e', `
      const data = require('crypto').randomBytes(${size});
      const want = require('crypto').createHash('sha256').update(data).digest('hex');
      const s = require('net').connect(7002, '${TUN_A}', () => s.end(data));
      let reply = ''; s.on('data', (d) => (reply += d));
      s.on('end', () => console.log(JSON.stringify({ reply, want })));`], { ns: net.b, allowFail: true, timeoutMs: 90_000 });
    const srv = await server;
    assert.equal(client.code, 0, client.stderr);
    assert.equal(srv.code, 0, srv.stderr);
    const { reply, want } = JSON.parse(client.stdout) as { reply: string; want: string };
    assert.equal(reply, `${size} ${want}`, 'every byte arrived unchanged at the unprivileged side');
    const c = await A.call<DataPlaneCounters>('counters');
    assert.ok(c.direct.rxBytes > size, `direct rx ${c.direct.rxBytes}`);
    assert.equal(c.drops.sendError, 0, 'no send through the mapped IPv4 path failed');
  });

  it('pings over an IPv6 underlay through the same dual-stack socket', async () => {
    await peersOver(6);
    const ab = sh(['ping', '-c', '3', '-i', '0.2', '-W', '3', TUN6_B], { ns: net.a, allowFail: true, timeoutMs: 30_000 });
    assert.equal(ab.code, 0, ab.stdout + ab.stderr);
    const stats = await A.call<{ lastRxAddr: string | null }[]>('peerStats');
    assert.equal(stats[0]?.lastRxAddr, `[${net.ip6B}]:${portB}`);
  });
});
