// A stand-in for the 'electron' module, just rich enough to run main/app/electron-main.ts under
// plain Node and record what it does (the real binary cannot be downloaded here).
type Fn = (...a: any[]) => any;

export const record = {
  sandbox: false,
  singleLock: false,
  appHandlers: new Map<string, Fn[]>(),
  windows: [] as FakeBrowserWindow[],
  ipcHandle: new Map<string, Fn>(),
  ipcOn: new Map<string, Fn>(),
  permissionHandler: undefined as Fn | undefined,
  headersHandler: undefined as Fn | undefined,
  trays: [] as FakeTray[],
  opened: [] as string[],
  quit: 0,
};
(globalThis as any).__fakeElectron = record;

class FakeWebContents {
  handlers = new Map<string, Fn[]>();
  sent: [string, unknown][] = [];
  windowOpenHandler: Fn | undefined;
  constructor(readonly id: number) {}
  on(ev: string, fn: Fn) { this.handlers.set(ev, [...(this.handlers.get(ev) ?? []), fn]); return this; }
  once(ev: string, fn: Fn) { return this.on(ev, fn); }
  send(ch: string, v: unknown) { this.sent.push([ch, v]); }
  isDestroyed() { return false; }
  setWindowOpenHandler(fn: Fn) { this.windowOpenHandler = fn; }
}

export class FakeBrowserWindow {
  static nextId = 1;
  readonly webContents: FakeWebContents;
  loaded: string | undefined;
  shown = false;
  constructor(readonly opts: any) {
    this.webContents = new FakeWebContents(FakeBrowserWindow.nextId++);
    record.windows.push(this);
  }
  once(ev: string, fn: Fn) { if (ev === 'ready-to-show') setImmediate(fn); return this; }
  async loadFile(p: string) { this.loaded = p; }
  show() { this.shown = true; }
  focus() {}
  isDestroyed() { return false; }
}

export class FakeTray {
  image: any;
  tooltip = '';
  menu: any;
  constructor(img: any) { this.image = img; record.trays.push(this); }
  setImage(img: any) { this.image = img; }
  setToolTip(t: string) { this.tooltip = t; }
  setContextMenu(m: any) { this.menu = m; }
}

export const app = {
  enableSandbox() { record.sandbox = true; },
  requestSingleInstanceLock() { record.singleLock = true; return true; },
  on(ev: string, fn: Fn) { record.appHandlers.set(ev, [...(record.appHandlers.get(ev) ?? []), fn]); return app; },
  whenReady: async () => undefined,
  getPath: () => process.env['FAKE_USER_DATA'] ?? '/tmp',
  getVersion: () => '0.1.0',
  isPackaged: false,
  quit() { record.quit++; },
  exit(code: number) { process.stderr.write(`app.exit(${code})\n`); },
};
export const BrowserWindow = FakeBrowserWindow;
export const Tray = FakeTray;
export const Menu = { buildFromTemplate: (template: unknown[]) => ({ template }) };
export const nativeImage = { createFromPath: (path: string) => ({ path }) };
export const shell = { openExternal: async (url: string) => void record.opened.push(url) };
export const clipboard = { writeText: () => undefined };
export const ipcMain = {
  handle(ch: string, fn: Fn) { record.ipcHandle.set(ch, fn); },
  on(ch: string, fn: Fn) { record.ipcOn.set(ch, fn); },
};
export const session = {
  defaultSession: {
    setPermissionRequestHandler(fn: Fn) { record.permissionHandler = fn; },
    webRequest: { onHeadersReceived(fn: Fn) { record.headersHandler = fn; } },
  },
};
/** A keychain that is locked: the in-process host must warn and keep state in memory. */
export const safeStorage = {
  isAsyncEncryptionAvailable: async () => false,
  encryptStringAsync: async () => { throw new Error('locked'); },
  decryptStringAsync: async () => { throw new Error('locked'); },
  getSelectedStorageBackend: () => 'gnome_libsecret',
};
export type WebContents = FakeWebContents;
export type IpcRendererEvent = unknown;
export default { app, BrowserWindow, Tray, Menu, nativeImage, shell, clipboard, ipcMain, session, safeStorage };
