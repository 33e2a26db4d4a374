// What the backend needs from the data path (main/engine/magicsock/data-path.ts), as a port so the
// backend's unit tests run without TUN or sockets. Created once per logged-in node key when the first
// netmap arrives; closed on down/logout/shutdown (tailscale: LocalBackend ↔ wgengine.Engine).
import type { PrivateKey } from '../keys/keys.js';
import type { NetcheckReport } from '../netcheck/report.js';
import type { NetMap, NetNode } from '../netmap/netmap.js';
import type { PeerExtras } from '../netmap/status.js';
import type { PingResult } from '../../../common/contract/api.js';
import type { NetInfoFacts } from './hostinfo.js';

/** The LocalAPI ping answer: one type, from the contract (common/contract/api.ts PingResultSchema). */
export type DataPathPing = PingResult;

export interface DataPathPort {
  update(netmap: NetMap): void;
  /** MapRequest.Endpoints / EndpointTypes. */
  endpointFields(): { Endpoints: string[]; EndpointTypes: number[] };
  /** The parts of Hostinfo.NetInfo the data path knows. */
  netInfo(): NetInfoFacts;
  onEndpointsChanged(cb: () => void): () => void;
  ping(target: string, timeoutMs: number): Promise<DataPathPing>;
  peerExtras(n: NetNode): PeerExtras;
  selfExtras(): { Addrs?: string[]; Relay?: string };
  metrics(): Record<string, number>;
  netcheck(): Promise<NetcheckReport | undefined>;
  close(): Promise<void>;
}

export type DataPathFactory = (o: { nodeKey: PrivateKey<'node'>; discoKey: PrivateKey<'disco'>; netmap: NetMap; routeAll: boolean }) => DataPathPort;
