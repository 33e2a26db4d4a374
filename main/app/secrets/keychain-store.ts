// Secrets kept by the desktop app (when it hosts the engine in-process) go to the OS keychain
// through Electron's safeStorage (macOS Keychain, Windows DPAPI, libsecret/kwallet on Linux),
// behind the engine's StateStore port. The async safeStorage API is the current one (Electron 45
// marks the sync calls deprecated). Problems become one clear MeshtrayError; nothing is deleted
// or overwritten on a failed read, so a locked keychain never costs the user their node key.
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { StateStore } from '../../engine/ports/ports.js';

/** The slice of Electron's safeStorage we use. */
export interface SafeStorageLike {
  isAsyncEncryptionAvailable(): Promise<boolean>;
  encryptStringAsync(plain: string): Promise<Uint8Array>;
  decryptStringAsync(encrypted: Uint8Array): Promise<{ result: string; shouldReEncrypt: boolean }>;
  /** Linux only; other platforms omit it. */
  getSelectedStorageBackend?(): string;
}

/** Where the ciphertext lives (a 0600 file per key in the app's data folder). */
export interface BlobStore {
  read(key: string): Promise<Uint8Array | undefined>;
  write(key: string, data: Uint8Array): Promise<void>;
  remove(key: string): Promise<void>;
}

export type KeychainProblem = 'keychain-unavailable' | 'keychain-insecure' | 'keychain-decrypt-failed' | 'keychain-encrypt-failed';

export function keychainError(problem: KeychainProblem, key: string, cause?: unknown): MeshtrayError {
  const text: Record<KeychainProblem, string> = {
    'keychain-unavailable': 'The system keychain is locked or not available. Unlock it (or install a secret service such as GNOME Keyring or KWallet) and try again; nothing was lost.',
    'keychain-insecure': 'No real keychain was found (Electron would fall back to a hard-coded password), so Meshtray will not store secrets. Install GNOME Keyring or KWallet, or let meshtrayd keep its own state.',
    'keychain-decrypt-failed': 'A stored secret could not be decrypted (the keychain may be locked, or its key changed). It was kept as is; unlock the keychain and try again.',
    'keychain-encrypt-failed': 'The keychain refused to encrypt a secret; nothing was written.',
  };
  return new MeshtrayError('ERR_INTERNAL', text[problem], { reason: problem, key }, cause === undefined ? undefined : { cause });
}

export class KeychainStateStore implements StateStore {
  constructor(
    private readonly safe: SafeStorageLike,
    private readonly blobs: BlobStore,
  ) {}

  /** Throws the MeshtrayError that explains why secrets cannot be stored now; resolves when they can. */
  async assertUsable(key = '*'): Promise<void> {
    let available = false;
    try {
      available = await this.safe.isAsyncEncryptionAvailable();
    } catch (e) {
      throw keychainError('keychain-unavailable', key, e);
    }
    if (!available) throw keychainError('keychain-unavailable', key);
    if (this.safe.getSelectedStorageBackend?.() === 'basic_text') throw keychainError('keychain-insecure', key);
  }

  async get(key: string): Promise<string | undefined> {
    const blob = await this.blobs.read(key);
    if (blob === undefined) return undefined;
    await this.assertUsable(key);
    let out: { result: string; shouldReEncrypt: boolean };
    try {
      out = await this.safe.decryptStringAsync(blob);
    } catch (e) {
      throw keychainError('keychain-decrypt-failed', key, e);
    }
    if (out.shouldReEncrypt) {
      // Key rotation: re-encrypt under the new key; a failure here keeps the old, still-readable blob.
      try {
        await this.blobs.write(key, await this.safe.encryptStringAsync(out.result));
      } catch {
        /* keep the old blob */
      }
    }
    return out.result;
  }

  async set(key: string, value: string): Promise<void> {
    await this.assertUsable(key);
    let blob: Uint8Array;
    try {
      blob = await this.safe.encryptStringAsync(value);
    } catch (e) {
      throw keychainError('keychain-encrypt-failed', key, e);
    }
    await this.blobs.write(key, blob);
  }

  async delete(key: string): Promise<void> {
    await this.blobs.remove(key);
  }
}
