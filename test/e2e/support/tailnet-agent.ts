// The agent side shared by the lab agents that act as a minimal Meshtray node next to real
// tailscaled peers (test/e2e/derp/disco-agent.ts, test/e2e/dataplane/tailscaled-agent.ts): fresh
// machine/node/disco keys, registration with a pre-auth key through Meshtray's control client, the
// map stream kept open (self, DERP map, peers), and small helpers on top.
import { ControlClient } from '../../../main/engine/control/client.js';
import type { DerpManager } from '../../../main/engine/derp/manager.js';
import type { DerpMap } from '../../../main/engine/derp/derp-map.js';
import { DiscoCodec } from '../../../main/engine/disco/packet.js';
import { PrivateKey } from '../../../main/engine/keys/keys.js';
import type { Random } from '../../../main/engine/ports/ports.js';
import type { RecordingLogger } from '../../unit/engine/derp/helpers.js';
import { logger, realClock, systemRandomForTests } from '../derp/support.js';
import { emit } from './agent-io.js';

export interface JoinArgs { serverURL: string; authKey: string; hostname: string }

/** The peer fields the agents read from MapResponse.Peers / PeersChanged. */
export interface PeerNode {
  Key: string;
  DiscoKey?: string;
  HomeDERP?: number;
  DERP?: string;
  Name?: string;
  Addresses?: string[];
  AllowedIPs?: string[] | null;
  Endpoints?: string[] | null;
  Hostinfo?: { Hostname?: string };
}

/** One JSON event line on stdout (what NsAgent reads); the framing lives in agent-io.ts. */
export { emit };

/** The peer's home DERP region: HomeDERP, or the legacy "127.3.3.40:<region>" DERP field; undefined if neither. */
export function peerHome(p: PeerNode | undefined): number | undefined {
  return p ? p.HomeDERP || Number(/^127\.3\.3\.40:(\d+)$/.exec(p.DERP ?? '')?.[1] ?? 0) || undefined : undefined;
}

export interface TailnetNode {
  random: Random;
  log: RecordingLogger;
  node: PrivateKey<'node'>;
  codec: DiscoCodec;
  client: ControlClient;
  /** Mutable: set NetInfo etc., then send it with client.mapUpdate({ ...mapReq, Hostinfo }). */
  hostinfo: Record<string, unknown>;
  mapReq: { NodeKey: string; DiscoKey: string; Hostinfo: never };
  derpMap: DerpMap;
  addresses: string[];
  /** Live: updated from every map message. */
  peers: Map<string, PeerNode>;
  /** Called after each map message that carried Peers or PeersChanged. */
  onPeers: () => void;
  /** True if `k` is the disco key of a known peer (DiscoCodec.open's filter). */
  knownDisco(k: { toString(): string }): boolean;
  /** Ends the map stream and the control connection. */
  close(): void;
}

/** Registers with the pre-auth key and waits for the first map that has our node and a DERP map. */
export async function joinTailnet(args: JoinArgs, logName: string): Promise<TailnetNode> {
  const random = systemRandomForTests();
  const log = logger(logName);
  const machine = PrivateKey.generate('machine', random);
  const node = PrivateKey.generate('node', random);
  const disco = PrivateKey.generate('disco', random);
  const client = new ControlClient({ serverURL: args.serverURL, machineKey: machine, logger: log, clock: realClock, random });
  const hostinfo: Record<string, unknown> = { Hostname: args.hostname, OS: 'linux', IPNVersion: '0.1.0-meshtray-e2e' };

  const reg = await client.register({ NodeKey: node.public.toString(), Auth: { AuthKey: args.authKey }, Hostinfo: hostinfo as never });
  if (!reg.MachineAuthorized) throw new Error('not authorized');

  let derpMap: DerpMap | undefined;
  let self: { Addresses?: string[] } | undefined;
  const peers = new Map<string, PeerNode>();
  let firstMap!: () => void;
  const gotFirstMap = new Promise<void>((r) => (firstMap = r));
  const stop = new AbortController();
  const mapReq = { NodeKey: node.public.toString(), DiscoKey: disco.public.toString(), Hostinfo: hostinfo as never };
  const t: Omit<TailnetNode, 'derpMap' | 'addresses'> = {
    random, log, node, codec: new DiscoCodec(disco, random), client, hostinfo, mapReq, peers,
    onPeers: () => {},
    knownDisco: (k) => [...peers.values()].some((p) => p.DiscoKey === k.toString()),
    close: () => {
      stop.abort();
      client.close();
    },
  };
  void client.mapStream(mapReq, (m) => {
    const msg = m as { Node?: { Addresses?: string[] }; DERPMap?: DerpMap; Peers?: PeerNode[]; PeersChanged?: PeerNode[] };
    if (msg.Node) self = msg.Node;
    if (msg.DERPMap) derpMap = msg.DERPMap;
    for (const p of [...(msg.Peers ?? []), ...(msg.PeersChanged ?? [])]) peers.set(p.Key, p);
    if (msg.Peers || msg.PeersChanged) t.onPeers();
    if (self && derpMap) firstMap();
  }, { signal: stop.signal }).catch((e: unknown) => { if (!stop.signal.aborted) emit({ event: 'error', where: 'map', error: String(e) }); });
  await gotFirstMap;
  return Object.assign(t, { derpMap: derpMap!, addresses: self?.Addresses ?? [] });
}

/** Waits (up to `ms`) until the DERP client of region `home` is connected. */
export async function waitDerpConnected(derp: DerpManager, home: number, ms = 15_000): Promise<void> {
  const t0 = Date.now();
  while (derp.client(home)?.state !== 'connected' && Date.now() - t0 < ms) await new Promise((r) => setTimeout(r, 50));
}
