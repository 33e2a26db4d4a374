// The daemon's state file (tailscaled's --state / <statedir>/tailscaled.state analogue): one JSON
// object of string values, written atomically (temp file + fsync + rename) with mode 0600 so a
// crash never leaves half a key on disk and no other user can read the machine or node key.
import { mkdir, open, readFile, rename, unlink, chmod } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { z } from 'zod';
import type { StateStore } from '../ports/ports.js';

const StateFileSchema = z.record(z.string(), z.string());

export class FileStateStore implements StateStore {
  private cache: Map<string, string> | undefined;
  /** Serialises writes so two concurrent set() calls cannot interleave their renames. */
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;

  constructor(readonly path: string) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.load()).get(key);
  }

  async set(key: string, value: string): Promise<void> {
    await this.mutate((m) => m.set(key, value));
  }

  async delete(key: string): Promise<void> {
    await this.mutate((m) => m.delete(key));
  }

  private async load(): Promise<Map<string, string>> {
    if (this.cache) return this.cache;
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.cache = new Map();
        return this.cache;
      }
      throw e;
    }
    let raw: unknown;
    try {
      raw = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      // Never echo the contents: they hold private keys.
      throw new Error(`state file ${this.path} is not valid JSON`);
    }
    const parsed = StateFileSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`state file ${this.path} is not an object of strings`);
    this.cache = new Map(Object.entries(parsed.data));
    return this.cache;
  }

  private mutate(fn: (m: Map<string, string>) => void): Promise<void> {
    const run = async (): Promise<void> => {
      const m = await this.load();
      const next = new Map(m);
      fn(next);
      await this.write(next);
      this.cache = next;
    };
    const p = this.chain.then(run, run);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private async write(m: Map<string, string>): Promise<void> {
    const dir = dirname(this.path);
    // 0700: the directory also names the socket and temp files; tailscaled's statedir is root-only too.
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.${basename(this.path)}.tmp-${process.pid}-${++this.seq}`);
    const body = JSON.stringify(Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))), null, 1) + '\n';
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(body, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await chmod(tmp, 0o600); // in case a umask widened nothing but a previous file was looser
      await rename(tmp, this.path);
    } catch (e) {
      await unlink(tmp).catch(() => undefined);
      throw e;
    }
  }
}
