// meshtrayd's choice of OS integration: none with userspace networking, off Linux or without root;
// router state and the resolv.conf backup next to the daemon's state (never in /etc).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { osDepsFor, osStateDir } from '../../../main/daemon/os-deps.js';
import { memoryLogger } from '../../../main/engine/log/logger.js';

const flags = { socket: '/tmp/x.sock', tun: 'meshtray0', port: 0, verbose: 0, statedir: '/var/lib/meshtray' };

test('osDepsFor: only a root daemon on Linux with a real TUN manages the OS', () => {
  const log = memoryLogger().logger;
  assert.equal(osDepsFor({ ...flags, tun: 'userspace-networking' }, log, { platform: 'linux', uid: 0 }), undefined);
  assert.equal(osDepsFor(flags, log, { platform: 'darwin', uid: 0 }), undefined);
  assert.equal(osDepsFor(flags, log, { platform: 'linux', uid: 1000 }), undefined);
  const d = osDepsFor(flags, log, { platform: 'linux', uid: 0 });
  assert.ok(d);
  assert.equal(d.tunName, 'meshtray0');
  assert.equal(d.quad100, 'local');
  assert.ok(d.osDNS);
});

test('osStateDir: statedir, else the state file\'s directory, else /run/meshtray for mem:', () => {
  assert.equal(osStateDir({ statedir: '/s' }), '/s');
  assert.equal(osStateDir({ state: '/var/lib/x/tailscaled.state' }), '/var/lib/x');
  assert.equal(osStateDir({ state: 'mem:' }), '/run/meshtray');
});
