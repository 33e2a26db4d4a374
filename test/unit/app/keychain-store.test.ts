import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeychainStateStore, type BlobStore, type SafeStorageLike } from '../../../main/app/secrets/keychain-store.js';
import { FileBlobStore } from '../../../main/app/secrets/file-blob-store.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { SessionFallbackStore, SESSION_ONLY_SUFFIX } from '../../../main/app/secrets/session-fallback-store.js';

/** A safeStorage double: XOR "encryption" keyed by `key`; can be locked, basic_text, or rotated. */
class FakeSafe implements SafeStorageLike {
  available = true;
  backend = 'gnome_libsecret';
  key = 0x5a;
  rotateNext = false;
  async isAsyncEncryptionAvailable() { return this.available; }
  async encryptStringAsync(s: string) { return new Uint8Array([this.key, ...new TextEncoder().encode(s).map((b) => b ^ this.key)]); }
  async decryptStringAsync(b: Uint8Array) {
    if (!this.available) throw new Error('keychain locked');
    if (b[0] !== this.key && !this.rotateNext) throw new Error('bad key');
    const k = b[0]!;
    const out = new TextDecoder().decode(b.slice(1).map((x) => x ^ k));
    return { result: out, shouldReEncrypt: this.rotateNext };
  }
  getSelectedStorageBackend() { return this.backend; }
}

class MemBlobs implements BlobStore {
  m = new Map<string, Uint8Array>();
  async read(k: string) { return this.m.get(k); }
  async write(k: string, d: Uint8Array) { this.m.set(k, d); }
  async remove(k: string) { this.m.delete(k); }
}

const reason = (e: unknown) => (MeshtrayError.is(e) ? (e.details as { reason: string }).reason : 'not a MeshtrayError');

test('round trip; ciphertext is not the plaintext', async () => {
  const safe = new FakeSafe();
  const blobs = new MemBlobs();
  const s = new KeychainStateStore(safe, blobs);
  await s.set('node-key', 'privkey:' + 'ab'.repeat(32));
  assert.ok(!new TextDecoder().decode(blobs.m.get('node-key')).includes('privkey:'));
  assert.equal(await s.get('node-key'), 'privkey:' + 'ab'.repeat(32));
  assert.equal(await s.get('missing'), undefined);
  await s.delete('node-key');
  assert.equal(await s.get('node-key'), undefined);
});

test('locked keychain: clear error on write, nothing written; read keeps the blob', async () => {
  const safe = new FakeSafe();
  const blobs = new MemBlobs();
  const s = new KeychainStateStore(safe, blobs);
  await s.set('node-key', 'secret-1');
  const before = blobs.m.get('node-key');
  safe.available = false;
  await assert.rejects(s.set('node-key', 'secret-2'), (e) => reason(e) === 'keychain-unavailable' && /locked or not available/.test((e as Error).message));
  await assert.rejects(s.get('node-key'), (e) => reason(e) === 'keychain-unavailable');
  assert.equal(blobs.m.get('node-key'), before, 'the stored secret is untouched');
  safe.available = true;
  assert.equal(await s.get('node-key'), 'secret-1');
});

test('basic_text backend (no real keychain): refuses to store', async () => {
  const safe = new FakeSafe();
  safe.backend = 'basic_text';
  const blobs = new MemBlobs();
  await assert.rejects(new KeychainStateStore(safe, blobs).set('k', 'v'), (e) => reason(e) === 'keychain-insecure');
  assert.equal(blobs.m.size, 0);
});

test('decrypt failure: clear error, blob kept', async () => {
  const safe = new FakeSafe();
  const blobs = new MemBlobs();
  const s = new KeychainStateStore(safe, blobs);
  await s.set('k', 'v');
  safe.key = 0x11;
  await assert.rejects(s.get('k'), (e) => reason(e) === 'keychain-decrypt-failed' && !(e as Error).message.includes('v"'));
  assert.ok(blobs.m.has('k'));
});

test('key rotation re-encrypts under the new key', async () => {
  const safe = new FakeSafe();
  const blobs = new MemBlobs();
  const s = new KeychainStateStore(safe, blobs);
  await s.set('k', 'value');
  safe.key = 0x22;
  safe.rotateNext = true;
  assert.equal(await s.get('k'), 'value');
  assert.equal(blobs.m.get('k')?.[0], 0x22);
});

test('FileBlobStore: 0600 files, atomic, key names checked', async () => {
  const dir = join(await mkdtemp(join(tmpdir(), 'meshtray-secrets-')), 'secrets');
  const f = new FileBlobStore(dir);
  await f.write('node-key', new Uint8Array([1, 2, 3]));
  assert.deepEqual([...(await readFile(join(dir, 'node-key.bin')))], [1, 2, 3]);
  assert.equal((await stat(join(dir, 'node-key.bin'))).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(dir), ['node-key.bin']);
  assert.equal(await f.read('nope'), undefined);
  await assert.rejects(f.write('../escape', new Uint8Array([1])), /bad state key/);
  await f.remove('node-key');
  assert.deepEqual(await readdir(dir), []);
});

// --- SessionFallbackStore: what the in-process app uses; the keychain when it works, memory when not ---

async function fileStore(safe: FakeSafe) {
  const dir = join(await mkdtemp(join(tmpdir(), 'meshtray-fallback-')), 'state');
  const warnings: (string | undefined)[] = [];
  const keychain = new KeychainStateStore(safe, new FileBlobStore(dir));
  const store = await new SessionFallbackStore(keychain, (w) => warnings.push(w)).open();
  const onDisk = async () => (await readdir(dir).catch(() => [] as string[])).sort();
  return { dir, warnings, keychain, store, onDisk };
}

test('keychain missing (basic_text): one clear warning up front; login kept in memory; nothing on disk', async () => {
  const safe = new FakeSafe();
  safe.backend = 'basic_text';
  const { warnings, store, onDisk } = await fileStore(safe);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^No real keychain was found \(Electron would fall back to a hard-coded password\), so Meshtray will not store secrets\./);
  assert.ok(warnings[0]!.endsWith(SESSION_ONLY_SUFFIX));
  const secret = 'privkey:' + 'cd'.repeat(32);
  await store.set('profile', JSON.stringify({ PrivateNodeKey: secret }));
  assert.equal(await store.get('profile'), JSON.stringify({ PrivateNodeKey: secret }), 'the session keeps working');
  assert.deepEqual(await onDisk(), [], 'never written, not even encrypted with a hard-coded password');
  assert.deepEqual(store.sessionOnlyKeys, ['profile']);
  assert.equal(warnings.length, 1, 'said once, not per write');
});

test('keychain locked mid-session: writes held in memory with a warning; once it unlocks they reach the keychain and the warning clears', async () => {
  const safe = new FakeSafe();
  const { warnings, store, keychain, onDisk } = await fileStore(safe);
  assert.deepEqual(warnings, []);
  await store.set('machine-key', 'mkey-secret');
  assert.deepEqual(await onDisk(), ['machine-key.bin']);
  safe.available = false; // the user locked the keychain
  await store.set('profile', 'new-login');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /system keychain is locked or not available/);
  assert.equal(await store.get('profile'), 'new-login');
  assert.deepEqual(await onDisk(), ['machine-key.bin'], 'nothing written while locked');
  safe.available = true;
  await store.set('prefs', '{"WantRunning":true}');
  assert.deepEqual(await onDisk(), ['machine-key.bin', 'prefs.bin', 'profile.bin']);
  assert.equal(await keychain.get('profile'), 'new-login', 'the held login is now in the keychain');
  assert.deepEqual(warnings, [warnings[0], undefined], 'warning cleared');
  assert.deepEqual(store.sessionOnlyKeys, []);
});

test('keychain locked at start with a stored login: read as "none" for this session, the stored node key never overwritten', async () => {
  const safe = new FakeSafe();
  const first = await fileStore(safe);
  await first.store.set('profile', 'original-login');
  const before = await readFile(join(first.dir, 'profile.bin'));
  safe.available = false;
  const warnings: (string | undefined)[] = [];
  const store = await new SessionFallbackStore(first.keychain, (w) => warnings.push(w)).open();
  assert.equal(warnings.length, 1);
  assert.equal(await store.get('profile'), undefined, 'the engine starts logged out this session');
  await store.set('profile', 'session-login');
  safe.available = true;
  await store.set('prefs', 'p'); // the keychain works again…
  assert.deepEqual(await readFile(join(first.dir, 'profile.bin')), before, '…but the login it could not read is not replaced');
  assert.equal(await first.keychain.get('profile'), 'original-login');
  assert.equal(await store.get('profile'), 'session-login');
  assert.equal(warnings.at(-1), warnings[0], 'still warned: this session\'s login is not remembered');
  // An explicit logout removes it for real.
  await store.delete('profile');
  assert.equal(await first.keychain.get('profile'), undefined);
});

test('SessionFallbackStore: failures that are not the keychain\'s propagate', async () => {
  const safe = new FakeSafe();
  const blobs = new MemBlobs();
  blobs.write = async () => {
    throw Object.assign(new Error('EIO: disk error'), { code: 'EIO' });
  };
  const store = await new SessionFallbackStore(new KeychainStateStore(safe, blobs), () => undefined).open();
  await assert.rejects(store.set('k', 'v'), /EIO/);
});
