// bench:dns (issue 6, "Speed"): queries per second and p99 latency of Meshtray's MagicDNS resolver
// for a tailnet name and a forwarded name, beside the same queries to a real tailscaled's
// 100.100.100.100 in the same run, with the ratio. Both resolvers run in their own network
// namespace with an identical instant upstream on 127.0.0.1:53; the same load client (one UDP
// socket, N outstanding queries) runs inside each namespace. tailscaled comes up in the lab
// (Headscale + DERP, MagicDNS on, --accept-dns=true so "." forwards to the namespace's resolver).
// Run: npm run bench:dns   (root; BENCH_DNS_COUNT, BENCH_DNS_CONCURRENCY, BENCH_DNS_NO_TAILSCALED=1)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../lab/lab.js';
import { repoRoot } from '../lab/versions.js';
import { Agent } from '../e2e/os/agent-driver.js';

const COUNT = Number(process.env['BENCH_DNS_COUNT'] ?? 20_000);
const CONC = Number(process.env['BENCH_DNS_CONCURRENCY'] ?? 16);
const WARMUP = 500;
const here = dirname(fileURLToPath(import.meta.url));
const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const nodeArgs = ext === 'ts' ? ['--import', 'tsx'] : [];
const script = (base: string) => join(here, `${base}.${ext}`);

interface LoadResult {
  server: string;
  name: string;
  answered: number;
  errors: number;
  timeouts: number;
  rcodes: Record<string, number>;
  qps: number;
  p50ms: number;
  p99ms: number;
  maxms: number;
}

const procs: ChildProcess[] = [];
function startInNs(ns: string, base: string, args: string[]): Promise<ChildProcess> {
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs, script(base), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(c);
  return new Promise((resolve, reject) => {
    let out = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ready')) resolve(c);
    });
    c.on('exit', (code) => reject(new Error(`${base} in ${ns} exited ${code} before ready`)));
    setTimeout(() => reject(new Error(`${base} in ${ns}: not ready in 20 s`)), 20_000);
  });
}

function load(ns: string, server: string, name: string, count: number): LoadResult {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs, script('dns-load'), server, name, 'A', String(count), String(CONC)], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`load client failed in ${ns}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as LoadResult;
}

function sh(argv: string[], ns?: string): string {
  const full = ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
  const r = spawnSync(full[0]!, full.slice(1), { encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`\`${full.join(' ')}\`: ${r.stderr}`);
  return r.stdout;
}

async function waitFor(what: string, f: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (f()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function bench(label: string, ns: string, names: { tailnet: string; forwarded: string }): Record<string, LoadResult> {
  const out: Record<string, LoadResult> = {};
  for (const [kind, name] of Object.entries(names)) {
    load(ns, '100.100.100.100', name, WARMUP);
    const r = load(ns, '100.100.100.100', name, COUNT);
    process.stderr.write(`${label} ${kind}: ${r.qps.toFixed(0)} q/s, p50 ${r.p50ms.toFixed(3)} ms, p99 ${r.p99ms.toFixed(3)} ms, rcodes ${JSON.stringify(r.rcodes)}, timeouts ${r.timeouts}\n`);
    out[kind] = r;
  }
  return out;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench:dns needs root (network namespaces)');
  const nsName = `mtbench-dns-${process.pid % 100000}`;
  let lab: Lab | undefined;
  let agent: Agent | undefined;
  const results: Record<string, Record<string, LoadResult>> = {};
  try {
    // Meshtray side
    sh(['ip', 'netns', 'add', nsName]);
    mkdirSync(join('/etc/netns', nsName), { recursive: true });
    writeFileSync(join('/etc/netns', nsName, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    sh(['ip', 'link', 'set', 'lo', 'up'], nsName);
    sh(['ip', 'link', 'add', 'svc0', 'type', 'veth', 'peer', 'name', 'svc0p'], nsName);
    sh(['ip', 'addr', 'add', '100.100.100.100/32', 'dev', 'svc0'], nsName);
    sh(['ip', 'link', 'set', 'svc0', 'up'], nsName);
    sh(['ip', 'link', 'set', 'svc0p', 'up'], nsName);
    await startInNs(nsName, 'dns-upstream', ['127.0.0.1', '53']);
    await startInNs(nsName, 'dns-meshtray-server', []);
    results['meshtray'] = bench('meshtray', nsName, { tailnet: 'b1.tailnet.test', forwarded: 'www.example.com' });

    if (process.env['BENCH_DNS_NO_TAILSCALED'] !== '1') {
      lab = await Lab.create({
        name: 'bench-dns',
        derpRegions: 1,
        hosts: [
          { name: 'a1', nat: 'easy', upArgs: ['--accept-dns=true'] },
          { name: 'b1', nat: 'easy' },
          { name: 'm1', nat: 'easy', peer: 'none' },
        ],
      });
      const a1 = lab.host('a1').ns;
      await startInNs(a1, 'dns-upstream', ['127.0.0.1', '53']);
      await waitFor('tailscaled to answer b1.tailnet.test on 100.100.100.100', () => {
        const r = spawnSync('ip', ['netns', 'exec', a1, 'dig', '+short', '+time=1', '+tries=1', '@100.100.100.100', 'b1.tailnet.test'], { encoding: 'utf8' });
        return /^100\./.test(r.stdout.trim());
      }, 30_000);
      await waitFor('tailscaled to forward www.example.com', () => {
        const r = spawnSync('ip', ['netns', 'exec', a1, 'dig', '+short', '+time=1', '+tries=1', '@100.100.100.100', 'www.example.com'], { encoding: 'utf8' });
        return r.stdout.trim() === '203.0.113.10';
      }, 30_000);
      results['tailscaled'] = bench('tailscaled v1.98.10', a1, { tailnet: 'b1.tailnet.test', forwarded: 'www.example.com' });

      // The same path as tailscaled's: a Meshtray node (test/e2e/os/os-agent.ts) whose quad-100
      // packets go TUN → native data plane → JS resolver → back into the TUN.
      const m1 = lab.host('m1').ns;
      await startInNs(m1, 'dns-upstream', ['127.0.0.1', '53']);
      agent = Agent.start(lab, 'm1', await lab.authKey());
      await agent.wait((e) => e.event === 'ready', 90_000, 'meshtray agent ready');
      await waitFor('the Meshtray node to answer b1.tailnet.test through its TUN', () => {
        const r = spawnSync('ip', ['netns', 'exec', m1, 'dig', '+short', '+time=1', '+tries=1', '@100.100.100.100', 'b1.tailnet.test'], { encoding: 'utf8' });
        return /^100\./.test(r.stdout.trim());
      }, 30_000);
      results['meshtray (TUN intercept)'] = bench('meshtray (TUN intercept)', m1, { tailnet: 'b1.tailnet.test', forwarded: 'www.example.com' });
    }
  } finally {
    await agent?.stop().catch(() => undefined);
    for (const p of procs) if (p.exitCode === null && p.pid) p.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', nsName]);
    rmSync(join('/etc/netns', nsName), { recursive: true, force: true });
    if (lab) await lab.teardown();
  }

  const rows: string[] = [];
  rows.push(`bench:dns  ${COUNT} queries per case, ${CONC} outstanding, UDP, one client socket, inside the resolver's namespace`);
  rows.push('resolver                  name kind   q/s       p50 ms   p99 ms   errors  timeouts');
  for (const [who, r] of Object.entries(results)) {
    for (const [kind, x] of Object.entries(r)) {
      rows.push(`${who.padEnd(25)} ${kind.padEnd(10)} ${x.qps.toFixed(0).padStart(8)}  ${x.p50ms.toFixed(3).padStart(7)}  ${x.p99ms.toFixed(3).padStart(7)}  ${String(x.errors).padStart(6)}  ${String(x.timeouts).padStart(8)}`);
    }
  }
  if (results['tailscaled']) {
    for (const who of ['meshtray (TUN intercept)', 'meshtray']) {
      if (!results[who]) continue;
      for (const kind of ['tailnet', 'forwarded']) {
        const m = results[who]![kind]!;
        const t = results['tailscaled']![kind]!;
        rows.push(`ratio ${who}/tailscaled ${kind}: q/s ${(m.qps / t.qps).toFixed(2)}x, p99 ${(m.p99ms / t.p99ms).toFixed(2)}x (lower p99 is better)`);
      }
    }
    rows.push('meshtray = resolver on a local socket; meshtray (TUN intercept) = the path tailscaled also takes (TUN → engine → TUN)');
  } else rows.push('tailscaled: skipped (BENCH_DNS_NO_TAILSCALED=1)');
  process.stdout.write(rows.join('\n') + '\n');
  const dest = join(repoRoot(), 'test-artifacts', 'bench');
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(dest, 'dns.json'), JSON.stringify({ at: new Date().toISOString(), count: COUNT, concurrency: CONC, results }, null, 2));
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:dns failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
