import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkControlServer, normalizeControlURL } from '../../../main/app/login/server-check.js';

async function serve(handler: (path: string) => { status: number; body: string } | 'hang'): Promise<{ url: string; server: Server; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    const r = handler(req.url ?? '');
    if (r === 'hang') return;
    res.writeHead(r.status, { 'content-type': 'application/json' }).end(r.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen };
}
const fetchFn = (u: string, init: { signal: AbortSignal; redirect: 'manual' | 'follow' }) => fetch(u, init);

test('normalizeControlURL', () => {
  assert.equal(normalizeControlURL(' headscale.example.com/ '), 'https://headscale.example.com');
  assert.equal(normalizeControlURL('http://10.0.0.1:8080'), 'http://10.0.0.1:8080');
  assert.equal(normalizeControlURL('ftp://x'), undefined);
  assert.equal(normalizeControlURL('https://user:pw@x'), undefined);
  assert.equal(normalizeControlURL(''), undefined);
});

test('a control server answering /key with an mkey is reachable', async () => {
  const s = await serve(() => ({ status: 200, body: JSON.stringify({ legacyPublicKey: 'mkey:' + '0'.repeat(64), publicKey: 'mkey:' + 'ab'.repeat(32) }) }));
  try {
    const r = await checkControlServer(s.url + '/', fetchFn);
    assert.deepEqual(r, { URL: s.url, reachable: true, message: `${s.url} is a reachable control server.` });
    assert.match(s.seen[0] ?? '', /^\/key\?v=\d+$/);
  } finally {
    s.server.close();
  }
});

test('a web server that is not a control server is refused', async () => {
  const s = await serve((p) => (p.startsWith('/key') ? { status: 404, body: 'not found' } : { status: 200, body: '' }));
  try {
    const r = await checkControlServer(s.url, fetchFn);
    assert.equal(r.reachable, false);
    assert.match(r.message, /answered HTTP 404 on \/key/);
  } finally {
    s.server.close();
  }
  const t = await serve(() => ({ status: 200, body: '{"hello":"world"}' }));
  try {
    assert.equal((await checkControlServer(t.url, fetchFn)).reachable, false);
  } finally {
    t.server.close();
  }
});

test('nothing listening: connection refused, said plainly', async () => {
  const s = await serve(() => ({ status: 200, body: '' }));
  const url = s.url;
  await new Promise<void>((r) => s.server.close(() => r()));
  const r = await checkControlServer(url, fetchFn);
  assert.equal(r.reachable, false);
  assert.equal(r.message, `Cannot reach ${url}: connection refused. Nothing was changed.`);
});

test('a server that never answers times out', async () => {
  const s = await serve(() => 'hang');
  try {
    const r = await checkControlServer(s.url, fetchFn, 200);
    assert.equal(r.reachable, false);
    assert.match(r.message, /no answer within 0 s|no answer within/);
  } finally {
    s.server.closeAllConnections();
    s.server.close();
  }
});
