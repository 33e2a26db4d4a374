// Helpers for the OS-integration e2e tests: a namespace of our own, commands inside it, and a
// worker process running inside it (ip netns exec … node), talking over IPC.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeCommandRunner } from '../../../main/engine/router/node-runner.js';

export function canRunNetns(): { ok: boolean; why?: string } {
  if (process.platform !== 'linux') return { ok: false, why: 'needs Linux network namespaces' };
  if (process.getuid?.() !== 0) return { ok: false, why: 'needs root (network namespaces, iptables)' };
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, why: '`ip netns` unavailable' };
  return { ok: true };
}

/** Skip loudly outside CI, fail under CI=true (team rule). Returns the skip reason or false. */
export function netnsSkip(what: string): string | false {
  const c = canRunNetns();
  return mustRunInCI(c.ok ? false : c.why!, what);
}

/**
 * The one rule for every real test's precondition (root, the built addon, a tool): met → false;
 * missing under CI=true → throw (such tests run in CI, never skip); elsewhere → the reason, said
 * loudly, for `{ skip }`.
 */
export function mustRunInCI(missing: string | false | undefined, what: string): string | false {
  if (!missing) return false;
  if (process.env.CI === 'true') throw new Error(`${what} must run under CI=true: ${missing}`);
  process.stderr.write(`\n!!! SKIPPING ${what}: ${missing} !!!\n\n`);
  return missing;
}

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function sh(argv: readonly string[], o: { ns?: string; allowFail?: boolean; timeoutMs?: number; input?: string } = {}): ShResult {
  const full = o.ns ? ['ip', 'netns', 'exec', o.ns, ...argv] : [...argv];
  const r = spawnSync(full[0]!, full.slice(1), { encoding: 'utf8', timeout: o.timeoutMs ?? 20_000, input: o.input ?? '', env: { ...process.env, LC_ALL: 'C' } });
  const res = { code: r.status ?? 128, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (res.code !== 0 && !o.allowFail) throw new Error(`\`${full.join(' ')}\` exited ${res.code}: ${res.stderr.trim() || res.stdout.trim()}`);
  return res;
}

/** `argv` in namespace `ns` without blocking the event loop: the router's own command runner. */
export function shAsync(argv: readonly string[], o: { ns?: string; timeoutMs?: number } = {}): Promise<ShResult> {
  return nodeCommandRunner({ timeoutMs: o.timeoutMs ?? 30_000, prefix: o.ns ? ['ip', 'netns', 'exec', o.ns] : [] }).run(argv);
}

/** A fresh namespace with lo up and its own resolv.conf; removed on cleanup and on process exit. */
export class TestNs {
  readonly name: string;
  private gone = false;
  constructor(tag: string, resolvConf = 'nameserver 127.0.0.1\n') {
    this.name = `mtos-${tag}-${process.pid % 100000}`;
    sh(['ip', 'netns', 'del', this.name], { allowFail: true });
    sh(['ip', 'netns', 'add', this.name]);
    mkdirSync(join('/etc/netns', this.name), { recursive: true });
    writeFileSync(join('/etc/netns', this.name, 'resolv.conf'), resolvConf);
    sh(['ip', 'link', 'set', 'lo', 'up'], { ns: this.name });
    process.on('exit', () => this.cleanup());
  }
  get resolvConfPath(): string {
    return join('/etc/netns', this.name, 'resolv.conf');
  }
  sh(argv: readonly string[], o: { allowFail?: boolean; timeoutMs?: number } = {}): ShResult {
    return sh(argv, { ...o, ns: this.name });
  }
  cleanup(): void {
    if (this.gone) return;
    this.gone = true;
    spawnSync('ip', ['netns', 'del', this.name]);
    rmSync(join('/etc/netns', this.name), { recursive: true, force: true });
  }
}

type Msg = { id?: number; result?: unknown; error?: string; event?: string; [k: string]: unknown };

/** A node process inside a namespace running `script` (a sibling .ts under tsx, .js when built). */
export class NsWorker {
  private nextId = 1;
  private pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly events: Msg[] = [];
  private waiters: ((m: Msg) => void)[] = [];
  exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: Msg) => {
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error !== undefined) p?.reject(new Error(m.error));
        else p?.resolve(m.result);
      } else {
        this.events.push(m);
        for (const w of this.waiters) w(m);
      }
    });
    this.exited = new Promise((r) => child.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error('worker exited'));
      this.pending.clear();
      r(code);
    }));
  }

  static async start(ns: string, scriptBase: string, args: string[] = []): Promise<NsWorker> {
    const here = fileURLToPath(import.meta.url);
    const ts = here.endsWith('.ts');
    const script = join(here, '..', `${scriptBase}.${ts ? 'ts' : 'js'}`);
    const argv = ['netns', 'exec', ns, process.execPath, ...(ts ? ['--import', 'tsx'] : []), script, ...args];
    const w = new NsWorker(spawn('ip', argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    await w.waitEvent('ready', 30_000);
    return w;
  }

  waitEvent(name: string, ms: number): Promise<Msg> {
    const hit = this.events.find((e) => e.event === name);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`worker: no '${name}' event within ${ms} ms`)), ms);
      this.waiters.push((m) => {
        if (m.event === name) {
          clearTimeout(t);
          resolve(m);
        }
      });
      void this.exited.then((c) => reject(new Error(`worker exited (${c}) before '${name}'`)));
    });
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, op, ...args });
    });
  }

  /** The pid of the node process (ip netns exec execs it, so it is the child's pid). */
  get pid(): number {
    return this.child.pid!;
  }

  kill(sig: NodeJS.Signals): Promise<number | null> {
    this.child.kill(sig);
    return this.exited;
  }
}

/** Serve IPC calls in a worker: handlers by op name; sends {event:'ready'} once installed. */
export function serveWorker(handlers: Record<string, (args: Record<string, unknown>) => unknown>): void {
  process.on('message', async (m: Msg) => {
    const h = handlers[m['op'] as string];
    try {
      if (!h) throw new Error(`unknown op ${String(m['op'])}`);
      process.send!({ id: m.id, result: await h(m) });
    } catch (e) {
      process.send!({ id: m.id, error: (e as Error).message });
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ event: 'ready' });
}
