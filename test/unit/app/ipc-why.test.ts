// The Route check's call end to end inside the app, without Electron: the renderer's client over
// the preload's bridge over main's IpcRouter to an engine. The answer is the engine's own why()
// over a real route table; the request and response are schema-checked on the way; the engine's
// refusal keeps its code so the window can say what went wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpcRouter, type AppHandlers } from '../../../main/app/ipc/router.js';
import { engineChannel } from '../../../main/app/ipc/channels.js';
import { createSenderPolicy } from '../../../main/app/ipc/sender-policy.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { computeRouteTable } from '../../../main/engine/routes/route-table.js';
import { why } from '../../../main/engine/routes/why.js';
import { buildBridge } from '../../../preload/bridge.js';
import { MeshtrayClient, type RawBridge } from '../../../renderer/api/client.js';
import { EXIT_ID, IFACES, prefs as routePrefs, tailnet } from '../engine/routes/fixtures.js';
import { FakeEngine, MemLogger } from './fixtures.js';

const INDEX = '/opt/Meshtray/resources/app.asar/dist/renderer/index.html';
const good = { webContentsId: 7, frameUrl: `file://${INDEX}` };
const noApp = new Proxy({}, { get: () => async () => ({}) }) as AppHandlers;

function setup(answer: (req: unknown) => unknown) {
  const engine = new FakeEngine();
  engine.answers.why = answer;
  const log = new MemLogger();
  const policy = createSenderPolicy({ trustedWebContents: () => new Set([7]), allowedUrlPrefixes: [`file://${INDEX}`] });
  const router = new IpcRouter(engine, noApp, policy, log);
  const bridge = buildBridge({
    invoke: (channel, payload) => router.handle(channel, good, payload),
    onNotify: () => () => undefined,
    onAppState: () => () => undefined,
  });
  return { engine, router, client: new MeshtrayClient(bridge as unknown as RawBridge) };
}

function engineWhy(dest: string) {
  const nm = tailnet();
  const table = computeRouteTable({ netmap: nm, prefs: routePrefs({ ExitNodeID: String(EXIT_ID) }), interfaces: IFACES, tunName: 'meshtray0' });
  return why({ table, netmap: nm, interfaces: IFACES, tunName: 'meshtray0' }, dest);
}

test('the window asks, the engine answers, the same answer arrives (exit node for an internet address)', async () => {
  const { engine, client } = setup((req) => engineWhy((req as { Dest: string }).Dest));
  const a = await client.call('why', { Dest: '203.0.113.80' });
  assert.deepEqual(engine.calls, [{ name: 'why', req: { Dest: '203.0.113.80' } }]);
  assert.equal(a.verdict, 'exit-node');
  assert.equal(a.node?.name, 'exit');
  assert.equal(a.text, engineWhy('203.0.113.80').text);
});

test('a bad request never reaches the engine: empty, too long, wrong type', async () => {
  const { engine, router, client } = setup(() => assert.fail('engine called'));
  for (const Dest of ['', 'x'.repeat(256)]) {
    await assert.rejects(client.call('why', { Dest }), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST' && /invalid request for meshtray:engine:why: Dest/.test(e.message));
  }
  const r = await router.handle(engineChannel('why'), good, { Dest: 42 });
  assert.equal(!r.ok && r.error.code, 'ERR_BAD_REQUEST');
  assert.equal(engine.calls.length, 0);
  assert.equal(router.stats.badRequest, 3);
});

test("the engine's refusal keeps its code and words; an answer of the wrong shape is refused", async () => {
  const refusing = setup((req) => engineWhy((req as { Dest: string }).Dest));
  await assert.rejects(refusing.client.call('why', { Dest: 'www.example.com' }), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NO_SUCH_PEER' && /neither an IP address nor a tailnet name/.test(e.message));
  const bad = setup(() => ({ ...engineWhy('203.0.113.80'), verdict: 'teleported' }));
  await assert.rejects(bad.client.call('why', { Dest: '203.0.113.80' }), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_INTERNAL' && /unexpected shape: verdict/.test(e.message));
  assert.equal(bad.router.stats.badResponse, 1);
});
