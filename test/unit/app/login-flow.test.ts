import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock, flush } from '../../doubles/fake-clock.js';
import { LoginFlow } from '../../../main/app/login/login-flow.js';
import type { LoginProgress, ServerCheckResult } from '../../../main/app/ipc/app-contract.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { FakeEngine, MemLogger } from './fixtures.js';

function setup(check: ServerCheckResult = { URL: 'http://hs.test:8080', reachable: true, message: 'ok' }) {
  const clock = new FakeClock();
  const engine = new FakeEngine();
  const opened: string[] = [];
  const phases: LoginProgress[] = [];
  const checked: string[] = [];
  const flow = new LoginFlow({
    engine,
    opener: { openExternal: async (u) => { opened.push(u); } },
    checkServer: async (u) => { checked.push(u); return check; },
    clock,
    log: new MemLogger(),
    onChange: (p) => phases.push(p),
    timeoutMs: 60_000,
  });
  return { clock, engine, opened, phases, flow, checked };
}

test('happy path: check, start with the server, open AuthURL, finish on Running', async () => {
  const { engine, opened, phases, flow, checked } = setup();
  await flow.start('hs.test:8080');
  assert.deepEqual(checked, ['hs.test:8080']);
  assert.deepEqual(engine.calls, [
    { name: 'start', req: { Prefs: { ControlURL: 'http://hs.test:8080', WantRunning: true } } },
    { name: 'loginInteractive', req: {} },
  ]);
  assert.equal(flow.current.phase, 'starting');
  flow.onNotify({ State: 'NeedsLogin', BrowseToURL: 'http://hs.test:8080/register/abc' });
  await flush();
  assert.deepEqual(opened, ['http://hs.test:8080/register/abc']);
  assert.equal(flow.current.phase, 'waiting-for-browser');
  assert.equal(flow.current.authURL, 'http://hs.test:8080/register/abc');
  flow.onNotify({ BrowseToURL: 'http://hs.test:8080/register/abc' });
  await flush();
  assert.equal(opened.length, 1, 'the same URL is opened once');
  flow.onNotify({ State: 'Starting' });
  assert.equal(flow.current.phase, 'waiting-for-browser');
  flow.onNotify({ State: 'Running' });
  assert.equal(flow.current.phase, 'succeeded');
  assert.deepEqual(phases.map((p) => p.phase), ['checking-server', 'starting', 'waiting-for-browser', 'succeeded']);
});

test('unreachable server: nothing sent to the engine, browser not opened, clear error', async () => {
  const { engine, opened, flow } = setup({ URL: 'https://nope.test', reachable: false, message: 'Cannot reach https://nope.test: connection refused. Nothing was changed.' });
  await assert.rejects(flow.start('https://nope.test'), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_CONTROL_UNREACHABLE');
  assert.equal(engine.calls.length, 0);
  assert.equal(opened.length, 0);
  assert.equal(flow.current.phase, 'server-unreachable');
  assert.match(flow.current.message ?? '', /connection refused/);
});

test('browser never returns: timed-out with a message, the link kept', async () => {
  const { clock, flow } = setup();
  await flow.start('http://hs.test:8080');
  flow.onNotify({ BrowseToURL: 'http://hs.test:8080/register/xyz' });
  await clock.advance(59_999);
  assert.equal(flow.current.phase, 'waiting-for-browser');
  await clock.advance(1);
  assert.equal(flow.current.phase, 'timed-out');
  assert.equal(flow.current.authURL, 'http://hs.test:8080/register/xyz');
  assert.match(flow.current.message ?? '', /browser did not come back/);
  flow.onNotify({ BrowseToURL: 'http://hs.test:8080/register/other' });
  assert.equal(flow.current.phase, 'timed-out', 'a timed-out flow opens nothing more');
  flow.onNotify({ State: 'Running' });
  assert.equal(flow.current.phase, 'succeeded', 'finishing in the browser after the timeout still counts');
});

test('success before the timeout cancels the timer', async () => {
  const { clock, flow } = setup();
  await flow.start('http://hs.test:8080');
  flow.onNotify({ Status: { AuthURL: 'http://hs.test:8080/register/s' } as never });
  flow.onNotify({ State: 'Running' });
  await clock.advance(120_000);
  assert.equal(flow.current.phase, 'succeeded');
});

test('a non-web AuthURL is never opened', async () => {
  const { opened, flow } = setup();
  await flow.start('http://hs.test:8080');
  flow.onNotify({ BrowseToURL: 'file:///etc/passwd' });
  await flush();
  assert.deepEqual(opened, []);
  assert.equal(flow.current.phase, 'failed');
});

test('engine refuses to start: failed with its message', async () => {
  const { engine, flow } = setup();
  engine.answers.start = () => { throw new MeshtrayError('ERR_INTERNAL', 'backend exploded'); };
  await assert.rejects(flow.start('http://hs.test:8080'));
  assert.equal(flow.current.phase, 'failed');
  assert.match(flow.current.message ?? '', /backend exploded/);
});

test('cancel returns to idle and ignores the late AuthURL', async () => {
  const { opened, flow } = setup();
  await flow.start('http://hs.test:8080');
  flow.cancel();
  assert.equal(flow.current.phase, 'idle');
  flow.onNotify({ BrowseToURL: 'http://hs.test:8080/register/late' });
  await flush();
  assert.deepEqual(opened, []);
});

test('re-auth of a running engine: ForceReauth sent; Running alone does not finish it, LoginFinished does', async () => {
  const { engine, opened, flow } = setup();
  await flow.start('http://hs.test:8080', { reauth: true });
  assert.deepEqual(engine.calls[0], { name: 'start', req: { Prefs: { ControlURL: 'http://hs.test:8080', WantRunning: true }, ForceReauth: true } });
  flow.onNotify({ State: 'Running' });
  assert.equal(flow.current.phase, 'starting');
  flow.onNotify({ BrowseToURL: 'http://hs.test:8080/register/re' });
  await flush();
  assert.deepEqual(opened, ['http://hs.test:8080/register/re']);
  flow.onNotify({ State: 'Running' });
  assert.equal(flow.current.phase, 'waiting-for-browser');
  flow.onNotify({ LoginFinished: {} });
  assert.equal(flow.current.phase, 'succeeded');
});

test('retry after a timeout: same login server, a fresh link opened, the first attempt\'s timer cannot end the second; cancel sends the engine nothing', async () => {
  const { clock, engine, opened, flow, checked } = setup();
  await flow.start('http://hs.test:8080');
  flow.onNotify({ BrowseToURL: 'http://hs.test:8080/register/one' });
  await clock.advance(60_000);
  assert.equal(flow.current.phase, 'timed-out');
  assert.equal(flow.current.controlURL, 'http://hs.test:8080', 'the login server is kept for the retry');

  await clock.advance(30_000);
  await flow.start(flow.current.controlURL);
  assert.deepEqual(checked, ['http://hs.test:8080', 'http://hs.test:8080']);
  flow.onNotify({ BrowseToURL: 'http://hs.test:8080/register/two' });
  await flush();
  assert.deepEqual(opened, ['http://hs.test:8080/register/one', 'http://hs.test:8080/register/two']);
  await clock.advance(59_999);
  assert.equal(flow.current.phase, 'waiting-for-browser', 'the second attempt has its own full timeout');

  const callsBefore = engine.calls.length;
  flow.cancel();
  assert.equal(flow.current.phase, 'idle');
  assert.equal(flow.current.message, 'Login cancelled.');
  assert.equal(flow.current.controlURL, 'http://hs.test:8080');
  assert.equal(engine.calls.length, callsBefore, 'cancel does not touch the engine');
  await clock.advance(10_000);
  assert.equal(flow.current.phase, 'idle', 'no late timeout after cancel');
});
