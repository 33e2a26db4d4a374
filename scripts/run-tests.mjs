#!/usr/bin/env node
// Runs the compiled tests under node:test in one invocation, so the runner prints one summary.
// Usage: node scripts/run-tests.mjs [unit|lab|e2e ...]   (default: all suites)
import { readdirSync, statSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const suites = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const extra = process.argv.slice(2).filter((a) => a.startsWith('-'));
const base = join(root, 'dist', 'test');

function* walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (name.endsWith('.test.js')) yield p;
  }
}
const dirs = suites.length ? suites.map((s) => join(base, s)) : [base];
const files = dirs.flatMap((d) => { try { return [...walk(d)]; } catch { return []; } });
if (files.length === 0) { console.error('run-tests: no compiled test files found; run `npm run build`'); process.exit(1); }
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...extra, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
