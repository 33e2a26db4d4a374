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
