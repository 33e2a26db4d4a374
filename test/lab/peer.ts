// One Peer interface for the lab's nodes. Two implementations: TailscaledPeer (the reference:
// real tailscaled + tailscale CLI) and MeshtraydPeer (node bin/meshtrayd.js + bin/meshtray.js,
// which take the same daemon flags and CLI verbs), so any scenario can swap Meshtray in.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_PATH, run, wrapArgv, type RunResult } from './exec.js';
import { LabError } from './errors.js';
import { findAuthUrl, parsePongs, parseStatus, type Pong, type Status } from './peer-output.js';
import { LabProcess, waitFor } from './proc.js';
import { redactArgv, redactText } from './redact.js';

export type PeerKind = 'tailscaled' | 'meshtrayd';

export interface UpOptions {
  loginServer: string;
  authKey?: string;
  hostname: string;
  /** Extra `up` flags, e.g. ['--advertise-routes=10.20.0.0/24']. `--accept-dns=false` is added unless present. */
  extraArgs?: string[];
  timeoutMs?: number;
}

export interface PingOptions {
  /** --c (default 10) */
  count?: number;
  /** per-ping --timeout (default 5000 ms) */
  timeoutMs?: number;
  /** tailscale's default is true: stop at the first direct pong */
  untilDirect?: boolean;
  kind?: 'disco' | 'tsmp' | 'icmp' | 'peerapi';
}

export interface PingResult {
  pongs: Pong[];
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface InteractiveUp {
  authUrl: string;
  /** Resolves when the `up` process exits (after the node was registered, or on its timeout). */
  done: Promise<RunResult>;
}

export interface Peer {
  readonly kind: PeerKind;
  /** Lab name of the node (also its default hostname). */
  readonly name: string;
  readonly ns: string;
  /** Directory holding this peer's state and logs (copied to test-artifacts on failure). */
  readonly dir: string;
  readonly logDir: string;
  readonly socket: string;
  /** Starts the daemon and waits until its CLI answers `status --json`. */
  start(): Promise<void>;
  up(o: UpOptions): Promise<RunResult>;
  /** `up` without a key: returns the AuthURL as soon as it is printed; the `up` keeps waiting. */
  upInteractive(o: Omit<UpOptions, 'authKey'>): Promise<InteractiveUp>;
  status(): Promise<Status>;
  /** Waits until status satisfies `pred` (polls; bounded). */
  waitStatus(what: string, pred: (s: Status) => boolean, timeoutMs?: number): Promise<Status>;
  ping(target: string, o?: PingOptions): Promise<PingResult>;
  netcheck(): Promise<unknown>;
  ip(): Promise<string[]>;
  down(): Promise<RunResult>;
  logout(): Promise<RunResult>;
  /** Any CLI verb: `cli(['debug','derp-map'])`. Runs in the peer's namespace. */
  cli(args: string[], timeoutMs?: number): Promise<RunResult>;
  stop(): void;
  isRunning(): boolean;
  readonly pid: number | undefined;
}

export interface PeerOptions {
  name: string;
  ns: string;
  dir: string;
  /** UDP port (--port); default 41641 (each node is in its own namespace). */
  port?: number;
  /** --tun; default tailscale0 (TUN works inside a netns) */
  tun?: string;
  /** Extra environment for the daemon, e.g. { TS_DEBUG_ALWAYS_USE_DERP: '1' } */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

/** Shared behaviour: both CLIs take the same verbs and flags. */
export abstract class CliPeer implements Peer {
  abstract readonly kind: PeerKind;
  protected proc: LabProcess | undefined;
  readonly logDir: string;
  readonly socket: string;

  constructor(readonly opts: PeerOptions) {
    this.logDir = join(opts.dir, 'logs');
    this.socket = join(opts.dir, 'daemon.sock');
  }
  get name(): string {
    return this.opts.name;
  }
  get ns(): string {
    return this.opts.ns;
  }
  get dir(): string {
    return this.opts.dir;
  }
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** argv of the daemon (without namespace/env wrapping) */
  protected abstract daemonArgv(): string[];
  /** environment of the daemon (started with a clean env plus this) */
  protected abstract daemonEnv(): Record<string, string>;
  /** argv prefix of the CLI, up to and including --socket */
  protected abstract cliArgv(): string[];
  protected abstract get daemonLog(): string;

  async start(): Promise<void> {
    mkdirSync(this.logDir, { recursive: true });
    this.proc = LabProcess.start({
      name: `${this.name}/${this.kind}`,
      ns: this.ns,
      cleanEnv: true,
      env: { ...this.daemonEnv(), ...this.opts.env },
      logFile: this.daemonLog,
      argv: this.daemonArgv(),
    });
    await waitFor(
      `${this.kind} on ${this.name}`,
      async () => {
        const r = await this.cli(['status', '--json'], 3000);
        // Before login, `status --json` still succeeds (BackendState NeedsLogin/NoState).
        if (r.code === 0) return true;
        return (r.stderr || r.stdout).trim().split('\n').pop() ?? `exit ${r.code}`;
      },
      { timeoutMs: this.opts.startTimeoutMs ?? 20_000, proc: this.proc },
    );
  }

  cli(args: string[], timeoutMs = 30_000): Promise<RunResult> {
    return run([...this.cliArgv(), ...args], { ns: this.ns, cleanEnv: true, timeoutMs });
  }

  private upArgs(o: Omit<UpOptions, 'authKey'>): string[] {
    const extra = o.extraArgs ?? [];
    const args = ['up', `--login-server=${o.loginServer}`, `--hostname=${o.hostname}`];
    if (!extra.some((a) => a.startsWith('--accept-dns'))) args.push('--accept-dns=false');
    args.push(`--timeout=${Math.ceil((o.timeoutMs ?? 60_000) / 1000)}s`, ...extra);
    return args;
  }

  async up(o: UpOptions): Promise<RunResult> {
    const args = this.upArgs(o);
    // The key goes in a 0600 file named by `--auth-key=file:PATH` (both CLIs read it: tailscale
    // cmd/tailscale/cli/up.go getAuthKey, main/cli/auth-key.ts), never on the command line, which
    // every user can read through `ps`.
    const keyFile = o.authKey ? join(this.dir, `.auth-key-${process.pid}-${Date.now()}`) : undefined;
    if (keyFile) {
      mkdirSync(this.dir, { recursive: true });
      writeFileSync(keyFile, o.authKey!, { mode: 0o600 });
      args.push(`--auth-key=file:${keyFile}`);
    }
    let r: RunResult;
    try {
      r = await this.cli(args, (o.timeoutMs ?? 60_000) + 10_000);
    } finally {
      if (keyFile) rmSync(keyFile, { force: true });
    }
    if (r.code !== 0) {
      throw new LabError(`${this.name}: \`${redactArgv([this.kind === 'tailscaled' ? 'tailscale' : 'meshtray', ...args])}\` failed (${r.code}): ${redactText((r.stderr || r.stdout).trim())}; daemon log ${this.daemonLog}`);
    }
    return r;
  }

  async upInteractive(o: Omit<UpOptions, 'authKey'>): Promise<InteractiveUp> {
    const argv = wrapArgv([...this.cliArgv(), ...this.upArgs(o), '--json'], { ns: this.ns, cleanEnv: true });
    const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: LAB_PATH }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const done = new Promise<RunResult>((resolve) => {
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, timedOut: false }));
      child.on('error', (e) => resolve({ code: 127, signal: null, stdout, stderr: stderr + String(e), timedOut: false }));
    });
    let exited = false;
    void done.then(() => (exited = true));
    let authUrl: string | undefined;
    await waitFor(
      `${this.name}: AuthURL from interactive up`,
      async () => {
        authUrl = findAuthUrl(stdout, stderr);
        if (authUrl) return true;
        if (exited) throw new LabError(`${this.name}: up exited before printing an AuthURL: ${(stderr || stdout).trim()}`);
        return 'no AuthURL printed yet';
      },
      { timeoutMs: o.timeoutMs ?? 30_000, intervalMs: 50 },
    );
    return { authUrl: authUrl!, done };
  }

  async status(): Promise<Status> {
    const r = await this.cli(['status', '--json'], 10_000);
    if (r.code !== 0) throw new LabError(`${this.name}: status --json failed (${r.code}): ${r.stderr.trim()}`);
    return parseStatus(r.stdout);
  }

  async waitStatus(what: string, pred: (s: Status) => boolean, timeoutMs = 30_000): Promise<Status> {
    let last: Status | undefined;
    await waitFor(
      `${this.name}: ${what}`,
      async () => {
        last = await this.status();
        return pred(last) || `BackendState=${last.BackendState}, peers=[${Object.values(last.Peer).map((p) => `${p.HostName}${p.Online ? '' : '(offline)'}`).join(',')}]`;
      },
      { timeoutMs, intervalMs: 200, ...(this.proc ? { proc: this.proc } : {}) },
    );
    return last!;
  }

  async ping(target: string, o: PingOptions = {}): Promise<PingResult> {
    const count = o.count ?? 10;
    const per = o.timeoutMs ?? 5000;
    const args = ['ping', `--c=${count}`, `--timeout=${Math.ceil(per / 1000)}s`, `--until-direct=${o.untilDirect ?? true}`];
    if (o.kind && o.kind !== 'disco') args.push(`--${o.kind}`);
    args.push(target);
    // Each relayed pong is followed by a 1 s sleep in the CLI (ping.go), so bound by count*(per+1s).
    const r = await this.cli(args, count * (per + 1500) + 5000);
    return { pongs: parsePongs(r.stdout), code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  async netcheck(): Promise<unknown> {
    // netcheck runs in the CLI process, so it must run in the node's namespace (cli() does).
    const r = await this.cli(['netcheck', '--format=json'], 60_000);
    if (r.code !== 0) throw new LabError(`${this.name}: netcheck failed (${r.code}): ${r.stderr.trim()}`);
    return JSON.parse(r.stdout);
  }

  async ip(): Promise<string[]> {
    const r = await this.cli(['ip'], 10_000);
    if (r.code !== 0) throw new LabError(`${this.name}: ip failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  }

  down(): Promise<RunResult> {
    return this.cli(['down'], 30_000);
  }

  logout(): Promise<RunResult> {
    return this.cli(['logout'], 30_000);
  }

  isRunning(): boolean {
    return this.proc?.isRunning() ?? false;
  }

  stop(): void {
    this.proc?.stop();
  }
}
