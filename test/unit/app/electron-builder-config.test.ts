// electron-builder.yml is checked against electron-builder's own JSON schema (app-builder-lib
// scheme.json, the one `electron-builder` validates with), plus the hardening and targets we need.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { repoRoot } from '../../e2e/renderer/paths.js';

const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(s: string): unknown };
const Ajv = require('ajv') as new (o: object) => { compile(s: object): ((d: unknown) => boolean) & { errors?: unknown } };

const root = repoRoot();
const cfg = yaml.load(readFileSync(join(root, 'electron-builder.yml'), 'utf8')) as Record<string, any>;

test('electron-builder.yml validates against electron-builder\'s schema', () => {
  const schema = JSON.parse(readFileSync(require.resolve('app-builder-lib/scheme.json'), 'utf8')) as object;
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
  const validate = ajv.compile(schema);
  assert.ok(validate(cfg), JSON.stringify(validate.errors, null, 1));
});

test('fuses: no run-as-node, no NODE_OPTIONS, no inspect, asar integrity, asar only', () => {
  assert.deepEqual(
    { ...cfg.electronFuses },
    {
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      enableCookieEncryption: true,
      grantFileProtocolExtraPrivileges: false,
      loadBrowserProcessSpecificV8Snapshot: false,
    },
  );
  assert.equal(cfg.asar, true);
});

test('targets: mac pkg+zip, win nsis per-machine, linux deb+rpm(+AppImage); publish feed; scripts exist', () => {
  const names = (t: Array<string | { target: string }>) => t.map((x) => (typeof x === 'string' ? x : x.target));
  assert.deepEqual(names(cfg.mac.target), ['pkg', 'zip']);
  assert.deepEqual(names(cfg.win.target), ['nsis']);
  assert.equal(cfg.nsis.perMachine, true);
  assert.deepEqual(names(cfg.linux.target), ['deb', 'rpm', 'AppImage']);
  assert.equal(cfg.publish[0].provider, 'generic');
  for (const f of [cfg.deb.afterInstall, cfg.deb.afterRemove, cfg.nsis.include, join('assets', cfg.pkg.scripts, 'postinstall')]) assert.ok(existsSync(join(root, f)), f);
  for (const v of ['disconnected', 'connected', 'exit-node']) assert.ok(existsSync(join(root, 'assets', `tray-${v}.png`)), v);
});

test('tray icons are real PNGs at 16 px and 32 px (@2x), the app icon at 512 px', () => {
  const size = (f: string) => {
    const b = readFileSync(join(root, 'assets', f));
    assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${f} is a PNG`);
    return [b.readUInt32BE(16), b.readUInt32BE(20)];
  };
  for (const v of ['disconnected', 'connected', 'exit-node']) {
    assert.deepEqual(size(`tray-${v}.png`), [16, 16]);
    assert.deepEqual(size(`tray-${v}@2x.png`), [32, 32]);
  }
  assert.deepEqual(size('icon.png'), [512, 512]);
  // The three variants must look different.
  const bytes = ['disconnected', 'connected', 'exit-node'].map((v) => readFileSync(join(root, 'assets', `tray-${v}.png`)).toString('hex'));
  assert.equal(new Set(bytes).size, 3);
});

test('every file electron-builder.yml names exists; the helper is shipped and built where extraResources expects it', () => {
  const exists = (p: string) => assert.ok(existsSync(join(root, p)), `${p} (named in electron-builder.yml) exists`);
  for (const t of ['deb', 'rpm'] as const) {
    exists(cfg[t].afterInstall);
    exists(cfg[t].afterRemove);
    const fpm = cfg[t].fpm as string[];
    const i = fpm.indexOf('--before-remove');
    assert.ok(i >= 0, `${t}: fpm --before-remove`);
    exists(fpm[i + 1]!);
  }
  exists(cfg.nsis.include);
  for (const f of ['preinstall', 'postinstall']) exists(join(cfg.directories.buildResources, cfg.pkg.scripts, f));
  // extraResources: assets are in the repo; dist/helper is what `npm run build:helper` writes.
  const all = [...cfg.extraResources, ...cfg.linux.extraResources, ...cfg.mac.extraResources] as { from: string; to: string }[];
  for (const r of all) {
    if (r.from.startsWith('assets/')) exists(r.from);
    else assert.equal(r.from, 'dist/helper', 'the only built resource is the helper');
  }
  assert.deepEqual(cfg.extraResources.map((r: { from: string; to: string }) => [r.from, r.to]), [['dist/helper', 'helper']]);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts['build:helper'], 'node scripts/build-helper.mjs');
  assert.match(readFileSync(join(root, 'scripts', 'build-helper.mjs'), 'utf8'), /const out = join\(root, 'dist', 'helper'\)/);
  // files: every non-glob entry is produced by the build or is in the repo.
  for (const f of cfg.files as string[]) {
    if (f.startsWith('!') || f.includes('*')) continue;
    if (!f.startsWith('dist/')) exists(f);
  }
});
