// The register loop on its own: what it sends control and which login-state hooks it calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logoutAtControl, registerUntilLoggedIn, type RegisterHost } from '../../../../main/engine/backend/register.js';
import { newBackendCounters } from '../../../../main/engine/backend/counters.js';
import { PrivateKey } from '../../../../main/engine/keys/keys.js';
import type { RegisterRequest, RegisterResponse } from '../../../../main/engine/control/messages.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import { FakeClock, flush } from '../../../doubles/fake-clock.js';
import { FakeControl, okRegister } from '../../../doubles/fake-control.js';

let seed = 1;
const random = { bytes: (n: number) => Uint8Array.from({ length: n }, () => (seed++ * 37) & 0xff), float: () => 0.5 };

function setup(control: FakeControl, loggedInKey?: PrivateKey<'node'>) {
  const clock = new FakeClock();
  const events: string[] = [];
  let trying: PrivateKey<'node'> | undefined;
  let current: PrivateKey<'node'> | undefined = loggedInKey;
  let old: PrivateKey<'node'> | undefined;
  const counters = newBackendCounters();
  const host: RegisterHost = {
    clock,
    random,
    logger: memoryLogger('debug').logger,
    counters,
    client: () => control,
    hostinfo: () => ({ Hostname: 'box' }),
    keyToTry: () => trying ?? current ?? (trying = PrivateKey.generate('node', random)),
    oldKey: () => old,
    attempting: () => events.push('attempt'),
    reachable: (ok) => events.push(ok ? 'reachable' : 'unreachable'),
    refused: (e, final) => events.push(`refused:${e}:${final}`),
    keyExpired: () => {
      events.push('keyExpired');
      old = current ?? old;
      trying = PrivateKey.generate('node', random);
    },
    needsBrowser: (url) => events.push(`browse:${url}`),
    accepted: async (key, resp: RegisterResponse) => {
      events.push(`accepted:${resp.Login?.LoginName ?? ''}`);
      current = key;
      trying = undefined;
    },
    loggedIn: () => events.push('loggedIn'),
  };
  return { clock, events, counters, host, key: () => current };
}

test('a pre-auth key goes in the first request only; success hands the tried key to the backend', async () => {
  const control = new FakeControl();
  const { host, events, key } = setup(control);
  const ok = await registerUntilLoggedIn(host, new AbortController().signal, 'hskey-auth-x');
  assert.equal(ok, true);
  assert.equal(control.registers.length, 1);
  const r = control.registers[0]!;
  assert.equal(r.Auth?.AuthKey, 'hskey-auth-x');
  assert.equal(r.Followup, '');
  assert.equal(r.NodeKey, key()!.public.toString());
  assert.equal(r.OldNodeKey, undefined);
  assert.deepEqual(events, ['attempt', 'reachable', 'accepted:alice@', 'loggedIn']);
});

test('interactive: the AuthURL is shown once, the followup carries it and no auth key; the same URL again backs off', async () => {
  const control = new FakeControl();
  const url = 'http://hs/register/abc';
  control.answers = [okRegister({ AuthURL: url }), okRegister({ AuthURL: url }), okRegister()];
  const { host, events, clock } = setup(control);
  let done: boolean | undefined;
  void registerUntilLoggedIn(host, new AbortController().signal, 'hskey-auth-x').then((v) => (done = v));
  await flush();
  assert.equal(control.registers.length, 2, 'followup sent at once after the first AuthURL');
  assert.equal(control.registers[1]!.Followup, url);
  assert.equal(control.registers[1]!.Auth, undefined, 'the followup never carries the auth key');
  assert.equal(control.registers[1]!.NodeKey, control.registers[0]!.NodeKey);
  assert.equal(done, undefined, 'waiting out the backoff before following up again');
  await clock.advance(10);
  assert.equal(done, true);
  assert.equal(events.filter((e) => e === `browse:${url}`).length, 2, 'the hook decides whether a URL is new');
});

test('a refused pre-auth key is final: one request, refused(final), no retry', async () => {
  const control = new FakeControl();
  control.answers = [okRegister({ Error: 'invalid authkey' })];
  const { host, events, counters, clock } = setup(control);
  const ok = await registerUntilLoggedIn(host, new AbortController().signal, 'hskey-bad');
  await clock.advance(60_000);
  assert.equal(ok, false);
  assert.equal(control.registers.length, 1);
  assert.ok(events.includes('refused:invalid authkey:true'));
  assert.equal(counters.registerFailures, 1);
});

test('network errors back off n²·10 ms and show as unreachable; an expired key is rotated with OldNodeKey', async () => {
  const control = new FakeControl();
  control.answers = [new Error('connect ECONNREFUSED'), new Error('connect ECONNREFUSED'), okRegister({ NodeKeyExpired: true }), okRegister()];
  const mine = PrivateKey.generate('node', random);
  const { host, events, clock, counters } = setup(control, mine);
  let done: boolean | undefined;
  void registerUntilLoggedIn(host, new AbortController().signal, undefined).then((v) => (done = v));
  await flush();
  assert.equal(control.registers.length, 1);
  assert.deepEqual(clock.requested.slice(-1), [10]);
  await clock.advance(10);
  assert.deepEqual(clock.requested.slice(-1), [40]);
  await clock.advance(40);
  assert.equal(done, true);
  assert.equal(counters.registerFailures, 2);
  assert.ok(events.includes('unreachable') && events.includes('keyExpired'));
  const [first, , third, fourth] = control.registers as RegisterRequest[];
  assert.equal(first!.NodeKey, mine.public.toString());
  assert.equal(third!.NodeKey, first!.NodeKey);
  assert.equal(third!.OldNodeKey, undefined);
  assert.notEqual(fourth!.NodeKey, first!.NodeKey, 'a new key after NodeKeyExpired');
  assert.equal(fourth!.OldNodeKey, mine.public.toString(), 'control is told which node moves to the new key');
});

test('aborting the session while a register hangs returns false and logs nobody in', async () => {
  const control = new FakeControl();
  control.answers = [(_r, signal) => new Promise((_res, rej) => signal?.addEventListener('abort', () => rej(new Error('aborted'))))];
  const { host, events } = setup(control);
  const ac = new AbortController();
  const p = registerUntilLoggedIn(host, ac.signal, undefined);
  await flush();
  ac.abort();
  assert.equal(await p, false);
  assert.ok(!events.includes('loggedIn'));
});

test('logout: Expiry in the past; a control that never answers is given up on after 10 s', async () => {
  const control = new FakeControl();
  control.answers = [(_r, signal) => new Promise((_res, rej) => signal?.addEventListener('abort', () => rej(new Error('aborted'))))];
  const clock = new FakeClock();
  const { logger, lines } = memoryLogger('debug');
  let finished = false;
  void logoutAtControl({ client: () => control, nodeKey: PrivateKey.generate('node', random), hostinfo: () => ({ Hostname: 'box' }), clock, logger }).then(() => (finished = true));
  await clock.advance(9_999);
  assert.equal(finished, false);
  await clock.advance(1);
  assert.equal(finished, true);
  assert.equal(control.registers[0]!.Expiry, '1970-01-01T00:02:03Z');
  assert.ok(lines.some((l) => l.includes('forgetting the login locally anyway')));
});
