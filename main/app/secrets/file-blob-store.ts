// Ciphertext files for KeychainStateStore: one 0600 file per key, written atomically (temp + rename)
// so a crash mid-write never leaves half a secret.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobStore } from './keychain-store.js';

export class FileBlobStore implements BlobStore {
  constructor(private readonly dir: string) {}

  private path(key: string): string {
    if (!/^[A-Za-z0-9._-]{1,128}$/.test(key) || key.startsWith('.')) throw new Error(`bad state key: ${key}`);
    return join(this.dir, `${key}.bin`);
  }

  async read(key: string): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.path(key)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async write(key: string, data: Uint8Array): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const p = this.path(key);
    const tmp = `${p}.tmp-${process.pid}`;
    await writeFile(tmp, data, { mode: 0o600 });
    await rename(tmp, p);
  }

  async remove(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
