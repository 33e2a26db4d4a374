// A minimal real Headscale (v0.29.2) on 127.0.0.1 for the control-client e2e tests: a temp dir,
// a free port, the lab's config (test/lab/headscale-config.ts, lab.md §2) with no gRPC listener and no
// metrics listener unless asked, so parallel runs cannot collide, and the
// headscale CLI over its unix socket. Everything the test started is stopped and deleted in stop(),
// which the tests call in `finally`. Loopback only: no namespace, no route changes.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { freeLoopbackPort } from '../support/free-port.js';
import { HEADSCALE_SOCKET_NAME, renderDerpMap, renderHeadscaleConfig } from '../../lab/headscale-config.js';

export const HEADSCALE_BIN = process.env.MESHTRAY_HEADSCALE_BIN ?? '/var/cache/meshtray-lab/bin/headscale-v0.29.2/headscale';

export function headscaleAvailable(): string | undefined {
  return existsSync(HEADSCALE_BIN) ? undefined : `headscale binary not found at ${HEADSCALE_BIN} (run test/lab/install.sh or set MESHTRAY_HEADSCALE_BIN)`;
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

export class LoopbackHeadscale {
  private proc: ChildProcess | undefined;
  private exited = false;
  private constructor(
    readonly dir: string,
    readonly port: number,
    /** 0 = no metrics/debug listener. */
    readonly metricsPort: number,
  ) {}

  get serverURL(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  get configPath(): string {
    return join(this.dir, 'config.yaml');
  }
  get logPath(): string {
    return join(this.dir, 'headscale.log');
  }

  /** `debug: true` also opens the metrics/debug listener (GET /debug/ping?node=<id> sends a PingRequest). */
  static async start(opts: { debug?: boolean } = {}): Promise<LoopbackHeadscale> {
    const dir = mkdtempSync('/tmp/mt-hs-');
    const hs = new LoopbackHeadscale(dir, await freeLoopbackPort(), opts.debug ? await freeLoopbackPort() : 0);
    try {
      hs.writeConfig();
      await hs.spawn();
      return hs;
    } catch (e) {
      hs.stop();
      throw e;
    }
  }

  /** The lab's config writer (test/lab/headscale-config.ts) with loopback listeners. */
  private writeConfig(): void {
    const derpMapPath = join(this.dir, 'derp.yaml');
    // One region that is never dialled: Headscale needs a valid map (lab.md §2), the tests no relay.
    writeFileSync(derpMapPath, renderDerpMap([{ regionId: 900, regionCode: 'loop', regionName: 'Loopback test region', ip: '127.0.0.1', stunPort: -1, derpPort: 1 }]));
    writeFileSync(
      this.configPath,
      renderHeadscaleConfig({
        dir: this.dir,
        listenIp: '127.0.0.1',
        port: this.port,
        derpMapPath,
        metricsListenAddr: this.metricsPort ? `127.0.0.1:${this.metricsPort}` : '',
        grpcListenAddr: '',
      }),
    );
  }

  private async spawn(): Promise<void> {
    const fd = openSync(this.logPath, 'a');
    try {
      this.proc = spawn(HEADSCALE_BIN, ['-c', this.configPath, 'serve'], { stdio: ['ignore', fd, fd], env: { PATH: '/usr/bin:/bin' } });
    } finally {
      closeSync(fd);
    }
    this.exited = false;
    this.proc.once('exit', () => {
      this.exited = true;
    });
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      if (this.exited) throw new Error(`headscale exited at start; log:\n${this.logTail()}`);
      if ((await httpStatus(`${this.serverURL}/health`)) === 200 && existsSync(join(this.dir, HEADSCALE_SOCKET_NAME))) return;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`headscale did not become healthy within 30 s; log:\n${this.logTail()}`);
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Runs the headscale CLI (over the unix socket) and returns stdout; throws with stderr on failure. */
  cli(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(HEADSCALE_BIN, ['-c', this.configPath, ...args], { timeout: 20_000, env: { PATH: '/usr/bin:/bin' } }, (err, stdout, stderr) => {
        if (err) reject(new Error(`headscale ${args[0]} ${args[1] ?? ''} failed: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      });
    });
  }

  async cliJson(args: string[]): Promise<unknown> {
    return JSON.parse(await this.cli([...args, '-o', 'json'])) as unknown;
  }

  /** Stops the server (SIGTERM, then SIGKILL) and keeps the data dir, for restart tests. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || this.exited) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(t);
  }

  /** Starts again on the same database and Noise key. */
  async restart(): Promise<void> {
    await this.kill();
    await this.spawn();
  }

  /** Stops the process and deletes the temp dir (synchronous kill so it also works from exit paths). */
  stop(): void {
    if (this.proc && !this.exited) this.proc.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
