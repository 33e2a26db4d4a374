// Test harness for the native data plane: a pair of network namespaces joined by a veth pair,
// and a worker process per namespace hosting a DataPlane. Everything is created inside the
// namespaces (`ip -n` / `ip netns exec`); the root namespace is never touched.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { x25519 } from '@noble/curves/ed25519.js';
import { clamp } from '../../../main/engine/keys/keys.js';

export function sh(args: string[], opts: { ns?: string; allowFail?: boolean; timeoutMs?: number } = {}): { code: number; stdout: string; stderr: string } {
  const argv = opts.ns ? ['ip', 'netns', 'exec', opts.ns, ...args] : args;
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: opts.timeoutMs ?? 30_000 });
  const out = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
  if (out.code !== 0 && !opts.allowFail) throw new Error(`${argv.join(' ')} failed (${out.code}): ${out.stderr.trim()}`);
  return out;
}

export function shAsync(args: string[], ns: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function canRunNetns(): { ok: boolean; why?: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'needs root (network namespaces, TUN)' };
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, why: '`ip netns` unavailable' };
  return { ok: true };
}

export interface NsPair { a: string; b: string; ipA: string; ipB: string; ip6A: string; ip6B: string; cleanup(): void }

/** nsA (10.99.x.1) <-veth-> nsB (10.99.x.2). Cleans up on process exit too. */
export function makeNsPair(tag: string): NsPair {
  const id = `${tag}${process.pid % 100000}`;
  const a = `mtdp-${id}-a`, b = `mtdp-${id}-b`;
  const octet = 1 + (process.pid % 250);
  const ipA = `10.99.${octet}.1`, ipB = `10.99.${octet}.2`;
  const ip6A = `fd00:99:${octet.toString(16)}::1`, ip6B = `fd00:99:${octet.toString(16)}::2`;
  const cleanup = (): void => {
    for (const ns of [a, b]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };
  cleanup();
  process.once('exit', cleanup);
  try {
    sh(['ip', 'netns', 'add', a]);
    sh(['ip', 'netns', 'add', b]);
    sh(['ip', '-n', a, 'link', 'add', 'vA', 'type', 'veth', 'peer', 'name', 'vB', 'netns', b]);
    sh(['ip', '-n', a, 'addr', 'add', `${ipA}/24`, 'dev', 'vA']);
    sh(['ip', '-n', b, 'addr', 'add', `${ipB}/24`, 'dev', 'vB']);
    sh(['ip', '-n', a, 'addr', 'add', `${ip6A}/64`, 'dev', 'vA', 'nodad']);
    sh(['ip', '-n', b, 'addr', 'add', `${ip6B}/64`, 'dev', 'vB', 'nodad']);
    // Interfaces created later (the TUNs) get their IPv6 addresses without a DAD delay.
    for (const ns of [a, b]) sh(['sysctl', '-q', '-w', 'net.ipv6.conf.default.accept_dad=0'], { ns });
    for (const [ns, dev] of [[a, 'vA'], [b, 'vB']] as const) {
      sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
      sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (e) {
    cleanup();
    throw e;
  }
  return { a, b, ipA, ipB, ip6A, ip6B, cleanup };
}

export interface KeyPair { priv: Uint8Array; pub: Uint8Array }
export function genKey(): KeyPair {
  const priv = new Uint8Array(randomBytes(32));
  clamp(priv);
  return { priv, pub: x25519.getPublicKey(priv) };
}
export const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');

type Event = { event: string; [k: string]: unknown };

/** A DataPlane in a child process inside namespace `ns`, driven over IPC. */
export class Worker {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly events: Event[] = [];
  private listeners: ((e: Event) => void)[] = [];
  get pid(): number | undefined { return this.child.pid; }
  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: { id?: number; result?: unknown; error?: string; code?: string } & Event) => {
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error !== undefined) p?.reject(Object.assign(new Error(m.error), { code: m.code }));
        else p?.resolve(m.result);
      } else {
        this.events.push(m);
        for (const l of this.listeners) l(m);
      }
    });
    child.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error('worker exited'));
      this.pending.clear();
    });
  }

  static async start(ns: string): Promise<Worker> {
    const here = fileURLToPath(import.meta.url);
    const ts = here.endsWith('.ts');
    const script = here.replace(/harness\.(ts|js)$/, ts ? 'netns-worker.ts' : 'netns-worker.js');
    const args = ['netns', 'exec', ns, process.execPath, ...(ts ? ['--import', 'tsx'] : []), script];
    const child = spawn('ip', args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const w = new Worker(child);
    await w.waitEvent((e) => e.event === 'ready', 20_000);
    return w;
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, op, ...args });
    });
  }

  onEvent(l: (e: Event) => void): void {
    this.listeners.push(l);
  }

  waitEvent(pred: (e: Event) => boolean, timeoutMs: number): Promise<Event> {
    const found = this.events.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for worker event')), timeoutMs);
      this.listeners.push((e) => {
        if (pred(e)) {
          clearTimeout(t);
          resolve(e);
        }
      });
    });
  }

  async stop(): Promise<void> {
    try { await Promise.race([this.call('close'), new Promise((r) => setTimeout(r, 3000))]); } catch { /* already gone */ }
    this.child.disconnect?.();
    await new Promise<void>((r) => {
      if (this.child.exitCode !== null) return r();
      const t = setTimeout(() => { this.child.kill('SIGKILL'); r(); }, 3000);
      this.child.once('exit', () => { clearTimeout(t); r(); });
    });
  }
}
