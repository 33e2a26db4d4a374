// meshtray web's gate, from the outside: what a request without the token, with a foreign Host or
// Origin, or with a body that fails the schema gets back, and what the page itself is served with.
// Real HTTP on loopback (node:http, so Host/Origin/Cookie can be set as an attacker would).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineConnection } from '../../../main/app/engine-host/engine-connection.js';
import { WebServer } from '../../../main/web/web-server.js';
import { parseListen } from '../../../main/web/web-security.js';
import { TestLogger } from '../../e2e/renderer/support.js';

const TOKEN = 'unit-test-token-0123456789abcdef';

/** An engine that records calls and never sends a Notify (the gate is what is under test). */
function fakeEngine(): EngineConnection & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async call(name) {
      calls.push(name);
      throw new Error(`unexpected engine call ${name}`);
    },
    async *watch(signal: AbortSignal) {
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
    },
  };
}

function fakeDist(): string {
  const d = mkdtempSync(join(tmpdir(), 'mt-web-dist-'));
  mkdirSync(join(d, 'web'));
  mkdirSync(join(d, 'renderer'));
  writeFileSync(join(d, 'web', 'index.html'), '<!doctype html><title>page</title>');
  writeFileSync(join(d, 'web', 'web-shim.js'), '/* shim */');
  writeFileSync(join(d, 'renderer', 'renderer.js'), '/* renderer */');
  writeFileSync(join(d, 'renderer', 'styles.css'), '/* css */');
  return d;
}

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (c: string) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function withServer(fn: (s: WebServer, engine: ReturnType<typeof fakeEngine>, h: (extra?: Record<string, string>) => Record<string, string>) => Promise<void>): Promise<void> {
  const dist = fakeDist();
  const engine = fakeEngine();
  const s = new WebServer({ engine, opener: { openExternal: async () => undefined }, log: new TestLogger(), distDir: dist, token: TOKEN });
  await s.start();
  const own = (extra: Record<string, string> = {}) => ({ host: `127.0.0.1:${s.port}`, origin: `http://127.0.0.1:${s.port}`, 'content-type': 'application/json', ...extra });
  try {
    await fn(s, engine, own);
  } finally {
    await s.stop();
    rmSync(dist, { recursive: true, force: true });
  }
}

const APP_STATE = '/ipc/' + encodeURIComponent('meshtray:app:getAppState');
const EDIT_PREFS = '/ipc/' + encodeURIComponent('meshtray:engine:editPrefs');

test('--listen: loopback only; a LAN, wildcard or named address is refused', () => {
  assert.deepEqual(parseListen('localhost:8088'), { host: '127.0.0.1', port: 8088 });
  assert.deepEqual(parseListen('127.0.0.1:0'), { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseListen(':8088'), { host: '127.0.0.1', port: 8088 });
  assert.deepEqual(parseListen('[::1]:9000'), { host: '::1', port: 9000 });
  for (const bad of ['0.0.0.0:8088', '192.168.1.10:8088', '[::]:8088', '100.64.0.1:80', 'example.com:8088']) {
    assert.throws(() => parseListen(bad), /loopback/, bad);
  }
  assert.throws(() => parseListen('8088'), /host:port/);
  assert.throws(() => parseListen('127.0.0.1:70000'), /out of range/);
  assert.throws(() => new WebServer({ engine: fakeEngine(), opener: { openExternal: async () => undefined }, log: new TestLogger(), listen: '0.0.0.0:0', distDir: '/nonexistent' }), /loopback/);
});

test('the page: served with the window CSP (connect-src self), no framing, no CORS', async () => {
  await withServer(async (s, _e, own) => {
    const r = await send(s.port, 'GET', '/', { host: `127.0.0.1:${s.port}` });
    assert.equal(r.status, 200);
    assert.equal(r.body, '<!doctype html><title>page</title>');
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(r.headers['x-frame-options'], 'DENY');
    assert.equal(r.headers['access-control-allow-origin'], undefined);
    // A CORS preflight gets no Access-Control-* answer either.
    const pre = await send(s.port, 'OPTIONS', APP_STATE, { host: `127.0.0.1:${s.port}`, origin: 'http://evil.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-meshtray-token' });
    assert.notEqual(pre.status, 200);
    assert.equal(pre.headers['access-control-allow-origin'], undefined);
    assert.equal(pre.headers['access-control-allow-headers'], undefined);
    assert.match(s.url, new RegExp(`^http://127\\.0\\.0\\.1:${s.port}/#token=${TOKEN}$`));
    void own;
  });
});

test('token: missing or wrong → 403 from the router (refused sender), right → the call runs', async () => {
  await withServer(async (s, engine, own) => {
    const none = await send(s.port, 'POST', APP_STATE, own(), '{}');
    assert.equal(none.status, 403);
    const env = JSON.parse(none.body) as { ok: boolean; error: { code: string; message: string } };
    assert.deepEqual([env.ok, env.error.code], [false, 'ERR_FORBIDDEN']);
    assert.match(env.error.message, /IPC refused: unknown webContents/);
    const wrong = await send(s.port, 'POST', APP_STATE, own({ 'x-meshtray-token': TOKEN.slice(0, -1) + 'X' }), '{}');
    assert.equal(wrong.status, 403);
    const wrongCookie = await send(s.port, 'POST', APP_STATE, own({ cookie: `${s.cookieName}=nope` }), '{}');
    assert.equal(wrongCookie.status, 403);
    assert.equal(s.router.stats.refusedSender, 3);

    const ok = await send(s.port, 'POST', APP_STATE, own({ 'x-meshtray-token': TOKEN, referer: `http://127.0.0.1:${s.port}/` }), '{}');
    assert.equal(ok.status, 200);
    const state = JSON.parse(ok.body) as { ok: boolean; value: { host: { mode: string } } };
    assert.equal(state.ok, true);
    assert.equal(state.value.host.mode, 'attached');
    assert.deepEqual(engine.calls, [], 'nothing reached the engine');
    // The token with a Referer naming another page (Electron's senderFrame.url check): refused by the router.
    const otherPage = JSON.parse((await send(s.port, 'POST', APP_STATE, own({ 'x-meshtray-token': TOKEN, referer: 'http://evil.example/x.html' }), '{}')).body) as { ok: boolean; error: { code: string; message: string } };
    assert.deepEqual([otherPage.ok, otherPage.error.code], [false, 'ERR_FORBIDDEN']);
    assert.match(otherPage.error.message, /frame http:\/\/evil\.example\/x\.html is not our page/);

    // Streams: no token → 403; the cookie /session hands out opens it.
    assert.equal((await send(s.port, 'GET', '/events?stream=app', { host: `127.0.0.1:${s.port}` })).status, 403);
    assert.equal((await send(s.port, 'POST', '/session', own())).status, 403);
    const session = await send(s.port, 'POST', '/session', own({ 'x-meshtray-token': TOKEN }));
    assert.equal(session.status, 200);
    assert.deepEqual(JSON.parse(session.body), { openLoginInPage: false });
    const cookie = String(session.headers['set-cookie']);
    assert.match(cookie, new RegExp(`^${s.cookieName}=${TOKEN}; Path=/; HttpOnly; SameSite=Strict$`));
    const first = await new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: s.port, path: '/events?stream=app', headers: { host: `127.0.0.1:${s.port}`, cookie: cookie.split(';')[0]! } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.setEncoding('utf8').once('data', (c: string) => {
          resolve(c);
          req.destroy();
        });
      });
      req.on('error', reject);
      req.end();
    });
    assert.match(first, /^data: \{.*"host":\{"mode":"attached"/);
  });
});

test('Host: anything but 127.0.0.1:port / localhost:port is refused (DNS rebinding), even with the token', async () => {
  await withServer(async (s, _e, own) => {
    for (const host of ['evil.example', `evil.example:${s.port}`, `127.0.0.1:${s.port + 1}`, `0.0.0.0:${s.port}`]) {
      const page = await send(s.port, 'GET', '/', { host });
      assert.equal(page.status, 403, host);
      const call = await send(s.port, 'POST', APP_STATE, own({ host, origin: `http://${host}`, 'x-meshtray-token': TOKEN }), '{}');
      assert.equal(call.status, 403, host);
      assert.match(call.body, /not this server/);
    }
    assert.equal((await send(s.port, 'GET', '/', { host: `localhost:${s.port}` })).status, 200);
    assert.equal(s.stats.refusedHost, 8);
  });
});

test('Origin: a cross-origin POST is refused even with the token (CSRF); same origin passes', async () => {
  await withServer(async (s, _e, own) => {
    const tok = { 'x-meshtray-token': TOKEN };
    const cases: [string, Record<string, string>][] = [
      ['foreign Origin', own({ ...tok, origin: 'http://evil.example' })],
      ['other port', own({ ...tok, origin: `http://127.0.0.1:${s.port + 1}` })],
      ['cross-site fetch metadata', own({ ...tok, 'sec-fetch-site': 'cross-site' })],
      ['no Origin', { host: `127.0.0.1:${s.port}`, 'content-type': 'application/json', ...tok }],
    ];
    for (const [what, headers] of cases) {
      const r = await send(s.port, 'POST', APP_STATE, headers, '{}');
      assert.equal(r.status, 403, what);
    }
    assert.equal(s.stats.refusedOrigin, 4);
    const same = await send(s.port, 'POST', APP_STATE, own({ ...tok, 'sec-fetch-site': 'same-origin' }), '{}');
    assert.equal(same.status, 200);
    const viaLocalhost = await send(s.port, 'POST', APP_STATE, { ...tok, host: `localhost:${s.port}`, origin: `http://localhost:${s.port}` }, '{}');
    assert.equal(viaLocalhost.status, 200);
  });
});

test('a body that fails the schema gets the router\'s ERR_BAD_REQUEST and never reaches the engine', async () => {
  await withServer(async (s, engine, own) => {
    const h = own({ 'x-meshtray-token': TOKEN });
    const bad = JSON.parse((await send(s.port, 'POST', EDIT_PREFS, h, JSON.stringify({ RouteAll: 'yes', NotAPref: 1 }))).body) as { ok: boolean; error: { code: string; message: string } };
    assert.deepEqual([bad.ok, bad.error.code], [false, 'ERR_BAD_REQUEST']);
    assert.match(bad.error.message, /RouteAll/);
    const garbage = JSON.parse((await send(s.port, 'POST', EDIT_PREFS, h, '{not json')).body) as { ok: boolean; error: { code: string } };
    assert.deepEqual([garbage.ok, garbage.error.code], [false, 'ERR_BAD_REQUEST']);
    const unknown = JSON.parse((await send(s.port, 'POST', '/ipc/meshtray%3Aengine%3ArunShell', h, '{}')).body) as { error: { code: string } };
    assert.equal(unknown.error.code, 'ERR_NOT_FOUND');
    assert.equal(s.router.stats.badRequest, 3);
    assert.deepEqual(engine.calls, []);
  });
});
