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
