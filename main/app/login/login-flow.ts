// One-click SSO login: check the server, ask the engine to log in, open the engine's AuthURL in
// the system browser, show progress, and finish on our own when the engine reports Running
// (tailscale GUIs do the same with ipn.Notify.BrowseToURL and State). If the browser never comes
// back, a timeout says so; nothing is lost, the engine keeps its prefs (only ControlURL was set) and stays logged out.
import type { Notify } from '../../../common/schemas/notify.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Clock, Logger, Timer } from '../../engine/ports/ports.js';
import type { EngineConnection } from '../engine-host/engine-connection.js';
import type { LoginProgress, ServerCheckResult } from '../ipc/app-contract.js';

/** Electron's shell.openExternal behind an interface (tests record the URL instead). */
export interface ExternalOpener {
  openExternal(url: string): Promise<void>;
}

export interface LoginFlowOptions {
  engine: EngineConnection;
  opener: ExternalOpener;
  checkServer: (url: string) => Promise<ServerCheckResult>;
  clock: Clock;
  log: Logger;
  onChange: (p: LoginProgress) => void;
  /** How long we wait for the browser to come back. */
  timeoutMs?: number;
}

export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60 * 1000;

/** Only http(s) URLs are ever handed to the OS: a hostile control server must not make us open file: or custom schemes. */
export function isSafeAuthURL(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

export class LoginFlow {
  private progress: LoginProgress = { phase: 'idle', controlURL: '' };
  private timer: Timer | undefined;
  private attempt = 0;
  private opened = new Set<string>();
  /** Re-auth of a Running engine: Running proves nothing, only LoginFinished ends the flow. */
  private reauth = false;

  constructor(private readonly o: LoginFlowOptions) {}

  get current(): LoginProgress {
    return this.progress;
  }

  get inProgress(): boolean {
    return this.progress.phase === 'checking-server' || this.progress.phase === 'starting' || this.progress.phase === 'waiting-for-browser';
  }

  /** Starts a login to `controlURL`. Resolves once the browser is (about to be) opened or the flow failed early. */
  async start(controlURL: string, opts: { reauth?: boolean } = {}): Promise<void> {
    const attempt = ++this.attempt;
    this.reauth = opts.reauth === true;
    this.timer?.cancel();
    this.opened.clear();
    this.set({ phase: 'checking-server', controlURL });
    const check = await this.o.checkServer(controlURL);
    if (attempt !== this.attempt) return;
    if (!check.reachable) {
      this.set({ phase: 'server-unreachable', controlURL, message: check.message });
      throw new MeshtrayError('ERR_CONTROL_UNREACHABLE', check.message, { URL: check.URL });
    }
    const url = check.URL;
    this.set({ phase: 'starting', controlURL: url });
    this.timer = this.o.clock.setTimeout(() => this.onTimeout(attempt), this.o.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS);
    try {
      // ForceReauth makes a logged-in engine ask control for a fresh login (tailscale `up --force-reauth`).
      await this.o.engine.call('start', { Prefs: { ControlURL: url, WantRunning: true }, ...(opts.reauth ? { ForceReauth: true } : {}) });
      await this.o.engine.call('loginInteractive', {});
    } catch (e) {
      if (attempt !== this.attempt) return;
      this.timer?.cancel();
      const message = e instanceof Error ? e.message : String(e);
      this.set({ phase: 'failed', controlURL: url, message: `The engine could not start the login: ${message}` });
      throw e;
    }
  }

  cancel(): void {
    this.attempt++;
    this.timer?.cancel();
    if (this.inProgress) this.set({ phase: 'idle', controlURL: this.progress.controlURL, message: 'Login cancelled.' });
  }

  /** Feed every engine Notify here (the app controller's own subscription). */
  onNotify(n: Notify): void {
    // A user who finishes in the browser after the timeout still gets "Logged in".
    if (this.progress.phase === 'timed-out' && (n.LoginFinished || (!this.reauth && (n.State ?? n.Status?.BackendState) === 'Running'))) {
      this.set({ phase: 'succeeded', controlURL: this.progress.controlURL, message: 'Logged in.' });
      return;
    }
    if (!this.inProgress) return;
    const authURL = n.BrowseToURL ?? (n.Status?.AuthURL ? n.Status.AuthURL : undefined);
    if (authURL && !this.opened.has(authURL)) void this.openBrowser(authURL);
    const state = n.State ?? n.Status?.BackendState;
    if (n.LoginFinished || (state === 'Running' && !this.reauth)) {
      this.timer?.cancel();
      this.set({ phase: 'succeeded', controlURL: this.progress.controlURL, message: 'Logged in.' });
    } else if (n.ErrMessage && this.progress.phase !== 'checking-server') {
      this.timer?.cancel();
      this.set({ phase: 'failed', controlURL: this.progress.controlURL, message: n.ErrMessage });
    }
  }

  private async openBrowser(authURL: string): Promise<void> {
    this.opened.add(authURL);
    if (!isSafeAuthURL(authURL)) {
      this.o.log.warn('login: refused to open a non-http AuthURL');
      this.timer?.cancel();
      this.set({ phase: 'failed', controlURL: this.progress.controlURL, message: 'The server sent a login link that is not a web address; it was not opened.' });
      return;
    }
    this.set({ phase: 'waiting-for-browser', controlURL: this.progress.controlURL, authURL, message: 'Finish signing in in your browser.' });
    try {
      await this.o.opener.openExternal(authURL);
    } catch (e) {
      // The link stays on screen, so the user can still open it by hand.
      this.o.log.warn('login: could not open the browser', { reason: e instanceof Error ? e.message : String(e) });
      this.set({ ...this.progress, message: 'Your browser could not be opened; open the link below by hand.' });
    }
  }

  private onTimeout(attempt: number): void {
    if (attempt !== this.attempt || !this.inProgress) return;
    this.set({
      phase: 'timed-out',
      controlURL: this.progress.controlURL,
      ...(this.progress.authURL ? { authURL: this.progress.authURL } : {}),
      message: 'The browser did not come back. Try again, or open the login link below by hand; you stay logged out until the sign-in finishes.',
    });
  }

  private set(p: LoginProgress): void {
    this.progress = p;
    this.o.onChange(p);
  }
}
