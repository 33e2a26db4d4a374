import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendConnection } from '../../../main/app/engine-host/in-process-engine.js';
import { FakeLocalApiBackend } from '../../doubles/fake-localapi-backend.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Notify } from '../../../common/schemas/notify.js';

test('backendConnection: requests checked (defaults applied), answers checked, errors keep their code', async () => {
  const b = new FakeLocalApiBackend();
  const c = backendConnection(b);
  const p = await c.call('editPrefs', { RouteAll: true });
  assert.equal(p.RouteAll, true);
  await assert.rejects(c.call('editPrefs', { RouteAll: 'yes' } as never), (e) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST');
  assert.deepEqual(b.calls.map((x) => x.name), ['editPrefs']);
  await assert.rejects(c.call('logout', {}), (e) => MeshtrayError.is(e) && e.code === 'ERR_NEEDS_LOGIN');
  b.statusValue = { ...b.statusValue, BackendState: 'Sideways' as never };
  await assert.rejects(c.call('status', {}), (e) => MeshtrayError.is(e) && e.code === 'ERR_INTERNAL');
});

test('backendConnection.watch: snapshot first, then changes; abort unsubscribes', async () => {
  const b = new FakeLocalApiBackend();
  const c = backendConnection(b);
  const ctl = new AbortController();
  const got: Notify[] = [];
  const done = (async () => {
    for await (const n of c.watch(ctl.signal)) {
      got.push(n);
      if (got.length === 2) ctl.abort();
    }
  })();
  await new Promise((r) => setImmediate(r));
  assert.equal(b.watcherCount, 1);
  b.publish({ State: 'Running' });
  await done;
  assert.equal(got[0]?.State, 'NeedsLogin');
  assert.ok(got[0]?.Prefs && got[0]?.Status, 'full snapshot first');
  assert.deepEqual(got[1], { State: 'Running' });
  assert.equal(b.watcherCount, 0, 'unsubscribed');
});

test('in-process engine without the helper: control plane only, and status + the Notify snapshot say why', async () => {
  const { startInProcessEngine } = await import('../../../main/app/engine-host/in-process-engine.js');
  const { MemoryStateStore } = await import('../../../main/engine/state/memory-state-store.js');
  const { MemLogger } = await import('./fixtures.js');
  const e = await startInProcessEngine({ store: new MemoryStateStore(), log: new MemLogger(), version: '0.0.0-test', noHelperReason: 'the privileged helper at /run/meshtray/helper.sock is not installed' });
  try {
    assert.equal(e.carriesTraffic, false);
    const st = await e.engine.call('status', {});
    assert.ok(st.Health?.some((l) => /cannot carry traffic: the privileged helper at \/run\/meshtray\/helper\.sock is not installed/.test(l)), JSON.stringify(st.Health));
    const ctl = new AbortController();
    for await (const n of e.engine.watch(ctl.signal)) {
      assert.ok(n.Status?.Health?.some((l) => /cannot carry traffic/.test(l)), 'the first Notify (snapshot) carries the host line');
      ctl.abort();
      break;
    }
  } finally {
    await e.stop();
  }
});

test('in-process engine with a helper socket nobody answers: control plane only, the health line names the helper and the reason', async () => {
  const { startInProcessEngine } = await import('../../../main/app/engine-host/in-process-engine.js');
  const { MemoryStateStore } = await import('../../../main/engine/state/memory-state-store.js');
  const { MemLogger } = await import('./fixtures.js');
  const e = await startInProcessEngine({ store: new MemoryStateStore(), log: new MemLogger(), version: '0.0.0-test', helperSocketPath: '/nonexistent/meshtray-helper.sock' });
  try {
    assert.equal(e.carriesTraffic, false);
    const st = await e.engine.call('status', {});
    assert.ok(st.Health?.some((l) => l.includes('/nonexistent/meshtray-helper.sock') && /helper is not running/.test(l)), JSON.stringify(st.Health));
  } finally {
    await e.stop();
  }
});

test('HostHealth: a host line added later reaches watchers next to the backend\'s own lines, and leaves again', async () => {
  const { HostHealth } = await import('../../../main/app/engine-host/in-process-engine.js');
  const b = new FakeLocalApiBackend();
  const hh = new HostHealth();
  const c = backendConnection(b, hh);
  const ctl = new AbortController();
  const got: Notify[] = [];
  const done = (async () => {
    for await (const n of c.watch(ctl.signal)) {
      got.push(n);
      if (got.length === 4) ctl.abort();
    }
  })();
  await new Promise((r) => setImmediate(r));
  b.publish({ Health: ['not connected to the control server'] });
  hh.set('the data plane could not start: no TUN', true);
  hh.set('the data plane could not start: no TUN', false);
  await done;
  assert.deepEqual(got.slice(1).map((n) => n.Health), [
    ['not connected to the control server'],
    ['not connected to the control server', 'the data plane could not start: no TUN'],
    ['not connected to the control server'],
  ]);
});
