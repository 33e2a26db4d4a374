import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseEngineHost, type HostProbe, type SocketInfo } from '../../../main/app/engine-host/host-choice.js';

function probe(files: Record<string, SocketInfo>, answering: string[], uid = 1000): HostProbe {
  return { stat: async (p) => files[p], answers: async (p) => answering.includes(p), currentUid: () => uid };
}
const opts = { daemonSocketPaths: ['/var/run/meshtray/meshtrayd.sock'], helperSocketPath: '/run/meshtray/helper.sock', canHostInProcess: true };

test('attaches to a root-owned, answering meshtrayd', async () => {
  const c = await chooseEngineHost(probe({ '/var/run/meshtray/meshtrayd.sock': { uid: 0, isSocket: true } }, ['/var/run/meshtray/meshtrayd.sock']), opts);
  assert.deepEqual(c, { mode: 'attached', socketPath: '/var/run/meshtray/meshtrayd.sock' });
});

test('never trusts a socket owned by another user', async () => {
  const c = await chooseEngineHost(
    probe({ '/var/run/meshtray/meshtrayd.sock': { uid: 1001, isSocket: true }, '/run/meshtray/helper.sock': { uid: 0, isSocket: true } }, ['/var/run/meshtray/meshtrayd.sock']),
    opts,
  );
  assert.equal(c.mode, 'in-process');
  assert.match(c.mode === 'in-process' ? c.reason : '', /owned by uid 1001, neither root nor us/);
});

test('no daemon and no helper: in-process, control plane only, and says why; AppImage cannot host', async () => {
  const c = await chooseEngineHost(probe({}, []), opts);
  assert.equal(c.mode, 'in-process');
  assert.equal(c.mode === 'in-process' ? c.helperSocketPath : 'x', undefined);
  assert.match(c.mode === 'in-process' ? c.reason : '', /helper at \/run\/meshtray\/helper.sock is not installed .* cannot carry traffic/);
  const foreignHelper = await chooseEngineHost(probe({ '/run/meshtray/helper.sock': { uid: 1000, isSocket: true } }, []), opts);
  assert.equal(foreignHelper.mode === 'in-process' ? foreignHelper.helperSocketPath : 'x', undefined, 'a helper socket not owned by root is not used');
  // AppImage: a client of an installed helper or daemon only.
  const a = await chooseEngineHost(probe({}, []), { ...opts, canHostInProcess: false });
  assert.equal(a.mode, 'unavailable');
  assert.match(a.mode === 'unavailable' ? a.reason : '', /No running meshtrayd or installed Meshtray helper was found; this build \(AppImage\) needs one of them/);
  const foreignForAppImage = await chooseEngineHost(probe({ '/run/meshtray/helper.sock': { uid: 1000, isSocket: true } }, []), { ...opts, canHostInProcess: false });
  assert.equal(foreignForAppImage.mode, 'unavailable', 'not a helper owned by another user either');
  const withHelper = await chooseEngineHost(probe({ '/run/meshtray/helper.sock': { uid: 0, isSocket: true } }, []), { ...opts, canHostInProcess: false });
  assert.deepEqual(withHelper, { mode: 'in-process', helperSocketPath: '/run/meshtray/helper.sock', reason: 'no running meshtrayd' });
});

test('a dead socket file is skipped; a root-owned helper is used', async () => {
  const c = await chooseEngineHost(probe({ '/var/run/meshtray/meshtrayd.sock': { uid: 0, isSocket: true }, '/run/meshtray/helper.sock': { uid: 0, isSocket: true } }, []), opts);
  assert.equal(c.mode, 'in-process');
  assert.equal(c.mode === 'in-process' ? c.helperSocketPath : undefined, '/run/meshtray/helper.sock');
});
