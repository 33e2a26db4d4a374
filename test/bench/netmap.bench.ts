// Netmap benchmark (issue 4, "Speed to keep in view"): full maps and deltas at 100, 1,000 and
// 10,000 peers. Prints time per operation, heap/RSS per size, and delta-time(10k)/delta-time(100)
// to show that a delta costs time proportional to the change, not to the map.
// Run: npm run bench:netmap   (builds, then node --expose-gc dist/test/bench/netmap.bench.js)
import { performance } from 'node:perf_hooks';
import { NetMap } from '../../main/engine/netmap/netmap.js';
import { parseMapResponse, type MapResponse } from '../../main/engine/netmap/tailcfg.js';
import { peerStatusMap } from '../../main/engine/netmap/status.js';
import type { Clock } from '../../main/engine/ports/ports.js';

const SIZES = [100, 1_000, 10_000];
const clock: Clock = { now: () => Date.now(), setTimeout: () => ({ cancel() {} }) };
const gc = (globalThis as { gc?: () => void }).gc;

const hex = (n: number, salt: number) => ((n * 2654435761 + salt * 40503) >>> 0).toString(16).padStart(8, '0').repeat(8);

/** A peer shaped like Headscale's (see test/fixtures/netmap/headscale-v0.29.2). */
function rawNode(id: number, gen = 0): Record<string, unknown> {
  const a = `100.${64 + (id >> 16)}.${(id >> 8) & 255}.${id & 255}`;
  const b = `fd7a:115c:a1e0::${id.toString(16)}`;
  return {
    ID: id,
    StableID: String(id),
    Name: `host-${id}.tail.example.`,
    User: 1 + (id % 7),
    Key: `nodekey:${hex(id, 1)}`,
    Machine: `mkey:${hex(id, 2)}`,
    DiscoKey: `discokey:${hex(id, 3 + gen)}`,
    Addresses: [`${a}/32`, `${b}/128`],
    AllowedIPs: [`${a}/32`, `${b}/128`],
    Endpoints: [`198.51.100.${id & 255}:${41641 + gen}`, `[2001:db8::${id.toString(16)}]:41641`],
    HomeDERP: 900,
    Hostinfo: {
      IPNVersion: '1.98.10',
      OS: 'linux',
      OSVersion: '6.1.0',
      Hostname: `host-${id}`,
      Services: [{ Proto: 'peerapi4', Port: 40000 + (id % 1000) }],
      NetInfo: { PreferredDERP: 900, LinkType: 'wired' },
    },
    Created: '2026-11-23T19:19:58.331035966Z',
    Cap: 138,
    Online: true,
    MachineAuthorized: true,
  };
}

function rawFull(n: number): Record<string, unknown> {
  const peers = [];
  for (let i = 2; i < n + 2; i++) peers.push(rawNode(i));
  return {
    Node: { ...rawNode(1), Name: 'self.tail.example.' },
    DERPMap: { Regions: { '900': { RegionID: 900, RegionCode: 'lab', RegionName: 'Lab', Nodes: [{ Name: '900a', RegionID: 900, HostName: '127.0.0.1' }] } } },
    Peers: peers,
    DNSConfig: { Resolvers: [{ Addr: '1.1.1.1' }], Domains: ['tail.example'], Proxied: true },
    Domain: 'hs.example.com',
    PacketFilters: { base: [{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }] },
    UserProfiles: Array.from({ length: 7 }, (_, i) => ({ ID: i + 1, LoginName: `u${i + 1}`, DisplayName: `User ${i + 1}` })),
    ControlTime: '2026-11-23T19:20:00Z',
  };
}

function must(raw: unknown): MapResponse {
  const r = parseMapResponse(raw);
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

/**
 * ms per call of fn(i): the median over 7 batches of the batch mean, after a warm-up. The median
 * keeps one garbage-collection pause (or another process on this shared machine) out of the figure.
 */
function timeIt(iters: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(50, iters); i++) fn(i);
  const batches = 7;
  const per = Math.max(1, Math.ceil(iters / batches));
  const means: number[] = [];
  let i = 0;
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let j = 0; j < per; j++) fn(i++);
    means.push((performance.now() - t0) / per);
  }
  means.sort((a, b) => a - b);
  return means[batches >> 1]!;
}

const fmt = (ms: number) => (ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(2)} µs`);
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

type Row = Record<string, number>;
const results = new Map<number, Row>();

/** Full-map figures; the messages go out of scope afterwards so they do not weigh on later GCs. */
function benchFull(n: number, row: Row): string {
  const fullRaw = rawFull(n);
  const fullJSON = JSON.stringify(fullRaw);
  const fullReps = n >= 10_000 ? 7 : n >= 1_000 ? 28 : 140;
  row['full JSON.parse'] = timeIt(fullReps, () => JSON.parse(fullJSON));
  row['full validate'] = timeIt(fullReps, () => must(fullRaw));
  const full = must(fullRaw);
  row['full apply'] = timeIt(fullReps, () => {
    const nm = new NetMap({ clock });
    nm.apply(full);
  });
  return fullJSON;
}

/** A live netmap of n peers, built the way the backend builds it, and the heap it takes. */
function buildNetmap(fullJSON: string, row: Row): NetMap {
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const nm = new NetMap({ clock });
  nm.apply(must(JSON.parse(fullJSON)));
  nm.peers();
  gc?.();
  const mem = process.memoryUsage();
  row['heap of netmap'] = mem.heapUsed - heap0;
  row['rss'] = mem.rss;
  return nm;
}

/** Deltas against the live netmap. Each message changes a different peer (IDs spread over the map). */
function benchDeltas(n: number, m: NetMap, row: Row): void {
  const ITER = 14_000;
  const id = (i: number) => 2 + ((i * 7919) % n);
  const changed = Array.from({ length: 64 }, (_, i) => must({ PeersChanged: [rawNode(id(i), 1 + (i % 2))] }));
  const patches = Array.from({ length: 64 }, (_, i) =>
    must({ PeersChangedPatch: [{ NodeID: id(i), Endpoints: [`203.0.113.${i}:41641`], DERPRegion: 900 }] }),
  );
  const online = Array.from({ length: 64 }, (_, i) => must({ OnlineChange: { [String(id(i))]: i % 2 === 0 } }));
  const patchRaw = { PeersChangedPatch: [{ NodeID: id(3), Online: false }] };
  const samePatch = must({ PeersChangedPatch: [{ NodeID: id(5), Endpoints: ['203.0.113.5:41641'] }] });
  const removeMsgs = Array.from({ length: 64 }, (_, i) => must({ PeersRemoved: [id(i)] }));
  const addMsgs = Array.from({ length: 64 }, (_, i) => must({ PeersChanged: [rawNode(id(i))] }));
  m.peers();
  gc?.();
  row['delta: one peer changed'] = timeIt(ITER, (i) => m.apply(changed[i % 64]!));
  row['delta: one patch'] = timeIt(ITER, (i) => m.apply(patches[i % 64]!));
  row['delta: one online change'] = timeIt(ITER, (i) => m.apply(online[i % 64]!));
  row['delta: patch + peers() view'] = timeIt(ITER, (i) => {
    m.apply(patches[i % 64]!);
    m.peers();
  });
  // The same peer over and over (a flapping peer): catches per-key costs that grow with the map.
  row['delta: same peer patched again'] = timeIt(ITER, () => m.apply(samePatch));
  row['delta: validate + apply patch'] = timeIt(ITER, () => m.apply(must(patchRaw)));
  row['delta: remove + re-add a peer'] = timeIt(ITER, (i) => {
    m.apply(removeMsgs[i % 64]!);
    m.apply(addMsgs[i % 64]!);
  });
  row['lookup peerByIP'] = timeIt(ITER, (i) => m.peerByIP(`fd7a:115c:a1e0::${id(i).toString(16)}`));
  row['status of all peers'] = timeIt(n >= 10_000 ? 7 : 28, () => peerStatusMap(m));
}

for (const n of SIZES) {
  const row: Row = {};
  const fullJSON = benchFull(n, row);
  const nm = buildNetmap(fullJSON, row);
  benchDeltas(n, nm, row);
  results.set(n, row);
}

const keys = Object.keys(results.get(SIZES[0]!)!);
const w = Math.max(...keys.map((k) => k.length)) + 2;
console.log(`netmap bench (node ${process.version}${gc ? '' : ', no --expose-gc: heap figures are rough'})`);
console.log(''.padEnd(w) + SIZES.map((s) => `${s.toLocaleString('en-US')} peers`.padStart(16)).join(''));
for (const k of keys) {
  const cells = SIZES.map((s) => {
    const v = results.get(s)![k]!;
    return (k === 'heap of netmap' || k === 'rss' ? mib(v) : fmt(v)).padStart(16);
  });
  console.log(k.padEnd(w) + cells.join(''));
}
console.log('');
for (const k of keys.filter((x) => x.startsWith('delta') || x.startsWith('lookup'))) {
  const ratio = results.get(10_000)![k]! / results.get(100)![k]!;
  console.log(`${k}: time(10,000 peers) / time(100 peers) = ${ratio.toFixed(2)}`);
}
const fullRatio = results.get(10_000)!['full apply']! / results.get(100)!['full apply']!;
console.log(`full apply: time(10,000 peers) / time(100 peers) = ${fullRatio.toFixed(1)} (linear would be 100)`);
