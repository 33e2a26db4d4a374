// Running short commands (ip, iptables, the tailscale/headscale CLIs), optionally inside a network
// namespace, with a bounded time and the output captured.
import { spawn } from 'node:child_process';
import { LabError } from './errors.js';
import { redactArgv, redactText } from './redact.js';

export const LAB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RunOptions {
  /** Full namespace name; the command runs via `ip netns exec`. */
  ns?: string;
  /** Extra environment. With cleanEnv, the ONLY environment besides PATH (tailscaled reads PORT and TS_* knobs). */
  env?: Record<string, string>;
  cleanEnv?: boolean;
  timeoutMs?: number;
  input?: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** The argv that runs `argv` in `ns` (if any) with the requested environment. */
export function wrapArgv(argv: readonly string[], opts: Pick<RunOptions, 'ns' | 'env' | 'cleanEnv'> = {}): string[] {
  let out = [...argv];
  if (opts.cleanEnv) {
    const kv = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
    out = ['env', '-i', `PATH=${LAB_PATH}`, ...kv, ...out];
  }
  if (opts.ns) out = ['ip', 'netns', 'exec', opts.ns, ...out];
  return out;
}

export function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = wrapArgv(argv, opts);
  const env = opts.cleanEnv ? { PATH: LAB_PATH } : { ...process.env, PATH: `${process.env.PATH ?? ''}:${LAB_PATH}`, ...opts.env };
  return new Promise((resolve, reject) => {
    const child = spawn(full[0]!, full.slice(1), { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') reject(new LabError(`missing tool '${full[0]}'`, 'run `sudo bash test/lab/install.sh`'));
      else reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run, but a non-zero exit or a timeout is a LabError naming the (redacted) command. */
export async function runOk(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    const where = opts.ns ? ` in ${opts.ns}` : '';
    const why = r.timedOut ? `timed out after ${opts.timeoutMs ?? 30_000} ms` : `exited ${r.code ?? r.signal}`;
    const tail = redactText((r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' | '));
    throw new LabError(`\`${redactArgv(argv)}\`${where} ${why}: ${tail}`);
  }
  return r;
}
