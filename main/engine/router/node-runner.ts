// The real CommandRunner (spawn, bounded time, output captured) and the router's state file.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CommandRunner } from './router.js';
import type { RouterStateStore } from './linux.js';

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** `prefix` wraps every command, e.g. ['ip', 'netns', 'exec', 'ns1'] in tests. */
export function nodeCommandRunner(o: { timeoutMs?: number; prefix?: readonly string[] } = {}): CommandRunner {
  return {
    run(argv) {
      const full = [...(o.prefix ?? []), ...argv];
      return new Promise((resolve) => {
        const child = spawn(full[0]!, full.slice(1), { env: { ...process.env, PATH: `${process.env.PATH ?? ''}:${PATH}`, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 15_000);
        child.on('error', (e) => {
          clearTimeout(timer);
          resolve({ code: 127, stdout, stderr: stderr + String(e) });
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? 128, stdout, stderr });
        });
      });
    },
  };
}

/** A 0600 JSON file, replaced atomically, e.g. <statedir>/router-state.json. */
export function fileRouterState(path: string): RouterStateStore {
  return {
    async load() {
      try {
        return await readFile(path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    async save(text) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.tmp`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, path);
    },
    async clear() {
      await unlink(path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    },
  };
}
