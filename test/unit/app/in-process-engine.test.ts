import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendConnection } from '../../../main/app/engine-host/in-process-engine.js';
import { FakeLocalApiBackend } from '../../doubles/fake-localapi-backend.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Notify } from '../../../common/schemas/notify.js';

test('backendConnection: requests checked (defaults applied), answers checked, errors keep their code', async () => {
  const b = new FakeLocalApiBackend();
  const c = backendConnection(b);
  const p = await c.call('editPrefs', { RouteAll: true });
  assert.equal(p.RouteAll, true);
  await assert.rejects(c.call('editPrefs', { RouteAll: 'yes' } as never), (e) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST');
  assert.deepEqual(b.calls.map((x) => x.name), ['editPrefs']);
  await assert.rejects(c.call('logout', {}), (e) => MeshtrayError.is(e) && e.code === 'ERR_NEEDS_LOGIN');
  b.statusValue = { ...b.statusValue, BackendState: 'Sideways' as never };
  await assert.rejects(c.call('status', {}), (e) => MeshtrayError.is(e) && e.code === 'ERR_INTERNAL');
  // An optional call the backend lacks is "not supported" (as the LocalAPI says), not an internal error.
  const lacking = Object.assign(Object.create(b) as FakeLocalApiBackend, { why: undefined });
  await assert.rejects(backendConnection(lacking).call('why', { Dest: '100.64.0.2' }), (e) => MeshtrayError.is(e) && e.code === 'ERR_NOT_FOUND' && /does not support why/.test(e.message));
});

test('backendConnection.watch: snapshot first, then changes; abort unsubscribes', async () => {
  const b = new FakeLocalApiBackend();
  const c = backendConnection(b);
  const ctl = new AbortController();
  const got: Notify[] = [];
  const done = (async () => {
    for await (const n of c.watch(ctl.signal)) {
      got.push(n);
      if (got.length === 2) ctl.abort();
    }
  })();
  await new Promise((r) => setImmediate(r));
  assert.equal(b.watcherCount, 1);
  b.publish({ State: 'Running' });
  await done;
  assert.equal(got[0]?.State, 'NeedsLogin');
  assert.ok(got[0]?.Prefs && got[0]?.Status, 'full snapshot first');
  assert.deepEqual(got[1], { State: 'Running' });
  assert.equal(b.watcherCount, 0, 'unsubscribed');
});

test('in-process engine without the helper: control plane only, and status + the Notify snapshot say why', async () => {
  const { startInProcessEngine } = await import('../../../main/app/engine-host/in-process-engine.js');
  const { MemoryStateStore } = await import('../../../main/engine/state/memory-state-store.js');
  const { MemLogger } = await import('./fixtures.js');
  const e = await startInProcessEngine({ store: new MemoryStateStore(), log: new MemLogger(), version: '0.0.0-test', noHelperReason: 'the privileged helper at /run/meshtray/helper.sock is not installed' });
  try {
    assert.equal(e.carriesTraffic, false);
    const st = await e.engine.call('status', {});
    assert.ok(st.Health?.some((l) => /cannot carry traffic: the privileged helper at \/run\/meshtray\/helper\.sock is not installed/.test(l)), JSON.stringify(st.Health));
    const ctl = new AbortController();
    for await (const n of e.engine.watch(ctl.signal)) {
      assert.ok(n.Status?.Health?.some((l) => /cannot carry traffic/.test(l)), 'the first Notify (snapshot) carries the host line');
      ctl.abort();
      break;
    }
  } finally {
    await e.stop();
  }
});

test('in-process engine with a helper socket nobody answers: control plane only, the health line names the helper and the reason', async () => {
  const { startInProcessEngine } = await import('../../../main/app/engine-host/in-process-engine.js');
  const { MemoryStateStore } = await import('../../../main/engine/state/memory-state-store.js');
  const { MemLogger } = await import('./fixtures.js');
  const e = await startInProcessEngine({ store: new MemoryStateStore(), log: new MemLogger(), version: '0.0.0-test', helperSocketPath: '/nonexistent/meshtray-helper.sock' });
  try {
    assert.equal(e.carriesTraffic, false);
    const st = await e.engine.call('status', {});
    assert.ok(st.Health?.some((l) => l.includes('/nonexistent/meshtray-helper.sock') && /helper is not running/.test(l)), JSON.stringify(st.Health));
  } finally {
    await e.stop();
  }
});

test('HostHealth: a host line added later reaches watchers next to the backend\'s own lines, and leaves again', async () => {
  const { HostHealth } = await import('../../../main/app/engine-host/in-process-engine.js');
  const b = new FakeLocalApiBackend();
  const hh = new HostHealth();
  const c = backendConnection(b, hh);
  const ctl = new AbortController();
  const got: Notify[] = [];
  const done = (async () => {
    for await (const n of c.watch(ctl.signal)) {
      got.push(n);
      if (got.length === 4) ctl.abort();
    }
  })();
  await new Promise((r) => setImmediate(r));
  b.publish({ Health: ['not connected to the control server'] });
  hh.set('the data plane could not start: no TUN', true);
  hh.set('the data plane could not start: no TUN', false);
  await done;
  assert.deepEqual(got.slice(1).map((n) => n.Health), [
    ['not connected to the control server'],
    ['not connected to the control server', 'the data plane could not start: no TUN'],
    ['not connected to the control server'],
  ]);
});

// ---- DeferredDataPath: the data path whose TUN is still on its way from the helper ----

class FakePath {
  updates: unknown[] = [];
  closed = 0;
  private cb: (() => void) | undefined;
  update(nm: unknown) { this.updates.push(nm); }
  endpointFields() { return { Endpoints: ['198.51.100.7:41641'], EndpointTypes: [1] }; }
  netInfo() { return { PreferredDERP: 900, WorkingUDP: true, MappingVariesByDestIP: false }; }
  onEndpointsChanged(cb: () => void) { this.cb = cb; return () => (this.cb = undefined); }
  fireEndpoints() { this.cb?.(); }
  async ping(ip: string) { return { IP: ip, LatencySeconds: 0.001 }; }
  peerExtras() { return { Active: true }; }
  selfExtras() { return { Relay: 'lab1' }; }
  metrics() { return { magicsock_disco_sent: 3 }; }
  async netcheck() { return undefined; }
  async close() { this.closed++; }
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((a, b) => { resolve = a; reject = b; });
  return { promise, resolve, reject };
}

test('DeferredDataPath: answers "nothing yet" until the helper\'s TUN arrives, then hands over the latest netmap and endpoints', async () => {
  const { DeferredDataPath } = await import('../../../main/app/engine-host/deferred-data-path.js');
  const d = deferred<FakePath>();
  const failures: Error[] = [];
  const p = new DeferredDataPath(() => d.promise as never, 'nm1' as never, (e) => failures.push(e));
  let told = 0;
  p.onEndpointsChanged(() => told++);
  assert.deepEqual(p.endpointFields(), { Endpoints: [], EndpointTypes: [] });
  assert.equal(p.netInfo().PreferredDERP, 0);
  p.update('nm2' as never);
  const real = new FakePath();
  d.resolve(real);
  await p.ready;
  assert.deepEqual(real.updates, ['nm2'], 'the newest netmap, once');
  assert.equal(told, 1, 'the backend hears that endpoints exist now');
  assert.deepEqual(p.endpointFields().Endpoints, ['198.51.100.7:41641']);
  real.fireEndpoints();
  assert.equal(told, 2);
  assert.equal((await p.ping('100.64.0.2', 1000)).LatencySeconds, 0.001);
  await p.close();
  assert.equal(real.closed, 1);
  assert.deepEqual(failures, []);
});

test('DeferredDataPath: closed before the TUN arrived → the late data path is closed at once; a failure is reported once and ping says why', async () => {
  const { DeferredDataPath } = await import('../../../main/app/engine-host/deferred-data-path.js');
  const d = deferred<FakePath>();
  const p = new DeferredDataPath(() => d.promise as never, 'nm' as never, () => assert.fail('not a failure'));
  await p.close();
  const late = new FakePath();
  d.resolve(late);
  await p.ready.catch(() => undefined);
  assert.equal(late.closed, 1, 'nobody wants this TUN any more');

  const failures: Error[] = [];
  const f = new DeferredDataPath(() => Promise.reject(new Error('the Meshtray helper is not running (/run/meshtray/helper.sock)')), 'nm' as never, (e) => failures.push(e));
  await f.ready.catch(() => undefined);
  assert.equal(failures.length, 1);
  assert.match((await f.ping('100.64.0.2', 1000)).Err ?? '', /data path is not running: the Meshtray helper is not running/);
  assert.deepEqual(f.endpointFields(), { Endpoints: [], EndpointTypes: [] });
});

test('HelperRouter: router.set waits for the TUN of the current data path, and fails with its reason if there is none', async () => {
  const { HelperRouter, HelperResolvConf } = await import('../../../main/app/engine-host/helper-os.js');
  const sent: string[] = [];
  const helper = {
    set: async (c: { tunName: string }) => void sent.push(`set ${c.tunName}`),
    restore: async () => void sent.push('restore'),
    repair: async () => void sent.push('repair'),
  };
  const tun = deferred<void>();
  let ready: () => Promise<void> = () => tun.promise;
  const r = new HelperRouter(helper as never, () => ready());
  const cfg = { tunName: 'meshtray0' } as never;
  const pending = r.set(cfg);
  await new Promise((x) => setImmediate(x));
  assert.deepEqual(sent, [], 'nothing sent before the TUN exists');
  tun.resolve();
  await pending;
  assert.deepEqual(sent, ['set meshtray0']);
  ready = () => Promise.reject(new MeshtrayError('ERR_NOT_FOUND', 'no data path (TUN) yet'));
  await assert.rejects(r.set(cfg), /no data path/);
  await r.restore();
  assert.deepEqual(sent, ['set meshtray0', 'restore']);

  // resolv.conf: no nameservers means "put the original back", as DirectResolvConf.set does.
  const dns: string[] = [];
  const rc = new HelperResolvConf({ dnsSet: async (c) => void dns.push(`set ${c.nameservers.join(',')}`), dnsRestore: async () => void dns.push('restore'), dnsBase: async () => ({ nameservers: ['192.0.2.53'], searchDomains: [] }) });
  await rc.set({ nameservers: ['100.100.100.100'], searchDomains: [] });
  await rc.set({ nameservers: [], searchDomains: ['x'] });
  await rc.set(undefined);
  assert.deepEqual(dns, ['set 100.100.100.100', 'restore', 'restore']);
  assert.deepEqual(await rc.baseConfig(), { nameservers: ['192.0.2.53'], searchDomains: [] });
});

test('in-process engine with a helper: session held; helper restart → health line, a new session once it is back; stop ends the session (the helper restores)', async () => {
  const { startInProcessEngine } = await import('../../../main/app/engine-host/in-process-engine.js');
  const { MemoryStateStore } = await import('../../../main/engine/state/memory-state-store.js');
  const { MemLogger } = await import('./fixtures.js');
  const { HelperServer } = await import('../../../main/app/helper/helper-server.js');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = mkdtempSync(join(tmpdir(), 'mt-inproc-helper-'));
  const sock = join(dir, 'helper.sock');
  const restores: string[] = [];
  const router = { set: async () => undefined, restore: async () => void restores.push('restore'), repair: async () => undefined };
  const newServer = () => new HelperServer({ socketPath: sock, router, log: new MemLogger(), allowUids: [], credOf: () => ({ pid: 1, uid: 0, gid: 0 }) });
  const s1 = newServer();
  await s1.listen();
  let s2: InstanceType<typeof HelperServer> | undefined;
  // The descriptor functions are only checked for presence here (no login, no TUN).
  const native = () => ({}) as never;
  const e = await startInProcessEngine({ store: new MemoryStateStore(), log: new MemLogger(), version: '0.0.0-test', helperSocketPath: sock, native });
  const until = async (what: string, f: () => Promise<boolean> | boolean) => {
    for (let i = 0; i < 100; i++) {
      if (await f()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`timed out: ${what}`);
  };
  try {
    assert.equal(e.carriesTraffic, true);
    assert.equal(e.helperSessionHeld(), true);
    assert.deepEqual((await e.engine.call('status', {})).Health ?? [], []);
    await s1.close();
    await until('health line', async () => ((await e.engine.call('status', {})).Health ?? []).some((l) => /privileged helper went away/.test(l)));
    assert.equal(e.helperSessionHeld(), false);
    s2 = newServer();
    await s2.listen();
    await until('session held again', () => e.helperSessionHeld());
    await e.stop();
    await until('helper restored on session end', () => s2!.stats.sessionRestores === 1);
    assert.ok(restores.length >= 1);
  } finally {
    await e.stop();
    await s2?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
