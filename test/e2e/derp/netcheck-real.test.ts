// Netcheck against two real derpers' STUN servers, from hosts behind an easy NAT, a hard NAT,
// a UDP-blocking NAT and with a public address, all in network namespaces this test creates.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TailscaleNetcheckJSON } from '../../../main/engine/netcheck/report.js';
import { MiniLab } from './mini-lab.js';
import { RealDerper, rootSkipReason } from './real-derper.js';

const skip = rootSkipReason();
const prefix = `h5n${process.pid % 10000}-`;
const lab = new MiniLab(prefix);
const base = mkdtempSync(join(tmpdir(), 'meshtray-netcheck-e2e-'));
let d1: RealDerper;
let d2: RealDerper;
let map: unknown;

// The agent runs as a child in a namespace: from source under tsx, or compiled JS from dist.
const here = fileURLToPath(import.meta.url);
const agent = here.replace(/netcheck-real\.test\.(ts|js)$/, (_m, ext: string) => `netcheck-agent.${ext}`);
const nodeArgv = here.endsWith('.ts') ? [process.execPath, '--import', 'tsx', agent] : [process.execPath, agent];

interface AgentOut { report: TailscaleNetcheckJSON; localPort: number; derp?: { region: number; state: string; rttMs?: number } }
async function netcheckIn(ns: string, withDerp = false): Promise<AgentOut> {
  const out = await lab.run(ns, [...nodeArgv, JSON.stringify(map), ...(withDerp ? ['derp'] : [])], 60_000);
  return JSON.parse(out.trim().split('\n').at(-1)!) as AgentOut;
}

before(async () => {
  if (skip) return;
  MiniLab.cleanStale(prefix);
  lab.up();
  const ns1 = lab.publicHost('derp1', '198.51.100.30');
  const ns2 = lab.publicHost('derp2', '198.51.100.31');
  lab.publicHost('pub1', '198.51.100.50');
  lab.natHost('natA', '198.51.100.101', '10.1.0', 'easy', 'a1');
  lab.natHost('natH', '198.51.100.103', '10.3.0', 'hard', 'h1');
  lab.natHost('natU', '198.51.100.104', '10.4.0', 'udp-blocked', 'u1');
  d1 = new RealDerper({ dir: join(base, 'd1'), ip: '198.51.100.30', port: 443, stunPort: 3478, ns: ns1 });
  d2 = new RealDerper({ dir: join(base, 'd2'), ip: '198.51.100.31', port: 443, stunPort: 3478, ns: ns2 });
  await Promise.all([d1.start(), d2.start()]);
  map = { Regions: { '900': d1.region(900, 'lab1'), '901': d2.region(901, 'lab2') } };
});

after(async () => {
  if (skip) return;
  await d1?.stop('SIGKILL');
  await d2?.stop('SIGKILL');
  lab.down();
  rmSync(base, { recursive: true, force: true });
});

test('easy NAT: UDP, GlobalV4 = NAT WAN address, mapping stable, both regions measured; DERP connects', { skip, timeout: 90_000 }, async () => {
  const { report: r, localPort, derp } = await netcheckIn(prefix + 'a1', true);
  assert.equal(r.UDP, true);
  assert.equal(r.IPv4, true);
  // MASQUERADE keeps the source port when it is free.
  assert.equal(r.GlobalV4, `198.51.100.101:${localPort}`);
  assert.equal(r.MappingVariesByDestIP, false);
  assert.deepEqual(Object.keys(r.RegionLatency).sort(), ['900', '901']);
  for (const ns of Object.values(r.RegionLatency)) assert.ok(ns > 0 && ns < 3e9, `latency ${ns} ns`);
  assert.ok([900, 901].includes(r.PreferredDERP));
  assert.equal(derp?.state, 'connected');
});

test('hard NAT: MappingVariesByDestIP true, GlobalV4 on the NAT address', { skip, timeout: 90_000 }, async () => {
  const { report: r } = await netcheckIn(prefix + 'h1');
  assert.equal(r.UDP, true);
  assert.equal(r.MappingVariesByDestIP, true);
  assert.match(r.GlobalV4, /^198\.51\.100\.103:\d+$/);
  assert.deepEqual(Object.keys(r.RegionLatency).sort(), ['900', '901']);
  assert.ok(Object.keys(r.GlobalV4Counters ?? {}).length >= 2, JSON.stringify(r.GlobalV4Counters));
});

test('no NAT: GlobalV4 is our own address and port', { skip, timeout: 90_000 }, async () => {
  const { report: r, localPort } = await netcheckIn(prefix + 'pub1');
  assert.equal(r.GlobalV4, `198.51.100.50:${localPort}`);
  assert.equal(r.MappingVariesByDestIP, false);
});

test('UDP blocked: UDP false, no public address; HTTPS latency still picks a home; DERP over TCP connects', { skip, timeout: 90_000 }, async () => {
  const { report: r, derp } = await netcheckIn(prefix + 'u1', true);
  assert.equal(r.UDP, false);
  assert.equal(r.GlobalV4, '');
  assert.equal(r.MappingVariesByDestIP, null);
  assert.deepEqual(r.RegionV4Latency, {});
  // Go's netcheck falls back to timing GET /derp/latency-check over the pinned TLS connection.
  assert.deepEqual(Object.keys(r.RegionLatency).sort(), ['900', '901']);
  assert.ok([900, 901].includes(r.PreferredDERP));
  assert.equal(derp?.state, 'connected');
});
