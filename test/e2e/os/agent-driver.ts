// Drives os-agent.ts (a Meshtray node with the OS integration) inside a lab namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Lab } from '../../lab/lab.js';

export type Ev = { event: string; [k: string]: unknown };

export class Agent {
  readonly events: Ev[] = [];
  private constructor(readonly proc: ChildProcess) {}
  static start(lab: Lab, host: string, authKey: string, extra: Record<string, unknown> = {}): Agent {
    const here = fileURLToPath(import.meta.url);
    const ts = here.endsWith('.ts');
    const file = join(here, '..', `os-agent.${ts ? 'ts' : 'js'}`);
    const stateDir = join(lab.dir, `${host}-state`);
    mkdirSync(stateDir, { recursive: true });
    const argv = ['netns', 'exec', lab.host(host).ns, process.execPath, ...(ts ? ['--import', 'tsx'] : []), file, JSON.stringify({ serverURL: lab.loginServer, authKey, hostname: host, stateDir, ...extra })];
    const p = spawn('ip', argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    const a = new Agent(p);
    // Outside the lab dir (torn down first) so a failure leaves the agent's log behind.
    const logDir = join(fileURLToPath(import.meta.url), '..', '..', '..', '..', 'test-artifacts', 'os');
    mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, `${host}-agent.log`);
    writeFileSync(logFile, '');
    const note = (s: string | Buffer) => {
      try {
        appendFileSync(logFile, s);
      } catch {
        /* log dir gone: ignore */
      }
    };
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          a.events.push(JSON.parse(line) as Ev);
        } catch {
          note(line + '\n');
        }
      }
    });
    p.stderr!.on('data', (d: Buffer) => note(d));
    return a;
  }
  async wait(pred: (e: Ev) => boolean, ms: number, what: string, from = 0): Promise<Ev> {
    const t0 = Date.now();
    for (;;) {
      const e = this.events.slice(from).find(pred);
      if (e) return e;
      if (this.proc.exitCode !== null) throw new Error(`agent exited before ${what}`);
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  async call(cmd: Record<string, unknown>, event: string, ms = 60_000): Promise<Ev> {
    const n = this.events.length;
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    const e = await this.wait((ev) => ev.event === event || (ev.event === 'error' && ev['where'] === cmd['cmd']), ms, String(cmd['cmd']), n);
    if (e.event === 'error') throw Object.assign(new Error(String(e['error'])), { code: e['code'] });
    return e;
  }
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    this.proc.stdin!.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 15_000);
    await new Promise((r) => this.proc.once('exit', r));
    clearTimeout(t);
  }
}

