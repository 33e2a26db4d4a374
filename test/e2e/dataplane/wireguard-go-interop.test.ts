// Byte-level WireGuard interop: Meshtray's native data plane (boringtun) in one namespace, the
// reference userspace implementation wireguard-go (Debian package, configured with `wg`) in the
// other, static keys only. Tailscale runs standard WireGuard (dataplane.md §5), so this is the
// message-level compatibility a tailscaled peer needs; a tailscaled test needs control and
// belongs to the lab suite.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataPlaneCounters } from '../../../main/engine/dataplane/data-plane.js';
import { b64, canRunNetns, genKey, makeNsPair, sh, shAsync, Worker, type NsPair } from './harness.js';

const base = canRunNetns();
const haveWg = spawnSync('sh', ['-c', 'command -v wireguard-go && command -v wg'], { stdio: 'ignore' }).status === 0;
const check = !base.ok ? base : haveWg ? { ok: true } : { ok: false, why: 'wireguard-go and wg not installed (apt-get install wireguard-go wireguard-tools)' };
if (!check.ok && process.env.CI === 'true') throw new Error(`wireguard-go interop test must run in CI: ${check.why}`);
if (!check.ok) console.error(`\n!!! SKIPPING wireguard-go interop test: ${check.why} !!!\n`);

const TUN_A = '100.81.0.1', TUN_B = '100.81.0.2';
const WG_PORT = 51820;

describe('WireGuard interop with wireguard-go (static keys)', { skip: !check.ok, timeout: 120_000 }, () => {
  let net: NsPair;
  let A: Worker;
  let wgo: ChildProcess | undefined;
  const kA = genKey(), kB = genKey();
  const ifname = `mtwg${process.pid % 10000}`;
  const dir = mkdtempSync(join(tmpdir(), 'meshtray-wg-'));
  let portA = 0;

  function startWireguardGo(): void {
    // Foreground (-f) so the process is ours to stop by PID. Linux asks for this opt-in for userspace.
    wgo = spawn('ip', ['netns', 'exec', net.b, 'wireguard-go', '-f', ifname], {
      stdio: 'ignore', env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' },
    });
    for (let i = 0; i < 50; i++) {
      if (sh(['ip', 'link', 'show', ifname], { ns: net.b, allowFail: true }).code === 0) break;
      spawnSync('sleep', ['0.1']);
    }
    const keyFile = join(dir, 'b.key');
    writeFileSync(keyFile, b64(kB.priv) + '\n', { mode: 0o600 });
    sh(['wg', 'set', ifname, 'private-key', keyFile, 'listen-port', String(WG_PORT),
      'peer', b64(kA.pub), 'allowed-ips', `${TUN_A}/32`, 'endpoint', `${net.ipA}:${portA}`], { ns: net.b });
    sh(['ip', 'addr', 'add', `${TUN_B}/24`, 'dev', ifname], { ns: net.b });
    sh(['ip', 'link', 'set', ifname, 'up'], { ns: net.b });
  }

  async function stopWireguardGo(): Promise<void> {
    const p = wgo;
    wgo = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => {
      const t = setTimeout(() => { p.kill('SIGKILL'); r(); }, 3000);
      p.once('exit', () => { clearTimeout(t); r(); });
      p.kill('SIGTERM');
    });
  }

  before(async () => {
    net = makeNsPair('w');
    A = await Worker.start(net.a);
    const r = await A.call<{ port: number }>('open', { tunName: 'mt0', mtu: 1280, listenPort: 0, privateKey: b64(kA.priv), addresses: [`${TUN_A}/24`] });
    portA = r.port;
    await A.call('setPeers', { peers: [{ publicKey: b64(kB.pub), allowedIps: [`${TUN_B}/32`], endpoint: `${net.ipB}:${WG_PORT}`, useDerp: false }] });
    startWireguardGo();
  });

  after(async () => {
    await stopWireguardGo();
    await A?.stop();
    net?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('Meshtray initiates the handshake: ping and an exact TCP transfer work', async () => {
    const p = await shAsync(['ping', '-c', '3', '-i', '0.2', '-W', '3', TUN_B], net.a);
    assert.equal(p.code, 0, `ping Meshtray → wireguard-go failed:\n${p.stdout}`);
    const hs = sh(['wg', 'show', ifname, 'latest-handshakes'], { ns: net.b }).stdout;
    assert.match(hs, new RegExp(`${b64(kA.pub).replace(/[+/]/g, (c) => '\\' + c)}\\s+[1-9]\\d*`), 'wireguard-go saw a handshake from our key');

    const size = 8 * 1024 * 1024;
    const server = shAsync([process.execPath, '-e', `
      const h = require('crypto').createHash('sha256'); let n = 0;
      const srv = require('net').createServer((s) => {
        s.on('data', (d) => { n += d.length; h.update(d); });
        s.on('end', () => { s.end(n + ' ' + h.digest('hex')); srv.close(); });
      }).listen(7002, '${TUN_B}');
      setTimeout(() => process.exit(3), 60000).unref();`], net.b);
    await new Promise((r) => setTimeout(r, 700));
    const client = await shAsync([process.execPath, '-e', `
      const data = require('crypto').randomBytes(${size});
      const want = require('crypto').createHash('sha256').update(data).digest('hex');
      const s = require('net').connect(7002, '${TUN_B}', () => s.end(data));
      let reply = ''; s.on('data', (d) => (reply += d));
      s.on('end', () => console.log(JSON.stringify({ reply, want })));`], net.a);
    await server;
    assert.equal(client.code, 0, client.stderr);
    const { reply, want } = JSON.parse(client.stdout) as { reply: string; want: string };
    assert.equal(reply, `${size} ${want}`);
    const c = await A.call<DataPlaneCounters>('counters');
    assert.equal(c.drops.decrypt, 0);
    assert.equal(c.toJs.disco + c.toJs.stun + c.toJs.derpSend, 0, 'WireGuard from wireguard-go never crosses into JS');
  });

  it('wireguard-go initiates the handshake (fresh process): Meshtray finds the peer from the initiation and answers', async () => {
    await stopWireguardGo();
    startWireguardGo();
    const p = await shAsync(['ping', '-c', '3', '-i', '0.2', '-W', '3', TUN_A], net.b);
    assert.equal(p.code, 0, `ping wireguard-go → Meshtray failed:\n${p.stdout}`);
    const stats = await A.call<{ lastRxAddr: string | null }[]>('peerStats');
    assert.equal(stats[0]!.lastRxAddr, `${net.ipB}:${WG_PORT}`);
  });
});
