import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, flush } from '../../doubles/fake-clock.js';
import { AppController } from '../../../main/app/app-controller.js';
import type { MenuModel } from '../../../main/app/tray/menu-model.js';
import type { Notify } from '../../../common/schemas/notify.js';
import { NotifyForwarder } from '../../../main/app/ipc/notify-forwarder.js';
import { FakeEngine, MemLogger, prefs, status } from './fixtures.js';

function setup() {
  const clock = new FakeClock();
  const engine = new FakeEngine();
  const opened: string[] = [];
  const shell = { windows: 0, quits: 0, copied: [] as string[] };
  const c = new AppController({
    engine,
    host: { mode: 'attached', detail: '/var/run/meshtray/meshtrayd.sock' },
    opener: { openExternal: async (u) => { opened.push(u); } },
    checkServer: async (u) => ({ URL: u, reachable: true, message: 'ok' }),
    updater: { check: async () => null, download: async () => undefined, quitAndInstall: () => undefined },
    currentVersion: '0.1.0',
    clock,
    log: new MemLogger(),
    shell: { openWindow: () => shell.windows++, quit: () => shell.quits++, copyText: (t) => shell.copied.push(t) },
  });
  const menus: MenuModel[] = [];
  c.onMenu((m) => menus.push(m));
  return { clock, engine, opened, shell, c, menus };
}

test('tray follows the Notify stream: snapshot, then exit node chosen', async () => {
  const { engine, c, menus } = setup();
  c.start();
  assert.equal(menus.at(-1)?.items[0]?.kind === 'label' && (menus.at(-1)?.items[0] as { label: string }).label, 'Meshtray engine not running');
  engine.push({ State: 'Running', Prefs: prefs(), Status: status() });
  await flush();
  assert.equal(menus.at(-1)?.icon, 'connected');
  engine.push({ Prefs: prefs({ ExitNodeID: 'n-exit1' }) });
  await flush();
  assert.equal(menus.at(-1)?.icon, 'exit-node');
  engine.push({ State: 'Stopped' });
  await flush();
  assert.equal(menus.at(-1)?.icon, 'disconnected');
  c.stop();
});

test('menu commands become engine calls; nothing changes locally until the engine says so', async () => {
  const { engine, c, shell, menus } = setup();
  c.start();
  engine.push({ State: 'Running', Prefs: prefs(), Status: status() });
  await flush();
  const before = menus.length;
  await c.runMenuCommand({ type: 'set-exit-node', id: 'n-exit1' });
  await c.runMenuCommand({ type: 'toggle', pref: 'RouteAll', value: true });
  await c.runMenuCommand({ type: 'disconnect' });
  await c.runMenuCommand({ type: 'connect' });
  await c.runMenuCommand({ type: 'logout' });
  await c.runMenuCommand({ type: 'copy', text: '100.64.0.1' });
  await c.runMenuCommand({ type: 'open-window' });
  await c.runMenuCommand({ type: 'quit' });
  assert.deepEqual(engine.calls, [
    { name: 'editPrefs', req: { ExitNodeID: 'n-exit1', ExitNodeIP: '' } },
    { name: 'editPrefs', req: { RouteAll: true } },
    { name: 'down', req: {} },
    { name: 'editPrefs', req: { WantRunning: true } },
    { name: 'logout', req: {} },
  ]);
  assert.equal(menus.length, before, 'no menu rebuilt without a Notify');
  assert.deepEqual(shell, { windows: 1, quits: 1, copied: ['100.64.0.1'] });
  c.stop();
});

test('tray "Log in" with a known server runs the login flow and opens the AuthURL', async () => {
  const { engine, c, opened } = setup();
  c.start();
  engine.push({ State: 'NeedsLogin', Prefs: prefs({ ControlURL: 'http://127.0.0.1:8080' }) });
  await flush();
  await c.runMenuCommand({ type: 'login' });
  engine.push({ BrowseToURL: 'http://127.0.0.1:8080/register/abc' });
  await flush();
  assert.deepEqual(opened, ['http://127.0.0.1:8080/register/abc']);
  assert.equal(c.appState.login.phase, 'waiting-for-browser');
  engine.push({ State: 'Running' });
  await flush();
  assert.equal(c.appState.login.phase, 'succeeded');
  c.stop();
});

test('forwarder: malformed messages are dropped and counted, the stream goes on; reconnects after the engine drops', async () => {
  const clock = new FakeClock();
  const engine = new FakeEngine();
  const log = new MemLogger();
  const f = new NotifyForwarder(engine, clock, log, 500);
  const got: Notify[] = [];
  const stop = f.subscribe((n) => got.push(n));
  engine.push({ State: 'Running' });
  engine.push({ State: 'Exploded' });
  engine.push({ Prefs: { ControlURL: 5 } });
  engine.push({ State: 'Stopped' });
  await flush();
  assert.deepEqual(got, [{ State: 'Running' }, { State: 'Stopped' }]);
  assert.equal(f.stats.dropped, 2);
  assert.ok(log.lines.some((l) => l.msg === 'notify: dropped malformed message'));
  stop();
  await flush();

  let n = 0;
  const flaky = {
    call: engine.call.bind(engine),
    async *watch() {
      n++;
      yield { State: n === 1 ? 'Starting' : 'Running' } as Notify;
      throw new Error('socket closed');
    },
  };
  const g = new NotifyForwarder(flaky, clock, log, 500);
  const seen: Notify[] = [];
  const downs: string[] = [];
  const stop2 = g.subscribe((x) => seen.push(x), (r) => downs.push(r));
  await flush();
  assert.deepEqual(seen, [{ State: 'Starting' }]);
  assert.deepEqual(downs, ['socket closed']);
  await clock.advance(500);
  assert.deepEqual(seen, [{ State: 'Starting' }, { State: 'Running' }]);
  stop2();
  await clock.advance(5_000);
  assert.equal(n, 2, 'no reconnect after stop');
});

test('update ready: the tray offers the restart, and the command installs (not while connecting)', async () => {
  const clock = new FakeClock();
  const engine = new FakeEngine();
  let installs = 0;
  const c = new AppController({
    engine,
    host: { mode: 'attached', detail: 's' },
    opener: { openExternal: async () => undefined },
    checkServer: async (u) => ({ URL: u, reachable: true, message: 'ok' }),
    updater: { check: async () => ({ version: '0.2.0' }), download: async () => undefined, quitAndInstall: () => void installs++ },
    currentVersion: '0.1.0',
    clock,
    log: new MemLogger(),
    shell: { openWindow: () => undefined, quit: () => undefined, copyText: () => undefined },
  });
  const menus: MenuModel[] = [];
  c.onMenu((m) => menus.push(m));
  c.start();
  engine.push({ State: 'Starting', Prefs: prefs(), Status: status({ BackendState: 'Starting' }) });
  await clock.advance(10_000);
  assert.ok(menus.at(-1)?.items.some((i) => i.id === 'install-update'));
  await c.runMenuCommand({ type: 'install-update' });
  assert.equal(installs, 0, 'engine is connecting');
  engine.push({ State: 'Running' });
  await flush();
  assert.equal(installs, 1, 'installs once the connection attempt finished');
  c.stop();
});

test('the window\'s Copy goes through main\'s clipboard (copyText); a bad request copies nothing', async () => {
  const { c, shell } = setup();
  const { IpcRouter } = await import('../../../main/app/ipc/router.js');
  const { appChannel } = await import('../../../main/app/ipc/channels.js');
  const { createSenderPolicy } = await import('../../../main/app/ipc/sender-policy.js');
  const page = 'file:///opt/Meshtray/resources/app.asar/dist/renderer/index.html';
  const router = new IpcRouter(new FakeEngine(), c.handlers, createSenderPolicy({ trustedWebContents: () => new Set([1]), allowedUrlPrefixes: [page] }), new MemLogger());
  const ok = await router.handle(appChannel('copyText'), { webContentsId: 1, frameUrl: page }, { Text: '100.64.0.2' });
  assert.deepEqual(ok, { ok: true, value: {} });
  assert.deepEqual(shell.copied, ['100.64.0.2']);
  for (const bad of [{ Text: '' }, { Text: 'x'.repeat(4097) }, { Text: '1', Extra: 1 }, {}]) {
    const r = await router.handle(appChannel('copyText'), { webContentsId: 1, frameUrl: page }, bad);
    assert.equal(!r.ok && r.error.code, 'ERR_BAD_REQUEST', JSON.stringify(bad).slice(0, 40));
  }
  const foreign = await router.handle(appChannel('copyText'), { webContentsId: 2, frameUrl: page }, { Text: 'x' });
  assert.equal(!foreign.ok && foreign.error.code, 'ERR_FORBIDDEN');
  assert.deepEqual(shell.copied, ['100.64.0.2'], 'nothing else reached the clipboard');
});
