// The privileged helper (main/app/helper) as a real process inside a network namespace of our own,
// hosting the engine's Linux router: the app-side HelperClient asks for a route config, the kernel
// shows it (addresses, table 52, policy rules); restore and SIGTERM put everything back; a request
// that fails the schema changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HelperClient } from '../../../main/app/helper/helper-client.js';
import type { RouterConfig } from '../../../main/engine/router/router.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { netnsSkip, TestNs } from '../os/support.js';
import { repoRoot, runningCompiled } from '../renderer/paths.js';
import { waitFor } from '../renderer/real-engine.js';

const TUN = 'meshtray0';
const CFG: RouterConfig = {
  tunName: TUN,
  mtu: 1280,
  localAddrs: ['100.64.0.7/32'],
  routes: ['100.64.0.0/10', '10.20.0.0/24', '0.0.0.0/0'],
  localRoutes: ['192.168.77.0/24'],
  forwarding: { enabled: false, snat: false, statefulFiltering: false },
  netfilter: 'off',
  serviceAddrs: ['100.100.100.100/32'],
};

function kernel(ns: TestNs): { addrs: string; lo: string; table52: string; rules: string } {
  return {
    addrs: ns.sh(['ip', '-4', 'addr', 'show', 'dev', TUN]).stdout,
    lo: ns.sh(['ip', '-4', 'addr', 'show', 'dev', 'lo']).stdout.replace(/valid_lft.*$/gm, ''),
    table52: ns.sh(['ip', '-4', 'route', 'show', 'table', '52'], { allowFail: true }).stdout,
    rules: ns.sh(['ip', '-4', 'rule', 'show']).stdout,
  };
}

function startHelper(ns: TestNs, dir: string): { proc: ChildProcess; out: () => string } {
  const root = repoRoot();
  const entry = runningCompiled() ? [join(root, 'dist', 'main', 'app', 'helper', 'helper-main.js')] : ['--import', 'tsx', join(root, 'main', 'app', 'helper', 'helper-main.ts')];
  const proc = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...entry, '--socket', join(dir, 'helper.sock'), '--state-file', join(dir, 'router-state.json')], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, out: () => out };
}

const skip = netnsSkip('privileged helper netns e2e');

test('privileged helper in a namespace: router config via the helper API, exact restore, bad input refused', { skip, timeout: 90_000 }, async () => {
  const ns = new TestNs('h4helper');
  const dir = mkdtempSync(join(tmpdir(), 'mt-helper-e2e-'));
  let helper: ReturnType<typeof startHelper> | undefined;
  try {
    // (no dummy driver in this kernel; a persistent TUN stands in for the engine's)
    ns.sh(['ip', 'tuntap', 'add', 'dev', TUN, 'mode', 'tun']);
    const before = kernel(ns);
    helper = startHelper(ns, dir);
    const h = helper;
    await waitFor('helper listening', () => (h.out().includes('helper listening') ? true : undefined), 30_000);
    const client = new HelperClient(join(dir, 'helper.sock'));
    assert.equal(await client.hello(), 2);

    await client.set(CFG);
    const on = kernel(ns);
    assert.match(on.addrs, /inet 100\.64\.0\.7\/32/);
    assert.match(on.table52, /^100\.64\.0\.0\/10 dev meshtray0/m);
    assert.match(on.table52, /^10\.20\.0\.0\/24 dev meshtray0/m);
    assert.match(on.table52, /^default dev meshtray0/m);
    assert.match(on.table52, /^throw 192\.168\.77\.0\/24/m);
    assert.match(on.rules, /^5270:\s+from all lookup 52/m);
    assert.match(on.lo, /inet 100\.100\.100\.100\/32/, 'quad-100 made local');

    // A request that fails the schema: refused with the reason, the kernel untouched.
    await assert.rejects(client.request({ op: 'router.set', config: { ...CFG, routes: ['10.0.0.0/8 dev lo'] } }), (e) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST');
    assert.deepEqual(kernel(ns), on);

    await client.restore();
    assert.deepEqual(kernel(ns), before, 'restore leaves the kernel as it was');

    // SIGTERM: the helper restores on the way out, so no route outlives its owner.
    await client.set(CFG);
    assert.notDeepEqual(kernel(ns), before);
    const exited = new Promise<number | null>((r) => h.proc.once('exit', (c) => r(c)));
    h.proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.deepEqual(kernel(ns), before, 'SIGTERM restored');
    helper = undefined;
  } finally {
    helper?.proc.kill('SIGKILL');
    ns.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
