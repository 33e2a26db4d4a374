import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpcRouter, type AppHandlers } from '../../../main/app/ipc/router.js';
import { appChannel, engineChannel } from '../../../main/app/ipc/channels.js';
import { createSenderPolicy } from '../../../main/app/ipc/sender-policy.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { FakeEngine, MemLogger, prefs, status } from './fixtures.js';

const INDEX = '/opt/Meshtray/resources/app.asar/dist/renderer/index.html';
const good = { webContentsId: 7, frameUrl: `file://${INDEX}` };

function setup() {
  const engine = new FakeEngine();
  engine.answers.status = () => status();
  engine.answers.editPrefs = (req) => ({ ...prefs(), ...(req as object) });
  const log = new MemLogger();
  const app: AppHandlers = {
    getAppState: async () => ({ login: { phase: 'idle', controlURL: '' }, update: { phase: 'idle', currentVersion: '0.1.0' }, host: { mode: 'attached', detail: '/run/x.sock' }, engineReachable: true }),
    checkServer: async (r) => ({ URL: r.URL, reachable: true, message: 'ok' }),
    login: async () => { throw new MeshtrayError('ERR_CONTROL_UNREACHABLE', 'Cannot reach http://x: connection refused.', { URL: 'http://x' }); },
    cancelLogin: async () => ({}),
    checkForUpdates: async () => ({ phase: 'up-to-date', currentVersion: '0.1.0' }),
    installUpdate: async () => ({}),
    copyText: async () => ({}),
  };
  const policy = createSenderPolicy({ trustedWebContents: () => new Set([7]), allowedUrlPrefixes: [`file://${INDEX}`] });
  return { engine, log, router: new IpcRouter(engine, app, policy, log) };
}

test('a valid call reaches the engine and returns its validated answer', async () => {
  const { engine, router } = setup();
  const r = await router.handle(engineChannel('editPrefs'), good, { ExitNodeAllowLANAccess: true });
  assert.equal(r.ok, true);
  assert.equal(r.ok && (r.value as { ExitNodeAllowLANAccess: boolean }).ExitNodeAllowLANAccess, true);
  assert.deepEqual(engine.calls, [{ name: 'editPrefs', req: { ExitNodeAllowLANAccess: true } }]);
});

test('a message that fails the schema is rejected with a reason and never reaches the engine', async () => {
  const { engine, router, log } = setup();
  const r = await router.handle(engineChannel('editPrefs'), good, { ExitNodeAllowLANAccess: 'yes', Bogus: 1 });
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error.code, 'ERR_BAD_REQUEST');
  assert.match(!r.ok ? r.error.message : '', /invalid request for meshtray:engine:editPrefs: ExitNodeAllowLANAccess: .*boolean/);
  assert.equal(engine.calls.length, 0);
  assert.equal(router.stats.badRequest, 1);
  assert.ok(log.lines.some((l) => l.msg === 'ipc: request failed its schema'));
  const ping = await router.handle(engineChannel('ping'), good, { Target: 5 });
  assert.equal(!ping.ok && ping.error.code, 'ERR_BAD_REQUEST');
});

test('an auth key in a rejected request is not logged', async () => {
  const { router, log } = setup();
  await router.handle(engineChannel('start'), good, { AuthKey: 'hskey-auth-SECRET123', ForceReauth: 'no' });
  assert.ok(!JSON.stringify(log.lines).includes('SECRET123'));
});

test('wrong sender refused: unknown webContents, foreign page, path trick', async () => {
  const { engine, router } = setup();
  for (const sender of [
    { webContentsId: 8, frameUrl: good.frameUrl },
    { webContentsId: 7, frameUrl: 'https://evil.example/index.html' },
    { webContentsId: 7, frameUrl: `file://${INDEX}/../../../../tmp/evil.html` },
    { webContentsId: 7, frameUrl: 'not a url' },
  ]) {
    const r = await router.handle(engineChannel('status'), sender, {});
    assert.equal(!r.ok && r.error.code, 'ERR_FORBIDDEN', JSON.stringify(sender));
  }
  assert.equal(engine.calls.length, 0);
  assert.equal(router.stats.refusedSender, 4);
});

test('errors keep their code and details across the boundary', async () => {
  const { router } = setup();
  const r = await router.handle(appChannel('login'), good, { ControlURL: 'http://x' });
  assert.deepEqual(r, { ok: false, error: { code: 'ERR_CONTROL_UNREACHABLE', message: 'Cannot reach http://x: connection refused.', details: { URL: 'http://x' } } });
  const rebuilt = !r.ok ? MeshtrayError.fromBody(r.error) : undefined;
  assert.ok(rebuilt && MeshtrayError.is(rebuilt) && rebuilt.code === 'ERR_CONTROL_UNREACHABLE');
});

test('an engine answer of the wrong shape is not passed on', async () => {
  const { engine, router } = setup();
  engine.answers.status = () => ({ BackendState: 'Sideways' });
  const r = await router.handle(engineChannel('status'), good, {});
  assert.equal(!r.ok && r.error.code, 'ERR_INTERNAL');
  assert.match(!r.ok ? r.error.message : '', /unexpected shape/);
  assert.equal(router.stats.badResponse, 1);
});

test('unknown channel and thrown non-MeshtrayError', async () => {
  const { engine, router } = setup();
  const r = await router.handle('meshtray:engine:rm-rf', good, {});
  assert.equal(!r.ok && r.error.code, 'ERR_NOT_FOUND');
  engine.answers.down = () => { throw new Error('socket closed'); };
  const d = await router.handle(engineChannel('down'), good, {});
  assert.deepEqual(d, { ok: false, error: { code: 'ERR_INTERNAL', message: 'socket closed' } });
});

test('sender policy with a file URL built by pathToFileURL (spaces, Windows-style drive paths)', async () => {
  const { pathToFileURL } = await import('node:url');
  const index = '/opt/Mesh Tray/resources/app.asar/dist/renderer/index.html';
  const policy = createSenderPolicy({ trustedWebContents: () => new Set([1]), allowedUrlPrefixes: [pathToFileURL(index).href] });
  assert.equal(policy.refusal({ webContentsId: 1, frameUrl: 'file:///opt/Mesh%20Tray/resources/app.asar/dist/renderer/index.html' }), undefined);
  assert.equal(policy.refusal({ webContentsId: 1, frameUrl: 'file:///C:/Program%20Files/Meshtray/resources/app.asar/dist/renderer/index.html' }) !== undefined, true);
  const win = createSenderPolicy({ trustedWebContents: () => new Set([1]), allowedUrlPrefixes: ['file:///C:/Program%20Files/Meshtray/resources/app.asar/dist/renderer/index.html'] });
  assert.equal(win.refusal({ webContentsId: 1, frameUrl: 'file:///C:/Program%20Files/Meshtray/resources/app.asar/dist/renderer/index.html' }), undefined);
  assert.match(win.refusal({ webContentsId: 1, frameUrl: 'file:///C:/Users/x/Downloads/index.html' }) ?? '', /not our page/);
});
