// Starts the real derper (tailscale v1.98.10) for the DERP e2e tests, with a self-signed IP
// certificate that clients pin (lab.md §4.1: -certmode manual -hostname <IP>). The pin is
// computed from the certificate file, independently of derper's log line, and cross-checked.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, closeSync } from 'node:fs';
import { join } from 'node:path';

export const DERPER_BIN = '/var/cache/meshtray-lab/bin/tailscale-v1.98.10/derper';

export interface DerperSpec {
  dir: string;
  ip: string;
  port: number;
  stunPort: number;
  /** Run inside this network namespace (via `ip netns exec`). */
  ns?: string;
}

export class RealDerper {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  constructor(readonly spec: DerperSpec) {
    mkdirSync(spec.dir, { recursive: true });
  }

  get certFile(): string {
    return join(this.spec.dir, 'certs', `${this.spec.ip}.crt`);
  }
  get logFile(): string {
    return join(this.spec.dir, 'derper.log');
  }
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The "sha256-raw:<hex>" pin of the DER certificate. */
  pin(): string {
    const der = new X509Certificate(readFileSync(this.certFile, 'utf8')).raw;
    return 'sha256-raw:' + createHash('sha256').update(der).digest('hex');
  }

  get running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Starts derper unless it is already running; resolves when TLS and STUN listen. */
  async start(timeoutMs = 20_000): Promise<void> {
    if (this.running) return;
    const s = this.spec;
    const args = [
      '-c', join(s.dir, 'derper.key'), '-a', `${s.ip}:${s.port}`, '-http-port', '-1',
      '-stun-port', String(s.stunPort), '-certmode', 'manual', '-certdir', join(s.dir, 'certs'),
      '-hostname', s.ip, '-home', 'blank',
    ];
    const argv = s.ns ? ['ip', 'netns', 'exec', s.ns, DERPER_BIN, ...args] : [DERPER_BIN, ...args];
    const startOffset = existsSync(this.logFile) ? readFileSync(this.logFile).length : 0;
    const fd = openSync(this.logFile, 'a');
    // `ip netns exec` execs the command, so the child's PID is derper's.
    const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    closeSync(fd);
    this.proc = p;
    this.exited = new Promise((r) => p.once('exit', () => r()));
    const t0 = Date.now();
    for (;;) {
      const log = existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').slice(startOffset) : '';
      if (existsSync(this.certFile) && /derper: serving on .* with TLS/.test(log) && /STUN server listening/.test(log)) break;
      if (p.exitCode !== null) throw new Error(`derper exited (${p.exitCode}): ${log}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`derper not ready after ${timeoutMs} ms: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const logged = /"CertName":"(sha256-raw:[0-9a-f]+)"/.exec(readFileSync(this.logFile, 'utf8'))?.[1];
    if (logged && logged !== this.pin()) throw new Error(`pin mismatch: file ${this.pin()} vs derper log ${logged}`);
  }

  /** SIGKILL (a crash) or SIGTERM, and wait for exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    p.kill(signal);
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }

  /** A DERPMap region entry for this derper. */
  region(regionId: number, code: string, certName = this.pin()) {
    const s = this.spec;
    return {
      RegionID: regionId, RegionCode: code, RegionName: `Lab ${code}`,
      Nodes: [{ Name: `${regionId}a`, RegionID: regionId, HostName: s.ip, IPv4: s.ip, IPv6: 'none', STUNPort: s.stunPort, DERPPort: s.port, CertName: certName }],
    };
  }
}

/** Root + namespace tests: must run in CI; elsewhere skip loudly when not root. */
export function rootSkipReason(): string | undefined {
  const root = process.getuid?.() === 0;
  if (root) return undefined;
  if (process.env.CI === 'true') throw new Error('DERP e2e tests need root in CI (they must not be skipped)');
  const msg = 'SKIPPING real-derper tests: not root (run as root, or CI=true to force)';
  console.error(`\n*** ${msg} ***\n`);
  return msg;
}
