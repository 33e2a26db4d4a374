// Issue 7's descriptor handover, for real: a root "helper" inside a fresh network namespace opens
// the TUN and a marked UDP socket with the addon (openTunFd/openUdpFd) and passes them over a unix
// socket (sendFds); a process running as uid 65534 (no capabilities, could not open a TUN itself)
// receives them (helperExchange) and runs the engine's native DataPlane on them. What the test
// checks is what a user or peer would see: the device is up with its address in the namespace,
// a ping from the namespace through the TUN is answered by the unprivileged process, its UDP
// traffic leaves from the helper's port with the bypass mark on both address families, and
// closing the data plane removes the TUN and frees the port.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mustRunInCI } from '../os/support.js';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonCandidates } from '../../../main/engine/dataplane/native-loader.js';
import type { DataPlaneCounters } from '../../../main/engine/dataplane/data-plane.js';
import { canRunNetns, sh } from './harness.js';
import { Receiver, startHelper, type Helper } from './fd-handover-support.js';

const check = canRunNetns();

const addon = addonCandidates().find((p) => existsSync(p));
const skip = mustRunInCI(check.ok ? (addon ? false : 'the native addon is not built (npm run build:native)') : check.why, 'descriptor handover tests');
const NS = `mtfd-${process.pid % 100000}`;
const TUN = 'mtfd0';
const TUN_IP = '100.81.0.1', PEER_IP = '100.81.0.2', TUN_IP6 = 'fd7a:115c:a1e0:81::1';
const MARK = 0x80000;
const DISCO_MAGIC = Buffer.from([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);

describe('TUN and UDP descriptors handed from a root helper to an unprivileged data plane', { skip, timeout: 120_000 }, () => {
  let dir: string;
  let rx: Receiver;
  let helper: Helper;
  let adopted: { reply: string; fds: number[]; port: number; tunName: string; offload: boolean };

  before(async () => {
    spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    sh(['ip', 'netns', 'add', NS]);
    process.once('exit', () => spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' }));
    sh(['ip', '-n', NS, 'link', 'set', 'lo', 'up']);
    sh(['sysctl', '-q', '-w', 'net.ipv6.conf.default.accept_dad=0'], { ns: NS });
    dir = mkdtempSync(join(tmpdir(), 'mt-fdhand-'));
    chmodSync(dir, 0o755);
    helper = await startHelper(NS, join(dir, 'helper.sock'), TUN, [`${TUN_IP}/24`, `${TUN_IP6}/64`], MARK);
    rx = await Receiver.start(true);
  });

  after(async () => {
    await rx?.stop();
    if (helper?.proc.exitCode === null) helper.proc.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the receiver is uid 65534 and cannot open a TUN by itself', async () => {
    assert.deepEqual(await rx.call('whoami'), { uid: 65534, gid: 65534 });
    const own = await rx.call<{ code: string; message: string }>('tryOpenTun');
    assert.equal(own.code, 'EPERM', own.message);
  });

  it('the helper created the TUN up, with MTU and addresses, without offloads', () => {
    assert.equal(helper.opened.tun.name, TUN);
    assert.equal(helper.opened.tun.offload, false);
    const link = sh(['ip', '-n', NS, 'link', 'show', TUN]).stdout;
    assert.match(link, /<[^>]*\bUP\b[^>]*>/, link);
    assert.match(link, /mtu 1280/);
    const addrs = sh(['ip', '-n', NS, '-o', 'addr', 'show', 'dev', TUN]).stdout;
    assert.match(addrs, new RegExp(`inet ${TUN_IP.replace(/\./g, '\\.')}/24`));
    assert.match(addrs, new RegExp(`inet6 ${TUN_IP6}/64`));
  });

  it('helperExchange brings both descriptors; the DataPlane adopts them (real name, real port)', async () => {
    adopted = await rx.call('adopt', { socketPath: join(dir, 'helper.sock'), intercept: [`${PEER_IP}/32`] });
    assert.deepEqual(JSON.parse(adopted.reply), { ok: true, op: 'tun.open', tun: { name: TUN, port: helper.opened.udp.port } });
    assert.equal(adopted.fds.length, 2);
    assert.equal(adopted.tunName, TUN, 'the name comes from the descriptor (TUNGETIFF), not the "label-only" label');
    assert.equal(adopted.port, helper.opened.udp.port, 'port is the adopted socket\'s, not listenPort 9');
    assert.equal(adopted.offload, false);
    // The helper closed its copies and exited; the device lives on through the receiver's descriptor.
    await new Promise((r) => (helper.proc.exitCode !== null ? r(null) : helper.proc.once('exit', r)));
    assert.match(sh(['ip', '-n', NS, 'link', 'show', TUN]).stdout, /UP/);
  });

  it('the UDP socket keeps the helper\'s SO_MARK and dual-stack binding, now held by the receiver', () => {
    const ss = sh(['ip', 'netns', 'exec', NS, 'ss', '-uapemn']).stdout;
    const line = ss.split('\n').find((l) => l.includes(`:${adopted.port} `));
    assert.ok(line, ss);
    assert.match(line, new RegExp(`fwmark:0x${MARK.toString(16)}\\b`), line);
    assert.match(line, /v6only:0/, line);
    assert.match(line, new RegExp(`pid=${rx.child.pid}\\b`), `held by the uid-65534 receiver: ${line}`);
  });

  it('a ping from the namespace goes through the TUN and is answered by the unprivileged process', async () => {
    const p = sh(['ping', '-c', '3', '-i', '0.2', '-W', '3', PEER_IP], { ns: NS, allowFail: true });
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /3 received/);
    // A round trip first: the IPC events queued while ping ran synchronously are read by then.
    const c = await rx.call<DataPlaneCounters>('counters');
    assert.ok(rx.events.filter((e) => e.event === 'intercept' && e.echo).length >= 3, JSON.stringify(rx.events));
    assert.ok(c.tunFromJs >= 3, `echo replies written to the TUN: ${c.tunFromJs}`);
  });

  it('UDP both ways on both families: sends leave from the adopted port, IPv4 senders are not v4-mapped', async () => {
    // A UDP endpoint in the namespace: prints its ports, sends disco-looking datagrams to the data
    // plane from 127.0.0.1 and ::1, then reports what arrived from the data plane.
    const prog = `
      const dgram = require('dgram'); const got = [];
      const s4 = dgram.createSocket('udp4'), s6 = dgram.createSocket({ type: 'udp6', ipv6Only: true });
      for (const s of [s4, s6]) s.on('message', (m, r) => got.push({ from: r.address + ':' + r.port, text: m.toString() }));
      let n = 0; const up = () => { if (++n < 2) return;
        console.log(JSON.stringify({ p4: s4.address().port, p6: s6.address().port }));
        const disco = Buffer.concat([Buffer.from('${DISCO_MAGIC.toString('hex')}', 'hex'), Buffer.alloc(80, 0x61)]);
        s4.send(disco, ${adopted.port}, '127.0.0.1'); s6.send(disco, ${adopted.port}, '::1');
        setTimeout(() => { console.log(JSON.stringify(got)); process.exit(0); }, 1500); };
      s4.bind(0, '127.0.0.1', up); s6.bind(0, '::1', up);`;
    const peer = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', prog], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const first = await new Promise<{ p4: number; p6: number }>((res) => {
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (!out.includes('\n')) return;
        peer.stdout.off('data', onData);
        peer.stdout.on('data', (more: Buffer) => (out += more.toString()));
        res(JSON.parse(out.slice(0, out.indexOf('\n'))));
      };
      peer.stdout.on('data', onData);
    });
    await rx.call('sendUdp', { addr: `127.0.0.1:${first.p4}`, text: 'hello over v4' });
    await rx.call('sendUdp', { addr: `[::1]:${first.p6}`, text: 'hello over v6' });
    await new Promise((r) => peer.once('exit', r));
    const got = JSON.parse(out.trim().split('\n').pop()!) as { from: string; text: string }[];
    assert.deepEqual(got.sort((a, b) => a.text.localeCompare(b.text)), [
      { from: `127.0.0.1:${adopted.port}`, text: 'hello over v4' },
      { from: `::1:${adopted.port}`, text: 'hello over v6' },
    ]);
    const disco = rx.events.filter((e) => e.event === 'disco').map((e) => e.src).sort();
    assert.deepEqual(disco, [`127.0.0.1:${first.p4}`, `[::1]:${first.p6}`].sort(), 'sources as the engine expects them');
  });

  it('close() releases the adopted descriptors: the TUN disappears and the port is free', async () => {
    await rx.call('close');
    const link = sh(['ip', '-n', NS, 'link', 'show', TUN], { allowFail: true });
    assert.notEqual(link.code, 0, `TUN still present: ${link.stdout}`);
    const ss = sh(['ip', 'netns', 'exec', NS, 'ss', '-uanp']).stdout;
    assert.ok(!ss.includes(`:${adopted.port} `), ss);
  });

  it('refuses an offload (IFF_VNET_HDR) TUN and closes what it was given on failure', () => {
    const prog = `
      const a = require(${JSON.stringify(addon)}); const { execFileSync } = require('child_process');
      const out = {};
      const gone = (n) => { try { execFileSync('ip', ['link', 'show', n], { stdio: 'ignore' }); return false; } catch { return true; } };
      const key = Buffer.alloc(32, 7);
      let t = a.openTunFd({ name: 'mtfd1', mtu: 1280, offload: false }), u = a.openUdpFd({ port: 0 });
      try { new a.DataPlane({ tunName: 'x', mtu: 1280, listenPort: 0, privateKey: key, tunFd: t.fd, udpFd: u.fd, tunOffload: true }); } catch (e) { out.flagged = e.message; }
      out.flaggedGone = gone('mtfd1');
      t = a.openTunFd({ name: 'mtfd2', mtu: 1280, offload: true }); u = a.openUdpFd({ port: 0 });
      out.offloadOpened = t.offload;
      try { new a.DataPlane({ tunName: 'x', mtu: 1280, listenPort: 0, privateKey: key, tunFd: t.fd, udpFd: u.fd }); } catch (e) { out.vnet = e.message; }
      out.vnetGone = gone('mtfd2');
      try { new a.DataPlane({ tunName: 'x', mtu: 1280, listenPort: 0, privateKey: key, tunFd: 100000 }); } catch (e) { out.bad = e.message; }
      console.log(JSON.stringify(out));`;
    const r = sh(['ip', 'netns', 'exec', NS, process.execPath, '-e', prog]);
    const out = JSON.parse(r.stdout) as Record<string, string | boolean>;
    assert.match(String(out.flagged), /offload: false/);
    assert.equal(out.flaggedGone, true, 'the descriptors were closed when the constructor refused them');
    assert.equal(out.offloadOpened, true);
    assert.match(String(out.vnet), /IFF_VNET_HDR/);
    assert.equal(out.vnetGone, true);
    assert.match(String(out.bad), /not an open descriptor/);
  });
});
