// WireGuard between Meshtray's native data plane and a REAL tailscaled (v1.98.10), with real
// Headscale (v0.29.2) as control and real derpers:
//  1. relayed by DERP: every WireGuard packet is produced or consumed by boringtun in the addon
//     and carried by Meshtray's DERP client; kernel ping both ways and an exact TCP transfer;
//  2. direct: hosts without NAT, disco over the addon's shared socket proves the path, then a
//     TCP transfer runs natively while the JS-crossing counter stays at the disco level, and
//     `tailscale ping` reports our direct ip:port.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withLab } from '../../lab/with-lab.js';
import type { DataPlaneCounters } from '../../../main/engine/dataplane/data-plane.js';
import { shAsync } from './harness.js';

const here = fileURLToPath(import.meta.url);
const ext = here.endsWith('.ts') ? 'ts' : 'js';
const agentArgv = (): string[] => {
  const file = here.replace(/tailscaled-interop\.test\.(ts|js)$/, `tailscaled-agent.${ext}`);
  return ext === 'ts' ? [process.execPath, '--import', 'tsx', file] : [process.execPath, file];
};

interface AgentEvent { event: string; [k: string]: unknown }

class Agent {
  readonly events: AgentEvent[] = [];
  stderr = '';
  private constructor(readonly proc: ChildProcess) {}
  static start(ns: string, argv: string[]): Agent {
    const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
    const a = new Agent(p);
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try { a.events.push(JSON.parse(line) as AgentEvent); } catch { a.stderr += `[stdout] ${line}\n`; }
      }
    });
    p.stderr!.on('data', (d: Buffer) => (a.stderr += d.toString()));
    return a;
  }
  async waitFor(pred: (e: AgentEvent) => boolean, ms: number, what: string): Promise<AgentEvent> {
    const t0 = Date.now();
    for (;;) {
      const e = [...this.events].reverse().find(pred);
      if (e) return e;
      if (this.proc.exitCode !== null) throw new Error(`agent exited (${this.proc.exitCode}) before ${what}: ${this.stderr}`);
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async counters(): Promise<DataPlaneCounters> {
    const n = this.events.length;
    this.proc.stdin!.write('counters\n');
    const e = await this.waitFor((ev) => ev.event === 'counters' && this.events.indexOf(ev) >= n, 5000, 'counters');
    return e.counters as DataPlaneCounters;
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    this.proc.stdin!.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await new Promise((r) => this.proc.once('exit', r));
    clearTimeout(t);
  }
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
    const agent = Agent.start(lab.ns('m1'), [...agentArgv(), JSON.stringify({ serverURL: lab.loginServer, authKey, hostname: 'm1' })]);
    try {
      const ready = await agent.waitFor((e) => e.event === 'ready', 60_000, 'agent ready');
      const myIP = (ready.addresses as string[]).map((a) => a.replace(/\/\d+$/, '')).find((a) => !a.includes(':'))!;
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
      const server = shAsync([process.execPath, '-e', `
        const h = require('crypto').createHash('sha256'); let n = 0;
        const srv = require('net').createServer((s) => {
          s.on('data', (d) => { n += d.length; h.update(d); });
          s.on('end', () => { s.end(n + ' ' + h.digest('hex')); srv.close(); });
        }).listen(7003, '${t1IP}');
        setTimeout(() => process.exit(3), 90000).unref();`], lab.ns('t1'));
      await new Promise((r) => setTimeout(r, 700));
      const client = await shAsync([process.execPath, '-e', `
        const data = require('crypto').randomBytes(${size});
        const want = require('crypto').createHash('sha256').update(data).digest('hex');
        const s = require('net').connect(7003, '${t1IP}', () => s.end(data));
        let reply = ''; s.on('data', (d) => (reply += d));
        s.on('end', () => console.log(JSON.stringify({ reply, want })));`], lab.ns('m1'));
      const srv = await server;
      assert.equal(client.code, 0, `TCP client: ${client.stderr}`);
      assert.equal(srv.code, 0, `TCP server: ${srv.stderr}`);
      const { reply, want } = JSON.parse(client.stdout) as { reply: string; want: string };
      assert.equal(reply, `${size} ${want}`, 'tailscaled\'s side received every byte unchanged');

      const c = await agent.counters();
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
    const agent = Agent.start(lab.ns('m1'), [...agentArgv(), JSON.stringify({ serverURL: lab.loginServer, authKey, hostname: 'm1', directIp: m1Ip })]);
    try {
      const ready = await agent.waitFor((e) => e.event === 'ready', 60_000, 'agent ready');
      const myIP = (ready.addresses as string[]).map((a) => a.replace(/\/\d+$/, '')).find((a) => !a.includes(':'))!;
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

      const before = await agent.counters();
      const size = 16 * 1024 * 1024;
      const server = shAsync([process.execPath, '-e', `
        const h = require('crypto').createHash('sha256'); let n = 0;
        const srv = require('net').createServer((s) => {
          s.on('data', (d) => { n += d.length; h.update(d); });
          s.on('end', () => { s.end(n + ' ' + h.digest('hex')); srv.close(); });
        }).listen(7004, '${t1IP}');
        setTimeout(() => process.exit(3), 90000).unref();`], lab.ns('t1'));
      await new Promise((r) => setTimeout(r, 700));
      const client = await shAsync([process.execPath, '-e', `
        const data = require('crypto').randomBytes(${size});
        const want = require('crypto').createHash('sha256').update(data).digest('hex');
        const s = require('net').connect(7004, '${t1IP}', () => s.end(data));
        let reply = ''; s.on('data', (d) => (reply += d));
        s.on('end', () => console.log(JSON.stringify({ reply, want })));`], lab.ns('m1'));
      const srv = await server;
      assert.equal(client.code, 0, `TCP client: ${client.stderr}`);
      assert.equal(srv.code, 0, `TCP server: ${srv.stderr}`);
      const { reply, want } = JSON.parse(client.stdout) as { reply: string; want: string };
      assert.equal(reply, `${size} ${want}`);
      const after = await agent.counters();
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
