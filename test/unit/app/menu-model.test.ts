import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMenu, type MenuItem } from '../../../main/app/tray/menu-model.js';
import { toMenuTemplate } from '../../../main/app/tray/menu-template.js';
import { prefs, status } from './fixtures.js';

const find = (items: MenuItem[], id: string): MenuItem | undefined => {
  for (const it of items) {
    if (it.id === id) return it;
    if (it.kind === 'submenu') {
      const f = find(it.items, id);
      if (f) return f;
    }
  }
  return undefined;
};

test('connected: state, address, exit-node submenu with None checked, toggles mirror prefs', () => {
  const m = buildMenu({ status: status(), prefs: prefs({ RouteAll: true, CorpDNS: false }), engineReachable: true });
  assert.equal(m.icon, 'connected');
  assert.deepEqual(find(m.items, 'state'), { kind: 'label', id: 'state', label: 'Connected' });
  const addr = find(m.items, 'self-address');
  assert.ok(addr && addr.kind === 'action');
  assert.equal(addr.label, 'This device: laptop (100.64.0.1)');
  assert.deepEqual(addr.command, { type: 'copy', text: '100.64.0.1' });
  const sub = find(m.items, 'exit-nodes');
  assert.ok(sub && sub.kind === 'submenu');
  assert.deepEqual(
    sub.items.filter((i) => i.kind === 'radio').map((i) => i.kind === 'radio' && [i.label, i.checked, i.enabled]),
    [['None', true, true], ['exit-ams (offline)', false, false], ['exit-fra', false, true]],
  );
  const subnets = find(m.items, 'use-subnets');
  assert.ok(subnets && subnets.kind === 'checkbox' && subnets.checked === true);
  assert.deepEqual(subnets.command, { type: 'toggle', pref: 'RouteAll', value: false });
  const dns = find(m.items, 'use-magicdns');
  assert.ok(dns && dns.kind === 'checkbox' && dns.checked === false);
  assert.deepEqual(dns.command, { type: 'toggle', pref: 'CorpDNS', value: true });
  assert.ok(find(m.items, 'disconnect'));
  assert.equal(find(m.items, 'logout')?.kind === 'action' && (find(m.items, 'logout') as { label: string }).label, 'Log out alice@example.com');
  assert.ok(find(m.items, 'open-window') && find(m.items, 'quit'));
  assert.equal(find(m.items, 'login'), undefined);
});

test('using an exit node: exit-node icon, checkmark on the chosen peer, LAN toggle', () => {
  const m = buildMenu({ status: status(), prefs: prefs({ ExitNodeID: 'n-exit1', ExitNodeAllowLANAccess: true }), engineReachable: true });
  assert.equal(m.icon, 'exit-node');
  assert.match(m.tooltip, /via exit-fra/);
  const chosen = find(m.items, 'exit-n-exit1');
  assert.ok(chosen && chosen.kind === 'radio' && chosen.checked);
  const none = find(m.items, 'exit-none');
  assert.ok(none && none.kind === 'radio' && !none.checked);
  assert.deepEqual(none.command, { type: 'set-exit-node', id: '' });
  const lan = find(m.items, 'allow-lan');
  assert.ok(lan && lan.kind === 'checkbox' && lan.checked);
  assert.deepEqual(lan.command, { type: 'toggle', pref: 'ExitNodeAllowLANAccess', value: false });
  assert.equal(find(m.items, 'exit-nodes')?.kind === 'submenu' && (find(m.items, 'exit-nodes') as { label: string }).label, 'Exit node: exit-fra');
});

test('stopped: Connect instead of Disconnect, disconnected icon even with an exit node chosen', () => {
  const m = buildMenu({ status: status({ BackendState: 'Stopped' }), prefs: prefs({ ExitNodeID: 'n-exit1', WantRunning: false }), engineReachable: true });
  assert.equal(m.icon, 'disconnected');
  assert.ok(find(m.items, 'connect'));
  assert.equal(find(m.items, 'disconnect'), undefined);
});

test('logged out: Log in, no toggles, no exit nodes', () => {
  const m = buildMenu({ status: status({ BackendState: 'NeedsLogin', Self: null, TailscaleIPs: null, Peer: null }), prefs: prefs(), engineReachable: true });
  assert.deepEqual(find(m.items, 'state'), { kind: 'label', id: 'state', label: 'Logged out' });
  const login = find(m.items, 'login');
  assert.ok(login && login.kind === 'action' && login.enabled);
  assert.equal(find(m.items, 'exit-nodes'), undefined);
  assert.equal(find(m.items, 'use-subnets'), undefined);
  assert.equal(find(m.items, 'logout'), undefined);
});

test('engine unreachable: says so, Log in disabled, stale status ignored', () => {
  const m = buildMenu({ status: status(), prefs: prefs(), engineReachable: false });
  assert.deepEqual(find(m.items, 'state'), { kind: 'label', id: 'state', label: 'Meshtray engine not running' });
  assert.equal(m.icon, 'disconnected');
  const login = find(m.items, 'login');
  assert.ok(login && login.kind === 'action' && !login.enabled);
});

test('menu template: Electron shapes, clicks run the command, failures reach onError', async () => {
  const m = buildMenu({ status: status(), prefs: prefs(), engineReachable: true });
  const ran: unknown[] = [];
  const errors: unknown[] = [];
  const tpl = toMenuTemplate(m, async (cmd) => { ran.push(cmd); if (cmd.type === 'quit') throw new Error('boom'); }, (e) => errors.push(e));
  const sub = tpl.find((t) => t.id === 'exit-nodes');
  assert.equal(sub?.type, 'submenu');
  const fra = sub?.submenu?.find((t) => t.id === 'exit-n-exit1');
  assert.equal(fra?.type, 'radio');
  fra?.click?.();
  tpl.find((t) => t.id === 'quit')?.click?.();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(ran, [{ type: 'set-exit-node', id: 'n-exit1' }, { type: 'quit' }]);
  assert.equal((errors[0] as Error).message, 'boom');
  assert.equal(tpl.find((t) => t.id === 'state')?.enabled, false);
});

test('a downloaded update adds "Restart to update"', () => {
  const m = buildMenu({ status: status(), prefs: prefs(), engineReachable: true, updateReady: { version: '0.2.0' } });
  const it = find(m.items, 'install-update');
  assert.ok(it && it.kind === 'action');
  assert.equal(it.label, 'Restart to update to 0.2.0');
  assert.deepEqual(it.command, { type: 'install-update' });
  assert.equal(find(buildMenu({ status: status(), prefs: prefs(), engineReachable: true }).items, 'install-update'), undefined);
});

test('exit node chosen by an IP no exit node has (yet): not "None"; the IP shown checked and not choosable', () => {
  const m = buildMenu({ status: status(), prefs: prefs({ ExitNodeIP: '100.64.0.99' }), engineReachable: true });
  assert.equal(m.icon, 'exit-node');
  assert.match(m.tooltip, /via 100\.64\.0\.99 \(not available\)$/);
  const sub = find(m.items, 'exit-nodes');
  assert.ok(sub && sub.kind === 'submenu');
  assert.equal(sub.label, 'Exit node: 100.64.0.99 (not available)');
  assert.deepEqual(
    sub.items.filter((i) => i.kind === 'radio').map((i) => i.kind === 'radio' && [i.label, i.checked, i.enabled]),
    [['None', false, true], ['100.64.0.99 (not available)', true, false], ['exit-ams (offline)', false, false], ['exit-fra', false, true]],
  );
  // Resolved to a peer's ID: the peer is checked, no IP line.
  const resolved = buildMenu({ status: status(), prefs: prefs({ ExitNodeID: 'n-exit1', ExitNodeIP: '' }), engineReachable: true });
  assert.equal(find(resolved.items, 'exit-ip'), undefined);
});
