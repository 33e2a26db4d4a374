// A Meshtray node for the issue-6 lab scenarios: the engine core shared with the magicsock agent
// (test/e2e/support/engine-node.ts: control client, NetMap, native data plane, DERP, MagicConn) plus
// everything OS-facing from this issue, wired the way meshtrayd should wire it: OSIntegration (route
// table → Linux router with the kernel ACL, MagicDNS config, resolv.conf), WireGuard AllowedIPs from
// the route table, quad-100 answered through the TUN intercept.
//
// Config: EngineNodeArgs + { stateDir, quad100? } as JSON in the environment (support/agent-config.ts).
// Commands (support/agent-io.ts framing): {"cmd":"set","prefs":{...},"exitNode":"name|ip|"},
// {"cmd":"why","dest":"…"}, {"cmd":"acl"}, {"cmd":"down"}. stdin EOF = down and exit.
import { join } from 'node:path';
import { defaultPrefs, type Prefs } from '../../../common/schemas/prefs.js';
import { Quad100Intercept } from '../../../main/engine/dns/intercept.js';
import { nodeResolvFS } from '../../../main/engine/dns/node-resolv-fs.js';
import { DirectResolvConf } from '../../../main/engine/dns/resolv-conf.js';
import { MagicDNSResolver } from '../../../main/engine/dns/resolver.js';
import { nodeUpstream } from '../../../main/engine/dns/upstream.js';
import { PublicKey } from '../../../main/engine/keys/keys.js';
import { magicPeerFromNode } from '../../../main/engine/magicsock/magic-conn.js';
import { systemClock } from '../../../main/engine/ports/system.js';
import { LinuxRouter } from '../../../main/engine/router/linux.js';
import { fileRouterState, nodeCommandRunner } from '../../../main/engine/router/node-runner.js';
import { OSIntegration } from '../../../main/engine/router/os-integration.js';
import { linuxIPv6Available } from '../../../main/engine/router/index.js';
import { resolveExitNode } from '../../../main/engine/routes/route-table.js';
import { readAgentConfig } from '../support/agent-config.js';
import { emit, serveCommands } from '../support/agent-io.js';
import { joinEngineNode, type EngineNodeArgs } from '../support/engine-node.js';

interface Args extends EngineNodeArgs { stateDir: string; quad100?: 'local' | 'intercept' }
const args = readAgentConfig<Args>();
const clock = systemClock;
const QUAD100 = ['100.100.100.100/32', 'fd7a:115c:a1e0::53/128'];
const n = await joinEngineNode(args, { defaultTun: 'meshtray0', logLevel: 'info', intercept: QUAD100 });
const { netmap, conn, dp, log, hostinfo } = n;
const tun = n.tun;

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
      for (const d of r?.Nodes ?? []) for (const ip of [d.IPv4, d.IPv6, d.HostName]) if (ip && ip !== 'none') ips.push(ip);
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
  const allowed = a?.table.peerAllowedIPs;
  conn.setPeers(netmap.peers().map((p) => ({ ...magicPeerFromNode(p), allowedIps: allowed?.get(p.ID) ?? [] })));
};
// One apply at a time, in order: a map message and a `set` must not interleave their OS changes.
let applying = Promise.resolve();
const scheduleApply = (): Promise<void> => {
  applying = applying.then(applyAll).catch((e: unknown) => emit({ event: 'error', where: 'apply', error: String(e) }));
  return applying;
};
await n.start(scheduleApply);
emit({ event: 'ready', pid: process.pid, addresses: n.addresses });

async function down(): Promise<void> {
  await applying;
  await osi.down();
}

serveCommands(
  {
    async set(c) {
      const next: Prefs = { ...prefs, ...((c['prefs'] as Partial<Prefs> | undefined) ?? {}) };
      const exitNode = c['exitNode'] as string | undefined;
      if (exitNode !== undefined) {
        // `set --exit-node=<name|ip>`: resolved to a stable ID, with clear errors; "" clears.
        next.ExitNodeID = exitNode === '' ? '' : resolveExitNode(netmap, exitNode).StableID ?? '';
        next.ExitNodeIP = '';
      }
      prefs = next;
      await scheduleApply();
      const t = osi.table!;
      // --advertise-routes / --advertise-exit-node: Hostinfo.RoutableIPs, sent to control.
      if (JSON.stringify(hostinfo.RoutableIPs ?? []) !== JSON.stringify(t.advertise.routes)) {
        hostinfo.RoutableIPs = [...t.advertise.routes];
        await n.sendMapUpdate();
      }
      return { event: 'set', routes: t.routes.map((r) => r.prefix), localRoutes: t.localRoutes, exitNode: t.exitNode ?? null, warnings: t.warnings.map((w) => w.message) };
    },
    async why(c) {
      const a = osi.why(String(c['dest']), (p) => {
        const st = conn.peerStatus(PublicKey.parse('node', p.Key));
        if (st.CurAddr) return { kind: 'direct', endpoint: st.CurAddr };
        return { kind: 'relayed', derpRegion: netmap.derpRegionCode(p.HomeDERP) || String(p.HomeDERP) };
      });
      return { event: 'why', answer: a ?? null };
    },
    async acl() {
      return { event: 'acl', drops: await router.aclDrops(), dns: resolver.stats(), intercept: intercept.counters, mapMessages: n.mapMessages };
    },
    async down() {
      await down();
      return { event: 'down' };
    },
  },
  async () => {
    await down().catch((e: unknown) => emit({ event: 'error', where: 'down', error: String(e) }));
    await n.close();
  },
);
