// The tray's "Run as exit node" item: checkmark and label from the engine's prefs + status only
// (off / waiting for approval / approved), the click edits AdvertiseRoutes keeping subnets, it is
// exclusive with using an exit node (as tailscale's backend makes it), and a click through the
// AppController reaches the engine as an editPrefs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMenu, type MenuItem } from '../../../main/app/tray/menu-model.js';
import { toMenuTemplate } from '../../../main/app/tray/menu-template.js';
import { runExitNodeState, withExitRoutes } from '../../../common/prefs/exit-node-prefs.js';
import { AppController } from '../../../main/app/app-controller.js';
import { FakeClock, flush } from '../../doubles/fake-clock.js';
import { FakeEngine, MemLogger, peer, prefs, status } from './fixtures.js';

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

function runItem(items: MenuItem[]): Extract<MenuItem, { kind: 'checkbox' }> {
  const it = find(items, 'run-exit-node');
  assert.ok(it && it.kind === 'checkbox', 'a "Run as exit node" checkbox');
  return it;
}

/** Status whose self node control has (or has not) given the exit routes. */
const selfWith = (allowed: string[]) => status({ Self: peer({ ID: 'self', HostName: 'laptop', TailscaleIPs: ['100.64.0.1'], AllowedIPs: allowed }) });

test('off: unchecked, plain label, a click advertises both /0s and keeps the advertised subnet', () => {
  const m = buildMenu({ status: selfWith(['100.64.0.1/32']), prefs: prefs({ AdvertiseRoutes: ['10.1.0.0/24'] }), engineReachable: true });
  const it = runItem(m.items);
  assert.equal(it.label, 'Run as exit node');
  assert.equal(it.checked, false);
  assert.equal(it.enabled, true);
  assert.deepEqual(it.command, { type: 'toggle', pref: 'AdvertiseRoutes', value: ['10.1.0.0/24', '0.0.0.0/0', '::/0'] });
  // It lives in the exit-node submenu, after "Allow LAN access".
  const sub = find(m.items, 'exit-nodes');
  assert.ok(sub && sub.kind === 'submenu');
  assert.deepEqual(sub.items.slice(-2).map((i) => i.id), ['allow-lan', 'run-exit-node']);
});

test('offered, not approved: checked, "waiting for approval"; a click withdraws only the /0s', () => {
  const m = buildMenu({ status: selfWith(['100.64.0.1/32']), prefs: prefs({ AdvertiseRoutes: ['10.1.0.0/24', '0.0.0.0/0', '::/0'] }), engineReachable: true });
  const it = runItem(m.items);
  assert.equal(it.label, 'Run as exit node (waiting for approval)');
  assert.equal(it.checked, true);
  assert.deepEqual(it.command, { type: 'toggle', pref: 'AdvertiseRoutes', value: ['10.1.0.0/24'] });
});

test('approved (both /0s in the self node\'s AllowedIPs): checked, "approved"', () => {
  const m = buildMenu({ status: selfWith(['0.0.0.0/0', '100.64.0.1/32', '::/0']), prefs: prefs({ AdvertiseRoutes: ['0.0.0.0/0', '::/0'] }), engineReachable: true });
  const it = runItem(m.items);
  assert.equal(it.label, 'Run as exit node (approved)');
  assert.equal(it.checked, true);
  // Only one /0 approved is not an exit node (tsaddr.ContainsExitRoutes needs both).
  const half = buildMenu({ status: selfWith(['0.0.0.0/0', '100.64.0.1/32']), prefs: prefs({ AdvertiseRoutes: ['0.0.0.0/0', '::/0'] }), engineReachable: true });
  assert.equal(runItem(half.items).label, 'Run as exit node (waiting for approval)');
  // An approval control still lists after the prefs dropped the routes does not make it look on.
  const stale = buildMenu({ status: selfWith(['0.0.0.0/0', '100.64.0.1/32', '::/0']), prefs: prefs({ AdvertiseRoutes: [] }), engineReachable: true });
  assert.equal(runItem(stale.items).checked, false);
  assert.equal(runItem(stale.items).label, 'Run as exit node');
});

test('exclusive with using an exit node, both ways', () => {
  // Using exit-fra: "Run as exit node" cannot be turned on, and says why.
  const using = buildMenu({ status: status(), prefs: prefs({ ExitNodeID: 'n-exit1' }), engineReachable: true });
  const it = runItem(using.items);
  assert.equal(it.enabled, false);
  assert.equal(it.label, 'Run as exit node (not while using an exit node)');
  // Chosen by an IP not resolved yet counts as using one too.
  assert.equal(runItem(buildMenu({ status: status(), prefs: prefs({ ExitNodeIP: '100.64.0.77' }), engineReachable: true }).items).enabled, false);
  // Running as one: other exit nodes are not choosable; None is.
  const running = buildMenu({ status: status(), prefs: prefs({ AdvertiseRoutes: ['0.0.0.0/0', '::/0'] }), engineReachable: true });
  const sub = find(running.items, 'exit-nodes');
  assert.ok(sub && sub.kind === 'submenu');
  assert.deepEqual(
    sub.items.filter((i) => i.kind === 'radio').map((i) => i.kind === 'radio' && [i.label, i.checked, i.enabled]),
    [['None', true, true], ['exit-ams (offline)', false, false], ['exit-fra', false, false]],
  );
  // Both set (e.g. by the CLI, which our engine does not refuse): the box can still be turned off.
  const both = buildMenu({ status: status(), prefs: prefs({ ExitNodeID: 'n-exit1', AdvertiseRoutes: ['0.0.0.0/0', '::/0'] }), engineReachable: true });
  assert.equal(runItem(both.items).enabled, true);
  assert.equal(runItem(both.items).checked, true);
  const chosen = find(both.items, 'exit-n-exit1');
  assert.ok(chosen && chosen.kind === 'radio' && chosen.checked && chosen.enabled, 'the current choice stays visible and checked');
});

test('no prefs yet: the item is there but disabled; logged out: no exit-node submenu at all', () => {
  assert.equal(runItem(buildMenu({ status: status(), prefs: undefined, engineReachable: true }).items).enabled, false);
  const out = buildMenu({ status: status({ BackendState: 'NeedsLogin', Self: null, TailscaleIPs: null, Peer: null }), prefs: prefs(), engineReachable: true });
  assert.equal(find(out.items, 'run-exit-node'), undefined);
});

test('Electron template: a checkbox with a checkmark; clicking it runs the AdvertiseRoutes edit', async () => {
  const m = buildMenu({ status: selfWith(['100.64.0.1/32']), prefs: prefs({ AdvertiseRoutes: ['0.0.0.0/0', '::/0'] }), engineReachable: true });
  const ran: unknown[] = [];
  const tpl = toMenuTemplate(m, async (c) => void ran.push(c), () => assert.fail('no error'));
  const sub = tpl.find((i) => i.id === 'exit-nodes')?.submenu ?? [];
  const item = sub.find((i) => i.id === 'run-exit-node');
  assert.equal(item?.type, 'checkbox');
  assert.equal(item?.checked, true);
  item?.click?.();
  await flush();
  assert.deepEqual(ran, [{ type: 'toggle', pref: 'AdvertiseRoutes', value: [] }]);
});

test('through the AppController: the tray click is one editPrefs of AdvertiseRoutes; the menu follows the engine', async () => {
  const engine = new FakeEngine();
  const c = new AppController({
    engine,
    host: { mode: 'attached', detail: '/run/meshtray.sock' },
    opener: { openExternal: async () => undefined },
    checkServer: async (u) => ({ URL: u, reachable: true, message: 'ok' }),
    updater: { check: async () => null, download: async () => undefined, quitAndInstall: () => undefined },
    currentVersion: '0.1.0',
    clock: new FakeClock(),
    log: new MemLogger(),
    shell: { openWindow: () => undefined, quit: () => undefined, copyText: () => undefined },
  });
  const menus: ReturnType<typeof buildMenu>[] = [];
  c.onMenu((m) => menus.push(m));
  c.start();
  engine.push({ State: 'Running', Prefs: prefs({ AdvertiseRoutes: ['10.1.0.0/24'] }), Status: selfWith(['100.64.0.1/32']) });
  await flush();
  const first = runItem(menus.at(-1)!.items);
  assert.equal(first.checked, false);
  await c.runMenuCommand(first.command);
  assert.deepEqual(engine.calls.at(-1), { name: 'editPrefs', req: { AdvertiseRoutes: ['10.1.0.0/24', '0.0.0.0/0', '::/0'] } });
  assert.equal(runItem(menus.at(-1)!.items).checked, false, 'nothing changes until the engine says so');
  engine.push({ Prefs: prefs({ AdvertiseRoutes: ['10.1.0.0/24', '0.0.0.0/0', '::/0'] }) });
  await flush();
  assert.equal(runItem(menus.at(-1)!.items).label, 'Run as exit node (waiting for approval)');
  engine.push({ Status: selfWith(['0.0.0.0/0', '10.1.0.0/24', '100.64.0.1/32', '::/0']) });
  await flush();
  assert.equal(runItem(menus.at(-1)!.items).label, 'Run as exit node (approved)');
  c.stop();
});

test('run-exit-node helpers: state and SetAdvertiseExitNode-style edits', () => {
  assert.equal(runExitNodeState(undefined, undefined), 'off');
  assert.equal(runExitNodeState({ AdvertiseRoutes: ['0.0.0.0/0'] }, { AllowedIPs: ['0.0.0.0/0', '::/0'] }), 'off', 'one /0 is not an exit node');
  assert.equal(runExitNodeState({ AdvertiseRoutes: ['::/0', '0.0.0.0/0'] }, null), 'waiting');
  assert.equal(runExitNodeState({ AdvertiseRoutes: ['::/0', '0.0.0.0/0'] }, { AllowedIPs: ['::/0', '0.0.0.0/0'] }), 'approved');
  assert.deepEqual(withExitRoutes(['0.0.0.0/0', '10.0.0.0/8', '::/0', 'fd00::/64'], false), ['10.0.0.0/8', 'fd00::/64']);
  assert.deepEqual(withExitRoutes(['10.0.0.0/8', '::/0'], true), ['10.0.0.0/8', '0.0.0.0/0', '::/0'], 'a lone /0 is replaced, not doubled');
  assert.deepEqual(withExitRoutes(['192.168.10.0/24'], false), ['192.168.10.0/24']);
});
