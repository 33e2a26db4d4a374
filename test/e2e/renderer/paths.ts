// Repo paths that work both from the TypeScript sources (tsx) and from dist/test (compiled).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = resolve(d, '..');
    if (up === d) throw new Error('repo root not found');
    d = up;
  }
  return d;
}

/** True when this code runs compiled from dist/ (npm test), false under tsx. */
export function runningCompiled(): boolean {
  return fileURLToPath(import.meta.url).includes(`${join('/', 'dist', 'test')}/`);
}
