import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MESHTRAY_VERSION, packageVersion } from '../../../common/version.js';
import { packageVersion as cliVersion } from '../../../main/cli/version.js';
import { packageVersion as daemonVersion } from '../../../main/daemon/version.js';

/** package.json of the repo (found upward: works from test/ under tsx and from dist/test/). */
function packageJsonVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found');
    dir = up;
  }
  const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
  assert.equal(p.name, 'meshtray');
  return p.version ?? '';
}

test('the version constant in common/ is the version in package.json', () => {
  assert.equal(MESHTRAY_VERSION, packageJsonVersion());
  assert.equal(packageVersion(), packageJsonVersion());
});

test('the CLI and meshtrayd report that same version', () => {
  assert.equal(cliVersion(), MESHTRAY_VERSION);
  assert.equal(daemonVersion(), MESHTRAY_VERSION);
});
