// The Electron glue (main/app/electron-main.ts) run under plain Node with a fake 'electron' module
// (electron-glue/), since the Electron binary cannot be installed here: it must enable the sandbox,
// build a contextIsolation+sandbox window with our preload, route every IPC call through the
// router (sender checked, schemas applied), block popups/navigation/permissions, set the CSP, build
// the tray from the menu model, host the engine in-process with a clear warning when the keychain
// is locked, and keep secrets out of the log.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { api } from '../../../common/contract/api.js';
import { appCalls } from '../../../main/app/ipc/app-contract.js';
import { repoRoot } from '../../e2e/renderer/paths.js';

const here = dirname(fileURLToPath(import.meta.url));
const ts = import.meta.url.endsWith('.ts');

test('electron-main glue under a fake electron: window, IPC gate, hardening, tray, in-process host', { timeout: 60_000 }, () => {
  const userData = mkdtempSync(join(tmpdir(), 'mt-glue-'));
  try {
    // The hooks are plain .mjs in the source tree (tsc does not copy them); the fakes and the driver
    // are TypeScript, compiled next to this file in dist/ or run from source under tsx.
    const glueSrc = join(repoRoot(), 'test', 'unit', 'app', 'electron-glue');
    const args = ['--import', join(glueSrc, 'register.mjs'), ...(ts ? ['--import', 'tsx'] : []), join(here, 'electron-glue', ts ? 'driver.ts' : 'driver.js')];
    // MESHTRAY_SOCKET points nowhere, so no daemon is found and the engine is hosted in-process.
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 50_000, env: { ...process.env, FAKE_USER_DATA: userData, MESHTRAY_SOCKET: join(userData, 'none.sock'), FAKE_ELECTRON_DIR: join(here, 'electron-glue'), FAKE_ELECTRON_EXT: ts ? '.ts' : '.js' } });
    assert.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.equal(rep.sandbox, true);
    assert.equal(rep.singleLock, true);
    assert.equal(rep.webPreferences.contextIsolation, true);
    assert.equal(rep.webPreferences.sandbox, true);
    assert.equal(rep.webPreferences.nodeIntegration, false);
    assert.match(rep.webPreferences.preload, /preload[\\/]preload\.cjs$/);
    assert.match(rep.loaded, /renderer[\\/]index\.html$/);
    const expected = [...Object.keys(api).map((n) => `meshtray:engine:${n}`), ...Object.keys(appCalls).map((n) => `meshtray:app:${n}`)].sort();
    assert.deepEqual(rep.handleChannels, expected);
    assert.deepEqual(rep.onChannels, ['meshtray:watch-start', 'meshtray:watch-stop']);
    assert.equal(rep.status.ok, true);
    assert.equal(rep.status.value.BackendState, 'NeedsLogin');
    assert.equal(rep.foreign.error.code, 'ERR_FORBIDDEN');
    assert.equal(rep.foreignPage.error.code, 'ERR_FORBIDDEN');
    assert.equal(rep.bad.error.code, 'ERR_BAD_REQUEST');
    assert.equal(rep.appState.value.host.mode, 'in-process');
    assert.match(rep.appState.value.secretsWarning, /keychain is locked or not available.*will not remember this login/);
    assert.equal(rep.unreachable.error.code, 'ERR_CONTROL_UNREACHABLE');
    assert.deepEqual(rep.opened, [], 'no browser for an unreachable server');
    assert.deepEqual(rep.openHandler, { action: 'deny' });
    assert.deepEqual(rep.prevented, ['will-navigate', 'will-redirect', 'will-attach-webview']);
    assert.equal(rep.permission, false);
    assert.match(String(rep.csp), /default-src 'none'; script-src 'self'/);
    assert.match(rep.tray.image.path, /tray-disconnected\.png$/);
    assert.match(rep.tray.tooltip, /^Meshtray: Logged out/);
    assert.ok(rep.tray.labels.includes('Log in…') && rep.tray.labels.includes('Quit Meshtray'), rep.tray.labels.join(','));
    assert.equal(rep.sentChannels[0], 'meshtray:app-state');
    assert.ok(rep.sentChannels.includes('meshtray:notify'));
    assert.deepEqual(rep.refusedSent, [], 'a foreign webContents gets no stream');
    assert.ok(rep.logLines.some((l: string) => /ipc: refused sender/.test(l)));
    if (!ts) {
      // Built layout (what Electron runs): the paths electron-main computes point at real files.
      for (const f of [rep.tray.image.path, rep.loaded, rep.webPreferences.preload]) assert.ok(existsSync(f), f);
    }
  } finally {
    rmSync(userData, { recursive: true, force: true });
  }
});
