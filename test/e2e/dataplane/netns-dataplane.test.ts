// The native data plane between two network namespaces: direct WireGuard (ping + TCP), disco and
// STUN up to JS, malformed datagrams counted per reason, and the DERP path (packets leave through
// onDerpSend and are injected on the other side, as the engine's DERP client would carry them).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { DataPlaneCounters, PeerStats } from '../../../main/engine/dataplane/data-plane.js';
import { b64, canRunNetns, genKey, makeNsPair, sh, shAsync, Worker, type NsPair } from './harness.js';

const check = canRunNetns();
if (!check.ok && process.env.CI === 'true') throw new Error(`netns data-plane tests must run in CI: ${check.why}`);
if (!check.ok) console.error(`\n!!! SKIPPING native data-plane netns tests: ${check.why} !!!\n`);

const TUN_A = '100.80.0.1', TUN_B = '100.80.0.2';
const TUN6_A = 'fd7a:115c:a1e0:99::1', TUN6_B = 'fd7a:115c:a1e0:99::2';
const DISCO_MAGIC = Buffer.from([0x54, 0x53, 0xf0, 0x9f, 0x92, 0xac]);

function stunBindingRequest(): Buffer {
  // 20-byte header + SOFTWARE "tailnode" (12) + FINGERPRINT (8) as tailscale net/stun/stun.go builds it;
  // the fingerprint value does not matter to the demultiplexer.
  const b = Buffer.alloc(40);
  b.writeUInt16BE(0x0001, 0); b.writeUInt16BE(20, 2); b.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(b, 8);
  b.writeUInt16BE(0x8022, 20); b.writeUInt16BE(8, 22); b.write('tailnode', 24, 'ascii');
  b.writeUInt16BE(0x8028, 32); b.writeUInt16BE(4, 34);
  return b;
}

function ping(ns: string, dst: string, count = 3): { code: number; stdout: string } {
  return sh(['ping', '-c', String(count), '-i', '0.2', '-W', '3', dst], { ns, allowFail: true, timeoutMs: 30_000 });
}

function pingAsync(ns: string, dst: string, count: number): Promise<{ code: number; stdout: string }> {
  return shAsync(['ping', '-c', String(count), '-i', '0.2', '-W', '3', dst], ns);
}

async function waitFor<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('native data plane in two network namespaces', { skip: !check.ok, timeout: 180_000 }, () => {
  let net: NsPair;
  let A: Worker, B: Worker;
  const kA = genKey(), kB = genKey();
  let portA = 0, portB = 0;
  const counters = (w: Worker): Promise<DataPlaneCounters> => w.call<DataPlaneCounters>('counters');

  const directPeers = async (): Promise<void> => {
    await A.call('setPeers', { peers: [{ publicKey: b64(kB.pub), allowedIps: [`${TUN_B}/32`, `${TUN6_B}/128`], endpoint: `${net.ipB}:${portB}`, useDerp: false }] });
    await B.call('setPeers', { peers: [{ publicKey: b64(kA.pub), allowedIps: [`${TUN_A}/32`, `${TUN6_A}/128`], endpoint: `${net.ipA}:${portA}`, useDerp: false }] });
  };

  before(async () => {
    net = makeNsPair('t');
    A = await Worker.start(net.a);
    B = await Worker.start(net.b);
    const ra = await A.call<{ port: number; tunName: string; offload: boolean }>('open', { tunName: 'mt0', mtu: 1280, listenPort: 41641, privateKey: b64(kA.priv), addresses: [`${TUN_A}/24`, `${TUN6_A}/64`], intercept: ['100.100.100.100/32'], fwmark: 0x80000 });
    // B without TUN offloads, so both TUN read paths (GSO super-packets and plain) carry traffic.
    const rb = await B.call<{ port: number; tunName: string; offload: boolean }>('open', { tunName: 'mt0', mtu: 1280, listenPort: 0, privateKey: b64(kB.priv), addresses: [`${TUN_B}/24`, `${TUN6_B}/64`], offload: false });
    portA = ra.port;
    portB = rb.port;
    assert.equal(portA, 41641, 'the requested listen port is bound');
    assert.ok(portB > 0, 'listenPort 0 binds some port and reports it');
    assert.equal(ra.offload, true, 'Linux TUN offloads are on by default');
    assert.equal(rb.offload, false);
    // Relay "DERP" traffic between the two workers as the engine's DERP client would.
    A.onEvent((e) => { if (e.event === 'derp') void B.call('inject', { src: b64(kA.pub), bytes: e.bytes }); });
    B.onEvent((e) => { if (e.event === 'derp') void A.call('inject', { src: b64(kB.pub), bytes: e.bytes }); });
    await directPeers();
  });

  after(async () => {
    await Promise.allSettled([A?.stop(), B?.stop()]);
    net?.cleanup();
  });

  it('creates the TUN with the requested name, MTU and address', () => {
    const link = sh(['ip', '-o', 'addr', 'show', 'dev', 'mt0'], { ns: net.a }).stdout;
    assert.match(link, new RegExp(`inet ${TUN_A.replace(/\./g, '\\.')}/24`));
    assert.match(sh(['ip', 'link', 'show', 'mt0'], { ns: net.a }).stdout, /mtu 1280/);
  });

  it('carries ping and a TCP transfer over the direct path without crossing into JS', async () => {
    const before = { a: await counters(A), b: await counters(B) };
    const p = ping(net.a, TUN_B, 5);
    assert.equal(p.code, 0, `ping across the tunnel failed:\n${p.stdout}`);
    assert.match(p.stdout, /5 received/);

    // An exact TCP transfer: 24 MiB of random bytes, the receiver replies with its byte count and SHA-256.
    const size = 24 * 1024 * 1024;
    const server = shAsync([process.execPath, '-e', `
      const h = require('crypto').createHash('sha256'); let n = 0;
      const srv = require('net').createServer((s) => {
        s.on('data', (d) => { n += d.length; h.update(d); });
        s.on('end', () => { s.end(n + ' ' + h.digest('hex')); srv.close(); });
      }).listen(7001, '${TUN_B}', () => console.log('listening'));
      setTimeout(() => process.exit(3), 60000).unref();`], net.b);
    await new Promise((r) => setTimeout(r, 700));
    const client = sh([process.execPath, '-e', `
      const data = require('crypto').randomBytes(${size});
      const want = require('crypto').createHash('sha256').update(data).digest('hex');
      const s = require('net').connect(7001, '${TUN_B}', () => s.end(data));
      let reply = ''; s.on('data', (d) => (reply += d));
      s.on('end', () => { console.log(JSON.stringify({ reply, want })); });`], { ns: net.a, allowFail: true, timeoutMs: 90_000 });
    const srv = await server;
    assert.equal(client.code, 0, `TCP client failed: ${client.stderr}`);
    assert.equal(srv.code, 0, `TCP server failed: ${srv.stderr}`);
    const { reply, want } = JSON.parse(client.stdout) as { reply: string; want: string };
    assert.equal(reply, `${size} ${want}`, 'the receiver got every byte, unchanged');

    // Throughput, for information (not a timed assertion).
    const iperfSrv = shAsync(['iperf3', '-s', '-1', '-B', TUN_B, '-p', '5201'], net.b);
    await new Promise((r) => setTimeout(r, 500));
    const iperf = sh(['iperf3', '-c', TUN_B, '-p', '5201', '-t', '2', '-J'], { ns: net.a, allowFail: true, timeoutMs: 30_000 });
    await iperfSrv;
    assert.equal(iperf.code, 0, `iperf3 failed: ${iperf.stderr}`);
    const report = JSON.parse(iperf.stdout) as { end: { sum_received: { bits_per_second: number } } };
    console.log(`# iperf3 TCP over the native tunnel (both ends in this process tree): ${(report.end.sum_received.bits_per_second / 1e6).toFixed(0)} Mbit/s`);

    const afterA = await counters(A), afterB = await counters(B);
    const sent = afterA.direct.txPackets - before.a.direct.txPackets;
    assert.ok(sent > 10_000, `expected many direct WireGuard packets, saw ${sent}`);
    assert.ok(afterB.direct.rxPackets - before.b.direct.rxPackets > 10_000);
    // Only the one-off "peer B now sends from ip:port" note may cross (at most once per side).
    for (const [side, b0, b1] of [['A', before.a, afterA], ['B', before.b, afterB]] as const) {
      assert.equal(b1.toJs.disco + b1.toJs.stun + b1.toJs.derpSend - (b0.toJs.disco + b0.toJs.stun + b0.toJs.derpSend), 0, `no direct-path packet may cross into JS on ${side}`);
      assert.ok(b1.toJs.peerAddr - b0.toJs.peerAddr <= 1, `peerAddr fires on change only (${side})`);
    }
    const pa = await A.waitEvent((e) => e.event === 'peerAddr', 1000);
    assert.deepEqual({ peer: pa.peer, addr: pa.addr }, { peer: b64(kB.pub), addr: `${net.ipB}:${portB}` });
    assert.equal(afterA.derp.txPackets, 0, 'nothing goes via DERP for a peer with only a direct endpoint');

    const stats = await A.call<(Omit<PeerStats, 'publicKey'> & { publicKey: string })[]>('peerStats');
    assert.equal(stats.length, 1);
    assert.ok(stats[0]!.lastHandshakeMs !== null && stats[0]!.lastHandshakeMs < 60_000, 'a handshake completed');
    assert.equal(stats[0]!.lastRxAddr, `${net.ipB}:${portB}`);
  });

  it('marks the shared socket so policy routing keeps WireGuard out of its own tunnel', async () => {
    const ss = sh(['ss', '-u', '-a', '-n', '-e'], { ns: net.a }).stdout;
    const line = ss.split('\n').find((l) => l.includes(':41641 '));
    assert.match(line ?? '', /fwmark:0x80000/, `A's socket carries the bypass mark:\n${ss}`);
    // What an exit node or a subnet route covering the underlay does: unmarked traffic to B's
    // underlay address goes into the TUN (table 52); marked traffic uses the main table.
    const rules: string[][] = [
      ['ip', 'route', 'add', `${net.ipB}/32`, 'dev', 'mt0', 'table', '52'],
      ['ip', 'rule', 'add', 'pref', '5210', 'fwmark', '0x80000/0xff0000', 'table', 'main'],
      ['ip', 'rule', 'add', 'pref', '5270', 'table', '52'],
    ];
    for (const r of rules) sh(r, { ns: net.a });
    try {
      const unmarked = sh(['ping', '-c', '1', '-W', '1', net.ipB], { ns: net.a, allowFail: true });
      assert.notEqual(unmarked.code, 0, 'control: unmarked traffic to the underlay is captured by the tunnel route');
      await A.call('setPeers', { peers: [] }); // drop sessions so the next ping needs a fresh handshake
      await directPeers();
      const p = await pingAsync(net.a, TUN_B, 3);
      assert.equal(p.code, 0, `WireGuard over the marked socket still reaches B:\n${p.stdout}`);
    } finally {
      sh(['ip', 'rule', 'del', 'pref', '5270'], { ns: net.a, allowFail: true });
      sh(['ip', 'rule', 'del', 'pref', '5210'], { ns: net.a, allowFail: true });
      sh(['ip', 'route', 'flush', 'table', '52'], { ns: net.a, allowFail: true });
    }
  });

  it('carries IPv6 inside the tunnel, over an IPv6 underlay endpoint', async () => {
    await A.call('setPeers', { peers: [{ publicKey: b64(kB.pub), allowedIps: [`${TUN_B}/32`, `${TUN6_B}/128`], endpoint: `[${net.ip6B}]:${portB}`, useDerp: false }] });
    await B.call('setPeers', { peers: [{ publicKey: b64(kA.pub), allowedIps: [`${TUN_A}/32`, `${TUN6_A}/128`], endpoint: `[${net.ip6A}]:${portA}`, useDerp: false }] });
    const p = await shAsync(['ping', '-6', '-c', '3', '-i', '0.2', '-W', '3', TUN6_B], net.a);
    assert.equal(p.code, 0, `ping6 across the tunnel failed:\n${p.stdout}${p.stderr}`);
    const stats = await A.call<{ lastRxAddr: string | null; endpoint: string | null }[]>('peerStats');
    assert.equal(stats[0]!.endpoint, `[${net.ip6B}]:${portB}`);
    assert.equal(stats[0]!.lastRxAddr, `[${net.ip6B}]:${portB}`, 'replies came over the IPv6 socket on the same port');
    await directPeers();
  });

  it('hands packets for intercepted destinations (quad-100) to JS and writes JS answers into the TUN', async () => {
    sh(['ip', 'route', 'add', '100.100.100.100/32', 'dev', 'mt0'], { ns: net.a });
    const before = await counters(A);
    const p = await shAsync(['ping', '-c', '3', '-i', '0.2', '-W', '3', '100.100.100.100'], net.a);
    assert.equal(p.code, 0, `the JS responder behind onIntercept/writeToTun did not answer:\n${p.stdout}`);
    const after = await counters(A);
    assert.equal(after.toJs.intercept - before.toJs.intercept, 3);
    assert.equal(after.tunFromJs - before.tunFromJs, 3);
    assert.equal(after.direct.txPackets - before.direct.txPackets, 0, 'intercepted packets never go to a peer');
    await assert.rejects(A.call('writeToTun', { bytes: b64(Buffer.from('not an IP packet')) }), (e: Error & { code?: string }) => e.code === 'ERR_BAD_REQUEST');
  });

  it('hands disco and STUN datagrams on the shared port up to JS, with their source address', async () => {
    const before = await counters(B);
    const disco = Buffer.concat([DISCO_MAGIC, randomBytes(32 + 24 + 16 + 20)]);
    const stun = stunBindingRequest();
    await A.call('sendUdp', { addr: `${net.ipB}:${portB}`, bytes: b64(disco) });
    await A.call('sendUdp', { addr: `${net.ipB}:${portB}`, bytes: b64(stun) });
    const d = await B.waitEvent((e) => e.event === 'disco', 5000);
    const s = await B.waitEvent((e) => e.event === 'stun', 5000);
    assert.equal(d.src, `${net.ipA}:${portA}`, 'disco comes from the same socket WireGuard uses');
    assert.equal(d.bytes, b64(disco));
    assert.equal(s.src, `${net.ipA}:${portA}`);
    assert.equal(s.bytes, b64(stun));
    const after = await counters(B);
    assert.equal(after.toJs.disco - before.toJs.disco, 1);
    assert.equal(after.toJs.stun - before.toJs.stun, 1);
    assert.equal((await counters(A)).udpSendFromJs >= 2, true);
  });

  it('drops garbage, truncated, oversized and unknown-peer datagrams by reason and keeps working', async () => {
    const before = (await counters(B)).drops;
    const wgData = (index: number): Buffer => {
      const b = Buffer.alloc(64);
      b.writeUInt32LE(4, 0); b.writeUInt32LE(index, 4); randomBytes(56).copy(b, 8);
      return b;
    };
    const init = Buffer.alloc(148); init.writeUInt32LE(1, 0); randomBytes(144).copy(init, 4);
    const packets = [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'), randomBytes(300).fill(0xff, 0, 1), Buffer.from([0x00]), // garbage x3
      Buffer.concat([DISCO_MAGIC, randomBytes(30)]), Buffer.from([1, 0, 0, 0, 9, 9, 9]), // truncated x2
      randomBytes(20_000), // oversized (default limit 9216)
      wgData(0x7fffffff), init, // unknown peer x2: no such receiver index; an initiation nobody we know sealed
    ];
    await A.call('rawSend', { addr: `${net.ipB}:${portB}`, packets: packets.map(b64) });
    const after = await waitFor(async () => (await counters(B)).drops, (d) => d.oversized - before.oversized >= 1 && d.unknownPeer - before.unknownPeer >= 2);
    assert.equal(after.garbage - before.garbage, 3, 'garbage');
    assert.equal(after.truncated - before.truncated, 2, 'truncated');
    assert.equal(after.oversized - before.oversized, 1, 'oversized');
    assert.equal(after.unknownPeer - before.unknownPeer, 2, 'unknown peer');
    assert.equal(after.internalError, 0, 'no panics');
    const p = ping(net.a, TUN_B, 2);
    assert.equal(p.code, 0, 'the tunnel still works after bad input');
  });

  it('survives a storm of random datagrams, accounting for every one of them', async () => {
    const N = 2000;
    const packets: Buffer[] = [];
    for (let i = 0; i < N; i++) {
      const kind = i % 5;
      // Half look like WireGuard (right type and size, random content), the rest is random bytes.
      const len = [148, 92, 64, 32 + (i % 1400), 1 + (i % 1500)][kind]!;
      const b = randomBytes(len);
      if (kind < 4) { b.writeUInt32LE(kind + 1, 0); }
      else if (b[0]! >= 1 && b[0]! <= 4) b[0] = 0x80; // keep the random ones clearly not WireGuard
      packets.push(b);
    }
    const sum = (d: Record<string, number>): number => Object.values(d).reduce((x, y) => x + y, 0);
    const before = (await counters(B)).drops;
    for (let i = 0; i < N; i += 250) await A.call('rawSend', { addr: `${net.ipB}:${portB}`, packets: packets.slice(i, i + 250).map(b64) });
    const after = await waitFor(async () => (await counters(B)).drops, (d) => sum(d) - sum(before) >= N, 10_000);
    assert.equal(sum(after) - sum(before), N, 'each datagram dropped exactly once, under one reason');
    assert.equal(after.internalError, 0);
    assert.equal(ping(net.a, TUN_B, 2).code, 0, 'the tunnel still works');
  });

  it('rejects bad arguments with a clear error instead of crashing', async () => {
    await assert.rejects(A.call('setPeers', { peers: [{ publicKey: b64(new Uint8Array(31)), allowedIps: [], endpoint: null, useDerp: false }] }), /32 bytes/);
    await assert.rejects(A.call('setPeers', { peers: [{ publicKey: b64(kB.pub), allowedIps: ['100.80.0.2/40'], endpoint: null, useDerp: false }] }), /prefix/);
    await assert.rejects(A.call('sendUdp', { addr: 'not-an-address', bytes: b64(Buffer.from('x')) }), (e: Error & { code?: string }) => e.code === 'ERR_BAD_REQUEST');
    // The failed calls left the previous peer set in place.
    assert.equal(ping(net.a, TUN_B, 1).code, 0);
  });

  it('carries ping over the DERP path, keeps sessions across setPeers, and counts bad DERP input', async () => {
    const statsBefore = await A.call<{ txBytes: number }[]>('peerStats');
    await A.call('setPeers', { peers: [{ publicKey: b64(kB.pub), allowedIps: [`${TUN_B}/32`, `${TUN6_B}/128`], endpoint: null, useDerp: true }] });
    await B.call('setPeers', { peers: [{ publicKey: b64(kA.pub), allowedIps: [`${TUN_A}/32`, `${TUN6_A}/128`], endpoint: null, useDerp: true }] });
    const statsAfter = await A.call<{ txBytes: number; useDerp: boolean }[]>('peerStats');
    assert.ok(statsAfter[0]!.txBytes >= statsBefore[0]!.txBytes, 'the WireGuard session survived the peer update');
    assert.equal(statsAfter[0]!.useDerp, true);

    const before = { a: await counters(A), b: await counters(B) };
    // The DERP relay runs on this process's event loop, so ping must not block it (no spawnSync).
    const p = await pingAsync(net.a, TUN_B, 4);
    assert.equal(p.code, 0, `ping over DERP failed:\n${p.stdout}`);
    assert.match(p.stdout, /4 received/);
    const a = await counters(A), b = await counters(B);
    assert.ok(a.derp.txPackets - before.a.derp.txPackets >= 4, 'A sent via DERP');
    assert.ok(a.toJs.derpSend - before.a.toJs.derpSend >= 4, 'DERP packets are the ones that cross into JS');
    assert.ok(b.derp.rxPackets - before.b.derp.rxPackets >= 4, 'B received via injectFromDerp');
    assert.equal(a.direct.txPackets - before.a.direct.txPackets, 0, 'no direct sends for a DERP-only peer');

    // Replay and corruption of a real packet taken from the DERP stream.
    const captured = A.events.filter((e) => e.event === 'derp').map((e) => Buffer.from(String(e.bytes), 'base64')).filter((x) => x.readUInt32LE(0) === 4 && x.length > 32);
    assert.ok(captured.length > 0);
    const pkt = captured[captured.length - 1]!;
    // A fresh counter far ahead (so the replay window lets it through) and a broken tag.
    const corrupt = Buffer.from(pkt);
    corrupt.writeBigUInt64LE(corrupt.readBigUInt64LE(8) + 1000n, 8);
    corrupt[corrupt.length - 1]! ^= 0xff;
    const d0 = (await counters(B)).drops;
    await B.call('inject', { src: b64(kA.pub), bytes: b64(pkt) }); // replay
    await B.call('inject', { src: b64(kA.pub), bytes: b64(corrupt) });
    await B.call('inject', { src: b64(genKey().pub), bytes: b64(pkt) }); // a key that is not a peer
    await B.call('inject', { src: b64(kA.pub), bytes: b64(Buffer.from('garbage over derp')) });
    const d1 = (await counters(B)).drops;
    assert.equal(d1.replay - d0.replay, 1, 'replay');
    assert.equal(d1.decrypt - d0.decrypt, 1, 'decrypt failure');
    assert.equal(d1.unknownPeer - d0.unknownPeer, 1, 'unknown DERP source');
    assert.equal(d1.garbage - d0.garbage, 1, 'garbage over DERP');

    // Back to direct: upgrade in place.
    await directPeers();
    assert.equal((await pingAsync(net.a, TUN_B, 2)).code, 0);
  });

  it('close() removes the TUN, frees the port, and later calls fail cleanly', async () => {
    await B.call('close');
    assert.notEqual(sh(['ip', 'link', 'show', 'mt0'], { ns: net.b, allowFail: true }).code, 0, 'the TUN is gone');
    const bind = sh([process.execPath, '-e', `const s = require('dgram').createSocket('udp4'); s.bind(${portB}, () => { console.log('bound'); s.close(); });`], { ns: net.b, allowFail: true });
    assert.match(bind.stdout, /bound/, 'the UDP port is free again');
    await assert.rejects(B.call('setPeers', { peers: [] }), /closed/);
    await assert.rejects(B.call('sendUdp', { addr: `${net.ipA}:${portA}`, bytes: b64(Buffer.from('x')) }), /closed/);
  });
});
