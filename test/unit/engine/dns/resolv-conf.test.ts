import { test } from 'node:test';
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeResolvFS } from '../../../../main/engine/dns/node-resolv-fs.js';
import assert from 'node:assert/strict';
import { DirectResolvConf, MARKER, parseResolvConf, renderResolvConf } from '../../../../main/engine/dns/resolv-conf.js';
import { MemResolvFS } from '../../../doubles/mem-resolv-fs.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);
// odd bytes on purpose: no trailing newline, CRLF, tabs, a comment; restore must keep them all
const ORIGINAL = '# my resolver\r\nnameserver 192.0.2.53\nnameserver\t192.0.2.54\nsearch lan corp.example\noptions ndots:2';

test('set writes quad-100 + search, restore puts the original back byte for byte (and mode); idempotent', async () => {
  const fs = new MemResolvFS();
  await fs.write('/etc/resolv.conf', enc(ORIGINAL), 0o640);
  const m = new DirectResolvConf({ fs });
  assert.deepEqual(await m.baseConfig(), { nameservers: ['192.0.2.53', '192.0.2.54'], searchDomains: ['lan', 'corp.example'] });
  await m.set({ nameservers: ['100.100.100.100'], searchDomains: ['tailnet.test', 'lan'] });
  const live = dec(await fs.read('/etc/resolv.conf'))!;
  assert.ok(live.startsWith(MARKER + '\n'));
  assert.match(live, /\nnameserver 100\.100\.100\.100\nsearch tailnet\.test lan\n$/);
  // the base config is read from the backup while our file is live
  assert.deepEqual((await m.baseConfig()).nameservers, ['192.0.2.53', '192.0.2.54']);
  // a second set (new netmap) must not back up our own file over the original
  await m.set({ nameservers: ['100.100.100.100'], searchDomains: ['tailnet.test'] });
  assert.equal(dec(await fs.read('/etc/resolv.pre-meshtray-backup.conf')), ORIGINAL);
  assert.equal(await m.restore(), 'restored');
  assert.deepEqual(await fs.read('/etc/resolv.conf'), enc(ORIGINAL));
  assert.equal(await fs.mode('/etc/resolv.conf'), 0o640);
  assert.equal(await fs.read('/etc/resolv.pre-meshtray-backup.conf'), undefined);
  assert.equal(await m.restore(), 'nothing');
  assert.deepEqual(await fs.read('/etc/resolv.conf'), enc(ORIGINAL));
});

test('set(undefined) or no nameservers restores; someone else replacing the file wins', async () => {
  const fs = new MemResolvFS();
  await fs.write('/etc/resolv.conf', enc(ORIGINAL));
  const m = new DirectResolvConf({ fs });
  await m.set({ nameservers: ['100.100.100.100'], searchDomains: [] });
  await m.set(undefined);
  assert.deepEqual(await fs.read('/etc/resolv.conf'), enc(ORIGINAL));
  await m.set({ nameservers: ['100.100.100.100'], searchDomains: [] });
  await fs.write('/etc/resolv.conf', enc('nameserver 10.9.9.9\n')); // NetworkManager rewrote it
  assert.equal(await m.restore(), 'not-ours');
  assert.equal(dec(await fs.read('/etc/resolv.conf')), 'nameserver 10.9.9.9\n');
  assert.equal(await fs.read('/etc/resolv.pre-meshtray-backup.conf'), undefined);
});

test('crash repair: a new manager (next start) restores the file a killed process left', async () => {
  const fs = new MemResolvFS();
  await fs.write('/etc/resolv.conf', enc(ORIGINAL));
  await new DirectResolvConf({ fs }).set({ nameservers: ['100.100.100.100'], searchDomains: ['t'] });
  // process killed here; next start:
  assert.equal(await new DirectResolvConf({ fs }).repair(), 'restored');
  assert.deepEqual(await fs.read('/etc/resolv.conf'), enc(ORIGINAL));
});

test('a missing original stays missing after restore', async () => {
  const fs = new MemResolvFS();
  const m = new DirectResolvConf({ fs });
  await m.set({ nameservers: ['100.100.100.100'], searchDomains: [] });
  assert.ok(dec(await fs.read('/etc/resolv.conf'))!.includes('100.100.100.100'));
  assert.equal(await m.restore(), 'restored');
  assert.equal(await fs.read('/etc/resolv.conf'), undefined);
  assert.equal(fs.files.size, 0);
});

test('render/parse round trip', () => {
  const c = { nameservers: ['100.100.100.100', 'fd7a:115c:a1e0::53'], searchDomains: ['a.example', 'b'] };
  assert.deepEqual(parseResolvConf(renderResolvConf(c)), c);
});

test('real files: a symlinked resolv.conf (systemd-resolved style) comes back as the same symlink', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mt-resolv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stub = join(dir, 'stub-resolv.conf');
  const path = join(dir, 'resolv.conf');
  writeFileSync(stub, 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n');
  symlinkSync('stub-resolv.conf', path);
  const m = new DirectResolvConf({ fs: nodeResolvFS, path, backupPath: join(dir, 'backup') });
  await m.set({ nameservers: ['100.100.100.100'], searchDomains: ['tail.example'] });
  assert.equal(lstatSync(path).isSymbolicLink(), false);
  assert.match(readFileSync(path, 'utf8'), /nameserver 100\.100\.100\.100/);
  assert.equal(readFileSync(stub, 'utf8'), 'nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n', 'the link target is untouched');
  assert.deepEqual((await m.baseConfig()).nameservers, ['127.0.0.53']);
  // killed, then repaired by the next start
  assert.equal(await new DirectResolvConf({ fs: nodeResolvFS, path, backupPath: join(dir, 'backup') }).repair(), 'restored');
  assert.equal(lstatSync(path).isSymbolicLink(), true);
  assert.equal(readlinkSync(path), 'stub-resolv.conf');
  // a plain file in a real directory: byte for byte, mode kept
  writeFileSync(join(dir, 'plain.conf'), 'nameserver 10.0.0.1', { mode: 0o600 });
  const p2 = new DirectResolvConf({ fs: nodeResolvFS, path: join(dir, 'plain.conf'), backupPath: join(dir, 'backup2') });
  await p2.set({ nameservers: ['100.100.100.100'], searchDomains: [] });
  await p2.restore();
  assert.equal(readFileSync(join(dir, 'plain.conf'), 'utf8'), 'nameserver 10.0.0.1');
  assert.equal(lstatSync(join(dir, 'plain.conf')).mode & 0o777, 0o600);
});
