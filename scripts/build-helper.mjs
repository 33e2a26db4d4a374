#!/usr/bin/env node
// Builds the privileged helper (and meshtrayd) as one Node single executable application (SEA):
// dist/helper/meshtray-helper. The packages run it as root from a systemd unit / LaunchDaemon /
// Windows service; Electron never runs it (Chromium never as root, and the runAsNode fuse is off).
//
// Why a SEA and not the distro's nodejs: Debian 12 ships Node 18, and Meshtray needs >= 20.19
// (package.json engines); a SEA carries its own Node, the one we test with.
//
// Layout of dist/helper/ (shipped as-is by electron-builder extraResources to resources/helper/):
//   meshtray-helper(.exe)              the executable: `meshtray-helper [helper flags]` runs the helper
//                                      (main/app/helper/helper-main.ts); `meshtray-helper meshtrayd
//                                      [tailscaled flags]` runs meshtrayd (main/daemon/main.ts)
//   native/meshtray-native.node        the data-plane addon (native-loader.ts looks in <exe dir>/native/)
//   node_modules/koffi, node_modules/@koromix/koffi-<platform>-<arch>
//                                      koffi (SO_PEERCRED), loaded from disk: a SEA cannot embed .node files
// The service definitions (systemd unit, LaunchDaemon plist) are added per platform by
// electron-builder.yml's extraResources, next to the executable.
//
// Steps (nodejs.org/api/single-executable-applications.html, Node 20): esbuild bundles the two entry
// points into one CommonJS file (a Node 20 SEA main must be CJS and may only require() built-ins),
// `node --experimental-sea-config` makes the blob, postject injects it into a copy of this node.
//
// Flags: --skip-sea  bundle only (dist/helper/build/helper-bundle.cjs), for a quick look.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const out = join(root, 'dist', 'helper');
const work = join(out, 'build');
const require = createRequire(import.meta.url);

// The two entry modules run their program at top level with top-level await, which esbuild cannot
// emit as CommonJS. Each is loaded with its top-level statements moved into an exported async
// `main()` (imports stay on top), so both can live in one bundle and the entry picks one to run.
const ENTRIES = {
  helper: join(root, 'main', 'app', 'helper', 'helper-main.ts'),
  meshtrayd: join(root, 'main', 'daemon', 'main.ts'),
};

export function wrapTopLevel(source, fileName) {
  const sf = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const imports = [];
  const body = [];
  for (const st of sf.statements) {
    const text = source.slice(st.getFullStart(), st.getEnd());
    if (ts.isImportDeclaration(st)) imports.push(text);
    else if (ts.isExportDeclaration(st) || ts.isExportAssignment(st) || ts.getCombinedModifierFlags(st) & ts.ModifierFlags.Export) {
      // An export would end up inside a function: refuse loudly rather than build something broken.
      throw new Error(`${fileName}: entry modules must not export (${text.trim().slice(0, 60)})`);
    } else body.push(text);
  }
  return `${imports.join('\n')}\nexport async function main(): Promise<void> {\n${body.join('\n')}\n}\n`;
}

const entryPlugin = {
  name: 'meshtray-entry-main',
  setup(b) {
    const files = new Set(Object.values(ENTRIES));
    b.onLoad({ filter: /\.ts$/ }, (args) => (files.has(args.path) ? { contents: wrapTopLevel(readFileSync(args.path, 'utf8'), args.path), loader: 'ts' } : undefined));
    // koffi carries a .node file; it is shipped beside the executable and required from there.
    b.onResolve({ filter: /^koffi$/ }, () => ({ path: 'koffi', namespace: 'meshtray-koffi' }));
    b.onLoad({ filter: /.*/, namespace: 'meshtray-koffi' }, () => ({
      contents: `module.exports = require('node:module').createRequire(__meshtrayExeDir + '/')('./node_modules/koffi/index.cjs');`,
      loader: 'js',
    }));
  },
};

// Node 20's SEA main runs as CommonJS: import.meta.url means nothing there. Modules that locate
// files from their own URL (native-loader.ts: <dir>/native/meshtray-native.node, ancestors
// included) get a URL inside the executable's directory instead.
const banner = [
  "'use strict';",
  "const __meshtrayExeDir = require('node:path').dirname(process.execPath);",
  "const __meshtrayImportMetaUrl = require('node:url').pathToFileURL(require('node:path').join(__meshtrayExeDir, 'meshtray-helper.js')).href;",
].join('\n');

const entrySource = `
import { main as helperMain } from ${JSON.stringify(ENTRIES.helper)};
import { main as daemonMain } from ${JSON.stringify(ENTRIES.meshtrayd)};
// process.argv in a SEA is [exe, exe, ...args], like 'node script ...args'.
const mode = process.argv[2] === 'meshtrayd' ? 'meshtrayd' : 'helper';
if (mode === 'meshtrayd') process.argv.splice(2, 1);
(mode === 'meshtrayd' ? daemonMain : helperMain)().catch((e) => {
  process.stderr.write('meshtray-helper(' + mode + '): ' + (e instanceof Error ? e.message : String(e)) + '\\n');
  process.exit(1);
});
`;

async function bundle() {
  mkdirSync(work, { recursive: true });
  const outfile = join(work, 'helper-bundle.cjs');
  await build({
    stdin: { contents: entrySource, resolveDir: root, sourcefile: 'meshtray-helper-entry.ts', loader: 'ts' },
    outfile,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: ['node20'],
    banner: { js: banner },
    define: { 'import.meta.url': '__meshtrayImportMetaUrl' },
    plugins: [entryPlugin],
    logLevel: 'warning',
  });
  return outfile;
}

function sea(bundleFile) {
  const blob = join(work, 'sea-prep.blob');
  const cfg = join(work, 'sea-config.json');
  writeFileSync(cfg, JSON.stringify({ main: bundleFile, output: blob, disableExperimentalSEAWarning: true }, null, 2));
  execFileSync(process.execPath, ['--experimental-sea-config', cfg], { stdio: 'inherit' });
  const exe = join(out, process.platform === 'win32' ? 'meshtray-helper.exe' : 'meshtray-helper');
  rmSync(exe, { force: true });
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  const postject = join(dirname(require.resolve('postject/package.json')), 'dist', 'cli.js');
  // The fuse string is Node's (single-executable-applications docs); postject flips it on injection.
  // (postject's LIEF prints harmless "Can't find string offset" warnings for node's note sections.)
  // macOS: the copied node must lose its signature first and the blob goes in a named segment
  // (docs: codesign --remove-signature; postject --macho-segment-name NODE_SEA); release CI signs after.
  if (process.platform === 'darwin') execFileSync('codesign', ['--remove-signature', exe]);
  const extra = process.platform === 'darwin' ? ['--macho-segment-name', 'NODE_SEA'] : [];
  execFileSync(process.execPath, [postject, exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  return exe;
}

function shipFiles() {
  const addon = join(root, 'native', 'meshtray-native.node');
  if (!existsSync(addon)) throw new Error(`${addon} is missing: run npm run build:native first`);
  mkdirSync(join(out, 'native'), { recursive: true });
  copyFileSync(addon, join(out, 'native', 'meshtray-native.node'));

  const koffiDir = join(root, 'node_modules', 'koffi');
  const koffiOut = join(out, 'node_modules', 'koffi');
  rmSync(join(out, 'node_modules'), { recursive: true, force: true });
  for (const f of ['package.json', 'index.cjs', 'LICENSE.txt', join('src', 'koffi', 'index.cjs'), join('src', 'koffi', 'src', 'static.cjs')]) {
    mkdirSync(dirname(join(koffiOut, f)), { recursive: true });
    copyFileSync(join(koffiDir, f), join(koffiOut, f));
  }
  const plat = `koffi-${process.platform}-${process.arch}`;
  const platDir = join(dirname(koffiDir), '@koromix', plat);
  if (existsSync(platDir)) cpSync(platDir, join(out, 'node_modules', '@koromix', plat), { recursive: true });
  else throw new Error(`koffi's prebuilt package @koromix/${plat} is not installed`);
}

const t0 = Date.now();
const bundleFile = await bundle();
if (!process.argv.includes('--skip-sea')) {
  const exe = sea(bundleFile);
  shipFiles();
  process.stdout.write(`built ${exe} (${Math.round((Date.now() - t0) / 1000)} s)\n`);
} else {
  process.stdout.write(`bundled ${bundleFile}\n`);
}
