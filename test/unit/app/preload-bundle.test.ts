// The built sandboxed preload (dist/preload/preload.cjs, from scripts/build-renderer.mjs) run the way
// Electron runs a sandboxed preload: one CommonJS file whose only require is 'electron'. A fake
// electron module records what it exposes and sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { execFileSync } from 'node:child_process';
import { repoRoot } from '../../e2e/renderer/paths.js';
import { api } from '../../../common/contract/api.js';
import { appCalls } from '../../../main/app/ipc/app-contract.js';
import { RENDERER_CSP } from '../../../main/app/window/window-security.js';

const root = repoRoot();
const bundlePath = join(root, 'dist', 'preload', 'preload.cjs');

function loadBundle(): string {
  if (!existsSync(bundlePath)) execFileSync(process.execPath, [join(root, 'scripts', 'build-renderer.mjs')], { cwd: root });
  return readFileSync(bundlePath, 'utf8');
}

test('sandboxed preload bundle: requires only electron, exposes window.meshtray with every call', async () => {
  const src = loadBundle();
  const required = [...src.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(required)], ['electron']);

  const exposed: Record<string, any> = {};
  const invoked: [string, unknown][] = [];
  const sent: string[] = [];
  const listeners = new Map<string, ((e: unknown, v: unknown) => void)[]>();
  const electron = {
    contextBridge: { exposeInMainWorld: (k: string, v: unknown) => (exposed[k] = v) },
    ipcRenderer: {
      invoke: async (c: string, p: unknown) => { invoked.push([c, p]); return { ok: true, value: {} }; },
      send: (c: string) => sent.push(c),
      on: (c: string, fn: (e: unknown, v: unknown) => void) => listeners.set(c, [...(listeners.get(c) ?? []), fn]),
      removeListener: (c: string, fn: (e: unknown, v: unknown) => void) => listeners.set(c, (listeners.get(c) ?? []).filter((f) => f !== fn)),
    },
  };
  const module = { exports: {} };
  runInNewContext(src, { require: (m: string) => { if (m !== 'electron') throw new Error(`sandbox cannot require ${m}`); return electron; }, module, exports: module.exports, console });
  const m = exposed['meshtray'];
  assert.ok(m, 'window.meshtray exposed');
  assert.deepEqual(Object.keys(m).filter((k) => typeof m[k] === 'function' && !k.startsWith('on')).sort(), Object.keys(api).sort());
  assert.deepEqual(Object.keys(m.app).sort(), Object.keys(appCalls).sort());
  await m.editPrefs({ CorpDNS: false });
  await m.app.login({ ControlURL: 'https://hs.example' });
  assert.deepEqual(invoked, [['meshtray:engine:editPrefs', { CorpDNS: false }], ['meshtray:app:login', { ControlURL: 'https://hs.example' }]]);

  // onNotify: one watch-start for the first subscriber, the event object never reaches the page, stop on last unsubscribe.
  const got: unknown[] = [];
  const off1 = m.onNotify((n: unknown) => got.push(n));
  const off2 = m.onNotify(() => undefined);
  assert.deepEqual(sent, ['meshtray:watch-start']);
  for (const fn of listeners.get('meshtray:notify') ?? []) fn({ sender: 'SECRET-IPC-OBJECT' }, { State: 'Running' });
  assert.deepEqual(got, [{ State: 'Running' }]);
  off1();
  assert.deepEqual(sent, ['meshtray:watch-start']);
  off2();
  assert.deepEqual(sent, ['meshtray:watch-start', 'meshtray:watch-stop']);
});

test('the renderer page carries the same CSP as main sets (minus frame-ancestors, which a meta tag cannot set)', () => {
  const html = readFileSync(join(root, 'renderer', 'index.html'), 'utf8');
  const meta = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1];
  const norm = (s: string) => s.split(';').map((x) => x.trim()).filter((x) => x && !x.startsWith('frame-ancestors')).sort();
  assert.deepEqual(norm(meta ?? ''), norm(RENDERER_CSP));
  assert.ok(!/unsafe-(eval|inline)/.test(RENDERER_CSP));
  assert.match(RENDERER_CSP, /connect-src 'none'/);
});
