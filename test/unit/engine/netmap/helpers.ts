// Hand-made tailcfg values shaped like what Headscale v0.29.2 sends (compare the recorded files in
// test/fixtures/netmap/headscale-v0.29.2), plus a fake clock.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeClock as SharedFakeClock } from '../../../doubles/fake-clock.js';
import { NetMap } from '../../../../main/engine/netmap/netmap.js';
import { parseMapResponse, type MapResponse } from '../../../../main/engine/netmap/tailcfg.js';

export function hex64(n: number, salt = 0): string {
  return ((n * 7919 + salt * 104729) >>> 0).toString(16).padStart(8, '0').repeat(8);
}
export const nodeKey = (id: number) => `nodekey:${hex64(id, 1)}`;
export const discoKey = (id: number, gen = 0) => `discokey:${hex64(id, 2 + gen)}`;
export const machineKey = (id: number) => `mkey:${hex64(id, 3)}`;

export function v4(id: number): string {
  return `100.64.${(id >> 8) & 255}.${id & 255}`;
}
export function v6(id: number): string {
  return `fd7a:115c:a1e0::${id.toString(16)}`;
}

/** A tailcfg.Node as JSON (raw, before validation). */
export function rawNode(id: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const name = (over['name'] as string | undefined) ?? `node${id}`;
  const { name: _n, ...rest } = over;
  return {
    ID: id,
    StableID: String(id),
    Name: `${name}.tail.example.`,
    User: 1,
    Key: nodeKey(id),
    Machine: machineKey(id),
    DiscoKey: discoKey(id),
    Addresses: [`${v4(id)}/32`, `${v6(id)}/128`],
    AllowedIPs: [`${v4(id)}/32`, `${v6(id)}/128`],
    Endpoints: [`192.0.2.${id & 255}:41641`, `[2001:db8::${id.toString(16)}]:41641`],
    HomeDERP: 900,
    Hostinfo: { OS: 'linux', Hostname: name, IPNVersion: '1.98.10' },
    Created: '2026-11-23T19:19:58.331035966Z',
    Cap: 138,
    Online: true,
    MachineAuthorized: true,
    ...rest,
  };
}

export const DERP_MAP = {
  Regions: {
    '900': {
      RegionID: 900,
      RegionCode: 'lab',
      RegionName: 'Lab DERP',
      Nodes: [{ Name: '900a', RegionID: 900, HostName: '127.0.0.1', IPv4: '127.0.0.1', STUNPort: -1, DERPPort: 3340 }],
    },
  },
};

export const ALLOW_ALL = [{ SrcIPs: ['*'], DstPorts: [{ IP: '*', Ports: { First: 0, Last: 65535 } }] }];

/** A first message of a stream, the way Headscale builds it (mapper.go fullMapResponse). */
export function rawFull(peerIDs: number[], over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Node: rawNode(1, { name: 'self' }),
    DERPMap: DERP_MAP,
    Peers: peerIDs.map((id) => rawNode(id)),
    DNSConfig: { Resolvers: [{ Addr: '1.1.1.1' }], Domains: ['tail.example'], Proxied: true, Routes: { 'corp.example': [{ Addr: '10.0.0.53' }] } },
    Domain: 'hs.example.com',
    CollectServices: false,
    PacketFilters: { base: ALLOW_ALL },
    UserProfiles: [
      { ID: 1, LoginName: 'alice', DisplayName: 'Alice' },
      { ID: 2, LoginName: 'bob', DisplayName: 'Bob', ProfilePicURL: 'https://example.com/bob.png' },
      { ID: 3, LoginName: 'carol', DisplayName: 'Carol' },
    ],
    ControlTime: '2026-11-23T19:20:00.5Z',
    ...over,
  };
}

/** Validates like the backend does; a test failure if the message does not parse. */
export function parse(raw: unknown): MapResponse {
  const r = parseMapResponse(raw);
  if (!r.ok) throw new Error(`fixture does not parse: ${r.reason}`);
  return r.value;
}

/**
 * The shared manual clock (test/doubles/fake-clock.ts), started at the netmap fixtures' time; `ms`
 * jumps time without firing timers (for expiry checks).
 */
export class FakeClock extends SharedFakeClock {
  constructor(start = Date.parse('2026-11-23T20:00:00Z')) {
    super(start);
  }
  get ms(): number {
    return this.t;
  }
  set ms(v: number) {
    this.t = v;
  }
}

export function newNetMap(clock = new FakeClock()): NetMap {
  return new NetMap({ clock });
}

/** The repository root (works from test/… under tsx and from dist/test/… after the build). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'test', 'fixtures'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

export const RECORDED = () => join(repoRoot(), 'test', 'fixtures', 'netmap', 'headscale-v0.29.2');

/** The recorded MapResponses Headscale sent to one node, in send order, as decoded JSON. */
export function recordedMessages(nodeID: number): { file: string; raw: unknown }[] {
  const dir = join(RECORDED(), 'dump', String(nodeID));
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, raw: JSON.parse(readFileSync(join(dir, file), 'utf8')) as unknown }));
}
