import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mainSide from '../../../main/app/ipc/channels.js';
import * as preloadSide from '../../../preload/channels.js';
import { appCalls } from '../../../main/app/ipc/app-contract.js';
import { api } from '../../../common/contract/api.js';
import { buildBridge } from '../../../preload/bridge.js';

test('main and preload derive the same channel names', () => {
  assert.deepEqual([...preloadSide.appCallNames].sort(), Object.keys(appCalls).sort());
  assert.deepEqual(preloadSide.engineCallNames, mainSide.engineCallNames);
  for (const n of mainSide.engineCallNames) assert.equal(preloadSide.engineChannel(n), mainSide.engineChannel(n));
  for (const n of mainSide.appCallNames) assert.equal(preloadSide.appChannel(n), mainSide.appChannel(n));
  for (const k of ['NOTIFY_CHANNEL', 'APP_STATE_CHANNEL', 'WATCH_START_CHANNEL', 'WATCH_STOP_CHANNEL'] as const) assert.equal(preloadSide[k], mainSide[k]);
});

test('the bridge exposes every call of the table and nothing else', async () => {
  const invoked: [string, unknown][] = [];
  const b = buildBridge({ invoke: async (c, p) => { invoked.push([c, p]); return { ok: true, value: {} }; }, onNotify: () => () => undefined, onAppState: () => () => undefined });
  assert.deepEqual(Object.keys(b).sort(), [...Object.keys(api), 'app', 'onAppState', 'onNotify'].sort());
  assert.deepEqual(Object.keys(b.app).sort(), Object.keys(appCalls).sort());
  await b.editPrefs({ RouteAll: true });
  await b.status();
  await b.app.checkServer({ URL: 'x' });
  assert.deepEqual(invoked, [['meshtray:engine:editPrefs', { RouteAll: true }], ['meshtray:engine:status', {}], ['meshtray:app:checkServer', { URL: 'x' }]]);
  assert.ok(Object.isFrozen(b) && Object.isFrozen(b.app));
});
