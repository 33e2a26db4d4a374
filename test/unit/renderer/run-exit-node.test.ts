// "Run as exit node" in the window: the wording of each engine state, the prefs edit, and the
// screen as rendered (label, help line, status line, what is disabled and why) from the engine's
// prefs + status in the store, rendered with react-dom/server (no DOM needed).
// Under tsx, run with TSX_TSCONFIG_PATH=renderer/tsconfig.json (the renderer's automatic JSX runtime);
// the compiled run (dist/) needs nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createElement, type Context, type FunctionComponent } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import {
  advertisesExitNode,
  exitChoiceBlocked,
  RUN_EXIT_NODE_HELP,
  runExitNodeBlocked,
  runExitNodeState,
  runExitNodeStateText,
  withExitRoutes,
} from '../../../renderer/features/exit-node/run-exit-node.js';
import { createUiStore } from '../../../renderer/store/engine-store.js';
import type { MeshtrayClient } from '../../../renderer/api/client.js';
import type { Prefs } from '../../../common/schemas/prefs.js';
import type { Status } from '../../../common/schemas/status.js';
import { peer, prefs, status } from '../app/fixtures.js';

const EXIT = ['0.0.0.0/0', '::/0'];
const selfWith = (allowed: string[]) => status({ Self: peer({ ID: 'self', HostName: 'laptop', TailscaleIPs: ['100.64.0.1'], AllowedIPs: allowed }) });

test('state: off unless prefs offer both /0s; approved only when control put both into self AllowedIPs', () => {
  assert.equal(runExitNodeState(prefs(), selfWith(['100.64.0.1/32']).Self), 'off');
  assert.equal(runExitNodeState(prefs({ AdvertiseRoutes: ['0.0.0.0/0'] }), selfWith(['100.64.0.1/32']).Self), 'off', 'one /0 is not an exit node (tsaddr.ContainsExitRoutes)');
  assert.equal(runExitNodeState(prefs({ AdvertiseRoutes: EXIT }), selfWith(['100.64.0.1/32']).Self), 'waiting');
  assert.equal(runExitNodeState(prefs({ AdvertiseRoutes: EXIT }), null), 'waiting', 'no netmap yet: not approved');
  assert.equal(runExitNodeState(prefs({ AdvertiseRoutes: EXIT }), selfWith(['0.0.0.0/0', '100.64.0.1/32']).Self), 'waiting', 'half approved is not approved');
  assert.equal(runExitNodeState(prefs({ AdvertiseRoutes: ['10.1.0.0/24', ...EXIT] }), selfWith(['0.0.0.0/0', '10.1.0.0/24', '100.64.0.1/32', '::/0']).Self), 'approved');
  // Prefs say off but control has not caught up: off (the prefs are the user's intent, the engine's truth).
  assert.equal(runExitNodeState(prefs(), selfWith(['0.0.0.0/0', '100.64.0.1/32', '::/0']).Self), 'off');
  assert.equal(advertisesExitNode(undefined), false);
});

test('wording a user reads for each state', () => {
  assert.equal(runExitNodeStateText('off'), 'Off: this device is not offered as an exit node.');
  assert.equal(runExitNodeStateText('waiting'), 'Offered, waiting for approval: an admin must approve this device as an exit node on the control server.');
  assert.equal(runExitNodeStateText('approved'), 'Approved: other devices can use this one as their exit node.');
  assert.match(RUN_EXIT_NODE_HELP, /send their internet traffic out through this device/);
  assert.match(RUN_EXIT_NODE_HELP, /admin must approve it on the control server/);
  assert.match(RUN_EXIT_NODE_HELP, /cannot be on while this device uses an exit node/);
});

test('edit: /0s added or removed, subnets kept in order (tailscale Prefs.SetAdvertiseExitNode)', () => {
  assert.deepEqual(withExitRoutes([], true), EXIT);
  assert.deepEqual(withExitRoutes(['10.1.0.0/24'], true), ['10.1.0.0/24', ...EXIT]);
  assert.deepEqual(withExitRoutes(['0.0.0.0/0', '10.1.0.0/24', '::/0', 'fd00:1::/64'], false), ['10.1.0.0/24', 'fd00:1::/64']);
  assert.deepEqual(withExitRoutes(['::/0', '10.1.0.0/24'], true), ['10.1.0.0/24', ...EXIT], 'a stray /0 is not doubled');
});

test('exclusive with using an exit node (tailscale: "Cannot advertise an exit node and use an exit node at the same time.")', () => {
  assert.equal(runExitNodeBlocked(prefs({ ExitNodeID: 'n-exit1' })), 'This device uses an exit node: choose None above to run as one.');
  assert.ok(runExitNodeBlocked(prefs({ ExitNodeIP: '100.64.0.77' })), 'an exit node chosen by IP counts');
  assert.equal(runExitNodeBlocked(prefs()), undefined);
  assert.equal(runExitNodeBlocked(prefs({ ExitNodeID: 'n-exit1', AdvertiseRoutes: EXIT })), undefined, 'both on (CLI): turning it off stays possible');
  assert.equal(exitChoiceBlocked(prefs({ AdvertiseRoutes: EXIT })), 'This device runs as an exit node: turn "Run as exit node" off below to use another device as yours.');
  assert.equal(exitChoiceBlocked(prefs()), undefined);
});

// The .tsx modules are loaded at run time by URL: the test project (no "jsx" option) cannot take
// them as typed project-reference inputs (tsc TS6305), and a string path keeps tsc out of it.
// Relative to this file, the same path reaches renderer/ from test/unit/renderer (tsx) and from
// dist/test/unit/renderer (the compiled run).
const picker = (await import(new URL('../../../renderer/features/exit-node/exit-node-picker.js', import.meta.url).href)) as { ExitNodePicker: FunctionComponent };
const ctx = (await import(new URL('../../../renderer/context.js', import.meta.url).href)) as { ServicesContext: Context<{ client: MeshtrayClient; store: ReturnType<typeof createUiStore> } | null> };

/** The exit-node screen as HTML for the given engine prefs + status. */
function render(p: Prefs, s: Status): string {
  const store = createUiStore();
  store.getState().applyNotify({ State: 'Running', Prefs: p, Status: s });
  // Server rendering reads zustand's server snapshot (getInitialState): make that the mirrored state.
  const now = store.getState();
  store.getInitialState = () => now;
  const client = { call: async () => ({}) } as unknown as MeshtrayClient;
  return renderToStaticMarkup(createElement(ctx.ServicesContext.Provider, { value: { client, store } }, createElement(picker.ExitNodePicker)));
}

/** The <input> of the labelled control, by its label text. */
function inputFor(html: string, label: string): string {
  const id = new RegExp(`<label for="([^"]+)">${label}</label>`).exec(html)?.[1];
  assert.ok(id, `a <label for> "${label}"`);
  const input = new RegExp(`<input[^>]*id="${id.replace(/[:]/g, '\\$&')}"[^>]*>`).exec(html)?.[0];
  assert.ok(input, `the input labelled "${label}"`);
  return input;
}

test('screen: a labelled checkbox below the picker, described by the state line and the help line', () => {
  const html = render(prefs({ AdvertiseRoutes: EXIT }), selfWith(['100.64.0.1/32']));
  const box = inputFor(html, 'Run as exit node');
  assert.match(box, /type="checkbox"/);
  assert.match(box, /checked=""/);
  assert.doesNotMatch(box, /disabled/);
  const describedBy = /aria-describedby="([^"]+)"/.exec(box)?.[1]?.split(' ') ?? [];
  assert.equal(describedBy.length, 2);
  for (const d of describedBy) assert.match(html, new RegExp(`id="${d.replace(/[:]/g, '\\$&')}"`));
  assert.match(html, /data-state="waiting"[^>]*><strong>Offered, waiting for approval/);
  assert.ok(html.indexOf('>Allow LAN access</label>') < html.indexOf('>Run as exit node</label>'), 'below the picker and LAN access');
  // Running as an exit node: other exit nodes are not choosable; None is; the reason is on screen.
  assert.match(html, /This device runs as an exit node: turn &quot;Run as exit node&quot; off below/);
  const radio = (value: string) => new RegExp(`<input type="radio"[^>]*name="exit-node"[^>]*value="${value}"[^>]*>`).exec(html)?.[0] ?? '';
  assert.match(radio('n-exit1'), /disabled=""/);
  assert.match(radio(''), /checked=""/);
  assert.doesNotMatch(radio(''), /disabled/);
});

test('screen: approved, off, and blocked while using an exit node', () => {
  const approved = render(prefs({ AdvertiseRoutes: EXIT }), selfWith(['0.0.0.0/0', '100.64.0.1/32', '::/0']));
  assert.match(approved, /data-state="approved"[^>]*><strong>Approved: other devices can use this one as their exit node.<\/strong>/);
  const off = render(prefs(), selfWith(['100.64.0.1/32']));
  assert.doesNotMatch(inputFor(off, 'Run as exit node'), /checked|disabled/);
  assert.match(off, /data-state="off"[^>]*><strong>Off: this device is not offered as an exit node./);
  assert.doesNotMatch(off, /exit-use-blocked/);
  const using = render(prefs({ ExitNodeID: 'n-exit1' }), selfWith(['100.64.0.1/32']));
  assert.match(inputFor(using, 'Run as exit node'), /disabled=""/);
  assert.match(using, /data-state="blocked"[^>]*><strong>This device uses an exit node: choose None above to run as one.<\/strong>/);
});
