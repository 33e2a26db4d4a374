// Hand-made MapResponses shaped like Headscale v0.29.2's (control.md §7.5 "What Headscale emits"),
// for driving the backend through the FakeControl.
const hex = (n: number, w = 64): string => n.toString(16).padStart(w, '0');

export function nodeKeyFor(id: number): string {
  return 'nodekey:' + hex(0xa000 + id);
}

export interface NodeOpts {
  id: number;
  name: string;
  key?: string;
  ip4?: string;
  online?: boolean;
  user?: number;
  os?: string;
  keyExpiry?: string;
}

export function node(o: NodeOpts): Record<string, unknown> {
  const ip = o.ip4 ?? `100.64.0.${o.id}`;
  return {
    ID: o.id,
    StableID: String(o.id),
    Name: `${o.name}.tail.example.`,
    User: o.user ?? 1,
    Key: o.key ?? nodeKeyFor(o.id),
    KeyExpiry: o.keyExpiry ?? '0001-01-01T00:00:00Z',
    Machine: 'mkey:' + hex(0xb000 + o.id),
    DiscoKey: 'discokey:' + hex(0xc000 + o.id),
    Addresses: [`${ip}/32`, `fd7a:115c:a1e0::${o.id}/128`],
    AllowedIPs: [`${ip}/32`, `fd7a:115c:a1e0::${o.id}/128`],
    Endpoints: [`192.0.2.${o.id}:41641`],
    HomeDERP: 901,
    Hostinfo: { Hostname: o.name, OS: o.os ?? 'linux' },
    Created: '2026-11-23T10:00:00Z',
    Online: o.online ?? true,
    MachineAuthorized: true,
  };
}

export function fullMap(self: Record<string, unknown>, peers: Array<Record<string, unknown>>): Record<string, unknown> {
  return {
    Node: self,
    DERPMap: { Regions: { '901': { RegionID: 901, RegionCode: 'lab1', RegionName: 'Lab 1', Nodes: [] } } },
    Domain: 'hs.example',
    CollectServices: false,
    DNSConfig: { Proxied: true, Domains: ['tail.example'] },
    UserProfiles: [{ ID: 1, LoginName: 'alice@', DisplayName: 'alice' }],
    PacketFilters: { base: [] },
    Peers: peers,
    ControlTime: '2026-11-23T12:00:00Z',
  };
}

export const keepAlive = { KeepAlive: true };
