// LoginKeys: a key being tried is never stored; an accepted one is, with OldNodeKey after a
// rotation; a stored login survives a restart; a malformed one is dropped without echoing it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginKeys } from '../../../../main/engine/backend/login.js';
import { MemoryStateStore } from '../../../../main/engine/state/memory-state-store.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import { okRegister } from '../../../doubles/fake-control.js';

let seed = 3;
const random = { bytes: (n: number) => Uint8Array.from({ length: n }, () => (seed++ * 53) & 0xff), float: () => 0.5 };

test('a tried key is stored only once accepted; a restart finds the same login', async () => {
  const store = new MemoryStateStore();
  const k = new LoginKeys(store, random, memoryLogger().logger);
  const tried = k.toTry();
  assert.equal(k.toTry(), tried, 'the same key until it is accepted or dropped');
  assert.equal(k.nodeKey, undefined);
  assert.equal(await store.get('profile'), undefined);
  await k.accept(tried, okRegister(), 'http://hs');
  assert.equal(k.nodeKey, tried);
  assert.equal(k.loginName, 'alice@');
  const again = new LoginKeys(store, random, memoryLogger().logger);
  await again.load();
  assert.equal(again.nodeKey?.public.toString(), tried.public.toString());
  assert.equal(again.toTry().public.toString(), tried.public.toString(), 're-register with the stored key');
});

test('rotation: a new key to try, the old one becomes OldNodeKey and is stored with the new login', async () => {
  const store = new MemoryStateStore();
  const k = new LoginKeys(store, random, memoryLogger().logger);
  const first = k.toTry();
  await k.accept(first, okRegister(), 'http://hs');
  k.rotate('test');
  const next = k.toTry();
  assert.notEqual(next.public.toString(), first.public.toString());
  assert.equal(k.oldNodeKey, first);
  assert.equal(k.nodeKey, first, 'still the login until control accepts the new one');
  await k.accept(next, okRegister(), 'http://hs');
  const stored = JSON.parse((await store.get('profile'))!) as { PrivateNodeKey: string; OldPrivateNodeKey?: string };
  assert.equal(stored.PrivateNodeKey, next.toSecretText());
  assert.equal(stored.OldPrivateNodeKey, first.toSecretText());
  await k.forget();
  assert.equal(k.nodeKey, undefined);
  assert.equal(k.oldNodeKey, undefined);
  assert.equal(await store.get('profile'), undefined);
});

test('a malformed stored key means no login, logged without the stored text', async () => {
  const store = new MemoryStateStore();
  const bad = 'privkey:' + 'zz'.repeat(32);
  await store.set('profile', JSON.stringify({ ControlURL: 'http://hs', PrivateNodeKey: bad }));
  const { logger, lines } = memoryLogger();
  const k = new LoginKeys(store, random, logger);
  await k.load();
  assert.equal(k.nodeKey, undefined);
  assert.ok(lines.some((l) => l.includes('profile')));
  assert.ok(!lines.join('').includes(bad));
});
