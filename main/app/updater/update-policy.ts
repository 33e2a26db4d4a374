// When to check, download and install app updates. Pure: the electron-updater calls sit behind
// the Updater port (electron-updater-adapter.ts) and time behind the Clock port, so the policy is
// tested under Node with a fake clock (dependencies.md §3).
// Rules: check on start and every few hours; download in the background; install on quit or when
// the user asks; never restart while the engine is connecting (Starting) or a login is under way.
// A feed that cannot be reached or an update that fails its signature/checksum leaves the running
// version untouched and says so in one sentence.
import type { Clock, Logger, Timer } from '../../engine/ports/ports.js';
import type { UpdateState } from '../ipc/app-contract.js';

export interface AvailableUpdate {
  version: string;
}

/** The part of electron-updater the policy uses (autoDownload off, autoInstallOnAppQuit on). */
export interface Updater {
  /** null when the feed says we are up to date. */
  check(): Promise<AvailableUpdate | null>;
  download(onProgress: (percent: number) => void): Promise<void>;
  /** Quits the app and runs the installer now. */
  quitAndInstall(): void;
}

export interface UpdatePolicyOptions {
  updater: Updater;
  clock: Clock;
  log: Logger;
  currentVersion: string;
  /** True while restarting would break something the user is doing (engine Starting, login in progress). */
  isBusy: () => boolean;
  onChange: (s: UpdateState) => void;
  intervalMs?: number;
  /** First check this long after start, so the app is up before it uses the network. */
  startDelayMs?: number;
}

export const DEFAULT_UPDATE_INTERVAL_MS = 4 * 60 * 60 * 1000;

/** A user-facing sentence for an updater failure; the codes are electron-updater's (builder-util-runtime newError). */
export function describeUpdateError(e: unknown, currentVersion: string): string {
  const code = typeof e === 'object' && e !== null ? String((e as { code?: unknown }).code ?? '') : '';
  // Node's fetch puts the socket error in `cause` ("fetch failed" + cause.code ECONNREFUSED).
  const cause = typeof e === 'object' && e !== null ? (e as { cause?: { code?: unknown } }).cause : undefined;
  const causeCode = cause && typeof cause === 'object' ? String(cause.code ?? '') : '';
  const msg = e instanceof Error ? e.message : String(e);
  const keep = `You are still on ${currentVersion}; nothing was changed.`;
  if (code === 'ERR_UPDATER_INVALID_SIGNATURE' || /not signed|signature/i.test(msg)) {
    return `The downloaded update failed its signature check and was discarded. ${keep}`;
  }
  if (code === 'ERR_CHECKSUM_MISMATCH' || /checksum mismatch/i.test(msg)) {
    return `The downloaded update was damaged (checksum mismatch) and was discarded. ${keep}`;
  }
  if (/ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|ECONNRESET|net::ERR_|getaddrinfo|socket hang up/i.test(`${code} ${causeCode} ${msg}`)) {
    return `The update server could not be reached. ${keep} Meshtray will try again later.`;
  }
  if (code.startsWith('ERR_UPDATER_') ) {
    return `The update feed could not be read (${code}). ${keep}`;
  }
  return `Checking for updates failed: ${msg}. ${keep}`;
}

export class UpdatePolicy {
  private state: UpdateState;
  private timer: Timer | undefined;
  private installRequested = false;
  private running: Promise<UpdateState> | undefined;

  constructor(private readonly o: UpdatePolicyOptions) {
    this.state = { phase: 'idle', currentVersion: o.currentVersion };
  }

  get current(): UpdateState {
    return this.state;
  }

  start(): void {
    this.schedule(this.o.startDelayMs ?? 10_000);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Check now (also what "Check for updates" in the menu does). Concurrent calls share one check. */
  checkNow(): Promise<UpdateState> {
    this.running ??= this.runCheck().finally(() => (this.running = undefined));
    return this.running;
  }

  /** The user's word: install now, unless that would restart mid-connect; then as soon as it is safe. */
  installNow(): void {
    if (this.state.phase !== 'ready') return;
    if (this.o.isBusy()) {
      this.installRequested = true;
      this.set({ ...this.state, deferredReason: 'Meshtray will restart to update as soon as the connection attempt finishes.' });
      return;
    }
    this.install();
  }

  /** Call on every engine state change; a deferred install goes ahead once nothing is in progress. */
  onBusyChanged(): void {
    if (this.installRequested && this.state.phase === 'ready' && !this.o.isBusy()) this.install();
  }

  /** The app is quitting: true when electron-updater should install the downloaded update now. */
  shouldInstallOnQuit(): boolean {
    return this.state.phase === 'ready';
  }

  private install(): void {
    this.installRequested = false;
    this.set({ ...this.state, phase: 'installing', deferredReason: undefined });
    this.o.updater.quitAndInstall();
  }

  private schedule(ms: number): void {
    this.timer?.cancel();
    this.timer = this.o.clock.setTimeout(() => {
      void this.checkNow().finally(() => this.schedule(this.o.intervalMs ?? DEFAULT_UPDATE_INTERVAL_MS));
    }, ms);
  }

  private async runCheck(): Promise<UpdateState> {
    // A downloaded update stays ready; checking again would only download it twice.
    if (this.state.phase === 'ready' || this.state.phase === 'installing' || this.state.phase === 'downloading') return this.state;
    const base = { currentVersion: this.o.currentVersion, lastCheckedAt: this.o.clock.now() };
    this.set({ ...base, phase: 'checking' });
    let found: AvailableUpdate | null;
    try {
      found = await this.o.updater.check();
    } catch (e) {
      this.o.log.warn('update check failed', { reason: e instanceof Error ? e.message : String(e) });
      this.set({ ...base, phase: 'error', message: describeUpdateError(e, this.o.currentVersion) });
      return this.state;
    }
    if (!found) {
      this.set({ ...base, phase: 'up-to-date' });
      return this.state;
    }
    this.set({ ...base, phase: 'downloading', availableVersion: found.version, percent: 0 });
    try {
      await this.o.updater.download((percent) => {
        if (this.state.phase === 'downloading') this.set({ ...this.state, percent: Math.max(0, Math.min(100, percent)) });
      });
    } catch (e) {
      this.o.log.warn('update download failed', { version: found.version, reason: e instanceof Error ? e.message : String(e) });
      this.set({ ...base, phase: 'error', availableVersion: found.version, message: describeUpdateError(e, this.o.currentVersion) });
      return this.state;
    }
    this.set({ ...base, phase: 'ready', availableVersion: found.version, message: `Meshtray ${found.version} is ready; it installs when you quit, or restart now.` });
    return this.state;
  }

  private set(s: UpdateState): void {
    this.state = s;
    this.o.onChange(s);
  }
}
