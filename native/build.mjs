#!/usr/bin/env node
// Builds the data-plane addon from source and puts it where the loaders look:
// native/meshtray-native.node. Usage: node native/build.mjs [--debug]
// Gentle on shared machines: nice 10 and at most 2 jobs unless CARGO_BUILD_JOBS says otherwise.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const debug = process.argv.includes('--debug');
const jobs = process.env.CARGO_BUILD_JOBS ?? '2';
const cargoArgs = ['build', ...(debug ? [] : ['--release']), '-j', jobs];
const niceable = process.platform !== 'win32' && spawnSync('nice', ['--version'], { stdio: 'ignore' }).status === 0;
const [cmd, args] = niceable ? ['nice', ['-n', '10', 'cargo', ...cargoArgs]] : ['cargo', cargoArgs];

const started = Date.now();
const r = spawnSync(cmd, args, { cwd: here, stdio: 'inherit' });
if (r.error?.code === 'ENOENT' || (r.status === 127)) {
  console.error('build:native: cargo not found. Install Rust (https://rustup.rs) to build the data-plane addon.');
  process.exit(1);
}
if (r.status !== 0) process.exit(r.status ?? 1);

const lib = { linux: 'libmeshtray_native.so', darwin: 'libmeshtray_native.dylib', win32: 'meshtray_native.dll' }[process.platform]
  ?? 'libmeshtray_native.so';
const built = join(here, 'target', debug ? 'debug' : 'release', lib);
if (!existsSync(built)) {
  console.error(`build:native: cargo succeeded but ${built} is missing`);
  process.exit(1);
}
// Copy then rename: overwriting the file in place would change the pages of every running process
// that has the addon mapped (a meshtrayd under test dies with SIGBUS/SIGSEGV); a rename leaves
// them on the old inode.
const dest = join(here, 'meshtray-native.node');
copyFileSync(built, `${dest}.tmp-${process.pid}`);
renameSync(`${dest}.tmp-${process.pid}`, dest);
console.log(`build:native: native/meshtray-native.node ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
