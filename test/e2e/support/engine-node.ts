// The core shared by the lab agents that run a Meshtray node from the engine's real parts
// (test/e2e/magicsock/magicsock-agent.ts, test/e2e/os/os-agent.ts): fresh machine/node/disco keys,
// registration with a pre-auth key through the control client, the map stream into a NetMap, the
// native data plane, the DERP manager and MagicConn, and endpoint/NetInfo updates to control.
// Each agent adds only what it is about (plain tailnet routes, or the OS integration) through
// `start(apply)`.
import type { Hostinfo, MapRequest } from '../../../main/engine/control/messages.js';
import { ControlClient } from '../../../main/engine/control/client.js';
import { tlsDialer } from '../../../main/engine/derp/dial.js';
import type { DerpMap } from '../../../main/engine/derp/derp-map.js';
import { DerpManager } from '../../../main/engine/derp/manager.js';
import { openNativeDataPlane } from '../../../main/engine/dataplane/native-data-plane.js';
import { PrivateKey } from '../../../main/engine/keys/keys.js';
import { LineLogger } from '../../../main/engine/log/logger.js';
import { addrKey } from '../../../main/engine/magicsock/addr.js';
import { MagicConn } from '../../../main/engine/magicsock/magic-conn.js';
import { NetMap } from '../../../main/engine/netmap/netmap.js';
import { parseMapResponse } from '../../../main/engine/netmap/tailcfg.js';
import { systemClock, systemRandom } from '../../../main/engine/ports/system.js';
import { emit } from './agent-io.js';

/** What the test side puts in the agent's config (read with readAgentConfig). */
export interface EngineNodeArgs {
  serverURL: string;
  authKey: string;
  hostname: string;
  /** UDP port for WireGuard/disco (default 41641: each node has its own namespace) */
  port?: number;
  tun?: string;
}

export interface EngineNodeOptions {
  /** TUN name when args.tun is not given */
  defaultTun: string;
  logLevel: 'debug' | 'info';
  /** addresses the data plane hands up instead of routing (quad-100) */
  intercept?: string[];
}

export interface EngineNode {
  readonly log: LineLogger;
  readonly client: ControlClient;
  readonly netmap: NetMap;
  readonly dp: ReturnType<typeof openNativeDataPlane>;
  readonly derp: DerpManager;
  readonly conn: MagicConn;
  readonly tun: string;
  /** our tailnet addresses from the first map ("100.64.0.3/32", …) */
  readonly addresses: string[];
  readonly hostinfo: Hostinfo;
  /** map messages received so far (keep-alives included) */
  readonly mapMessages: number;
  /** A non-streaming MapRequest now (e.g. after Hostinfo.RoutableIPs changed), after any queued one. */
  sendMapUpdate(): Promise<void>;
  /**
   * Sets the DERP map and runs `apply` (peers into MagicConn, …) now and after every map message, starts MagicConn, and resolves once the home DERP
   * is connected and control has our endpoints: a peer can reach us from then on.
   */
  start(apply: () => Promise<void> | void): Promise<void>;
  /** Stops the map stream, MagicConn, the data plane and DERP. */
  close(): Promise<void>;
}

/** Registers with the pre-auth key, waits for the first map with our node and a DERP map, opens the data plane. */
export async function joinEngineNode(args: EngineNodeArgs, opts: EngineNodeOptions): Promise<EngineNode> {
  const clock = systemClock;
  const random = systemRandom;
  const log = new LineLogger({ level: opts.logLevel });
  const machine = PrivateKey.generate('machine', random);
  const node = PrivateKey.generate('node', random);
  const disco = PrivateKey.generate('disco', random);
  const client = new ControlClient({ serverURL: args.serverURL, machineKey: machine, logger: log, clock, random });
  const hostinfo = { Hostname: args.hostname, OS: 'linux', IPNVersion: 'meshtray-e2e' } as Hostinfo;
  const tun = args.tun ?? opts.defaultTun;

  const reg = await client.register({ NodeKey: node.public.toString(), Auth: { AuthKey: args.authKey }, Hostinfo: hostinfo });
  if (!reg.MachineAuthorized) throw new Error('not authorized');

  const netmap = new NetMap({ clock });
  let firstMap!: () => void;
  const gotFirstMap = new Promise<void>((r) => (firstMap = r));
  let onMap: () => void = () => {};
  let mapMessages = 0;
  const stop = new AbortController();
  const mapReq = (): MapRequest => ({ NodeKey: node.public.toString(), DiscoKey: disco.public.toString(), Hostinfo: hostinfo });
  netmap.startStream();
  void client
    .mapStream(mapReq(), (raw) => {
      const p = parseMapResponse(raw);
      if (!p.ok) return emit({ event: 'error', where: 'map', error: p.reason });
      const ch = netmap.apply(p.value);
      mapMessages++;
      if (ch.keepAlive) return;
      if (netmap.self && netmap.derpMap) firstMap();
      onMap();
    }, { signal: stop.signal })
    .catch((e: unknown) => {
      if (!stop.signal.aborted) emit({ event: 'error', where: 'map', error: String(e) });
    });
  await gotFirstMap;

  const addresses = [...(netmap.self!.Addresses ?? [])];
  const dp = openNativeDataPlane({ tunName: tun, mtu: 1280, listenPort: args.port ?? 41641, privateKey: node.rawBytes(), addresses, fwmark: 0x80000, ...(opts.intercept ? { intercept: opts.intercept } : {}) }, log);
  const derp = new DerpManager({ nodeKey: node, clock, random, logger: log });
  const conn = new MagicConn({ dataPlane: dp, derp, nodeKey: node.public, discoKey: disco, clock, random, logger: log, httpsFallback: tlsDialer(clock) });

  // MapRequests to control go one at a time, in order (Headscale applies them as they come).
  let sending = Promise.resolve();
  const queue = (req: MapRequest, then: () => void): Promise<void> => {
    const sent = sending.then(() => client.mapUpdate(req)).then(then);
    sending = sent.catch((e: unknown) => emit({ event: 'error', where: 'mapUpdate', error: String(e) }));
    return sent;
  };
  // Endpoints and NetInfo go to control as a non-streaming MapRequest (magicsock → controlclient
  // "endpoint update"; Headscale stores them and sends a PeersChanged to everyone).
  conn.onEndpointsChanged((eps, ni) => {
    hostinfo.NetInfo = {
      PreferredDERP: ni.PreferredDERP,
      ...(ni.WorkingUDP !== null ? { WorkingUDP: ni.WorkingUDP } : {}),
      ...(ni.MappingVariesByDestIP !== null ? { MappingVariesByDestIP: ni.MappingVariesByDestIP } : {}),
      DERPLatency: ni.DERPLatency,
    } as never;
    const req: MapRequest = { ...mapReq(), Endpoints: eps.map((e) => addrKey(e.addr)), EndpointTypes: eps.map((e) => e.type) };
    void queue(req, () => emit({ event: 'endpoints', endpoints: req.Endpoints, home: ni.PreferredDERP, udp: ni.WorkingUDP, mapvary: ni.MappingVariesByDestIP })).catch(() => {});
  });

  return {
    log, client, netmap, dp, derp, conn, tun, addresses, hostinfo,
    get mapMessages() {
      return mapMessages;
    },
    sendMapUpdate: () => queue(mapReq(), () => {}),
    async start(apply) {
      const applyNow = async (): Promise<void> => {
        if (netmap.derpMap) conn.setDerpMap(netmap.derpMap as DerpMap);
        await apply();
      };
      onMap = () => void applyNow().catch((e: unknown) => emit({ event: 'error', where: 'apply', error: String(e) }));
      await applyNow();
      conn.start();
      const t0 = Date.now();
      while ((derp.home === 0 || derp.client(derp.home)?.state !== 'connected') && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
      await sending;
    },
    async close() {
      stop.abort();
      conn.close();
      dp.close();
      client.close();
      await derp.close();
    },
  };
}
