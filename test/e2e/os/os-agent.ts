// A Meshtray node for the issue-6 lab scenarios, built from the engine's real parts (same core as
// test/e2e/magicsock/magicsock-agent.ts: control client, NetMap, native data plane, DERP,
// MagicConn) plus everything OS-facing from this issue, wired the way meshtrayd should wire it:
// OSIntegration (route table → Linux router with the kernel ACL, MagicDNS config, resolv.conf),
// WireGuard AllowedIPs from the route table, quad-100 answered through the TUN intercept.
//
// argv[2] = JSON { serverURL, authKey, hostname, stateDir, tun?, port? }. Events are JSON lines on
// stdout; commands JSON lines on stdin: {"cmd":"set","prefs":{...},"exitNode":"name|ip|"},
// {"cmd":"why","dest":"…"}, {"cmd":"acl"}, {"cmd":"down"}. stdin EOF = down and exit.
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { defaultPrefs, type Prefs } from '../../../common/schemas/prefs.js';
import { ControlClient } from '../../../main/engine/control/client.js';
import type { Hostinfo, MapRequest } from '../../../main/engine/control/messages.js';
import { DerpManager } from '../../../main/engine/derp/manager.js';
import { tlsDialer } from '../../../main/engine/derp/dial.js';
import type { DerpMap } from '../../../main/engine/derp/derp-map.js';
import { openNativeDataPlane } from '../../../main/engine/dataplane/native-data-plane.js';
import { Quad100Intercept } from '../../../main/engine/dns/intercept.js';
import { nodeResolvFS } from '../../../main/engine/dns/node-resolv-fs.js';
import { DirectResolvConf } from '../../../main/engine/dns/resolv-conf.js';
import { MagicDNSResolver } from '../../../main/engine/dns/resolver.js';
import { nodeUpstream } from '../../../main/engine/dns/upstream.js';
import { PrivateKey, PublicKey } from '../../../main/engine/keys/keys.js';
import { LineLogger } from '../../../main/engine/log/logger.js';
import { addrKey } from '../../../main/engine/magicsock/addr.js';
import { MagicConn, magicPeerFromNode } from '../../../main/engine/magicsock/magic-conn.js';
import { NetMap } from '../../../main/engine/netmap/netmap.js';
import { parseMapResponse } from '../../../main/engine/netmap/tailcfg.js';
import { systemClock, systemRandom } from '../../../main/engine/ports/system.js';
import { LinuxRouter } from '../../../main/engine/router/linux.js';
import { fileRouterState, nodeCommandRunner } from '../../../main/engine/router/node-runner.js';
import { OSIntegration } from '../../../main/engine/router/os-integration.js';
import { linuxIPv6Available } from '../../../main/engine/router/index.js';
import { resolveExitNode } from '../../../main/engine/routes/route-table.js';

interface Args { serverURL: string; authKey: string; hostname: string; stateDir: string; tun?: string; port?: number; quad100?: 'local' | 'intercept' }
const args = JSON.parse(process.argv[2]!) as Args;
const emit = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const clock = systemClock;
const random = systemRandom;
const log = new LineLogger({ level: 'info' });
const machine = PrivateKey.generate('machine', random);
const node = PrivateKey.generate('node', random);
const disco = PrivateKey.generate('disco', random);
const client = new ControlClient({ serverURL: args.serverURL, machineKey: machine, logger: log, clock, random });
const hostinfo: Hostinfo = { Hostname: args.hostname, OS: 'linux', IPNVersion: 'meshtray-e2e' } as Hostinfo;
const tun = args.tun ?? 'meshtray0';

const reg = await client.register({ NodeKey: node.public.toString(), Auth: { AuthKey: args.authKey }, Hostinfo: hostinfo });
if (!reg.MachineAuthorized) throw new Error('not authorized');

const netmap = new NetMap({ clock });
let firstMap!: () => void;
const gotFirstMap = new Promise<void>((r) => (firstMap = r));
let onMap: () => void = () => {};
const stop = new AbortController();
const mapReq = (): MapRequest => ({ NodeKey: node.public.toString(), DiscoKey: disco.public.toString(), Hostinfo: hostinfo });
let mapMessages = 0;
netmap.startStream();
void client
  .mapStream(mapReq(), (raw) => {
    const p = parseMapResponse(raw);
    if (!p.ok) return emit({ event: 'error', where: 'map', error: p.reason });
    const ch = netmap.apply(p.value);
    mapMessages++;
    if (ch.keepAlive) return;
    if (netmap.self && netmap.derpMap) firstMap();
    onMap();
  }, { signal: stop.signal })
  .catch((e: unknown) => {
    if (!stop.signal.aborted) emit({ event: 'error', where: 'map', error: String(e) });
  });
await gotFirstMap;

const addresses = [...(netmap.self!.Addresses ?? [])];
const QUAD100 = ['100.100.100.100/32', 'fd7a:115c:a1e0::53/128'];
const dp = openNativeDataPlane({ tunName: tun, mtu: 1280, listenPort: args.port ?? 41641, privateKey: node.rawBytes(), addresses, fwmark: 0x80000, intercept: QUAD100 }, log);
const derp = new DerpManager({ nodeKey: node, clock, random, logger: log });
const conn = new MagicConn({ dataPlane: dp, derp, nodeKey: node.public, discoKey: disco, clock, random, logger: log, httpsFallback: tlsDialer(clock) });

// MagicDNS through the TUN: packets to quad-100 come up from the data plane and go back into it.
const resolver = new MagicDNSResolver({ upstream: nodeUpstream, logger: log });
const intercept = new Quad100Intercept(resolver);
dp.onIntercept((pkt) => {
  void intercept.answer(pkt).then((r) => r && dp.writeToTun(r), (e: unknown) => emit({ event: 'error', where: 'intercept', error: String(e) }));
});

const baseRunner = nodeCommandRunner();
// Slow OS commands are worth a line in the agent log (xtables lock contention, a hung tool).
const runner = {
  async run(argv: readonly string[]) {
    const t = Date.now();
    const r = await baseRunner.run(argv);
    if (Date.now() - t > 1000) log.warn('slow command', { argv: argv.join(' '), ms: Date.now() - t, code: r.code });
    return r;
  },
};
const router = new LinuxRouter({ runner, state: fileRouterState(join(args.stateDir, 'router-state.json')), ipv6: linuxIPv6Available(), logger: log });
const controlHost = new URL(args.serverURL).hostname;
const osi = new OSIntegration({
  router,
  resolver,
  osDNS: new DirectResolvConf({ fs: nodeResolvFS, backupPath: join(args.stateDir, 'resolv.conf.backup') }),
  tunName: tun,
  clock,
  logger: log,
  quad100: args.quad100 ?? 'intercept',
  // Our control and DERP sockets are Node sockets without the bypass mark: keep them off the tunnel.
  controlIPs: () => {
    const ips = [controlHost];
    for (const r of Object.values((netmap.derpMap?.Regions ?? {}) as Record<string, { Nodes?: { IPv4?: string; IPv6?: string; HostName: string }[] } | null>)) {
      for (const n of r?.Nodes ?? []) for (const ip of [n.IPv4, n.IPv6, n.HostName]) if (ip && ip !== 'none') ips.push(ip);
    }
    return ips;
  },
});
await osi.start();

let prefs: Prefs = { ...defaultPrefs(), WantRunning: true, CorpDNS: true };
const applyAll = async (): Promise<void> => {
  const started = Date.now();
  const a = await osi.apply(netmap, prefs);
  if (Date.now() - started > 2000) log.warn('slow apply', { ms: Date.now() - started });
  if (netmap.derpMap) conn.setDerpMap(netmap.derpMap as DerpMap);
  const allowed = a?.table.peerAllowedIPs;
  conn.setPeers(netmap.peers().map((n) => ({ ...magicPeerFromNode(n), allowedIps: allowed?.get(n.ID) ?? [] })));
};
let applying = Promise.resolve();
const scheduleApply = (): Promise<void> => {
  applying = applying.then(applyAll).catch((e: unknown) => emit({ event: 'error', where: 'apply', error: String(e) }));
  return applying;
};
onMap = () => void scheduleApply();

let sending = Promise.resolve();
conn.onEndpointsChanged((eps, ni) => {
  hostinfo.NetInfo = { PreferredDERP: ni.PreferredDERP, DERPLatency: ni.DERPLatency } as never;
  const req: MapRequest = { ...mapReq(), Endpoints: eps.map((e) => addrKey(e.addr)), EndpointTypes: eps.map((e) => e.type) };
  sending = sending.then(() => client.mapUpdate(req)).then(
    () => emit({ event: 'endpoints', endpoints: req.Endpoints }),
    (e: unknown) => emit({ event: 'error', where: 'mapUpdate', error: String(e) }),
  );
});
await scheduleApply();
conn.start();
const t0 = Date.now();
while ((derp.home === 0 || derp.client(derp.home)?.state !== 'connected') && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
await sending;
emit({ event: 'ready', pid: process.pid, addresses });

async function down(): Promise<void> {
  await applying;
  await osi.down();
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  void (async () => {
    let c: { cmd: string; prefs?: Partial<Prefs>; exitNode?: string; dest?: string };
    try {
      c = JSON.parse(line) as typeof c;
    } catch {
      return emit({ event: 'error', where: 'stdin', error: `bad command ${line}` });
    }
    try {
      switch (c.cmd) {
        case 'set': {
          const next: Prefs = { ...prefs, ...(c.prefs ?? {}) };
          if (c.exitNode !== undefined) {
            // `set --exit-node=<name|ip>`: resolved to a stable ID, with clear errors; "" clears.
            next.ExitNodeID = c.exitNode === '' ? '' : resolveExitNode(netmap, c.exitNode).StableID ?? '';
            next.ExitNodeIP = '';
          }
          prefs = next;
          await scheduleApply();
          const t = osi.table!;
          // --advertise-routes / --advertise-exit-node: Hostinfo.RoutableIPs, sent to control.
          if (JSON.stringify(hostinfo.RoutableIPs ?? []) !== JSON.stringify(t.advertise.routes)) {
            hostinfo.RoutableIPs = [...t.advertise.routes];
            const sent = sending.then(() => client.mapUpdate(mapReq()));
            sending = sent.catch((e: unknown) => emit({ event: 'error', where: 'mapUpdate', error: String(e) }));
            await sent;
          }
          return emit({ event: 'set', routes: t.routes.map((r) => r.prefix), localRoutes: t.localRoutes, exitNode: t.exitNode ?? null, warnings: t.warnings.map((w) => w.message) });
        }
        case 'why': {
          const a = osi.why(c.dest!, (n) => {
            const st = conn.peerStatus(PublicKey.parse('node', n.Key));
            if (st.CurAddr) return { kind: 'direct', endpoint: st.CurAddr };
            return { kind: 'relayed', derpRegion: netmap.derpRegionCode(n.HomeDERP) || String(n.HomeDERP) };
          });
          return emit({ event: 'why', answer: a ?? null });
        }
        case 'acl':
          return emit({ event: 'acl', drops: await router.aclDrops(), dns: resolver.stats(), intercept: intercept.counters, mapMessages });
        case 'down':
          await down();
          return emit({ event: 'down' });
        default:
          return emit({ event: 'error', where: c.cmd, error: `unknown command ${c.cmd}` });
      }
    } catch (e) {
      emit({ event: 'error', where: c.cmd, error: e instanceof Error ? e.message : String(e), code: (e as { code?: string }).code });
    }
  })();
});
rl.on('close', async () => {
  await down().catch((e: unknown) => emit({ event: 'error', where: 'down', error: String(e) }));
  stop.abort();
  conn.close();
  dp.close();
  client.close();
  await derp.close();
  process.exit(0);
});
