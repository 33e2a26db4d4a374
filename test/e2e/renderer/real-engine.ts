// The real engine for the renderer e2e tests: a meshtrayd process on a temp LocalAPI socket, a
// loopback Headscale (test/e2e/control/headscale-loopback.ts), and tailscaled peers in userspace
// mode on loopback (no namespaces, no route changes). Everything is stopped in stop().
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalClient } from '../../../main/client/localapi-client.js';
import { LoopbackHeadscale, headscaleAvailable } from '../control/headscale-loopback.js';
import { repoRoot, runningCompiled } from './paths.js';

export const TS_DIR = process.env.MESHTRAY_TAILSCALE_DIR ?? '/var/cache/meshtray-lab/bin/tailscale-v1.98.10';

export function realEngineUnavailable(): string | undefined {
  return headscaleAvailable() ?? (existsSync(join(TS_DIR, 'tailscaled')) ? undefined : `tailscaled not found in ${TS_DIR}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : String(last)}` : ''}`);
}

function run(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 60_000, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args.slice(0, 3).join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

export class TailscaledPeer {
  private proc: ChildProcess | undefined;
  constructor(
    readonly name: string,
    readonly dir: string,
  ) {}
  get socket(): string {
    return join(this.dir, 'ts.sock');
  }
  async start(): Promise<void> {
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const fd = openSync(join(this.dir, 'tailscaled.log'), 'a');
    try {
      this.proc = spawn(join(TS_DIR, 'tailscaled'), [`--statedir=${this.dir}`, `--socket=${this.socket}`, '--tun=userspace-networking', '--port=0', '--no-logs-no-support'], {
        stdio: ['ignore', fd, fd],
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TS_LOGS_DIR: join(this.dir, 'logs'), TS_NO_LOGS_NO_SUPPORT: 'true', TS_DISABLE_PORTMAPPER: '1', TS_ASSUME_NETWORK_UP_FOR_TEST: '1' },
      });
    } finally {
      closeSync(fd);
    }
    await waitFor(`${this.name} tailscaled socket`, () => existsSync(this.socket) || undefined, 20_000);
  }
  cli(args: string[]): Promise<string> {
    return run(join(TS_DIR, 'tailscale'), [`--socket=${this.socket}`, ...args]);
  }
  stop(): void {
    this.proc?.kill('SIGKILL');
  }
  logTail(): string {
    try {
      return readFileSync(join(this.dir, 'tailscaled.log'), 'utf8').split('\n').slice(-30).join('\n');
    } catch {
      return '';
    }
  }
}

export class RealEngine {
  hs!: LoopbackHeadscale;
  client!: LocalClient;
  readonly peers: TailscaledPeer[] = [];
  private daemon: ChildProcess | undefined;
  private daemonExited = false;
  readonly dir = mkdtempSync('/tmp/mt-e2e-renderer-');
  userId = '';

  get socket(): string {
    return join(this.dir, 'meshtrayd.sock');
  }

  /**
   * `configureHeadscale` runs after Headscale first came up (e.g. to add an oidc: block and restart);
   * `createUser: false` leaves user creation to the login (OIDC users must not be pre-created).
   */
  static async start(opts: { createUser?: boolean; configureHeadscale?: (hs: LoopbackHeadscale) => Promise<void>; daemon?: boolean } = {}): Promise<RealEngine> {
    const e = new RealEngine();
    try {
      e.hs = await LoopbackHeadscale.start();
      if (opts.configureHeadscale) await opts.configureHeadscale(e.hs);
      if (opts.createUser !== false) {
        const user = (await e.hs.cliJson(['users', 'create', 'alice', '--email', 'alice@example.com', '-d', 'Alice'])) as { id: number | string };
        e.userId = String(user.id);
      }
      if (opts.daemon !== false) await e.startDaemon();
      return e;
    } catch (err) {
      await e.stop();
      throw err;
    }
  }

  private async startDaemon(): Promise<void> {
    const root = repoRoot();
    const args = runningCompiled()
      ? [join(root, 'dist', 'main', 'daemon', 'main.js')]
      : ['--import', 'tsx', join(root, 'main', 'daemon', 'main.ts')];
    const fd = openSync(join(this.dir, 'meshtrayd.log'), 'a');
    try {
      this.daemon = spawn(process.execPath, [...args, '--state=mem:', `--socket=${this.socket}`, '--tun=userspace-networking', '--port=0', '--verbose=1'], {
        stdio: ['ignore', fd, fd],
        cwd: root,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir },
      });
    } finally {
      closeSync(fd);
    }
    this.daemon.once('exit', () => (this.daemonExited = true));
    this.client = new LocalClient({ socketPath: this.socket, timeoutMs: 20_000 });
    await waitFor('meshtrayd LocalAPI', async () => {
      if (this.daemonExited) throw new Error(`meshtrayd exited:\n${this.daemonLog()}`);
      return (await this.client.call('status', {})) ? true : undefined;
    }, 30_000);
  }

  daemonLog(lines = 40): string {
    try {
      return readFileSync(join(this.dir, 'meshtrayd.log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** A tailscaled peer joined with a pre-auth key; exit node routes approved when asked. */
  async addPeer(name: string, opts: { exitNode?: boolean } = {}): Promise<TailscaledPeer> {
    const p = new TailscaledPeer(name, join(this.dir, name));
    this.peers.push(p);
    await p.start();
    const key = ((await this.hs.cliJson(['preauthkeys', 'create', '--user', this.userId, '--reusable', '--expiration', '1h'])) as { key: string }).key;
    // Via a 0600 file (`--auth-key=file:PATH`, tailscale cmd/tailscale/cli/up.go getAuthKey): not on a command line `ps` shows.
    const keyFile = join(p.dir, '.auth-key');
    writeFileSync(keyFile, key, { mode: 0o600 });
    try {
      await p.cli(['up', `--login-server=${this.hs.serverURL}`, `--auth-key=file:${keyFile}`, `--hostname=${name}`, '--accept-dns=false', '--timeout=60s', ...(opts.exitNode ? ['--advertise-exit-node'] : [])]);
    } finally {
      rmSync(keyFile, { force: true });
    }
    if (opts.exitNode) {
      const id = await this.nodeId(name);
      await this.hs.cli(['nodes', 'approve-routes', '-i', id, '-r', '0.0.0.0/0,::/0']);
    }
    return p;
  }

  async nodeId(name: string): Promise<string> {
    const nodes = (await this.hs.cliJson(['nodes', 'list'])) as { id: number | string; name?: string; given_name?: string }[];
    const n = nodes.find((x) => x.name === name || x.given_name === name);
    if (!n) throw new Error(`node ${name} not in headscale`);
    return String(n.id);
  }

  /** What a user does on Headscale's /register/<id> page: run the shown CLI command. */
  async approveAuthURL(authURL: string, user = 'alice'): Promise<void> {
    const authId = new URL(authURL).pathname.split('/').filter(Boolean).at(-1);
    if (!authId) throw new Error(`no auth id in ${authURL}`);
    await this.hs.cli(['auth', 'register', '--auth-id', authId, '--user', user]);
  }

  /** Stops meshtrayd (SIGTERM) and waits for it, as when the service is stopped under a running app. */
  async killDaemon(): Promise<void> {
    if (!this.daemon || this.daemonExited) return;
    const gone = new Promise<void>((r) => this.daemon!.once('exit', () => r()));
    this.daemon.kill('SIGTERM');
    await gone;
  }

  async stop(): Promise<void> {
    for (const p of this.peers) p.stop();
    if (this.daemon && !this.daemonExited) {
      const gone = new Promise<void>((r) => this.daemon!.once('exit', () => r()));
      this.daemon.kill('SIGTERM');
      const t = setTimeout(() => this.daemon?.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(t);
    }
    this.hs?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
