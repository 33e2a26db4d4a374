// Our own endpoints as sent to control in MapRequest.Endpoints/EndpointTypes (tailscale
// wgengine/magicsock/magicsock.go `determineEndpoints`, tailcfg.EndpointType; dataplane.md §2.4):
// the router's port mapping (UPnP/NAT-PMP/PCP, main/engine/portmapper) first, then STUN-learned
// public addresses, then (hard NAT) public IP with our local port, then every local interface
// address with the bound port.
import { isIP } from 'node:net';
import type { NetcheckReport } from '../netcheck/report.js';
import { addrKey, isLinkLocalUnicast, isLoopback, isTailscaleRange, type IpPort } from './addr.js';

/** tailcfg.EndpointType values. */
export const EndpointType = { Unknown: 0, Local: 1, STUN: 2, Portmapped: 3, STUN4LocalPort: 4, ExplicitConf: 5 } as const;

export interface LocalEndpoint {
  addr: IpPort;
  type: number;
}

/** Non-loopback, non-link-local, non-Tailscale addresses of this host (os.networkInterfaces shape). */
export function interfaceAddresses(ifaces: Record<string, { address: string; internal: boolean; family: string | number }[] | undefined>, skipIface?: string): string[] {
  const out: string[] = [];
  for (const [name, list] of Object.entries(ifaces)) {
    if (name === skipIface) continue;
    for (const a of list ?? []) {
      const ip = a.address.split('%')[0]!;
      if (a.internal || !isIP(ip) || isLoopback(ip) || isLinkLocalUnicast(ip) || isTailscaleRange(ip)) continue;
      out.push(ip);
    }
  }
  return out;
}

export function determineEndpoints(report: NetcheckReport | undefined, localIps: readonly string[], port: number, portmapped?: IpPort): LocalEndpoint[] {
  const out: LocalEndpoint[] = [];
  const seen = new Set<string>();
  const add = (addr: IpPort, type: number): void => {
    const k = addrKey(addr);
    if (seen.has(k) || addr.port === 0) return;
    seen.add(k);
    out.push({ addr, type });
  };
  // The mapped address is the one that works behind a hard NAT, so it goes first (as tailscale's).
  if (portmapped) add(portmapped, EndpointType.Portmapped);
  if (report) {
    if (report.globalV4) add(report.globalV4, EndpointType.STUN);
    if (report.globalV6) add(report.globalV6, EndpointType.STUN);
    // Other public addresses seen more than once (several NAT mappings).
    for (const counters of [report.globalV4Counters, report.globalV6Counters]) {
      for (const [k, n] of counters) {
        if (n < 2) continue;
        const m = /^(?:\[(.+)\]|([^:]+)):(\d+)$/.exec(k);
        if (m) add({ ip: m[1] ?? m[2]!, port: Number(m[3]) }, EndpointType.STUN);
      }
    }
    // Hard NAT: the public IP with our local port is worth a try (some NATs preserve ports).
    if (report.mappingVariesByDestIP === true && report.globalV4 && port !== 0) {
      add({ ip: report.globalV4.ip, port }, EndpointType.STUN4LocalPort);
    }
  }
  for (const ip of localIps) add({ ip, port }, EndpointType.Local);
  return out;
}
