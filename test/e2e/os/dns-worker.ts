// Inside a namespace: small upstream resolvers (the "OS's" resolver, a split-DNS resolver, one that
// never answers), the MagicDNS resolver on 100.100.100.100 / fd7a:115c:a1e0::53, and the direct
// resolv.conf manager pointing the namespace's resolver at it. argv[2] = backup path.
// SIGTERM = a clean stop (restore); SIGKILL = a crash (the test repairs afterwards).
import { createSocket, type Socket } from 'node:dgram';
import { buildDNSPlan } from '../../../main/engine/dns/dns-config.js';
import { DirectResolvConf } from '../../../main/engine/dns/resolv-conf.js';
import { nodeResolvFS } from '../../../main/engine/dns/node-resolv-fs.js';
import { MagicDNSResolver } from '../../../main/engine/dns/resolver.js';
import { MagicDNSServer } from '../../../main/engine/dns/server.js';
import { nodeUpstream } from '../../../main/engine/dns/upstream.js';
import { newNetMap, parse, rawFull, rawNode } from '../../unit/engine/netmap/helpers.js';
import { fixedAAnswer } from '../support/dns-answer.js';
import { serveWorker } from './support.js';

/** A tiny authoritative upstream on ip:53: every A query gets `answer` (undefined: never answers). */
function upstream(ip: string, answer: string | undefined): Promise<Socket> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.on('message', (m, ri) => {
      const r = answer ? fixedAAnswer(m, answer) : undefined;
      if (r) s.send(r, ri.port, ri.address);
    });
    s.bind(53, ip, () => resolve(s));
  });
}

const sockets = [await upstream('10.53.0.1', '203.0.113.10'), await upstream('10.53.0.2', '10.1.2.3'), await upstream('10.53.0.3', undefined)];

const nm = newNetMap();
nm.apply(
  parse(
    rawFull([], {
      Peers: [rawNode(2, { name: 'laptop' }), rawNode(3, { name: 'server' })],
      DNSConfig: {
        Proxied: true,
        Domains: ['tail.example'],
        Routes: { 'corp.example': [{ Addr: '10.53.0.2' }], 'slow.example': [{ Addr: '10.53.0.3' }] },
        ExtraRecords: [{ Name: 'grafana.tail.example', Type: 'A', Value: '100.64.0.50' }],
      },
    }),
  ),
);
const os = new DirectResolvConf({ fs: nodeResolvFS, backupPath: process.argv[2]! });
const plan = buildDNSPlan({
  self: nm.self,
  peers: nm.peers(),
  dns: nm.dnsConfig,
  magicDNSSuffix: nm.magicDNSSuffix,
  corpDNS: true,
  exitNodeSelected: false,
  base: await os.baseConfig(),
});
const resolver = new MagicDNSResolver({ upstream: nodeUpstream, forwardTimeoutMs: 1500 });
resolver.setConfig(plan.resolver);
const server = new MagicDNSServer(resolver);
await server.listen(['100.100.100.100', 'fd7a:115c:a1e0::53'], 53);
await os.set(plan.os);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await os.restore();
  await server.close();
  for (const s of sockets) s.close();
}
process.on('SIGTERM', () => void stop().then(() => process.exit(0)));
serveWorker({
  stats: () => resolver.stats(),
  os: () => plan.os,
  stop: async () => {
    await stop();
    return true;
  },
});
