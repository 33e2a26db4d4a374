// Runs main/app/electron-main.ts against the fake electron (see register.ts), pokes it the way
// Electron would, and prints one JSON report for electron-main-glue.test.ts.
import { pathToFileURL } from 'node:url';
import type { record as Rec } from './fake-electron.js';

await import('../../../../main/app/electron-main.js');
const rec = (globalThis as unknown as { __fakeElectron: typeof Rec }).__fakeElectron;
const logLines = (globalThis as unknown as { __fakeLogLines: string[] }).__fakeLogLines;

const until = Date.now() + 20_000;
while (Date.now() < until && !(rec.trays[0]?.menu && rec.windows[0]?.loaded)) await new Promise((r) => setTimeout(r, 50));
const win = rec.windows[0]!;
const ok = { sender: { id: win.webContents.id }, senderFrame: { url: pathToFileURL(win.loaded ?? '').href } };
const call = (ch: string, ev: unknown, payload: unknown) => rec.ipcHandle.get(ch)!(ev, payload);

// Let the tray see the engine's first Notify.
const menuUntil = Date.now() + 10_000;
while (Date.now() < menuUntil && !JSON.stringify(rec.trays[0]?.menu ?? {}).includes('Log in')) await new Promise((r) => setTimeout(r, 50));

const status = await call('meshtray:engine:status', ok, {});
const foreign = await call('meshtray:engine:status', { sender: { id: 99 }, senderFrame: { url: ok.senderFrame.url } }, {});
const foreignPage = await call('meshtray:engine:status', { sender: { id: win.webContents.id }, senderFrame: { url: 'https://evil.example/' } }, {});
const bad = await call('meshtray:engine:editPrefs', ok, { RouteAll: 'yes' });
const appState = await call('meshtray:app:getAppState', ok, {});
const unreachable = await call('meshtray:app:login', ok, { ControlURL: 'http://127.0.0.1:1' });

// web-contents-created: popups denied, navigation and webviews prevented.
const contents = { handlers: new Map<string, (e: { preventDefault(): void }) => void>(), openHandler: undefined as undefined | ((d: unknown) => unknown), setWindowOpenHandler(fn: (d: unknown) => unknown) { this.openHandler = fn; }, on(ev: string, fn: (e: { preventDefault(): void }) => void) { this.handlers.set(ev, fn); } };
for (const fn of rec.appHandlers.get('web-contents-created') ?? []) fn({}, contents);
const prevented: string[] = [];
for (const ev of ['will-navigate', 'will-redirect', 'will-attach-webview']) contents.handlers.get(ev)?.({ preventDefault: () => prevented.push(ev) });
let permission: boolean | undefined;
rec.permissionHandler?.({}, 'media', (v: boolean) => (permission = v));
let csp: unknown;
rec.headersHandler?.({ responseHeaders: {} }, (r: { responseHeaders: Record<string, unknown> }) => (csp = r.responseHeaders['Content-Security-Policy']));

// watch-start from our window: the window gets the app state and a Notify stream.
const sent: [string, unknown][] = [];
const wc = { id: win.webContents.id, send: (c: string, v: unknown) => sent.push([c, v]), isDestroyed: () => false, once: () => undefined };
rec.ipcOn.get('meshtray:watch-start')!({ sender: wc, senderFrame: ok.senderFrame });
const watchUntil = Date.now() + 5_000;
while (Date.now() < watchUntil && !sent.some(([c]) => c === 'meshtray:notify')) await new Promise((r) => setTimeout(r, 50));
const refusedSent: unknown[] = [];
rec.ipcOn.get('meshtray:watch-start')!({ sender: { ...wc, id: 42, send: (c: string) => refusedSent.push(c) }, senderFrame: ok.senderFrame });

process.stdout.write(
  JSON.stringify({
    sandbox: rec.sandbox,
    singleLock: rec.singleLock,
    webPreferences: win.opts.webPreferences,
    loaded: win.loaded,
    handleChannels: [...rec.ipcHandle.keys()].sort(),
    onChannels: [...rec.ipcOn.keys()].sort(),
    status,
    foreign,
    foreignPage,
    bad,
    appState,
    unreachable,
    openHandler: contents.openHandler?.({ url: 'https://example.com' }),
    prevented,
    permission,
    csp,
    tray: { image: rec.trays[0]?.image, tooltip: rec.trays[0]?.tooltip, labels: (rec.trays[0]?.menu?.template ?? []).map((i: { label?: string }) => i.label ?? '-') },
    sentChannels: sent.map(([c]) => c),
    refusedSent,
    opened: rec.opened,
    logLines,
  }) + '\n',
);
process.exit(0);
