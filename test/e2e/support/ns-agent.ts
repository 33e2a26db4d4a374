// The test side of every lab agent: a Node script started inside a lab namespace that prints JSON
// event lines on stdout, reads commands on stdin and exits when stdin closes (test/e2e/derp/disco-agent.ts,
// test/e2e/dataplane/tailscaled-agent.ts, test/e2e/magicsock/magicsock-agent.ts, test/e2e/os/os-agent.ts;
// the agent side of the framing is support/agent-io.ts). Its config (which holds a pre-auth key) goes in the
// environment, never on the command line: argv is readable by every user through `ps`, a process's
// environment only by its owner and root.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AGENT_CONFIG_ENV } from './agent-config.js';

export interface AgentEvent { event: string; [k: string]: unknown }

/** node argv for `script` next to the file at `callerUrl` (import.meta.url): .ts under tsx, .js from dist/. */
export function siblingScriptArgv(callerUrl: string, script: string): string[] {
  const here = fileURLToPath(callerUrl);
  const ext = here.endsWith('.ts') ? 'ts' : 'js';
  const file = here.replace(/[^/]+$/, `${script}.${ext}`);
  return ext === 'ts' ? [process.execPath, '--import', 'tsx', file] : [process.execPath, file];
}

/** The first tailnet IPv4 of a node's Addresses ("100.64.0.3/32" -> "100.64.0.3"). */
export function tailnetIPv4(addresses: unknown): string | undefined {
  return (Array.isArray(addresses) ? (addresses as string[]) : []).map((a) => a.replace(/\/\d+$/, '')).find((a) => !a.includes(':'));
}

export interface NsAgentOptions {
  /** Also append the agent's stderr (and any non-JSON stdout) here, e.g. for test-artifacts. */
  logFile?: string;
  /** SIGKILL this long after stdin closed if the agent has not exited (default 5 s). */
  stopGraceMs?: number;
}

export class NsAgent {
  readonly events: AgentEvent[] = [];
  /** The last 200 kB of the agent's stderr (and non-JSON stdout lines). */
  stderr = '';
  private constructor(readonly proc: ChildProcess, private readonly opts: NsAgentOptions) {}

  /** Starts `argv` in namespace `ns`; `config` reaches the agent as JSON in its environment. */
  static start(ns: string, argv: string[], config: unknown, opts: NsAgentOptions = {}): NsAgent {
    const p = spawn('ip', ['netns', 'exec', ns, ...argv], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, [AGENT_CONFIG_ENV]: JSON.stringify(config) },
    });
    const a = new NsAgent(p, opts);
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try { a.events.push(JSON.parse(line) as AgentEvent); } catch { a.note(`[stdout] ${line}\n`); }
      }
    });
    p.stderr!.on('data', (d: Buffer) => a.note(d.toString()));
    return a;
  }

  private note(s: string): void {
    this.stderr = (this.stderr + s).slice(-200_000);
    if (!this.opts.logFile) return;
    try {
      appendFileSync(this.opts.logFile, s);
    } catch {
      /* log dir removed (lab torn down): the in-memory tail remains */
    }
  }

  /** The first event matching `pred` at index >= `since` (0 = any event so far or to come). */
  async waitFor(pred: (e: AgentEvent) => boolean, ms: number, what: string, since = 0): Promise<AgentEvent> {
    const t0 = Date.now();
    for (;;) {
      const e = this.events.slice(since).find(pred);
      if (e) return e;
      if (this.proc.exitCode !== null) throw new Error(`agent exited (${this.proc.exitCode}) before ${what}: ${this.stderr.slice(-2000)}\nevents: ${this.eventNames()}`);
      if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; events: ${this.eventNames()}; stderr: ${this.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends a command line and waits for the first event `reply` printed after it. */
  async request(command: string, reply: string, ms = 5000): Promise<AgentEvent> {
    const n = this.events.length;
    this.proc.stdin!.write(`${command}\n`);
    return this.waitFor((ev) => ev.event === reply, ms, reply, n);
  }

  /**
   * Sends a JSON command ({cmd: 'ping', …}) and waits for its reply event; an error event for this
   * command (agent-io.ts) is thrown as an Error carrying the agent's `code`.
   */
  async call(cmd: { cmd: string; [k: string]: unknown }, reply: string, ms = 30_000): Promise<AgentEvent> {
    const n = this.events.length;
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n');
    const e = await this.waitFor((ev) => ev.event === reply || (ev.event === 'error' && ev['where'] === cmd.cmd), ms, `${cmd.cmd} → ${reply}`, n);
    if (e.event === 'error') throw Object.assign(new Error(`agent ${cmd.cmd}: ${String(e['error'])}`), { code: e['code'] });
    return e;
  }

  /** Closes stdin (the agent's signal to clean up and exit); SIGKILL after the grace time. */
  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    this.proc.stdin!.end();
    const t = setTimeout(() => this.proc.kill('SIGKILL'), this.opts.stopGraceMs ?? 5000);
    await new Promise((r) => this.proc.once('exit', r));
    clearTimeout(t);
  }

  private eventNames(): string {
    return JSON.stringify(this.events.map((e) => e.event));
  }
}

/**
 * Base for typed wrappers around one kind of agent (magicsock/agent-harness.ts MagicAgent,
 * os/agent-driver.ts Agent): the events, waiting, commands and stop of the NsAgent inside.
 */
export class AgentHandle {
  constructor(readonly agent: NsAgent) {}
  get events(): AgentEvent[] {
    return this.agent.events;
  }
  get proc(): ChildProcess {
    return this.agent.proc;
  }
  waitFor(pred: (e: AgentEvent) => boolean, ms: number, what: string, from = 0): Promise<AgentEvent> {
    return this.agent.waitFor(pred, ms, what, from);
  }
  call(cmd: { cmd: string; [k: string]: unknown }, reply: string, ms?: number): Promise<AgentEvent> {
    return this.agent.call(cmd, reply, ms);
  }
  stop(): Promise<void> {
    return this.agent.stop();
  }
}
