// The privileged helper (main/app/helper) as a real process inside a network namespace of our own,
// hosting the engine's Linux router: the app-side HelperClient asks for a route config, the kernel
// shows it (addresses, table 52, policy rules); restore and SIGTERM put everything back; a request
// that fails the schema changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
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

function startHelper(ns: TestNs, dir: string, extra: string[] = []): { proc: ChildProcess; out: () => string } {
  const root = repoRoot();
  const entry = runningCompiled() ? [join(root, 'dist', 'main', 'app', 'helper', 'helper-main.js')] : ['--import', 'tsx', join(root, 'main', 'app', 'helper', 'helper-main.ts')];
  const proc = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...entry, '--socket', join(dir, 'helper.sock'), '--state-file', join(dir, 'router-state.json'), ...extra], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** A plain Node script run as `uid` inside the namespace (no tsx: only the addon and built-ins). */
function startAsUid(ns: TestNs, uid: number, script: string): { out: () => string; exited: Promise<{ code: number | null; out: string }> } {
  const p = spawn('ip', ['netns', 'exec', ns.name, 'setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, '--input-type=module', '-e', script], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { out: () => out, exited: new Promise((resolve) => p.once('exit', (code) => resolve({ code, out }))) };
}
function asUid(ns: TestNs, uid: number, script: string): Promise<{ code: number | null; out: string }> {
  return startAsUid(ns, uid, script).exited;
}

test('privileged helper in a namespace: only allowed uids; tun.open hands an unprivileged process a TUN and a bypass-marked UDP socket', { skip, timeout: 90_000 }, async () => {
  const ns = new TestNs('h2helper');
  const dir = mkdtempSync(join(tmpdir(), 'mt-helper-e2e-'));
  chmodSync(dir, 0o755);
  let helper: ReturnType<typeof startHelper> | undefined;
  try {
    helper = startHelper(ns, dir, ['--allow-uid', '65534']);
    const h = helper;
    await waitFor('helper listening', () => (h.out().includes('helper listening') ? true : undefined), 30_000);
    const sock = join(dir, 'helper.sock');
    const hello = `import { connect } from 'node:net';
      const s = connect(${JSON.stringify(sock)}); s.setEncoding('utf8');
      s.on('connect', () => s.write(JSON.stringify({ op: 'hello', version: 2 }) + '\\n'));
      s.on('data', (d) => { process.stdout.write(d); s.destroy(); });
      s.on('error', (e) => { process.stdout.write('error ' + e.code); });`;
    // SO_PEERCRED: uid 65533 is refused, 65534 (allowed) is served.
    assert.match((await asUid(ns, 65533, hello)).out, /ERR_FORBIDDEN/);
    assert.match((await asUid(ns, 65534, hello)).out, /"ok":true,"version":2/);

    // tun.open through the addon's helperExchange, as nobody: two descriptors arrive; while the
    // process holds them the TUN exists with its address, and the UDP socket carries the mark.
    const addon = join(repoRoot(), 'native', 'meshtray-native.node');
    const open = `import { createRequire } from 'node:module';
      import { execFileSync } from 'node:child_process';
      const n = createRequire(import.meta.url)(${JSON.stringify(addon)});
      const req = { op: 'tun.open', tun: { name: 'meshtray7', mtu: 1280, addresses: ['100.64.0.9/32'], port: 0 } };
      const r = await n.helperExchange(${JSON.stringify(sock)}, JSON.stringify(req) + '\\n', 10000);
      process.stdout.write('reply ' + r.reply.trim() + '\\nfds ' + r.fds.length + '\\n');
      process.stdout.write(execFileSync('ip', ['-4', 'addr', 'show', 'dev', 'meshtray7'], { encoding: 'utf8' }));
      // A bad request from the same user: refused, nothing opened.
      const bad = await n.helperExchange(${JSON.stringify(sock)}, JSON.stringify({ op: 'tun.open', tun: { ...req.tun, name: 'eth0' } }) + '\\n', 10000);
      process.stdout.write('bad ' + bad.reply.trim() + ' fds ' + bad.fds.length + '\\nholding\\n');
      await new Promise((r) => setTimeout(r, 2000)); // the test looks at the socket meanwhile`;
    const run = startAsUid(ns, 65534, open);
    await waitFor('descriptors received', () => (run.out().includes('holding') ? true : undefined), 20_000);
    // Root's view of the socket the unprivileged process now owns.
    const ss = ns.sh(['ss', '-uanpe']).stdout;
    const got = await run.exited;
    assert.equal(got.code, 0, got.out);
    assert.match(got.out, /^reply \{"ok":true,"tun":\{"name":"meshtray7","port":\d+,"offload":false\}\}$/m);
    assert.match(got.out, /^fds 2$/m);
    assert.match(got.out, /inet 100\.64\.0\.9\/32/);
    assert.match(ss, /fwmark:0x80000/, `the handed UDP socket carries the bypass mark:\n${ss}`);
    assert.match(got.out, /^bad \{"ok":false,"error":\{"code":"ERR_BAD_REQUEST".*meshtray.* fds 0$/m);
    // The process exited: its descriptors closed, the (non-persistent) TUN is gone with them.
    await waitFor('TUN gone with its last descriptor', () => (ns.sh(['ip', 'link', 'show', 'dev', 'meshtray7'], { allowFail: true }).code !== 0 ? true : undefined), 10_000);

    const exited = new Promise<number | null>((r) => h.proc.once('exit', (c) => r(c)));
    h.proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    helper = undefined;
  } finally {
    helper?.proc.kill('SIGKILL');
    ns.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('privileged helper with --socket-group (the packages\' unit): socket root:<group> 0660, a member is served, others cannot even connect', { skip, timeout: 60_000 }, async () => {
  const ns = new TestNs('h2group');
  const dir = mkdtempSync(join(tmpdir(), 'mt-helper-e2e-'));
  chmodSync(dir, 0o755);
  let helper: ReturnType<typeof startHelper> | undefined;
  try {
    helper = startHelper(ns, dir, ['--socket-group', 'nogroup']);
    const h = helper;
    await waitFor('helper listening', () => (h.out().includes('helper listening') ? true : undefined), 30_000);
    const sock = join(dir, 'helper.sock');
    const st = statSync(sock);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 65534, 0o660]);
    const hello = `import { connect } from 'node:net';
      const s = connect(${JSON.stringify(sock)}); s.setEncoding('utf8');
      s.on('connect', () => s.write(JSON.stringify({ op: 'hello', version: 2 }) + '\\n'));
      s.on('data', (d) => { process.stdout.write(d); s.destroy(); });
      s.on('error', (e) => { process.stdout.write('error ' + e.code); });`;
    assert.match((await asUid(ns, 65534, hello)).out, /"ok":true,"version":2/, 'nogroup member (primary gid)');
    assert.match((await asUid(ns, 65533, hello)).out, /error EACCES/, 'outside the group: the kernel refuses connect()');
    const exited = new Promise<number | null>((r) => h.proc.once('exit', (c) => r(c)));
    h.proc.kill('SIGTERM');
    assert.equal(await exited, 0);
    helper = undefined;
  } finally {
    helper?.proc.kill('SIGKILL');
    ns.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
