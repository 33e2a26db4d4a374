// The app's StateStore when it hosts the engine in-process: the keychain-backed store, and when the
// keychain cannot be used (missing: Linux basic_text or no secret service; locked at start or later
// in the session; a failed encrypt), the value is kept in this process's memory instead, and the
// window is told in one sentence. Never written anywhere in plain text, never silently: the warning
// stays until every held value has reached the keychain. A read the keychain refuses returns
// "nothing stored" for this session and leaves the stored ciphertext untouched, so a locked
// keychain never costs the user their node key: a key that could not be read is never overwritten
// from this session (its new value stays in memory), only removed on an explicit delete (logout).
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { StateStore } from '../../engine/ports/ports.js';
import type { KeychainProblem } from './keychain-store.js';

/** The keychain store's surface used here (KeychainStateStore). */
export interface KeychainLike extends StateStore {
  assertUsable(key?: string): Promise<void>;
}

export const SESSION_ONLY_SUFFIX = 'Until then Meshtray will not remember this login after it quits.';

const KEYCHAIN_PROBLEMS: readonly KeychainProblem[] = ['keychain-unavailable', 'keychain-insecure', 'keychain-decrypt-failed', 'keychain-encrypt-failed'];

/** The keychain's own refusals (KeychainStateStore's MeshtrayErrors); anything else is a real failure. */
export function keychainProblemOf(e: unknown): KeychainProblem | undefined {
  if (!MeshtrayError.is(e)) return undefined;
  const reason = (e.details as { reason?: unknown } | undefined)?.reason;
  return KEYCHAIN_PROBLEMS.find((p) => p === reason);
}

export class SessionFallbackStore implements StateStore {
  /** Values the keychain refused, kept for this session only. */
  private readonly held = new Map<string, string>();
  /** Keys whose stored value the keychain would not decrypt this session: never overwritten. */
  private readonly unreadable = new Set<string>();
  private warning: string | undefined;

  constructor(
    private readonly keychain: KeychainLike,
    private readonly onWarning: (message: string | undefined) => void,
  ) {}

  /** Checks the keychain once up front, so a missing or locked one is announced before the first login. */
  async open(): Promise<this> {
    try {
      await this.keychain.assertUsable();
    } catch (e) {
      if (!keychainProblemOf(e)) throw e;
      this.warn(e as MeshtrayError);
    }
    return this;
  }

  get currentWarning(): string | undefined {
    return this.warning;
  }

  /** Keys whose value lives only in memory right now (for diagnostics; never their values). */
  get sessionOnlyKeys(): string[] {
    return [...this.held.keys()];
  }

  async get(key: string): Promise<string | undefined> {
    const h = this.held.get(key);
    if (h !== undefined) return h;
    try {
      return await this.keychain.get(key);
    } catch (e) {
      if (!keychainProblemOf(e)) throw e;
      this.unreadable.add(key);
      this.warn(e as MeshtrayError);
      return undefined;
    }
  }

  async set(key: string, value: string): Promise<void> {
    if (this.unreadable.has(key)) {
      this.held.set(key, value);
      return;
    }
    try {
      await this.keychain.set(key, value);
      this.held.delete(key);
      await this.flush();
    } catch (e) {
      if (!keychainProblemOf(e)) throw e;
      this.held.set(key, value);
      this.warn(e as MeshtrayError);
    }
  }

  async delete(key: string): Promise<void> {
    this.held.delete(key);
    this.unreadable.delete(key);
    await this.keychain.delete(key);
    if (this.held.size === 0 && this.warning) await this.flush();
  }

  /** The keychain works again (a write just went through): move what was held into it. */
  private async flush(): Promise<void> {
    for (const [k, v] of [...this.held]) {
      if (this.unreadable.has(k)) continue;
      try {
        await this.keychain.set(k, v);
        this.held.delete(k);
      } catch (e) {
        if (!keychainProblemOf(e)) throw e;
        return;
      }
    }
    if (this.held.size === 0 && this.warning) {
      // Only a keychain that is usable now clears the warning (a read refusal left nothing held).
      try {
        await this.keychain.assertUsable();
      } catch {
        return;
      }
      this.warning = undefined;
      this.onWarning(undefined);
    }
  }

  private warn(e: MeshtrayError): void {
    const msg = `${e.message} ${SESSION_ONLY_SUFFIX}`;
    if (msg === this.warning) return;
    this.warning = msg;
    this.onWarning(msg);
  }
}
