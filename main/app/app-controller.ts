// The app shell's logic, without Electron: it subscribes to the engine's Notify stream for the tray,
// runs the login flow and the update policy, serves the app-level IPC calls and turns tray
// commands into engine calls. electron-main.ts only wires Electron objects to this.
import type { Notify } from '../../common/schemas/notify.js';
import type { Prefs } from '../../common/schemas/prefs.js';
import type { BackendState, Status } from '../../common/schemas/status.js';
import type { Clock, Logger } from '../engine/ports/ports.js';
import type { EngineConnection } from './engine-host/engine-connection.js';
import type { AppState, UpdateState } from './ipc/app-contract.js';
import type { AppHandlers } from './ipc/router.js';
import { NotifyForwarder } from './ipc/notify-forwarder.js';
import { LoginFlow, type ExternalOpener } from './login/login-flow.js';
import type { ServerCheckResult } from './ipc/app-contract.js';
import { buildMenu, type MenuCommand, type MenuModel } from './tray/menu-model.js';
import { UpdatePolicy, type Updater } from './updater/update-policy.js';

export interface ShellActions {
  openWindow(): void;
  quit(): void;
  copyText(text: string): void;
}

export interface AppControllerOptions {
  engine: EngineConnection;
  host: AppState['host'];
  opener: ExternalOpener;
  checkServer: (url: string) => Promise<ServerCheckResult>;
  updater: Updater;
  currentVersion: string;
  clock: Clock;
  log: Logger;
  shell: ShellActions;
  loginTimeoutMs?: number;
  updateIntervalMs?: number;
}

export class AppController {
  readonly forwarder: NotifyForwarder;
  readonly login: LoginFlow;
  readonly updates: UpdatePolicy;
  private status: Status | undefined;
  private prefs: Prefs | undefined;
  private state: BackendState | undefined;
  private engineReachable = false;
  private secretsWarning: string | undefined;
  private stopWatch: (() => void) | undefined;
  private readonly appStateListeners = new Set<(s: AppState) => void>();
  private readonly menuListeners = new Set<(m: MenuModel) => void>();

  constructor(private readonly o: AppControllerOptions) {
    this.forwarder = new NotifyForwarder(o.engine, o.clock, o.log.child('notify'));
    this.login = new LoginFlow({
      engine: o.engine,
      opener: o.opener,
      checkServer: o.checkServer,
      clock: o.clock,
      log: o.log.child('login'),
      onChange: () => {
        this.emitAppState();
        this.updates.onBusyChanged();
      },
      ...(o.loginTimeoutMs !== undefined ? { timeoutMs: o.loginTimeoutMs } : {}),
    });
    this.updates = new UpdatePolicy({
      updater: o.updater,
      clock: o.clock,
      log: o.log.child('update'),
      currentVersion: o.currentVersion,
      isBusy: () => this.state === 'Starting' || this.login.inProgress,
      onChange: () => {
        this.emitAppState();
        this.emitMenu();
      },
      ...(o.updateIntervalMs !== undefined ? { intervalMs: o.updateIntervalMs } : {}),
    });
  }

  start(): void {
    this.stopWatch = this.forwarder.subscribe(
      (n) => this.onNotify(n),
      () => {
        this.engineReachable = false;
        this.emitMenu();
        this.emitAppState();
      },
    );
    this.updates.start();
    this.emitMenu();
  }

  stop(): void {
    this.stopWatch?.();
    this.updates.stop();
    this.login.cancel();
  }

  setSecretsWarning(message: string | undefined): void {
    this.secretsWarning = message;
    this.emitAppState();
  }

  get appState(): AppState {
    return {
      login: this.login.current,
      update: this.updates.current,
      host: this.o.host,
      engineReachable: this.engineReachable,
      ...(this.secretsWarning ? { secretsWarning: this.secretsWarning } : {}),
    };
  }

  get menu(): MenuModel {
    const u = this.updates.current;
    return buildMenu({
      status: this.status,
      prefs: this.prefs,
      engineReachable: this.engineReachable,
      ...(u.phase === 'ready' && u.availableVersion ? { updateReady: { version: u.availableVersion } } : {}),
    });
  }

  onAppState(fn: (s: AppState) => void): () => void {
    this.appStateListeners.add(fn);
    return () => this.appStateListeners.delete(fn);
  }

  onMenu(fn: (m: MenuModel) => void): () => void {
    this.menuListeners.add(fn);
    return () => this.menuListeners.delete(fn);
  }

  readonly handlers: AppHandlers = {
    getAppState: async () => this.appState,
    checkServer: (req) => this.o.checkServer(req.URL),
    login: async (req) => {
      await this.login.start(req.ControlURL, { reauth: req.Reauth === true });
      return {};
    },
    cancelLogin: async () => {
      this.login.cancel();
      return {};
    },
    checkForUpdates: (): Promise<UpdateState> => this.updates.checkNow(),
    installUpdate: async () => {
      this.updates.installNow();
      return {};
    },
    // The window's Copy buttons: main's clipboard (see CopyTextRequestSchema for why not the page's).
    copyText: async (req) => {
      this.o.shell.copyText(req.Text);
      return {};
    },
  };

  /** A tray click. Engine changes go through the engine; what the menu shows next comes back via Notify. */
  async runMenuCommand(cmd: MenuCommand): Promise<void> {
    const e = this.o.engine;
    switch (cmd.type) {
      case 'connect':
        await e.call('editPrefs', { WantRunning: true });
        return;
      case 'disconnect':
        await e.call('down', {});
        return;
      case 'set-exit-node':
        await e.call('editPrefs', { ExitNodeID: cmd.id, ExitNodeIP: '' });
        return;
      case 'toggle':
        await e.call('editPrefs', { [cmd.pref]: cmd.value });
        return;
      case 'login':
        // With a known server, one click logs in; otherwise the window's sign-in screen asks which server.
        if (this.prefs?.ControlURL) await this.login.start(this.prefs.ControlURL);
        else this.o.shell.openWindow();
        return;
      case 'logout':
        await e.call('logout', {});
        return;
      case 'copy':
        this.o.shell.copyText(cmd.text);
        return;
      case 'open-window':
        this.o.shell.openWindow();
        return;
      case 'quit':
        this.o.shell.quit();
        return;
      case 'install-update':
        this.updates.installNow();
        return;
    }
  }

  private onNotify(n: Notify): void {
    if (!this.engineReachable) {
      this.engineReachable = true;
      this.emitAppState();
    }
    if (n.Prefs) this.prefs = n.Prefs;
    if (n.Status) {
      this.status = n.Status;
      this.state = n.Status.BackendState;
    }
    if (n.State) {
      this.state = n.State;
      if (this.status) this.status = { ...this.status, BackendState: n.State };
    }
    this.login.onNotify(n);
    this.updates.onBusyChanged();
    this.emitMenu();
  }

  private emitAppState(): void {
    const s = this.appState;
    for (const fn of this.appStateListeners) fn(s);
  }

  private emitMenu(): void {
    const m = this.menu;
    for (const fn of this.menuListeners) fn(m);
  }
}
