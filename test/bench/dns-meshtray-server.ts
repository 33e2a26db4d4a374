// Meshtray's MagicDNS resolver for bench:dns, inside a namespace where 100.100.100.100 is a local
// address: the netmap has the same names the tailscaled side has (a1, b1 under tailnet.test), and
// "." forwards to the namespace's upstream (127.0.0.1:53), as direct resolv.conf mode would.
import { buildDNSPlan } from '../../main/engine/dns/dns-config.js';
import { MagicDNSResolver } from '../../main/engine/dns/resolver.js';
import { MagicDNSServer } from '../../main/engine/dns/server.js';
import { nodeUpstream } from '../../main/engine/dns/upstream.js';
import { NetMap } from '../../main/engine/netmap/netmap.js';
import { parseMapResponse } from '../../main/engine/netmap/tailcfg.js';

const node = (id: number, name: string) => ({
  ID: id,
  StableID: String(id),
  Name: `${name}.tailnet.test.`,
  User: 1,
  Key: `nodekey:${id.toString(16).padStart(64, '0')}`,
  Machine: `mkey:${id.toString(16).padStart(64, '0')}`,
  DiscoKey: `discokey:${(id + 1).toString(16).padStart(64, '0')}`,
  Addresses: [`100.64.0.${id}/32`, `fd7a:115c:a1e0::${id}/128`],
  AllowedIPs: [`100.64.0.${id}/32`, `fd7a:115c:a1e0::${id}/128`],
  HomeDERP: 900,
  Hostinfo: { Hostname: name },
  MachineAuthorized: true,
});
const parsed = parseMapResponse({
  Node: node(1, 'a1'),
  Peers: [node(2, 'b1')],
  // what Headscale's lab config sends (test/lab/headscale-config.ts)
  DNSConfig: { Proxied: true, Domains: ['tailnet.test'], ExtraRecords: [{ Name: 'svc.tailnet.test', Type: 'A', Value: '100.64.0.50' }] },
});
if (!parsed.ok) throw new Error(parsed.reason);
const nm = new NetMap({ clock: { now: () => Date.now(), setTimeout: () => ({ cancel() {} }) } });
nm.apply(parsed.value);
const plan = buildDNSPlan({
  self: nm.self,
  peers: nm.peers(),
  dns: nm.dnsConfig,
  magicDNSSuffix: nm.magicDNSSuffix,
  corpDNS: true,
  exitNodeSelected: false,
  base: { nameservers: ['127.0.0.1'], searchDomains: [] },
});
const r = new MagicDNSResolver({ upstream: nodeUpstream });
r.setConfig(plan.resolver);
const srv = new MagicDNSServer(r);
await srv.listen(['100.100.100.100'], 53);
process.stdout.write('ready\n');
