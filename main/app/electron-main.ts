// Electron glue, kept thin on purpose: every decision lives in plain modules tested under Node
// (app-controller, ipc/router, tray/menu-model, updater/update-policy, login/login-flow,
// engine-host/host-choice, secrets/keychain-store). This file cannot run on the dev machines
// (no Electron binary there); release CI smoke-tests it.
import { app, BrowserWindow, clipboard, ipcMain, Menu, nativeImage, safeStorage, session, shell, Tray, type WebContents } from 'electron';
import electronLog from 'electron-log/main.js';
import electronUpdater from 'electron-updater';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { LocalClient, DEFAULT_SOCKET } from '../client/localapi-client.js';
import { systemClock } from '../engine/ports/system.js';
import { AppController } from './app-controller.js';
import { chooseEngineHost } from './engine-host/host-choice.js';
import { helperSocketPath } from './helper/helper-paths.js';
import { nodeHostProbe } from './engine-host/node-host-probe.js';
import type { EngineConnection } from './engine-host/engine-connection.js';
import { unavailableEngine } from './engine-host/unavailable-engine.js';
import { startInProcessEngine } from './engine-host/in-process-engine.js';
import { APP_STATE_CHANNEL, NOTIFY_CHANNEL, WATCH_START_CHANNEL, WATCH_STOP_CHANNEL } from './ipc/channels.js';
import { IpcRouter } from './ipc/router.js';
import { createSenderPolicy } from './ipc/sender-policy.js';
import { createAppLogger, redactingHook } from './log/app-logger.js';
import { checkControlServer } from './login/server-check.js';
import { FileBlobStore } from './secrets/file-blob-store.js';
import { KeychainStateStore } from './secrets/keychain-store.js';
import { SessionFallbackStore } from './secrets/session-fallback-store.js';
import { toMenuTemplate } from './tray/menu-template.js';
import { adaptElectronUpdater } from './updater/electron-updater-adapter.js';
import { loginLinkToOpen, RENDERER_CSP, secureWebPreferences } from './window/window-security.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/main/app
const RENDERER_INDEX = join(here, '..', '..', 'renderer', 'index.html');
const PRELOAD = join(here, '..', '..', 'preload', 'preload.cjs');
const ASSETS = join(here, '..', '..', '..', 'assets');
const HELPER_SOCKET = helperSocketPath(process.platform);

electronLog.initialize();
electronLog.hooks.push(redactingHook);
const log = createAppLogger(electronLog);

app.enableSandbox();
if (!app.requestSingleInstanceLock()) app.quit();

// App-wide: no new windows, no navigation, no webviews, no permissions, for any webContents.
app.on('web-contents-created', (_e, contents) => {
  // Denied, except the login link the window shows, which goes to the system browser.
  contents.setWindowOpenHandler(({ url }) => {
    const open = loginLinkToOpen(url, currentAuthURL());
    if (open) void shell.openExternal(open);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (e) => e.preventDefault());
  contents.on('will-redirect', (e) => e.preventDefault());
  contents.on('will-attach-webview', (e) => e.preventDefault());
});

let win: BrowserWindow | undefined;
/** The AuthURL of a login in progress (set once the controller exists). */
let currentAuthURL: () => string | undefined = () => undefined;
let tray: Tray | undefined;

async function main(): Promise<void> {
  await app.whenReady();
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
  session.defaultSession.webRequest.onHeadersReceived((details, cb) => {
    cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [RENDERER_CSP] } });
  });

  const choice = await chooseEngineHost(nodeHostProbe, {
    // MESHTRAY_SOCKET: a non-default meshtrayd socket (tests, several daemons); still ownership-checked.
    daemonSocketPaths: [...(process.env['MESHTRAY_SOCKET'] ? [process.env['MESHTRAY_SOCKET']] : []), DEFAULT_SOCKET, '/run/meshtray/meshtrayd.sock'],
    helperSocketPath: HELPER_SOCKET,
    canHostInProcess: process.env['APPIMAGE'] === undefined,
  });
  let engine: EngineConnection;
  let host: { mode: 'attached' | 'in-process' | 'unavailable'; detail: string };
  let secretsWarning: string | undefined;
  let stopEngine: () => Promise<void> = async () => undefined;
  // The keychain fallback may report before the controller exists: held here until then.
  let reportSecrets = (w: string | undefined): void => void (secretsWarning = w);
  if (choice.mode === 'attached') {
    engine = new LocalClient({ socketPath: choice.socketPath });
    host = { mode: 'attached', detail: choice.socketPath };
  } else if (choice.mode === 'in-process') {
    // Secrets go to the OS keychain; while it is locked or missing (at start or later) the values
    // stay in memory for this session, the window says so, and nothing on disk is touched or lost.
    const keychain = new KeychainStateStore(safeStorage, new FileBlobStore(join(app.getPath('userData'), 'state')));
    const store = await new SessionFallbackStore(keychain, (w) => reportSecrets(w)).open();
    // With the helper the engine carries traffic (TUN, routes, DNS through it); without, control
    // plane only and a health line says why (host-choice's reason).
    const inproc = await startInProcessEngine({ store, log: log.child('engine'), version: app.getVersion(), helperSocketPath: choice.helperSocketPath, noHelperReason: choice.reason });
    engine = inproc.engine;
    stopEngine = inproc.stop;
    host = { mode: 'in-process', detail: choice.reason };
  } else {
    engine = unavailableEngine(choice.reason);
    host = { mode: 'unavailable', detail: choice.reason };
  }

  const { autoUpdater } = electronUpdater;
  autoUpdater.logger = electronLog;
  const controller = new AppController({
    engine,
    host,
    opener: { openExternal: (url) => shell.openExternal(url) },
    checkServer: (url) => checkControlServer(url, (u, init) => fetch(u, init)),
    updater: adaptElectronUpdater(autoUpdater),
    currentVersion: app.getVersion(),
    clock: systemClock,
    log,
    shell: { openWindow: () => showWindow(), quit: () => app.quit(), copyText: (t) => clipboard.writeText(t) },
  });

  if (secretsWarning) controller.setSecretsWarning(secretsWarning);
  reportSecrets = (w) => controller.setSecretsWarning(w);
  currentAuthURL = () => controller.appState.login.authURL;

  const ourWindows = (): ReadonlySet<number> => new Set(win && !win.isDestroyed() ? [win.webContents.id] : []);
  const policy = createSenderPolicy({ trustedWebContents: ourWindows, allowedUrlPrefixes: [pathToFileURL(RENDERER_INDEX).href] });
  const router = new IpcRouter(engine, controller.handlers, policy, log.child('ipc'));
  for (const channel of router.channels()) {
    ipcMain.handle(channel, (event, payload: unknown) =>
      router.handle(channel, { webContentsId: event.sender.id, frameUrl: event.senderFrame?.url ?? '' }, payload),
    );
  }
  const watches = new Map<number, () => void>();
  ipcMain.on(WATCH_START_CHANNEL, (event) => {
    const sender = { webContentsId: event.sender.id, frameUrl: event.senderFrame?.url ?? '' };
    const refusal = policy.refusal(sender);
    if (refusal) return log.warn('ipc: refused watch', { reason: refusal });
    const wc: WebContents = event.sender;
    watches.get(wc.id)?.();
    const stop = controller.forwarder.subscribe((n) => {
      if (!wc.isDestroyed()) wc.send(NOTIFY_CHANNEL, n);
    });
    watches.set(wc.id, stop);
    wc.once('destroyed', () => {
      watches.get(wc.id)?.();
      watches.delete(wc.id);
    });
    wc.send(APP_STATE_CHANNEL, controller.appState);
  });
  ipcMain.on(WATCH_STOP_CHANNEL, (event) => {
    const refusal = policy.refusal({ webContentsId: event.sender.id, frameUrl: event.senderFrame?.url ?? '' });
    if (refusal) return log.warn('ipc: refused watch stop', { reason: refusal });
    watches.get(event.sender.id)?.();
    watches.delete(event.sender.id);
  });
  controller.onAppState((s) => {
    if (win && !win.isDestroyed()) win.webContents.send(APP_STATE_CHANNEL, s);
  });

  tray = new Tray(nativeImage.createFromPath(join(ASSETS, 'tray-disconnected.png')));
  controller.onMenu((m) => {
    if (!tray) return;
    tray.setImage(nativeImage.createFromPath(join(ASSETS, `tray-${m.icon}.png`)));
    tray.setToolTip(m.tooltip);
    const template = toMenuTemplate(m, (cmd) => controller.runMenuCommand(cmd), (e) => log.warn('tray command failed', { reason: e instanceof Error ? e.message : String(e) }));
    tray.setContextMenu(Menu.buildFromTemplate(template));
  });
  controller.start();
  app.on('second-instance', () => showWindow());
  app.on('activate', () => showWindow()); // macOS: clicking the dock icon
  app.on('before-quit', () => {
    controller.stop();
    void stopEngine();
  });
  // A tray app keeps running with its window closed.
  app.on('window-all-closed', () => undefined);
  showWindow();
}

function showWindow(): void {
  if (win && !win.isDestroyed()) {
    win.show();
    win.focus();
    return;
  }
  win = new BrowserWindow({
    width: 420,
    height: 640,
    show: false,
    title: 'Meshtray',
    webPreferences: secureWebPreferences(PRELOAD, !app.isPackaged),
  });
  win.once('ready-to-show', () => win?.show());
  void win.loadFile(RENDERER_INDEX);
}

main().catch((e: unknown) => {
  log.error('startup failed', { reason: e instanceof Error ? e.message : String(e) });
  app.exit(1);
});
