// Long-running lab processes (headscale, derper, tailscaled, meshtrayd): started inside a namespace,
// output to a log file in the run dir, PID tracked, readiness by probing with a bounded timeout.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { LAB_PATH, wrapArgv } from './exec.js';
import { LabError } from './errors.js';
import { redactText } from './redact.js';
import { isAlive, killPidsSync } from './sync-sys.js';

export interface ProcessSpec {
  /** Short label for messages, e.g. "derp1/derper". */
  name: string;
  ns?: string;
  argv: string[];
  env?: Record<string, string>;
  /** Start with `env -i PATH=…` plus `env` only (tailscaled reads PORT and TS_* knobs from the environment). */
  cleanEnv?: boolean;
  logFile: string;
  cwd?: string;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LabProcess {
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  private exit: ExitInfo | undefined;

  private constructor(readonly spec: ProcessSpec, pid: number, exited: Promise<ExitInfo>) {
    this.pid = pid;
    this.exited = exited.then((e) => (this.exit = e));
  }

  get name(): string {
    return this.spec.name;
  }
  get logFile(): string {
    return this.spec.logFile;
  }
  get exitInfo(): ExitInfo | undefined {
    return this.exit;
  }
  isRunning(): boolean {
    return this.exit === undefined && isAlive(this.pid);
  }

  static start(spec: ProcessSpec): LabProcess {
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const fd = openSync(spec.logFile, 'a');
    const argv = wrapArgv(spec.argv, spec);
    const env = spec.cleanEnv ? { PATH: LAB_PATH } : { ...process.env, PATH: `${process.env.PATH ?? ''}:${LAB_PATH}`, ...spec.env };
    // `ip netns exec` and `env -i` both exec, so the PID we get is the daemon itself.
    // detached: own process group, so a Ctrl-C on the terminal reaches only us and our teardown
    // stops the peers in order (tailscaled cleans its routes on TERM).
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', fd, fd], detached: true, cwd: spec.cwd });
    closeSync(fd);
    const exited = new Promise<ExitInfo>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
      child.on('error', () => resolve({ code: 127, signal: null }));
    });
    child.unref();
    if (child.pid === undefined) throw new LabError(`could not start ${spec.name} (${argv[0]})`, 'run `sudo bash test/lab/install.sh`');
    return new LabProcess(spec, child.pid, exited);
  }

  /** TERM, wait up to graceMs, then KILL. */
  stop(graceMs = 5000): void {
    killPidsSync([this.pid], graceMs);
  }

  /** The last lines of the log, secrets redacted, for error messages. */
  logTail(lines = 8): string {
    return tailFile(this.logFile, lines);
  }
}

export function tailFile(file: string, lines = 8): string {
  if (!existsSync(file)) return '(no log)';
  const all = readFileSync(file, 'utf8').trimEnd().split('\n');
  return redactText(all.slice(-lines).join('\n'));
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  /** Fail early (with its log) if this process exits while we wait. */
  proc?: LabProcess;
}

/**
 * Polls `probe` until it returns true. A string return is "not yet, because …" and is quoted in
 * the timeout error together with the process's log file.
 */
export async function waitFor(what: string, probe: () => Promise<boolean | string>, opts: WaitOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: string = 'no answer yet';
  for (;;) {
    if (opts.proc && !opts.proc.isRunning()) {
      const e = opts.proc.exitInfo;
      throw new LabError(
        `${what}: ${opts.proc.name} exited (${e ? (e.code ?? e.signal) : 'gone'}) before it was ready; log ${opts.proc.logFile}:\n${opts.proc.logTail()}`,
      );
    }
    try {
      const r = await probe();
      if (r === true) return;
      if (typeof r === 'string') last = r;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() >= deadline) {
      const log = opts.proc ? `; log ${opts.proc.logFile}:\n${opts.proc.logTail()}` : '';
      throw new LabError(`${what}: not ready after ${opts.timeoutMs} ms (last: ${redactText(last)})${log}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}
