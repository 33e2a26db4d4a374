import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HelperServer } from '../../../main/app/helper/helper-server.js';
import { HelperClient } from '../../../main/app/helper/helper-client.js';
import { HelperRequestSchema } from '../../../main/app/helper/helper-contract.js';
import type { Router, RouterConfig } from '../../../main/engine/router/router.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { MemLogger } from './fixtures.js';

class RecordingRouter implements Router {
  calls: { op: string; cfg?: RouterConfig }[] = [];
  failNext: Error | undefined;
  async set(cfg: RouterConfig) { this.calls.push({ op: 'set', cfg }); if (this.failNext) { const e = this.failNext; this.failNext = undefined; throw e; } }
  async restore() { this.calls.push({ op: 'restore' }); }
  async repair() { this.calls.push({ op: 'repair' }); }
}

const cfg: RouterConfig = {
  tunName: 'meshtray0', mtu: 1280, localAddrs: ['100.64.0.5/32', 'fd7a:115c:a1e0::5/128'], routes: ['100.64.0.0/10', '0.0.0.0/0', '::/0'], localRoutes: ['192.168.1.0/24'],
  forwarding: { enabled: false, snat: true, statefulFiltering: false }, netfilter: 'on',
};

async function setup(uid = 1000, allow: number[] = [1000]) {
  const dir = mkdtempSync(join(tmpdir(), 'mt-helper-'));
  const router = new RecordingRouter();
  const log = new MemLogger();
  const server = new HelperServer({ socketPath: join(dir, 'helper.sock'), router, log, allowUids: allow, credOf: () => ({ pid: 1, uid, gid: uid }) });
  await server.listen();
  return { dir, router, log, server, client: new HelperClient(join(dir, 'helper.sock')), done: async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); } };
}

test('helper: hello, router.set/restore/repair reach the Router with the exact config; socket mode follows --allow-uid', async () => {
  const h = await setup();
  const rootOnly = await setup(0, []);
  try {
    // Allowed desktop users: anyone may connect and SO_PEERCRED decides; root only: 0600.
    assert.equal(statSync(join(h.dir, 'helper.sock')).mode & 0o777, 0o666);
    assert.equal(statSync(join(rootOnly.dir, 'helper.sock')).mode & 0o777, 0o600);
    assert.equal(await h.client.hello(), 2);
    await h.client.set(cfg);
    await h.client.restore();
    await h.client.repair();
    assert.deepEqual(h.router.calls, [{ op: 'set', cfg }, { op: 'restore' }, { op: 'repair' }]);
    assert.equal(h.server.stats.handled, 4);
  } finally {
    await h.done();
    await rootOnly.done();
  }
});

test('helper: requests that fail the schema are refused with a reason and change nothing', async () => {
  const h = await setup();
  try {
    for (const bad of [
      { op: 'router.set', config: { ...cfg, tunName: 'eth0; rm -rf /' } },
      { op: 'router.set', config: { ...cfg, routes: ['10.0.0.0/8 dev eth0'] } },
      { op: 'router.set', config: { ...cfg, routes: ['10.0.0.0/33'] } },
      { op: 'router.set', config: { ...cfg, extra: true } },
      { op: 'exec', argv: ['id'] },
    ]) {
      await assert.rejects(h.client.request(bad), (e) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST' && /invalid helper request/.test(e.message), JSON.stringify(bad).slice(0, 80));
    }
    assert.deepEqual(h.router.calls, []);
    assert.equal(h.server.stats.rejected, 5);
    const notJson = await h.server.handle('{nope');
    assert.deepEqual(notJson, { ok: false, error: { code: 'ERR_BAD_REQUEST', message: 'request is not JSON' } });
  } finally {
    await h.done();
  }
});

test('helper: a Router failure comes back with its code; the helper keeps serving', async () => {
  const h = await setup();
  try {
    h.router.failNext = new MeshtrayError('ERR_INTERNAL', '`ip route replace` failed: RTNETLINK answers: Operation not permitted');
    await assert.rejects(h.client.set(cfg), (e) => MeshtrayError.is(e) && /Operation not permitted/.test(e.message));
    await h.client.set(cfg);
    assert.equal(h.router.calls.length, 2);
  } finally {
    await h.done();
  }
});

test('helper: a peer that is neither root nor the allowed user is refused', async () => {
  const h = await setup(1001, [1000]);
  try {
    await assert.rejects(h.client.hello(), (e) => MeshtrayError.is(e) && e.code === 'ERR_FORBIDDEN');
    assert.equal(h.server.stats.refusedPeers, 1);
    assert.deepEqual(h.router.calls, []);
  } finally {
    await h.done();
  }
});

test('helper: no helper running is a clear error', async () => {
  await assert.rejects(new HelperClient('/nonexistent/helper.sock').hello(), (e) => MeshtrayError.is(e) && e.code === 'ERR_NOT_FOUND' && /helper is not running/.test(e.message));
  assert.equal(HelperRequestSchema.safeParse({ op: 'router.set', config: cfg }).success, true);
});

test('helper: service addresses pass; ready-made firewall chains are refused; a filter is compiled by the helper', async () => {
  const h = await setup();
  try {
    await h.client.set({ ...cfg, serviceAddrs: ['100.100.100.100/32'] });
    assert.deepEqual(h.router.calls[0]?.cfg?.serviceAddrs, ['100.100.100.100/32']);
    // Raw chains from the app: the client refuses to send them, and the helper's schema refuses them too.
    const acl = { v4: [{ chain: 'mt-acl', rules: [['-j', 'ACCEPT']] }], v6: [], skipped: [] };
    await assert.rejects(h.client.set({ ...cfg, acl }), (e) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST');
    await assert.rejects(h.client.request({ op: 'router.set', config: { ...cfg, acl } }), (e) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST');
    assert.equal(h.router.calls.length, 1);
    // The netmap's filter: the helper compiles the kernel ACL with the engine's compiler.
    await h.client.setWithFilter(cfg, { rules: [{ SrcIPs: ['100.64.0.2'], DstPorts: [{ IP: '*', Ports: { First: 22, Last: 22 } }] }], localNets: ['100.64.0.5/32'] });
    const compiled = h.router.calls[1]?.cfg?.acl;
    assert.ok(compiled, 'router got a compiled ACL');
    const text = JSON.stringify(compiled.v4);
    assert.match(text, /100\.64\.0\.2/);
    assert.match(text, /22/);
  } finally {
    await h.done();
  }
});
