// Tests of the lab helpers themselves: logs kept on failure, nothing left after teardown, and a
// killed run's leftovers removed by the next run (but never a live concurrent lab's).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk } from './exec.js';
import { Lab } from './lab.js';
import { LabProcess, waitFor } from './proc.js';
import { isAlive, netnsList } from './sync-sys.js';
import { artifactDirFor, skipUnlessLab, withLab } from './with-lab.js';

function leftovers(prefix: string): string[] {
  const ns = netnsList().filter((n) => n.startsWith(prefix));
  const etc = existsSync('/etc/netns') ? readdirSync('/etc/netns').filter((d) => d.startsWith(prefix)).map((d) => `/etc/netns/${d}`) : [];
  return [...ns, ...etc];
}

test('a failing scenario keeps its logs under test-artifacts/lab/ and still tears everything down', { timeout: 120_000 }, async (t) => {
  if (skipUnlessLab(t)) return;
  let prefix = '';
  let dir = '';
  let pids: number[] = [];
  // An inner test context stand-in, so the failing scenario has its own artifact folder name.
  const inner = { ...t, name: 'keep-logs inner scenario', fullName: 'lab-helper keep-logs inner scenario', skip: t.skip.bind(t) } as typeof t;
  const dest = artifactDirFor(inner.fullName);
  await assert.rejects(
    withLab(inner, { hosts: [{ name: 'a1', nat: 'easy' }] }, async (lab) => {
      prefix = lab.prefix;
      dir = lab.dir;
      pids = [lab.peer('a1').pid!, lab.headscale.proc!.pid, ...lab.derpers.map((d) => d.proc!.pid)];
      assert.ok(netnsList().includes(lab.ns('a1')), 'namespace exists while the lab runs');
      throw new Error('scenario failed on purpose');
    }),
    /scenario failed on purpose/,
  );
  // everything gone
  assert.ok(prefix.startsWith('mt'));
  assert.deepEqual(leftovers(prefix), [], 'no namespaces or /etc/netns dirs left');
  assert.equal(existsSync(dir), false, 'run dir removed');
  for (const p of pids) assert.equal(isAlive(p), false, `process ${p} stopped`);
  // ...but the logs were kept
  const tsLog = join(dest, 'n', 'a1', 'logs', 'tailscaled.log');
  assert.ok(existsSync(tsLog), `${tsLog} kept`);
  assert.match(readFileSync(tsLog, 'utf8'), /Program starting|logtail started|tailscaled/);
  assert.ok(existsSync(join(dest, 'hs', 'headscale.log')), 'headscale log kept');
  assert.ok(existsSync(join(dest, 'derp1', 'derper.log')), 'derper log kept');
  assert.ok(existsSync(join(dest, 'lab.log')), 'lab log kept');
  // no secrets or state were copied
  const all = readdirSync(dest, { recursive: true }).map(String);
  assert.ok(!all.some((f) => /\.state$|\.key$|\.sock$|certs/.test(f)), `only logs copied: ${all.join(', ')}`);
});

test('teardown leaves no namespaces, /etc/netns dirs, processes or run dir', { timeout: 120_000 }, async (t) => {
  if (skipUnlessLab(t)) return;
  const lab = await Lab.create({ name: 'teardown test', hosts: [{ name: 'a1', nat: 'hard' }, { name: 'p1', nat: 'none', peer: 'none' }] });
  const prefix = lab.prefix;
  const pids = [lab.peer('a1').pid!, lab.headscale.proc!.pid];
  try {
    assert.ok(leftovers(prefix).length >= 8, 'inet, hs, derp1, derp2, nat-a1, a1, p1 namespaces + /etc/netns dirs exist');
    assert.equal(readFileSync(`/etc/netns/${lab.ns('a1')}/resolv.conf`, 'utf8'), 'nameserver 127.0.0.1\n');
  } finally {
    await lab.teardown();
  }
  assert.deepEqual(leftovers(prefix), []);
  assert.equal(existsSync(lab.dir), false);
  for (const p of pids) assert.equal(isAlive(p), false);
});

/** Starts fixtures/killed-run in its own process; resolves once its lab is up. */
async function startFixtureLab(): Promise<{ child: ChildProcess; prefix: string; dir: string; peerPid: number }> {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const fixture = fileURLToPath(new URL(`./fixtures/killed-run.${ext}`, import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /READY (\S+) (\S+) (\d+)/.exec(out);
      if (m) resolve(m[0]);
    });
    child.on('exit', (c) => reject(new Error(`fixture exited ${c} before READY: ${out}`)));
  });
  const [, prefix, dir, peerPid] = ready.split(' ') as [string, string, string, string];
  return { child, prefix, dir, peerPid: Number(peerPid) };
}

test('an interrupted run (SIGTERM, SIGINT) tears its own lab down before exiting', { timeout: 120_000 }, async (t) => {
  if (skipUnlessLab(t)) return;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    const { child, prefix, dir, peerPid } = await startFixtureLab();
    assert.ok(leftovers(prefix).length > 0);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(sig);
    const code = await exited;
    assert.equal(code, sig === 'SIGTERM' ? 143 : 130, `${sig}: exit code 128+signal after teardown`);
    assert.deepEqual(leftovers(prefix), [], `${sig}: namespaces and /etc/netns dirs removed`);
    assert.equal(existsSync(dir), false, `${sig}: run dir removed`);
    assert.equal(isAlive(peerPid), false, `${sig}: tailscaled stopped`);
  }
});

test('a killed run is cleaned up by the next run; a live concurrent lab is left alone', { timeout: 120_000 }, async (t) => {
  if (skipUnlessLab(t)) return;
  const { child, prefix: deadPrefix, dir: deadDir, peerPid } = await startFixtureLab();
  const deadPeerPid = String(peerPid);

  // A concurrently running lab (alive owner) must survive the cleanup.
  const live = await Lab.create({ name: 'live neighbour', hosts: [] });
  try {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(leftovers(deadPrefix).length > 0, 'the killed run left namespaces behind');
    assert.ok(isAlive(Number(deadPeerPid)), "the killed run's tailscaled is still running (orphaned)");

    const next = await Lab.create({ name: 'next run', hosts: [] });
    await next.teardown();

    assert.deepEqual(leftovers(deadPrefix), [], "killed run's namespaces and /etc/netns dirs removed");
    assert.equal(existsSync(deadDir), false, "killed run's run dir removed");
    assert.equal(isAlive(Number(deadPeerPid)), false, "killed run's tailscaled stopped");
    assert.ok(leftovers(live.prefix).length > 0, 'the live lab was not touched');
    assert.equal(await live.headscale.health(), true, "the live lab's headscale still answers");
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await live.teardown();
  }
});

test('impairments: iptables-statistic loss and tbf rate limit on a NAT router act on real traffic', { timeout: 120_000 }, async (t) => {
  await withLab(t, { hosts: [{ name: 'a1', nat: 'easy', peer: 'none' }], derpRegions: 1 }, async (lab) => {
    const web = await lab.addWebHost();
    const router = lab.host('a1').router!.ns;
    // baseline: reachable
    await waitFor('a1 reaches the web host', async () => (await lab.exec('a1', ['ping', '-c1', '-W1', web.ip])).code === 0, { timeoutMs: 10_000 });

    // probability 1: every packet through the router's WAN is dropped
    await lab.topo.addLoss(router, 1);
    const lost = await lab.exec('a1', ['ping', '-c3', '-i0.2', '-W1', web.ip]);
    assert.match(lost.stdout, /3 packets transmitted, 0 received/, lost.stdout);
    await runOk(['iptables', '-w', '-D', 'FORWARD', '-i', 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', '1', '-j', 'DROP'], { ns: router });
    await runOk(['iptables', '-w', '-D', 'FORWARD', '-o', 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', '1', '-j', 'DROP'], { ns: router });
    assert.equal((await lab.exec('a1', ['ping', '-c1', '-W1', web.ip])).code, 0, 'reachable again once the rules are gone');

    // tbf 2mbit on the router's WAN egress: an upload from a1 is held near 2 Mbit/s
    await lab.topo.addRateLimit(router, 'eth0', '2mbit');
    const srv = LabProcess.start({ name: 'web/iperf3', ns: web.ns, logFile: `${lab.dir}/web/iperf3.log`, argv: ['iperf3', '-s', '-1', '-B', web.ip] });
    try {
      let out = '';
      await waitFor('iperf3 client run', async () => {
        const r = await lab.exec('a1', ['iperf3', '-c', web.ip, '-t', '3', '-J'], 20_000);
        out = r.stdout;
        return r.code === 0 || `iperf3 exit ${r.code}: ${r.stdout.slice(0, 200)}`;
      }, { timeoutMs: 20_000, intervalMs: 300 });
      const mbps = (JSON.parse(out) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e6;
      t.diagnostic(`tbf 2mbit: ${mbps.toFixed(2)} Mbit/s`);
      assert.ok(mbps > 0.5 && mbps < 2.6, `received ${mbps.toFixed(2)} Mbit/s through a 2mbit tbf`);
    } finally {
      srv.stop(1000);
    }
  });
});

test('bad input: missing binaries give one line per binary and the fix; a failed build leaves nothing behind', { timeout: 60_000 }, async (t) => {
  if (skipUnlessLab(t)) return;
  const saved = process.env.LAB_CACHE;
  process.env.LAB_CACHE = '/nonexistent/meshtray-lab-cache';
  try {
    await assert.rejects(Lab.create({ name: 'no binaries' }), (e: Error) => {
      assert.match(e.message, /missing tailscaled v1\.98\.10 at \/nonexistent\/meshtray-lab-cache\/bin\/tailscale-v1\.98\.10\/tailscaled/);
      assert.match(e.message, /missing headscale v0\.29\.2 at /);
      assert.match(e.message, /fix: run `sudo bash test\/lab\/install\.sh`/);
      return true;
    });
  } finally {
    if (saved === undefined) delete process.env.LAB_CACHE;
    else process.env.LAB_CACHE = saved;
  }

  // A bad host spec fails after Headscale and the derpers are already running: all of it goes.
  let prefix = '';
  await assert.rejects(Lab.create({ name: 'half built', hosts: [{ name: 'Bad_Name' }] }), (e: Error & { labPrefix?: string }) => {
    assert.match(e.message, /lab host name must be short/);
    prefix = e.labPrefix ?? '';
    return true;
  });
  assert.match(prefix, /^mt[a-z0-9]{4}-$/);
  assert.deepEqual(leftovers(prefix), [], 'no namespaces or /etc/netns dirs of the failed build');
  assert.equal(existsSync(`/tmp/mtl/${prefix.slice(2, 6)}`), false, 'no run dir');
});
