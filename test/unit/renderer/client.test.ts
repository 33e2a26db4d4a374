import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshtrayClient, type RawBridge } from '../../../renderer/api/client.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { prefs } from '../app/fixtures.js';

function bridge(answer: (name: string, req: unknown) => unknown) {
  const notifyCbs: ((n: unknown) => void)[] = [];
  const appCbs: ((n: unknown) => void)[] = [];
  const handler = { get: (_t: object, name: string) => async (req: unknown) => answer(name, req) };
  const raw = new Proxy(
    {
      app: new Proxy({}, { get: (_t, name: string) => async (req: unknown) => answer(`app.${name}`, req) }),
      onNotify: (cb: (n: unknown) => void) => (notifyCbs.push(cb), () => undefined),
      onAppState: (cb: (n: unknown) => void) => (appCbs.push(cb), () => undefined),
    },
    { get: (t: Record<string, unknown>, name: string) => (name in t ? t[name] : handler.get(t, name)) },
  ) as unknown as RawBridge;
  return { raw, notifyCbs, appCbs };
}

test('client: unwraps values, validates them, rebuilds errors with their code', async () => {
  const { raw } = bridge((name) => {
    if (name === 'getPrefs') return { ok: true, value: prefs({ RouteAll: true }) };
    if (name === 'status') return { ok: true, value: { BackendState: 'Sideways' } };
    if (name === 'logout') return { ok: false, error: { code: 'ERR_NEEDS_LOGIN', message: 'not logged in', details: { x: 1 } } };
    if (name === 'down') return 'garbage';
    if (name === 'app.checkServer') return { ok: true, value: { URL: 'u', reachable: false, message: 'm' } };
    return { ok: true, value: {} };
  });
  const c = new MeshtrayClient(raw);
  assert.equal((await c.call('getPrefs', {})).RouteAll, true);
  await assert.rejects(c.call('status', {}), (e) => MeshtrayError.is(e) && e.code === 'ERR_INTERNAL' && /unexpected reply to status/.test(e.message));
  await assert.rejects(c.call('logout', {}), (e) => MeshtrayError.is(e) && e.code === 'ERR_NEEDS_LOGIN' && (e.details as { x: number }).x === 1);
  await assert.rejects(c.call('down', {}), (e) => MeshtrayError.is(e) && /malformed reply to down/.test(e.message));
  assert.deepEqual(await c.app('checkServer', { URL: 'u' }), { URL: 'u', reachable: false, message: 'm' });
});

test('client: Notify and app-state pushes are schema-checked; bad ones are dropped and counted', () => {
  const { raw, notifyCbs, appCbs } = bridge(() => ({ ok: true, value: {} }));
  const c = new MeshtrayClient(raw);
  const got: unknown[] = [];
  c.onNotify((n) => got.push(n));
  c.onAppState((s) => got.push(s));
  notifyCbs[0]!({ State: 'Running' });
  notifyCbs[0]!({ State: 'Exploded' });
  assert.match(c.lastDropReason ?? '', /^Notify: State: /, 'the reason names the field');
  appCbs[0]!({ login: {} });
  assert.deepEqual(got, [{ State: 'Running' }]);
  assert.equal(c.droppedMessages, 2);
  assert.match(c.lastDropReason ?? '', /^app state: login\.phase: /);
});
