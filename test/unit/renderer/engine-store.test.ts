import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createUiStore } from '../../../renderer/store/engine-store.js';
import { filterRows, keyExpiryDays, peerRows } from '../../../renderer/store/selectors.js';
import { peer, prefs, status } from '../app/fixtures.js';

test('the store mirrors Notify: snapshot, partial updates, State overrides Status state', () => {
  const s = createUiStore();
  assert.equal(s.getState().engine.connected, false);
  s.getState().applyNotify({ State: 'Starting', Prefs: prefs(), Status: status({ BackendState: 'Starting' }) });
  assert.equal(s.getState().engine.connected, true);
  assert.equal(s.getState().engine.state, 'Starting');
  s.getState().applyNotify({ Prefs: prefs({ RouteAll: true }) });
  assert.equal(s.getState().engine.prefs?.RouteAll, true);
  assert.equal(s.getState().engine.status?.BackendState, 'Starting');
  s.getState().applyNotify({ State: 'Running' });
  assert.equal(s.getState().engine.status?.BackendState, 'Running');
  s.getState().applyNotify({ Health: ['no DERP home region'] });
  assert.deepEqual(s.getState().engine.health, ['no DERP home region']);
  s.getState().applyNotify({ Status: status({ Health: [] }) });
  assert.deepEqual(s.getState().engine.health, []);
  s.getState().engineLost();
  assert.equal(s.getState().engine.connected, false);
});

test('peer rows: names, path, sort online first, search by name/IP/OS', () => {
  // Nobody active: all idle, as `tailscale status` says (Relay alone is only the home DERP region).
  assert.deepEqual(peerRows(status()).map((r) => [r.name, r.online, r.path]), [['desktop', true, 'idle'], ['exit-fra', true, 'idle'], ['exit-ams', false, 'idle']]);
  const st = status();
  const active = { ...st, Peer: Object.fromEntries(Object.entries(st.Peer ?? {}).map(([k, p]) => [k, { ...p, Active: p.Online }])) };
  const rows = peerRows(active);
  assert.deepEqual(rows.map((r) => [r.name, r.online, r.path]), [['desktop', true, 'direct'], ['exit-fra', true, 'relayed'], ['exit-ams', false, 'idle']]);
  assert.equal(rows[0]?.pathDetail, 'direct 192.0.2.5:41641');
  assert.equal(rows[1]?.pathDetail, 'relayed via DERP lab1');
  assert.deepEqual(filterRows(rows, '100.64.0.3').map((r) => r.name), ['exit-ams']);
  assert.deepEqual(filterRows(rows, 'EXIT fra').map((r) => r.name), ['exit-fra']);
  assert.equal(filterRows(rows, '').length, 3);
});

test('search stays fast with 5,000 peers', () => {
  const Peer: Record<string, ReturnType<typeof peer>> = {};
  for (let i = 0; i < 5000; i++) Peer[`nodekey:${i}`] = peer({ ID: `n${i}`, HostName: `host-${i}`, TailscaleIPs: [`100.64.${i >> 8}.${i & 255}`], OS: i % 3 ? 'linux' : 'windows' });
  const t0 = performance.now();
  const rows = peerRows(status({ Peer }));
  const t1 = performance.now();
  let hits = 0;
  for (const q of ['h', 'ho', 'hos', 'host', 'host-', 'host-4', 'host-49', 'host-499', 'windows 100.64.1']) hits = filterRows(rows, q).length;
  const t2 = performance.now();
  assert.equal(hits, filterRows(rows, 'windows 100.64.1').length);
  assert.ok(t1 - t0 < 300, `building rows took ${t1 - t0} ms`);
  assert.ok((t2 - t1) / 9 < 20, `one search took ${(t2 - t1) / 9} ms`);
});

test('key expiry in days; zero time means no expiry', () => {
  const now = Date.parse('2026-11-23T12:00:00Z');
  const s = status();
  assert.equal(keyExpiryDays({ ...s, Self: { ...s.Self!, KeyExpiry: '2026-11-26T12:00:00Z' } }, now), 3);
  assert.equal(keyExpiryDays({ ...s, Self: { ...s.Self!, KeyExpiry: '0001-01-01T00:00:00Z' } }, now), undefined);
  assert.equal(keyExpiryDays(s, now), undefined);
});
