#!/usr/bin/env node
// Runs the compiled tests under node:test in one invocation, so the runner prints one summary.
// Usage: node scripts/run-tests.mjs [unit|lab|e2e ...] [node --test flags]   (default: all suites)
//
// Real-network tests (test/lab, test/e2e) run real Headscale, derper and tailscaled in network
// namespaces on a shared 2-core machine; a rare timing failure there is not a verdict on the code.
// So a FILE of those that failed is run once more, on its own, and that second run decides. The
// first failure stays in the output and the re-run is announced before it starts, so nothing is hidden. Unit, fuzz
// and bench-style tests are never re-run: they have no excuse to be flaky.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, dirname, relative } from 'node:path';
import { spawn } from 'node:child_process';

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
/** A compiled test whose source was deleted must not run from a stale dist/. */
const hasSource = (js) => existsSync(join(root, 'test', relative(base, js)).replace(/\.js$/, '.ts'));

const dirs = suites.length ? suites.map((s) => join(base, s)) : [base];
const files = dirs
  .flatMap((d) => { try { return statSync(d).isFile() ? [d] : [...walk(d)]; } catch { return []; } })
  .filter(hasSource);
if (files.length === 0) { console.error('run-tests: no compiled test files found; run `npm run build`'); process.exit(1); }

/** Runs node --test on the files, streaming its output, and returns exit code and output. */
function run(list) {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...extra, ...list], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b) => { process.stdout.write(b); out += b.toString(); });
    child.on('close', (code, signal) => done({ code: code ?? (signal ? 1 : 0), out }));
  });
}

const first = await run(files);
if (first.code === 0) process.exit(0);

// Failed test locations look like:  location: '/…/dist/test/e2e/x/y.test.js:12:1'
const failed = new Set();
for (const m of first.out.matchAll(/location: '([^']+\.test\.js):\d+:\d+'/g)) failed.add(m[1]);
const realNetwork = (f) => /[/\\]dist[/\\]test[/\\](lab|e2e)[/\\]/.test(f);
const retry = [...failed].filter((f) => files.includes(f));
if (retry.length === 0 || !retry.every(realNetwork)) {
  if (retry.some((f) => !realNetwork(f))) console.log('# run-tests: a unit/fuzz test failed: no re-run');
  process.exit(first.code);
}
console.log(`# run-tests: ${retry.length} real-network test file(s) failed on the first run; running them once more:`);
for (const f of retry) console.log(`#   ${relative(root, f)}`);
// No line after the runner's own summary: CI reads the runner's closing lines.
const second = await run(retry);
process.exit(second.code);
