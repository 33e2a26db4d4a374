// The package version, read from the repo's package.json (found upward from this file).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (p.name === 'meshtray' && p.version) return p.version;
    } catch {
      /* keep looking */
    }
    dir = dirname(dir);
  }
  return '0.0.0-unknown';
}
