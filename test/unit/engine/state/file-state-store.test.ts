import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, stat, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStateStore } from '../../../../main/engine/state/file-state-store.js';
import { MemoryStateStore } from '../../../../main/engine/state/memory-state-store.js';
import { openStateStore } from '../../../../main/engine/state/open-state-store.js';

async function tmp(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'meshtray-state-'));
}

test('FileStateStore creates its directory 0700 and the file 0600, and reads back across instances', async (t) => {
  const base = await tmp();
  t.after(() => rm(base, { recursive: true, force: true }));
  const path = join(base, 'sub', 'meshtrayd.state');
  const s = new FileStateStore(path);
  assert.equal(await s.get('_machinekey'), undefined);
  await s.set('_machinekey', 'privkey:' + 'ab'.repeat(32));
  await s.set('profile', '{"x":1}');
  assert.equal((await stat(join(base, 'sub'))).mode & 0o777, 0o700);
  assert.equal((await stat(path)).mode & 0o777, 0o600);
  const again = new FileStateStore(path);
  assert.equal(await again.get('_machinekey'), 'privkey:' + 'ab'.repeat(32));
  assert.equal(await again.get('profile'), '{"x":1}');
  await again.delete('profile');
  assert.equal(await new FileStateStore(path).get('profile'), undefined);
  // No temp files left behind after writes.
  assert.deepEqual(await readdir(join(base, 'sub')), ['meshtrayd.state']);
});

test('FileStateStore writes are atomic: concurrent sets all land and the file is always whole JSON', async (t) => {
  const base = await tmp();
  t.after(() => rm(base, { recursive: true, force: true }));
  const path = join(base, 'meshtrayd.state');
  const s = new FileStateStore(path);
  await Promise.all(Array.from({ length: 20 }, (_, i) => s.set(`k${i}`, `v${i}`)));
  const onDisk = JSON.parse(await readFile(path, 'utf8')) as Record<string, string>;
  for (let i = 0; i < 20; i++) assert.equal(onDisk[`k${i}`], `v${i}`);
});

test('FileStateStore tightens an existing world-readable file to 0600 on the next write', async (t) => {
  const base = await tmp();
  t.after(() => rm(base, { recursive: true, force: true }));
  const path = join(base, 'meshtrayd.state');
  await writeFile(path, '{"a":"b"}', { mode: 0o644 });
  const s = new FileStateStore(path);
  assert.equal(await s.get('a'), 'b');
  await s.set('c', 'd');
  assert.equal((await stat(path)).mode & 0o777, 0o600);
});

test('FileStateStore refuses a corrupt file without echoing its contents', async (t) => {
  const base = await tmp();
  t.after(() => rm(base, { recursive: true, force: true }));
  const path = join(base, 'meshtrayd.state');
  await writeFile(path, '{"_machinekey": privkey:secretsecret', { mode: 0o600 });
  await assert.rejects(new FileStateStore(path).get('x'), (e: Error) => {
    assert.match(e.message, /not valid JSON/);
    assert.doesNotMatch(e.message, /secretsecret/);
    return true;
  });
});

test('openStateStore follows tailscaled flags', async () => {
  assert.ok(openStateStore({ state: 'mem:' }) instanceof MemoryStateStore);
  const f = openStateStore({ statedir: '/var/lib/x' });
  assert.ok(f instanceof FileStateStore);
  assert.equal((f as FileStateStore).path, '/var/lib/x/meshtrayd.state');
  assert.equal((openStateStore({ state: '/a/b.state', statedir: '/x' }) as FileStateStore).path, '/a/b.state');
  assert.throws(() => openStateStore({}), /--state or --statedir/);
  const m = new MemoryStateStore();
  await m.set('a', '1');
  assert.equal(await m.get('a'), '1');
  await m.delete('a');
  assert.equal(await m.get('a'), undefined);
});
