// The window's app side (bridge-main.ts) as its own process inside a lab host's namespace, next to
// that host's meshtrayd, as on a user's machine. Its stdout says "bridge <url>" once listening and
// "open <url>" whenever the app would open the system browser.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, runningCompiled } from './paths.js';
import { waitFor } from './real-engine.js';

export interface BridgeProcess {
  /** The window's URL (loopback inside the namespace). */
  url: string;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** The Nth AuthURL it was asked to open (0-based), waiting up to `ms`. */
  opened(n: number, ms?: number): Promise<string>;
  stop(): void;
}

export async function startBridgeInNamespace(ns: string, daemonSocket: string): Promise<BridgeProcess> {
  const root = repoRoot();
  const script = runningCompiled() ? [join(root, 'dist', 'test', 'e2e', 'renderer', 'bridge-main.js')] : ['--import', 'tsx', join(root, 'test', 'e2e', 'renderer', 'bridge-main.ts')];
  const p: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, ...script, '--socket', daemonSocket], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const stop = (): void => void p.kill('SIGTERM');
  try {
    const url = await waitFor('bridge URL', () => /^bridge (\S+)$/m.exec(out)?.[1], 60_000);
    return {
      url,
      output: () => out,
      opened: (n, ms = 60_000) => waitFor(`AuthURL #${n + 1}`, () => [...out.matchAll(/^open (\S+)$/gm)][n]?.[1], ms),
      stop,
    };
  } catch (e) {
    stop();
    throw new Error(`${(e as Error).message}\n--- bridge output ---\n${out.slice(-3000)}`);
  }
}
