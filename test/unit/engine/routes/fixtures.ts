// A small tailnet for route tests: self (1), plain peers, a subnet router, an exit node, a peer
// announcing /0 without approval, an expired peer; built through the real NetMap.
import { defaultPrefs } from '../../../../common/schemas/prefs.js';
import type { RoutePrefs, LocalInterface } from '../../../../main/engine/routes/route-table.js';
import { newNetMap, parse, rawFull, rawNode, v4, v6 } from '../netmap/helpers.js';

export const EXIT_ID = 5;
export const SUBNET_ID = 3;

export function tailnet(extraPeers: Record<string, unknown>[] = []) {
  const nm = newNetMap();
  nm.apply(
    parse(
      rawFull([], {
        Peers: [
          rawNode(2, { name: 'laptop' }),
          rawNode(SUBNET_ID, { name: 'office', AllowedIPs: [`${v4(3)}/32`, `${v6(3)}/128`, '10.20.0.0/24'], PrimaryRoutes: ['10.20.0.0/24'] }),
          rawNode(4, { name: 'home', AllowedIPs: [`${v4(4)}/32`, `${v6(4)}/128`, '192.168.1.0/24'], PrimaryRoutes: ['192.168.1.0/24'] }),
          rawNode(EXIT_ID, { name: 'exit', AllowedIPs: ['0.0.0.0/0', `${v4(5)}/32`, '::/0', `${v6(5)}/128`] }),
          // announced an exit node but only the IPv4 /0 was approved: not a usable exit node
          rawNode(6, { name: 'halfexit', AllowedIPs: ['0.0.0.0/0', `${v4(6)}/32`, `${v6(6)}/128`] }),
          rawNode(7, { name: 'old', Expired: true }),
          ...extraPeers,
        ],
      }),
    ),
  );
  return nm;
}

export function prefs(over: Partial<RoutePrefs> = {}): RoutePrefs {
  const d = defaultPrefs();
  return {
    RouteAll: d.RouteAll,
    ExitNodeID: d.ExitNodeID,
    ExitNodeIP: d.ExitNodeIP,
    ExitNodeAllowLANAccess: d.ExitNodeAllowLANAccess,
    AdvertiseRoutes: d.AdvertiseRoutes,
    NoSNAT: d.NoSNAT,
    NoStatefulFiltering: d.NoStatefulFiltering,
    ...over,
  };
}

/** A laptop on a home LAN 192.168.1.0/24, with a docker bridge-like loopback-ish VM net. */
export const IFACES: LocalInterface[] = [
  { name: 'lo', loopback: true, addresses: ['127.0.0.1/8', '::1/128'] },
  { name: 'eth0', addresses: ['192.168.1.20/24', 'fe80::1/64', '2001:db8:1::20/64'] },
  { name: 'meshtray0', addresses: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'] },
];
