// The routing/DNS flags of `up` and `set` → the prefs edit the engine receives, as tailscale maps
// them; and the OS lines of `debug metrics`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlagError } from '../../../main/cli/go-flags.js';
import { parseAdvertiseRoutes, prefsFromFlags, needsCurrentPrefs } from '../../../main/cli/pref-flags.js';
import { osMetricsLines } from '../../../main/cli/os-commands.js';

test('flags → prefs: only what was typed changes', () => {
  assert.deepEqual(prefsFromFlags({}), {});
  assert.deepEqual(prefsFromFlags({ acceptRoutes: true, acceptDns: false, exitNodeAllowLanAccess: true, snatSubnetRoutes: false, shieldsUp: true }), {
    RouteAll: true, CorpDNS: false, ExitNodeAllowLANAccess: true, NoSNAT: true, ShieldsUp: true,
  });
  assert.deepEqual(prefsFromFlags({ exitNode: 'exit' }), { ExitNodeIP: 'exit', ExitNodeID: '' });
  assert.deepEqual(prefsFromFlags({ exitNode: '' }), { ExitNodeIP: '', ExitNodeID: '' }, '--exit-node= clears');
});

test('--advertise-exit-node adds 0.0.0.0/0 and ::/0, keeping the other half from the current prefs', () => {
  assert.deepEqual(prefsFromFlags({ advertiseRoutes: '10.20.0.0/24', advertiseExitNode: true }).AdvertiseRoutes, ['10.20.0.0/24', '0.0.0.0/0', '::/0']);
  assert.ok(needsCurrentPrefs({ advertiseExitNode: true }));
  assert.deepEqual(prefsFromFlags({ advertiseExitNode: true }, { AdvertiseRoutes: ['10.20.0.0/24'] }).AdvertiseRoutes, ['10.20.0.0/24', '0.0.0.0/0', '::/0']);
  assert.deepEqual(prefsFromFlags({ advertiseExitNode: false }, { AdvertiseRoutes: ['10.20.0.0/24', '0.0.0.0/0', '::/0'] }).AdvertiseRoutes, ['10.20.0.0/24']);
  assert.deepEqual(prefsFromFlags({ advertiseRoutes: '' }, { AdvertiseRoutes: ['10.20.0.0/24', '0.0.0.0/0', '::/0'] }).AdvertiseRoutes, ['0.0.0.0/0', '::/0']);
});

test('bad --advertise-routes: one clear error', () => {
  assert.throws(() => parseAdvertiseRoutes('10.20.0.1/24'), (e: unknown) => e instanceof FlagError && /non-address bits set; expected 10\.20\.0\.0\/24/.test(e.message));
  assert.throws(() => parseAdvertiseRoutes('0.0.0.0/0'), /use --advertise-exit-node/);
  assert.throws(() => parseAdvertiseRoutes('banana'), /not a valid IP address or CIDR prefix/);
  assert.throws(() => parseAdvertiseRoutes('300.1.1.0/24'), /not a valid/);
  assert.deepEqual(parseAdvertiseRoutes('10.0.0.0/8, fd00::/64'), ['10.0.0.0/8', 'fd00::/64']);
});

test('debug metrics OS lines', () => {
  const s = osMetricsLines({ FilterDrops: { acl: 4, notLocal: 0 }, DNS: { queries: 9 }, RouteWarnings: [{ code: 'overlap', message: 'x overlaps y' }], OSResolverInstalled: true, Applies: 2, ApplyErrors: 0 });
  assert.match(s, /^filter_dropped_acl 4$/m);
  assert.match(s, /^magicdns_queries 9$/m);
  assert.match(s, /^os_resolver_installed 1$/m);
  assert.match(s, /^# route warning \(overlap\): x overlaps y$/m);
});
