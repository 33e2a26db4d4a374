// WireGuard between Meshtray's native data plane and a REAL tailscaled (v1.98.10), with real
// Headscale (v0.29.2) as control and real derpers:
//  1. relayed by DERP: every WireGuard packet is produced or consumed by boringtun in the addon
//     and carried by Meshtray's DERP client; kernel ping both ways and an exact TCP transfer;
//  2. direct: hosts without NAT, disco over the addon's shared socket proves the path, then a
//     TCP transfer runs natively while the JS-crossing counter stays at the disco level, and
//     `tailscale ping` reports our direct ip:port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withLab } from '../../lab/with-lab.js';
import type { DataPlaneCounters } from '../../../main/engine/dataplane/data-plane.js';
import { NsAgent, siblingScriptArgv, tailnetIPv4 } from '../support/ns-agent.js';
import { shAsync } from './harness.js';

const agentArgv = (): string[] => siblingScriptArgv(import.meta.url, 'tailscaled-agent');

async function counters(agent: NsAgent): Promise<DataPlaneCounters> {
  return (await agent.request('counters', 'counters')).counters as DataPlaneCounters;
}

/**
 * Sends `size` random bytes over TCP from namespace `clientNs` to a one-shot server on `ip:port`
 * in `serverNs`; the server answers "<bytes received> <sha256>". Returns that reply and the
 * sha256 of what was sent, for the caller to compare.
 */
async function tcpTransfer(o: { serverNs: string; clientNs: string; ip: string; port: number; size: number }): Promise<{ reply: string; want: string }> {
  const server = shAsync([process.execPath, '-e', `
    const h = require('crypto').createHash('sha256'); let n = 0;
    const srv = require('net').createServer((s) => {
      s.on('data', (d) => { n += d.length; h.update(d); });
      s.on('end', () => { s.end(n + ' ' + h.digest('hex')); srv.close(); });
    }).listen(${o.port}, '${o.ip}');
    setTimeout(() => process.exit(3), 90000).unref();`], o.serverNs);
  await new Promise((r) => setTimeout(r, 700));
  const client = await shAsync([process.execPath, '-e', `
    const data = require('crypto').randomBytes(${o.size});
    const want = require('crypto').createHash('sha256').update(data).digest('hex');
    const s = require('net').connect(${o.port}, '${o.ip}', () => s.end(data));
    let reply = ''; s.on('data', (d) => (reply += d));
    s.on('end', () => console.log(JSON.stringify({ reply, want })));`], o.clientNs);
  const srv = await server;
  assert.equal(client.code, 0, `TCP client: ${client.stderr}`);
  assert.equal(srv.code, 0, `TCP server: ${srv.stderr}`);
  return JSON.parse(client.stdout) as { reply: string; want: string };
}

async function pingUntil(ns: string, ip: string, ms: number): Promise<{ code: number; stdout: string }> {
  const t0 = Date.now();
  for (;;) {
    const r = await shAsync(['ping', '-c', '3', '-i', '0.3', '-W', '2', ip], ns);
    if (r.code === 0 || Date.now() - t0 > ms) return r;
    await new Promise((res) => setTimeout(res, 500));
  }
}

test('native data plane <-> real tailscaled over DERP: ping both ways and an exact TCP transfer', { timeout: 240_000 }, async (t) => {
  await withLab(t, { hosts: [{ name: 't1', nat: 'easy' }, { name: 'm1', nat: 'easy', peer: 'none' }] }, async (lab) => {
    const t1 = lab.hosts.get('t1')!.peer!;
    const authKey = await lab.authKey();
    const agent = NsAgent.start(lab.ns('m1'), agentArgv(), { serverURL: lab.loginServer, authKey, hostname: 'm1' });
    try {
      const ready = await agent.waitFor((e) => e.event === 'ready', 60_000, 'agent ready');
      const myIP = tailnetIPv4(ready.addresses)!;
      await agent.waitFor((e) => e.event === 'peers' && Number(e.count) >= 1, 30_000, 'tailscaled in our netmap');
      const t1IP = (await t1.status()).Self?.TailscaleIPs?.find((a: string) => !a.includes(':'));
      assert.ok(myIP && t1IP, `tailnet IPs: ours ${myIP}, t1 ${t1IP}`);

      // tailscaled -> us: its kernel sends ICMP into tailscale0; WireGuard over DERP to our addon.
      const p1 = await pingUntil(lab.ns('t1'), myIP, 30_000);
      t.diagnostic(p1.stdout.trim().split('\n').slice(-2).join(' | '));
      assert.equal(p1.code, 0, `ping tailscaled -> meshtray failed:\n${p1.stdout}\n${agent.stderr.slice(-1500)}`);

      // us -> tailscaled.
      const p2 = await pingUntil(lab.ns('m1'), t1IP!, 15_000);
      assert.equal(p2.code, 0, `ping meshtray -> tailscaled failed:\n${p2.stdout}`);

      // An exact TCP transfer from us to a server in tailscaled's namespace, over the tailnet.
      const size = 2 * 1024 * 1024;
      const { reply, want } = await tcpTransfer({ serverNs: lab.ns('t1'), clientNs: lab.ns('m1'), ip: t1IP!, port: 7003, size });
      assert.equal(reply, `${size} ${want}`, 'tailscaled\'s side received every byte unchanged');

      const c = await counters(agent);
      t.diagnostic(`addon: derp tx ${c.derp.txPackets} rx ${c.derp.rxPackets}, drops ${JSON.stringify(Object.fromEntries(Object.entries(c.drops).filter(([, v]) => v > 0)))}`);
      assert.ok(c.derp.txPackets > 100 && c.derp.rxPackets > 100);
      assert.equal(c.drops.decrypt, 0, 'every WireGuard packet from tailscaled decrypted');
      assert.equal(c.drops.internalError, 0);
    } finally {
      await agent.stop();
    }
  });
});

test('native data plane <-> real tailscaled on a direct path: WireGuard stays native, tailscale ping goes direct', { timeout: 240_000 }, async (t) => {
  await withLab(t, { hosts: [{ name: 't1', nat: 'none' }, { name: 'm1', nat: 'none', peer: 'none' }] }, async (lab) => {
    const t1 = lab.hosts.get('t1')!.peer!;
    const m1Ip = lab.hosts.get('m1')!.publicIp;
    const authKey = await lab.authKey();
    const agent = NsAgent.start(lab.ns('m1'), agentArgv(), { serverURL: lab.loginServer, authKey, hostname: 'm1', directIp: m1Ip });
    try {
      const ready = await agent.waitFor((e) => e.event === 'ready', 60_000, 'agent ready');
      const myIP = tailnetIPv4(ready.addresses)!;
      const t1IP = (await t1.status()).Self?.TailscaleIPs?.find((a: string) => !a.includes(':'))!;
      const d = await agent.waitFor((e) => e.event === 'direct', 60_000, 'a disco pong over UDP from tailscaled');
      t.diagnostic(`direct path to t1: ${String(d.endpoint)} (t1 saw us at ${String(d.pongSrc)})`);
      assert.equal(String(d.pongSrc).split(':')[0], m1Ip, 'tailscaled saw our pings come from our own address');

      const p = await pingUntil(lab.ns('m1'), t1IP, 20_000);
      assert.equal(p.code, 0, `ping meshtray -> tailscaled failed:\n${p.stdout}`);

      // tailscaled's own disco ping: answered on the addon's socket, so it reports a direct path.
      let direct = false;
      for (let i = 0; i < 10 && !direct; i++) {
        const r = await t1.ping(myIP, { count: 3, untilDirect: true, timeoutMs: 5000 });
        direct = r.pongs.some((x) => x.via.kind === 'direct' && x.via.endpoint === `${m1Ip}:${Number(ready.port)}`);
        t.diagnostic(r.stdout.trim().split('\n').slice(-1)[0] ?? '');
      }
      assert.ok(direct, 'tailscale ping reached us directly');

      const before = await counters(agent);
      const size = 16 * 1024 * 1024;
      const { reply, want } = await tcpTransfer({ serverNs: lab.ns('t1'), clientNs: lab.ns('m1'), ip: t1IP, port: 7004, size });
      assert.equal(reply, `${size} ${want}`);
      const after = await counters(agent);
      const wg = after.direct.txPackets - before.direct.txPackets;
      const crossed = after.toJs.total - before.toJs.total;
      t.diagnostic(`during the transfer: ${wg} direct WireGuard packets sent, ${after.direct.rxPackets - before.direct.rxPackets} received, ${crossed} packets crossed into JS (${JSON.stringify(after.toJs)}), derp tx ${after.derp.txPackets - before.derp.txPackets}`);
      assert.ok(wg > 5000, 'the transfer went over the direct path');
      assert.ok(crossed < 50, `only disco/keep-alive traffic crosses into JS under load (saw ${crossed})`);
      assert.equal(after.derp.txPackets - before.derp.txPackets, 0, 'nothing of the transfer went via DERP');
      assert.equal(after.drops.decrypt, 0);
    } finally {
      await agent.stop();
    }
  });
});
