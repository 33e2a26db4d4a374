// `meshtray set`, `why`, `debug prefs`, `debug metrics` and `up`'s routing flags over a real
// LocalAPI socket to a fake engine: what reaches the engine, what the user sees, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiRequest, ApiResponse } from '../../../common/contract/api.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Prefs } from '../../../common/schemas/prefs.js';
import { cliAgainst } from './cli-harness.js';
import { FakeLocalApiBackend } from '../../doubles/fake-localapi-backend.js';

class OSBackend extends FakeLocalApiBackend {
  async why(req: ApiRequest<'why'>): Promise<ApiResponse<'why'>> {
    if (req.Dest === 'nosuch') throw new MeshtrayError('ERR_NO_SUCH_PEER', '"nosuch" is neither an IP address nor a tailnet name');
    return { dest: req.Dest, ip: '203.0.113.80', verdict: 'exit-node', node: { id: 5, name: 'exit', addresses: ['100.64.0.5'] }, prefix: '0.0.0.0/0', reason: 'r', text: '203.0.113.80 goes via exit node exit (100.64.0.5), relayed via DERP lab1' };
  }
  async osMetrics(): Promise<ApiResponse<'osMetrics'>> {
    return { FilterDrops: { acl: 7, notLocal: 1 }, DNS: { queries: 3 }, RouteWarnings: [], OSResolverInstalled: false, Applies: 4, ApplyErrors: 0 };
  }
  override async editPrefs(mp: Partial<Prefs>): Promise<Prefs> {
    if (mp.ExitNodeIP === 't1') throw new MeshtrayError('ERR_NOT_EXIT_NODE', 't1 is not offering an exit node (it needs approved 0.0.0.0/0 and ::/0 routes) (exit nodes available: exit)');
    return super.editPrefs(mp);
  }
}

async function setup(t: import('node:test').TestContext, backend: FakeLocalApiBackend = new OSBackend()) {
  return { backend, cli: await cliAgainst(t, backend) };
}

test('set: flags become one prefs edit; Go-style booleans; --exit-node= clears', async (t) => {
  const { backend, cli } = await setup(t);
  assert.equal((await cli(['set', '--exit-node=exit', '--exit-node-allow-lan-access', '--accept-routes', '--accept-dns=false', '--snat-subnet-routes=false'])).code, 0);
  const edits = backend.calls.filter((c) => c.name === 'editPrefs').map((c) => c.req);
  assert.deepEqual(edits.at(-1), { RouteAll: true, CorpDNS: false, ExitNodeAllowLANAccess: true, NoSNAT: true, ExitNodeIP: 'exit', ExitNodeID: '' });
  backend.prefs.AdvertiseRoutes = ['10.20.0.0/24'];
  assert.equal((await cli(['set', '--advertise-exit-node'])).code, 0);
  assert.deepEqual(backend.prefs.AdvertiseRoutes, ['10.20.0.0/24', '0.0.0.0/0', '::/0']);
  assert.equal((await cli(['set', '--exit-node='])).code, 0);
  assert.deepEqual(backend.prefs.ExitNodeIP, '');
  const none = await cli(['set']);
  assert.equal(none.code, 2);
  assert.match(none.err, /no flags specified/);
});

test('set --exit-node to a peer without exit routes: the engine\'s one line, exit 1', async (t) => {
  const { cli } = await setup(t);
  const r = await cli(['set', '--exit-node=t1']);
  assert.equal(r.code, 1);
  assert.equal(r.err, 't1 is not offering an exit node (it needs approved 0.0.0.0/0 and ::/0 routes) (exit nodes available: exit)\n');
  const bad = await cli(['set', '--advertise-routes=10.20.0.1/24']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /non-address bits set/);
});

test('why prints the text line (or --json); unknown names fail with one line', async (t) => {
  const { cli } = await setup(t);
  const r = await cli(['why', 'web']);
  assert.equal(r.code, 0);
  assert.equal(r.out, '203.0.113.80 goes via exit node exit (100.64.0.5), relayed via DERP lab1\n');
  const j = await cli(['why', '--json', 'web']);
  assert.equal((JSON.parse(j.out) as { verdict: string }).verdict, 'exit-node');
  const e = await cli(['why', 'nosuch']);
  assert.equal(e.code, 1);
  assert.equal(e.err.trim().split('\n').length, 1);
});

test('debug prefs prints the Prefs JSON; debug metrics the OS counters', async (t) => {
  const { backend, cli } = await setup(t);
  backend.prefs.ExitNodeID = 'nSTABLE';
  assert.equal((JSON.parse((await cli(['debug', 'prefs'])).out) as Prefs).ExitNodeID, 'nSTABLE');
  const m = await cli(['debug', 'metrics']);
  assert.equal(m.code, 0);
  assert.match(m.out, /^filter_dropped_acl 7$/m);
  assert.match(m.out, /^magicdns_queries 3$/m);
});

test('an engine without why: a clear error, not a crash', async (t) => {
  const { cli } = await setup(t, new FakeLocalApiBackend());
  const r = await cli(['why', '1.2.3.4']);
  assert.equal(r.code, 1);
  assert.match(r.err, /does not support why/);
});

test('up accepts the same routing flags as set', async (t) => {
  const { backend, cli } = await setup(t);
  backend.statusValue = { ...backend.statusValue, BackendState: 'Running' };
  const r = await cli(['up', '--exit-node=100.64.0.5', '--advertise-exit-node', '--snat-subnet-routes=false']);
  assert.equal(r.code, 0, r.err);
  const start = backend.calls.find((c) => c.name === 'start')!.req as { Prefs: Partial<Prefs> };
  assert.equal(start.Prefs.ExitNodeIP, '100.64.0.5');
  assert.deepEqual(start.Prefs.AdvertiseRoutes, ['0.0.0.0/0', '::/0']);
  assert.equal(start.Prefs.NoSNAT, true);
});
