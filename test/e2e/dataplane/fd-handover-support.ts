// Shared by the fd-handover tests: the stand-in helper (fd-handover-helper.ts, root, inside a
// namespace) and the receiver (fd-handover-receiver.ts, an IPC-driven child, usually uid 65534).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const isTs = here.endsWith('.ts');
/** Node arguments to run a sibling script, from the sources (tsx) or from dist/. */
const script = (name: string): string[] => [...(isTs ? ['--import', 'tsx'] : []), here.replace(/fd-handover-support\.(ts|js)$/, `${name}.${isTs ? 'ts' : 'js'}`)];

/** The receiver: an IPC-driven child (fd-handover-receiver.ts), as uid 65534 when `asNobody`. */
export class Receiver {
  private id = 1;
  private pending = new Map<number, { res: (v: unknown) => void; rej: (e: Error) => void }>();
  readonly events: { event: string; [k: string]: unknown }[] = [];
  private constructor(readonly child: ChildProcess) {
    child.on('message', (m: { id?: number; result?: unknown; error?: string; code?: string; event?: string }) => {
      if (m.id === undefined) { this.events.push(m as { event: string }); return; }
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error !== undefined) p?.rej(Object.assign(new Error(m.error), { code: m.code }));
      else p?.res(m.result);
    });
    child.on('exit', () => { for (const p of this.pending.values()) p.rej(new Error('receiver exited')); });
  }
  static async start(asNobody: boolean): Promise<Receiver> {
    const argv = [process.execPath, ...script('fd-handover-receiver')];
    const cmd = asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv] : argv;
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, HOME: '/tmp' } });
    const r = new Receiver(child);
    const t0 = Date.now();
    while (!r.events.some((e) => e.event === 'ready')) {
      if (Date.now() - t0 > 30_000 || child.exitCode !== null) throw new Error('receiver did not start');
      await new Promise((res) => setTimeout(res, 50));
    }
    return r;
  }
  call<T>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.id++;
    return new Promise<T>((res, rej) => {
      this.pending.set(id, { res: res as (v: unknown) => void, rej });
      this.child.send({ id, op, ...args });
    });
  }
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.child.disconnect?.();
    await new Promise<void>((r) => {
      const t = setTimeout(() => { this.child.kill('SIGKILL'); r(); }, 3000);
      this.child.once('exit', () => { clearTimeout(t); r(); });
    });
  }
}

/** Starts the helper in the namespace; resolves with what it opened once it listens. */
export interface Helper { proc: ChildProcess; opened: { tun: { name: string; offload: boolean }; udp: { port: number } } }

export async function startHelper(ns: string, socketPath: string, tun: string, addrs: string[], mark: number): Promise<Helper> {
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, ...script('fd-handover-helper'), socketPath, tun, addrs.join(','), String(mark)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((res, rej) => {
    let buf = '';
    proc.stdout!.on('data', (d) => { buf += d; if (buf.includes('\n')) res(buf.slice(0, buf.indexOf('\n'))); });
    proc.once('exit', (c) => rej(new Error(`helper exited with ${c} before listening`)));
  });
  return { proc, opened: JSON.parse(line) };
}
