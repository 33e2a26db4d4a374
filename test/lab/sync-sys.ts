// Synchronous process/namespace primitives. Teardown is synchronous on purpose: it must also work
// from a process 'exit' handler (where no more async work runs) after a SIGINT/SIGTERM or a crash.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { LAB_PATH } from './exec.js';

const sab = new Int32Array(new SharedArrayBuffer(4));
export function sleepSync(ms: number): void {
  Atomics.wait(sab, 0, 0, ms);
}

export function runSync(argv: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:${LAB_PATH}` },
    timeout: 10_000,
  });
  return { code: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

/** Process start time (clock ticks since boot, /proc/PID/stat field 22): with the PID it names one process, even after PID reuse. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: split after the LAST ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 overall = index 19 after pid and comm
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie (a zombie still answers kill(pid, 0)). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** TERM the given PIDs, wait up to graceMs for them to exit, then KILL what is left. Only the PIDs given. */
export function killPidsSync(pids: readonly number[], graceMs = 5000): void {
  const live = pids.filter(isAlive);
  if (live.length === 0) return;
  for (const p of live) signal(p, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && live.some(isAlive)) sleepSync(50);
  for (const p of live) if (isAlive(p)) signal(p, 'SIGKILL');
  const hard = Date.now() + 2000;
  while (Date.now() < hard && live.some(isAlive)) sleepSync(20);
}

export function netnsList(): string[] {
  const r = runSync(['ip', 'netns', 'list']);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

export function netnsPids(ns: string): number[] {
  const r = runSync(['ip', 'netns', 'pids', ns]);
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}
