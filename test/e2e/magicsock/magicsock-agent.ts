// Runs inside a lab namespace as a Meshtray node built from the engine's real parts: the control
// client (register + map stream + endpoint updates), NetMap, the native data plane, the DERP
// manager and MagicConn (netcheck from the shared socket, disco, path selection). Used by the
// magicsock e2e tests until meshtrayd carries the data plane itself.
//
// argv[2] = JSON { serverURL, authKey, hostname, port?, tun? }. Events are JSON lines on stdout.
// Commands are JSON lines on stdin: {"cmd":"ping","target":"100.64.0.2","timeoutMs":5000},
// {"cmd":"metrics"}, {"cmd":"peers"}, {"cmd":"netcheck"}. stdin EOF exits.
import { spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ControlClient } from '../../../main/engine/control/client.js';
import type { Hostinfo, MapRequest } from '../../../main/engine/control/messages.js';
import { DerpManager } from '../../../main/engine/derp/manager.js';
import { tlsDialer } from '../../../main/engine/derp/dial.js';
import type { DerpMap } from '../../../main/engine/derp/derp-map.js';
import { openNativeDataPlane } from '../../../main/engine/dataplane/native-data-plane.js';
import { PrivateKey, PublicKey } from '../../../main/engine/keys/keys.js';
import { MagicConn, magicPeerFromNode } from '../../../main/engine/magicsock/magic-conn.js';
import { addrKey } from '../../../main/engine/magicsock/addr.js';
import { NetMap } from '../../../main/engine/netmap/netmap.js';
import { parseMapResponse } from '../../../main/engine/netmap/tailcfg.js';
import { toTailscaleJSON } from '../../../main/engine/netcheck/report.js';
import { LineLogger } from '../../../main/engine/log/logger.js';
import { systemClock, systemRandom } from '../../../main/engine/ports/system.js';

interface Args { serverURL: string; authKey: string; hostname: string; port?: number; tun?: string }
const args = JSON.parse(process.argv[2]!) as Args;
const emit = (o: Record<string, unknown>): void => void process.stdout.write(JSON.stringify(o) + '\n');
const clock = systemClock;
const random = systemRandom;
const log = new LineLogger({ level: 'debug' });
const machine = PrivateKey.generate('machine', random);
const node = PrivateKey.generate('node', random);
const disco = PrivateKey.generate('disco', random);
const client = new ControlClient({ serverURL: args.serverURL, machineKey: machine, logger: log, clock, random });
const hostinfo: Hostinfo = { Hostname: args.hostname, OS: 'linux', IPNVersion: 'meshtray-e2e' } as Hostinfo;
const tun = args.tun ?? 'mt0';

const reg = await client.register({ NodeKey: node.public.toString(), Auth: { AuthKey: args.authKey }, Hostinfo: hostinfo });
if (!reg.MachineAuthorized) throw new Error('not authorized');

const netmap = new NetMap({ clock });
let firstMap!: () => void;
const gotFirstMap = new Promise<void>((r) => (firstMap = r));
let onMap: () => void = () => {};
const stop = new AbortController();
const mapReq = (): MapRequest => ({ NodeKey: node.public.toString(), DiscoKey: disco.public.toString(), Hostinfo: hostinfo });
netmap.startStream();
void client.mapStream(mapReq(), (raw) => {
  const p = parseMapResponse(raw);
  if (!p.ok) return emit({ event: 'error', where: 'map', error: p.reason });
  const ch = netmap.apply(p.value);
  if (ch.keepAlive) return;
  if (netmap.self && netmap.derpMap) firstMap();
  onMap();
}, { signal: stop.signal }).catch((e: unknown) => { if (!stop.signal.aborted) emit({ event: 'error', where: 'map', error: String(e) }); });
await gotFirstMap;

const addresses = [...(netmap.self!.Addresses ?? [])];
const dp = openNativeDataPlane({ tunName: tun, mtu: 1280, listenPort: args.port ?? 41641, privateKey: node.rawBytes(), addresses, fwmark: 0x80000 }, log);
for (const r of [['-4', '100.64.0.0/10'], ['-6', 'fd7a:115c:a1e0::/48']]) {
  spawnSync('ip', [r[0]!, 'route', 'replace', r[1]!, 'dev', tun], { stdio: 'ignore' });
}
const derp = new DerpManager({ nodeKey: node, clock, random, logger: log });
const conn = new MagicConn({ dataPlane: dp, derp, nodeKey: node.public, discoKey: disco, clock, random, logger: log, httpsFallback: tlsDialer(clock) });

// Endpoints and NetInfo go to control as a non-streaming MapRequest (magicsock → controlclient
// "endpoint update"; Headscale stores them and sends a PeersChanged to everyone).
let sending = Promise.resolve();
conn.onEndpointsChanged((eps, ni) => {
  hostinfo.NetInfo = { PreferredDERP: ni.PreferredDERP, ...(ni.WorkingUDP !== null ? { WorkingUDP: ni.WorkingUDP } : {}), ...(ni.MappingVariesByDestIP !== null ? { MappingVariesByDestIP: ni.MappingVariesByDestIP } : {}), DERPLatency: ni.DERPLatency } as never;
  const req: MapRequest = { ...mapReq(), Endpoints: eps.map((e) => addrKey(e.addr)), EndpointTypes: eps.map((e) => e.type) };
  sending = sending.then(() => client.mapUpdate(req)).then(
    () => emit({ event: 'endpoints', endpoints: req.Endpoints, home: ni.PreferredDERP, udp: ni.WorkingUDP, mapvary: ni.MappingVariesByDestIP }),
    (e: unknown) => emit({ event: 'error', where: 'mapUpdate', error: String(e) }),
  );
});

const applyMap = (): void => {
  if (netmap.derpMap) conn.setDerpMap(netmap.derpMap as DerpMap);
  conn.setPeers(netmap.peers().map((n) => magicPeerFromNode(n)));
};
onMap = applyMap;
applyMap();
conn.start();

const t0 = Date.now();
while ((derp.home === 0 || derp.client(derp.home)?.state !== 'connected') && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
await sending;
emit({ event: 'ready', pid: process.pid, home: derp.home, addresses, nodeKey: node.public.toString(), discoKey: disco.public.toString(), port: dp.port, endpoints: conn.endpoints().map((e) => addrKey(e.addr)) });

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  void (async () => {
    let c: { cmd: string; target?: string; timeoutMs?: number };
    try { c = JSON.parse(line) as typeof c; } catch { return emit({ event: 'error', where: 'stdin', error: `bad command ${line}` }); }
    try {
      switch (c.cmd) {
        case 'ping': {
          const peer = netmap.peerByIP(c.target!) ?? netmap.peerByName(c.target!);
          if (!peer) return emit({ event: 'ping', error: 'no matching peer' });
          const r = await conn.ping(PublicKey.parse('node', peer.Key), c.timeoutMs ?? 5000);
          return emit({ event: 'ping', target: c.target, result: r ?? null });
        }
        case 'metrics':
          return emit({ event: 'metrics', metrics: conn.metrics(), counters: dp.counters() });
        case 'peers':
          return emit({
            event: 'peers',
            peers: netmap.peers().map((p) => ({ name: p.Name, key: p.Key, ...conn.peerStatus(PublicKey.parse('node', p.Key)), debug: conn.peerDebug(PublicKey.parse('node', p.Key)) })),
            derp: derp.status(),
          });
        case 'netcheck': {
          await conn.refreshEndpoints('cli');
          const r = conn.lastReport;
          return emit({ event: 'netcheck', report: r ? toTailscaleJSON(r) : null });
        }
        default:
          return emit({ event: 'error', where: 'stdin', error: `unknown command ${c.cmd}` });
      }
    } catch (e) {
      emit({ event: 'error', where: c.cmd, error: String(e) });
    }
  })();
});
rl.on('close', async () => {
  stop.abort();
  conn.close();
  dp.close();
  client.close();
  await derp.close();
  process.exit(0);
});
