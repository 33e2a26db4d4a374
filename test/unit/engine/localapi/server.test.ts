import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LocalApiServer } from '../../../../main/engine/localapi/server.js';
import { LocalClient } from '../../../../main/client/localapi-client.js';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { memoryLogger } from '../../../../main/engine/log/logger.js';
import { FakeLocalApiBackend, emptyStatus } from '../../../doubles/fake-localapi-backend.js';

const run = promisify(execFile);

async function setup(t: import('node:test').TestContext, opts: { daemonUid?: number } = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'meshtray-lapi-'));
  const socketPath = join(dir, 'meshtrayd.sock');
  const backend = new FakeLocalApiBackend();
  const { logger, lines } = memoryLogger();
  const server = new LocalApiServer({ socketPath, backend, logger, ...opts });
  await server.listen();
  t.after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, socketPath, backend, server, lines, client: new LocalClient({ socketPath, timeoutMs: 5000 }) };
}

function raw(socketPath: string, method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, agent: false, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('socket file is mode 0600 and typed calls round-trip through the schemas', async (t) => {
  const { socketPath, client, backend } = await setup(t);
  assert.equal((await stat(socketPath)).mode & 0o777, 0o600);
  backend.statusValue = emptyStatus({ BackendState: 'Running', TailscaleIPs: ['100.64.0.1'] });
  const st = await client.status();
  assert.equal(st.BackendState, 'Running');
  assert.deepEqual(st.TailscaleIPs, ['100.64.0.1']);
  const p = await client.editPrefs({ Hostname: 'box', WantRunning: true });
  assert.equal(p.Hostname, 'box');
  await client.start({ AuthKey: 'hskey-auth-x-y', Prefs: { ControlURL: 'http://hs:8080' } });
  assert.deepEqual(backend.calls.at(-1), { name: 'start', req: { AuthKey: 'hskey-auth-x-y', Prefs: { ControlURL: 'http://hs:8080' } } });
});

test('bad request bodies get 400 with a common ErrorBody and a reason; handler not called', async (t) => {
  const { socketPath, backend, server } = await setup(t);
  const cases: Array<[string, string, string | undefined, RegExp]> = [
    ['PATCH', '/localapi/v0/prefs', '{"Hostname":5}', /Hostname/],
    ['PATCH', '/localapi/v0/prefs', '{"NoSuchPref":true}', /NoSuchPref|Unrecognized/i],
    ['POST', '/localapi/v0/start', '{not json', /not valid JSON/],
    ['POST', '/localapi/v0/start', '{"ForceReauth":"yes"}', /ForceReauth/],
    ['POST', '/localapi/v0/ping', '{"Target":"x","TimeoutMs":-1}', /TimeoutMs/],
  ];
  for (const [m, p, b, re] of cases) {
    const r = await raw(socketPath, m, p, b);
    assert.equal(r.status, 400, `${m} ${p} ${b}`);
    const body = JSON.parse(r.body) as { code: string; message: string };
    assert.equal(body.code, 'ERR_BAD_REQUEST');
    assert.match(body.message, re);
  }
  assert.equal(backend.calls.length, 0);
  assert.ok(server.rejectedCount >= cases.length);
  const nf = await raw(socketPath, 'GET', '/localapi/v0/nope');
  assert.equal(nf.status, 404);
  assert.equal((JSON.parse(nf.body) as { code: string }).code, 'ERR_NOT_FOUND');
  const wrongMethod = await raw(socketPath, 'DELETE', '/localapi/v0/prefs');
  assert.equal(wrongMethod.status, 400);
});

test('handler errors keep their code through the client', async (t) => {
  const { client } = await setup(t);
  await assert.rejects(client.logout(), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NEEDS_LOGIN' && e.message === 'not logged in');
  await assert.rejects(client.ping({ Target: 'nobody' }), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NO_SUCH_PEER');
});

test('watch stream: snapshot first, then changes in order; unsubscribes on close', async (t) => {
  const { client, backend } = await setup(t);
  const ac = new AbortController();
  const it = client.watch(ac.signal);
  const first = await it.next();
  assert.equal(first.done, false);
  assert.equal(first.value?.State, 'NeedsLogin');
  assert.ok(first.value?.Prefs && first.value.Status, 'snapshot carries Prefs and Status');
  backend.publish({ BrowseToURL: 'http://hs/register/hskey-authreq-abc' });
  backend.publish({ State: 'Running' });
  const a = await it.next();
  const b = await it.next();
  assert.equal(a.value?.BrowseToURL, 'http://hs/register/hskey-authreq-abc');
  assert.equal(b.value?.State, 'Running');
  assert.equal(backend.watcherCount, 1);
  await it.return?.();
  for (let i = 0; i < 50 && backend.watcherCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(backend.watcherCount, 0);
});

test('client reports a missing daemon as ERR_NOT_FOUND with the socket path', async () => {
  const c = new LocalClient({ socketPath: '/nonexistent/meshtrayd.sock' });
  await assert.rejects(c.status(), (e: unknown) => MeshtrayError.is(e) && e.code === 'ERR_NOT_FOUND' && /nonexistent/.test(e.message));
});

test('peer credentials: root and the daemon uid are served, any other uid gets 403, unknown creds too', async (t) => {
  const { socketPath } = await setup(t, { daemonUid: 4242 });
  assert.equal((await raw(socketPath, 'GET', '/localapi/v0/status')).status, 200, 'root is always allowed');
  const dir = await mkdtemp(join(tmpdir(), 'meshtray-lapi-'));
  const backend = new FakeLocalApiBackend();
  let uid: number | undefined = 4242;
  const server = new LocalApiServer({ socketPath: join(dir, 's.sock'), backend, logger: memoryLogger().logger, daemonUid: 4242, credOf: () => (uid === undefined ? undefined : { pid: 1, uid, gid: uid }) });
  await server.listen();
  t.after(async () => { await server.close(); await rm(dir, { recursive: true, force: true }); });
  assert.equal((await raw(join(dir, 's.sock'), 'GET', '/localapi/v0/status')).status, 200, 'daemon uid allowed');
  uid = 1000;
  const r = await raw(join(dir, 's.sock'), 'GET', '/localapi/v0/status');
  assert.equal(r.status, 403);
  assert.equal((JSON.parse(r.body) as { code: string }).code, 'ERR_FORBIDDEN');
  uid = undefined;
  assert.equal((await raw(join(dir, 's.sock'), 'POST', '/localapi/v0/down', '{}')).status, 403);
  assert.equal(backend.calls.length, 1, 'only the allowed call reached the backend');
});

test('peer credentials via SO_PEERCRED: a real uid-65534 client is refused with 403 (socket opened up for the test)', async (t) => {
  if (process.getuid?.() !== 0) {
    if (process.env['CI'] === 'true') assert.fail('must run as root in CI');
    console.error('!!! SKIPPING peer-credential test: needs root to switch uid');
    t.skip('needs root');
    return;
  }
  const { dir, socketPath, lines } = await setup(t);
  await chmod(dir, 0o755);
  // First the real protection: with the 0600 socket, another user cannot even connect.
  const denied = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', socketPath, 'http://x/localapi/v0/status']).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  assert.equal(denied.stdout, '000', 'connect must fail at the socket permission');
  // Then the second layer: even with the file opened up, SO_PEERCRED refuses the stranger.
  await chmod(socketPath, 0o666);
  const r = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'curl', '-s', '-w', '\n%{http_code}', '--unix-socket', socketPath, 'http://x/localapi/v0/status']);
  const [body, code] = r.stdout.split('\n');
  assert.equal(code, '403');
  const eb = JSON.parse(body!) as { code: string; message: string };
  assert.equal(eb.code, 'ERR_FORBIDDEN');
  assert.match(eb.message, /uid 65534/);
  assert.ok(lines.some((l) => l.includes('refused connection') && l.includes('65534')));
  // And root through the same socket is still served.
  const ok = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', socketPath, 'http://x/localapi/v0/status']);
  assert.equal(ok.stdout, '200');
});

test('a second server refuses to take over a live socket, but replaces a stale one', async (t) => {
  const { socketPath } = await setup(t);
  const other = new LocalApiServer({ socketPath, backend: new FakeLocalApiBackend(), logger: memoryLogger().logger });
  await assert.rejects(other.listen(), /already listening/);
  assert.equal((await raw(socketPath, 'GET', '/localapi/v0/status')).status, 200, 'first server still serves');
  // A stale socket file (nobody listening) is removed and replaced.
  const dir = await mkdtemp(join(tmpdir(), 'meshtray-lapi-'));
  const path = join(dir, 'stale.sock');
  // Simulate a crashed daemon: a process that bound the socket is SIGKILLed, leaving the file.
  await run(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]).catch(() => undefined);
  assert.ok((await stat(path)).isSocket(), 'stale socket file left behind');
  const s2 = new LocalApiServer({ socketPath: path, backend: new FakeLocalApiBackend(), logger: memoryLogger().logger });
  await s2.listen();
  t.after(async () => { await s2.close(); await rm(dir, { recursive: true, force: true }); });
  assert.equal((await raw(path, 'GET', '/localapi/v0/status')).status, 200);
});
