// OSWiring: what the backend gets from the OS integration — the route table, health lines for
// route warnings and failed applies (never a throw), `why`, the counters, and --exit-node
// resolution with the errors the CLI prints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPrefs, type Prefs } from '../../../../common/schemas/prefs.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import { controlAndDerpIPs, exitNodePrefs, netmapWithAllowedIPs, OSWiring } from '../../../../main/engine/backend/os-wiring.js';
import type { Router, RouterConfig } from '../../../../main/engine/router/router.js';
import { FakeClock } from '../netmap/helpers.js';
import { EXIT_ID, IFACES, tailnet } from '../routes/fixtures.js';

class FakeRouter implements Router {
  sets: RouterConfig[] = [];
  restores = 0;
  fail = false;
  drops = { acl: 3, notLocal: 1 };
  async set(cfg: RouterConfig) {
    if (this.fail) throw new Error('iptables: resource busy');
    this.sets.push(cfg);
  }
  async restore() {
    this.restores++;
  }
  async repair() {}
  async aclDrops() {
    return this.drops;
  }
}

function setup() {
  const router = new FakeRouter();
  const health: string[][] = [];
  const w = new OSWiring({
    router,
    upstream: { query: () => Promise.reject(new Error('no upstream')) },
    tunName: 'meshtray0',
    clock: new FakeClock(),
    logger: memoryLogger().logger,
    controlIPs: () => ['172.16.0.10'],
    onHealth: (l) => health.push([...l]),
    quad100: 'intercept',
    interfaces: () => IFACES,
  });
  return { router, health, w };
}
const prefs = (over: Partial<Prefs> = {}): Prefs => ({ ...defaultPrefs(), WantRunning: true, CorpDNS: false, ...over });

test('apply returns the table (AllowedIPs: /0 only for the chosen exit node), why answers from it', async () => {
  const { router, w } = setup();
  await w.start();
  const nm = tailnet();
  const exit = nm.peerByID(EXIT_ID)!;
  const t0 = await w.apply(nm, prefs());
  assert.ok(t0);
  assert.ok(!(t0.peerAllowedIPs.get(EXIT_ID) ?? []).includes('0.0.0.0/0'), 'no exit node chosen: no /0 to anybody');
  const t1 = await w.apply(nm, prefs({ ExitNodeID: exit.StableID! }));
  assert.ok(t1!.peerAllowedIPs.get(EXIT_ID)!.includes('0.0.0.0/0'));
  assert.ok(router.sets.at(-1)!.routes.includes('0.0.0.0/0'));
  assert.equal(w.why('203.0.113.80').verdict, 'exit-node');
  assert.match(w.why('203.0.113.80').text, /exit/);
});

test('a failed apply is a health line, not a throw; the next good apply clears it; down restores', async () => {
  const { router, health, w } = setup();
  router.fail = true;
  assert.equal(await w.apply(tailnet(), prefs()), undefined);
  assert.match(health.at(-1)!.join('|'), /could not configure the OS routes\/DNS: iptables: resource busy/);
  assert.equal((await w.metrics()).ApplyErrors, 1);
  router.fail = false;
  assert.ok(await w.apply(tailnet(), prefs()));
  assert.deepEqual(health.at(-1), []);
  const m = await w.metrics();
  assert.deepEqual(m.FilterDrops, { acl: 3, notLocal: 1 });
  assert.equal(m.Applies, 1);
  assert.equal(typeof m.DNS['queries'], 'number');
  await w.down();
  assert.equal(router.restores, 1);
  assert.throws(() => w.why('100.64.0.2'), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NEEDS_LOGIN');
});

test('route warnings become health lines (an exit node that is not usable)', async () => {
  const { health, w } = setup();
  await w.apply(tailnet(), prefs({ ExitNodeID: 'no-such-stable-id' }));
  assert.ok(health.at(-1)!.some((l) => l.startsWith('routes: ')), JSON.stringify(health));
  assert.ok((await w.metrics()).RouteWarnings.some((x) => x.code === 'exit-node-unavailable'));
});

test('exitNodePrefs: name/IP → StableID; clear; unknown / not an exit node / before a netmap', () => {
  const nm = tailnet();
  const exit = nm.peerByID(EXIT_ID)!;
  assert.deepEqual(exitNodePrefs(nm, 'exit'), { ExitNodeID: exit.StableID, ExitNodeIP: '' });
  assert.deepEqual(exitNodePrefs(nm, (exit.Addresses ?? [])[0]!.split('/')[0]!), { ExitNodeID: exit.StableID, ExitNodeIP: '' });
  assert.deepEqual(exitNodePrefs(nm, ''), { ExitNodeID: '', ExitNodeIP: '' });
  assert.throws(() => exitNodePrefs(nm, 'nosuch'), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NO_SUCH_PEER' && /exit nodes available: exit/.test(e.message));
  assert.throws(() => exitNodePrefs(nm, 'laptop'), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NOT_EXIT_NODE');
  assert.throws(() => exitNodePrefs(nm, 'halfexit'), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NOT_EXIT_NODE');
  assert.deepEqual(exitNodePrefs(undefined, '100.64.0.5'), { ExitNodeID: '', ExitNodeIP: '100.64.0.5' });
  assert.throws(() => exitNodePrefs(undefined, 'exit'), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NO_SUCH_PEER');
});

test('controlAndDerpIPs: control host and DERP node addresses, deduplicated', () => {
  assert.deepEqual(controlAndDerpIPs('http://172.16.0.10:8080', undefined), ['172.16.0.10']);
  assert.deepEqual(controlAndDerpIPs('not a url', undefined), []);
});

test('netmapWithAllowedIPs: the data path sees the table\'s AllowedIPs; own addresses only before a table', async () => {
  const { w } = setup();
  const nm = tailnet();
  const exit = nm.peerByID(EXIT_ID)!;
  const before = netmapWithAllowedIPs(nm, undefined).peers().find((n) => n.ID === EXIT_ID)!;
  assert.deepEqual([...before.AllowedIPs].sort(), [...(exit.Addresses ?? [])].sort());
  const t = (await w.apply(nm, prefs({ ExitNodeID: exit.StableID! })))!;
  const view = netmapWithAllowedIPs(nm, t.peerAllowedIPs);
  assert.ok(view.peers().find((n) => n.ID === EXIT_ID)!.AllowedIPs.includes('::/0'));
  assert.ok(!view.peers().find((n) => n.ID === 6)!.AllowedIPs.includes('0.0.0.0/0'), 'a half exit node gets no /0');
  assert.equal(view.peerByID(EXIT_ID)?.Name, exit.Name, 'other lookups are the real netmap');
  assert.equal(view.self?.ID, nm.self?.ID);
});
