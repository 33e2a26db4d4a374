// Drives magicsock-agent.ts inside a lab namespace (through the one lab-agent driver,
// support/ns-agent.ts), and small helpers for the tests (kernel ping, TCP transfer through the tailnet).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { DataPlaneCounters } from '../../../main/engine/dataplane/data-plane.js';
import { run as labRun } from '../../lab/exec.js';
import type { Lab } from '../../lab/lab.js';
import type { EngineNodeArgs } from '../support/engine-node.js';
import { AgentHandle, NsAgent, siblingScriptArgv, tailnetIPv4, type AgentEvent } from '../support/ns-agent.js';

export type { AgentEvent };
export interface AgentPing { latencyMs: number; endpoint?: string; derpRegionId?: number; derpRegionCode?: string }
export interface AgentPeer { name: string; key: string; CurAddr: string; RxBytes: number; TxBytes: number; Active: boolean; InMagicSock: boolean; InEngine: boolean; LastHandshake?: string; debug?: Record<string, unknown> }

/** The magicsock agent's commands, typed. */
export class MagicAgent extends AgentHandle {
  static start(ns: string, args: EngineNodeArgs, logFile?: string): MagicAgent {
    return new MagicAgent(NsAgent.start(ns, siblingScriptArgv(import.meta.url, 'magicsock-agent'), args, logFile ? { logFile } : {}));
  }

  async ping(target: string, timeoutMs = 5000): Promise<AgentPing | null> {
    const e = await this.call({ cmd: 'ping', target, timeoutMs }, 'ping', timeoutMs + 5000);
    if (e['error']) throw new Error(`ping: ${String(e['error'])}`);
    return (e['result'] as AgentPing | null) ?? null;
  }

  /** Pings up to `count` times, 1 s apart, until one comes back direct (tailscale ping --until-direct). */
  async pingUntilDirect(target: string, count = 10): Promise<AgentPing[]> {
    const out: AgentPing[] = [];
    for (let i = 0; i < count; i++) {
      const r = await this.ping(target);
      if (r) out.push(r);
      if (r?.endpoint) break;
      await new Promise((res) => setTimeout(res, 1000));
    }
    return out;
  }

  async metrics(): Promise<{ metrics: Record<string, number>; counters: DataPlaneCounters }> {
    const e = await this.call({ cmd: 'metrics' }, 'metrics');
    return { metrics: e['metrics'] as Record<string, number>, counters: e['counters'] as DataPlaneCounters };
  }

  async peers(): Promise<AgentPeer[]> {
    return (await this.call({ cmd: 'peers' }, 'peers'))['peers'] as AgentPeer[];
  }

  async derpStatus(): Promise<{ regionId: number; state: string; home: boolean }[]> {
    return (await this.call({ cmd: 'peers' }, 'peers'))['derp'] as { regionId: number; state: string; home: boolean }[];
  }
}

/** A command in a namespace (the lab's runner), with this file's older result shape. */
export async function run(argv: string[], ns: string, timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await labRun(argv, { ns, timeoutMs });
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Kernel ICMP ping through the tailnet, retried until it works or `ms` passes. */
export async function icmpUntil(ns: string, ip: string, ms: number): Promise<{ code: number; stdout: string }> {
  const t0 = Date.now();
  for (;;) {
    const r = await run(['ping', '-c', '3', '-i', '0.3', '-W', '2', ip], ns, 15_000);
    if (r.code === 0 || Date.now() - t0 > ms) return r;
    await new Promise((res) => setTimeout(res, 500));
  }
}

/**
 * A TCP transfer of `bytes` random-ish bytes from `clientNs` to a listener on `serverIp:port` in
 * `serverNs` (Node on both ends); resolves with both sides' SHA-256 so the test can compare.
 */
export async function tcpTransfer(serverNs: string, serverIp: string, clientNs: string, bytes: number, port = 5601, timeoutMs = 120_000, paceMs = 0): Promise<{ sent: string; received: string; receivedBytes: number; ms: number }> {
  const server = `
    const net = require('node:net'); const crypto = require('node:crypto');
    const h = crypto.createHash('sha256'); let n = 0;
    const srv = net.createServer((s) => { s.on('data', (d) => { h.update(d); n += d.length; }); s.on('end', () => { process.stdout.write(JSON.stringify({ n, sha: h.digest('hex') }) + '\\n'); s.end(); srv.close(); }); });
    srv.listen(${port}, ${JSON.stringify(serverIp)}, () => process.stdout.write('listening\\n'));`;
  const client = `
    const net = require('node:net'); const crypto = require('node:crypto');
    const total = ${bytes}; const h = crypto.createHash('sha256'); let sent = 0; const t0 = Date.now();
    const chunk = (i) => { const b = Buffer.alloc(65536); for (let j = 0; j < b.length; j += 4) b.writeUInt32LE((i * 2654435761 + j) >>> 0, j); return b; };
    const s = net.connect(${port}, ${JSON.stringify(serverIp)}, () => {
      let i = 0;
      const pace = ${paceMs};
      const pump = () => { while (sent < total) { const c = chunk(i++).subarray(0, Math.min(65536, total - sent)); h.update(c); sent += c.length; const ok = s.write(c); if (pace > 0 && sent < total) return setTimeout(pump, pace); if (!ok) return s.once('drain', pump); } s.end(); };
      pump();
    });
    s.on('close', () => process.stdout.write(JSON.stringify({ sha: h.digest('hex'), ms: Date.now() - t0 }) + '\\n'));
    s.on('error', (e) => { process.stderr.write(String(e)); process.exit(1); });`;
  const srv = spawn('ip', ['netns', 'exec', serverNs, process.execPath, '-e', server], { stdio: ['ignore', 'pipe', 'pipe'] });
  let srvOut = '';
  srv.stdout.on('data', (d) => (srvOut += d));
  const t0 = Date.now();
  while (!srvOut.includes('listening')) {
    if (Date.now() - t0 > 10_000 || srv.exitCode !== null) throw new Error('TCP listener did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const c = await run([process.execPath, '-e', client], clientNs, timeoutMs);
  const t1 = Date.now();
  while (!srvOut.includes('"sha"') && Date.now() - t1 < 10_000) await new Promise((r) => setTimeout(r, 50));
  srv.kill();
  if (c.code !== 0) throw new Error(`TCP client failed (${c.code}): ${c.stderr}`);
  const cr = JSON.parse(c.stdout.trim().split('\n').pop()!) as { sha: string; ms: number };
  const sr = JSON.parse(srvOut.trim().split('\n').pop()!) as { sha: string; n: number };
  return { sent: cr.sha, received: sr.sha, receivedBytes: sr.n, ms: cr.ms };
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Starts the agent on a lab host with a fresh pre-auth key; resolves once it is on DERP and has told control its endpoints. */
export async function startAgent(lab: Lab, host: string): Promise<{ agent: MagicAgent; ip: string }> {
  const authKey = await lab.authKey();
  const agent = MagicAgent.start(lab.host(host).ns, { serverURL: lab.loginServer, authKey, hostname: host }, join(lab.dir, `${host}-agent.log`));
  const ready = await agent.waitFor((e) => e.event === 'ready', 60_000, 'agent ready');
  return { agent, ip: tailnetIPv4(ready['addresses'])! };
}

export async function tailscaleIPv4(lab: Lab, host: string): Promise<string> {
  const ips = await lab.peer(host).ip();
  return ips.find((i) => !i.includes(':'))!;
}
