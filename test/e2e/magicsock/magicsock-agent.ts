// Runs inside a lab namespace as a Meshtray node built from the engine's real parts (the shared
// core in test/e2e/support/engine-node.ts: control client, NetMap, native data plane, DERP manager,
// MagicConn with netcheck from the shared socket, disco, path selection) plus plain tailnet routes
// on its TUN. Used by the magicsock e2e tests and the throughput bench.
//
// Config: EngineNodeArgs as JSON in the environment (support/agent-config.ts: the pre-auth key stays
// off the command line). Commands (support/agent-io.ts framing): {"cmd":"ping","target":"100.64.0.2",
// "timeoutMs":5000}, {"cmd":"metrics"}, {"cmd":"peers"}, {"cmd":"netcheck"}. stdin EOF exits.
import { spawnSync } from 'node:child_process';
import { PublicKey } from '../../../main/engine/keys/keys.js';
import { addrKey } from '../../../main/engine/magicsock/addr.js';
import { magicPeerFromNode } from '../../../main/engine/magicsock/magic-conn.js';
import { toTailscaleJSON } from '../../../main/engine/netcheck/report.js';
import { readAgentConfig } from '../support/agent-config.js';
import { emit, serveCommands } from '../support/agent-io.js';
import { joinEngineNode, type EngineNodeArgs } from '../support/engine-node.js';

const n = await joinEngineNode(readAgentConfig<EngineNodeArgs>(), { defaultTun: 'mt0', logLevel: 'debug' });
const { netmap, conn, dp, derp } = n;
// No OS integration here: the tailnet ranges straight onto the TUN is all the tests need.
for (const r of [['-4', '100.64.0.0/10'], ['-6', 'fd7a:115c:a1e0::/48']]) {
  spawnSync('ip', [r[0]!, 'route', 'replace', r[1]!, 'dev', n.tun], { stdio: 'ignore' });
}
await n.start(() => conn.setPeers(netmap.peers().map((p) => magicPeerFromNode(p))));
emit({ event: 'ready', pid: process.pid, home: derp.home, addresses: n.addresses, port: dp.port, endpoints: conn.endpoints().map((e) => addrKey(e.addr)) });

serveCommands(
  {
    async ping(c) {
      const target = String(c['target']);
      const peer = netmap.peerByIP(target) ?? netmap.peerByName(target);
      if (!peer) return { event: 'ping', error: 'no matching peer' };
      const r = await conn.ping(PublicKey.parse('node', peer.Key), Number(c['timeoutMs'] ?? 5000));
      return { event: 'ping', target, result: r ?? null };
    },
    async metrics() {
      return { event: 'metrics', metrics: conn.metrics(), counters: dp.counters() };
    },
    async peers() {
      return {
        event: 'peers',
        peers: netmap.peers().map((p) => ({ name: p.Name, key: p.Key, ...conn.peerStatus(PublicKey.parse('node', p.Key)), debug: conn.peerDebug(PublicKey.parse('node', p.Key)) })),
        derp: derp.status(),
      };
    },
    async netcheck() {
      await conn.refreshEndpoints('cli');
      const r = conn.lastReport;
      return { event: 'netcheck', report: r ? toTailscaleJSON(r) : null };
    },
  },
  () => n.close(),
);
