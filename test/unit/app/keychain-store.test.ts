import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeychainStateStore, type BlobStore, type SafeStorageLike } from '../../../main/app/secrets/keychain-store.js';
import { FileBlobStore } from '../../../main/app/secrets/file-blob-store.js';
import { MeshtrayError } from '../../../common/errors/errors.js';

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
