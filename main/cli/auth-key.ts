// `--auth-key` accepts the key itself or `file:PATH` (tailscale cmd/tailscale/cli/up.go resolveAuthKey
// reads the file and trims whitespace), so keys stay out of `ps` output.
import { readFile } from 'node:fs/promises';
import { FlagError } from './go-flags.js';

export async function resolveAuthKey(v: string | undefined): Promise<string | undefined> {
  if (v === undefined || v === '') return undefined;
  if (!v.startsWith('file:')) return v;
  const path = v.slice('file:'.length);
  try {
    const k = (await readFile(path, 'utf8')).trim();
    if (!k) throw new FlagError(`auth key file ${path} is empty`);
    return k;
  } catch (e) {
    if (e instanceof FlagError) throw e;
    throw new FlagError(`reading auth key from ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
