// The MapRequest this node sends (control.md §7.1, §11.2): the streaming poll and the lite update
// (Stream:false, OmitPeers:true) carry the same keys, the full Hostinfo and our endpoints, so both
// are built here from what the backend and the data path know right now.
import { CURRENT_CAPABILITY_VERSION } from '../control/capver.js';
import type { Hostinfo, MapRequest } from '../control/messages.js';

export interface MapRequestInputs {
  /** `nodekey:…` of the logged-in node. */
  nodeKey: string;
  /** `discokey:…` of this process. */
  discoKey: string;
  hostinfo: Hostinfo;
  /** MapRequest.Endpoints / EndpointTypes from the data path, when one runs. */
  endpoints?: { Endpoints: string[]; EndpointTypes: number[] } | undefined;
  stream: boolean;
}

export function buildMapRequest(i: MapRequestInputs): MapRequest {
  const r: MapRequest = {
    Version: CURRENT_CAPABILITY_VERSION,
    Compress: 'zstd',
    KeepAlive: true,
    NodeKey: i.nodeKey,
    DiscoKey: i.discoKey,
    Stream: i.stream,
    Hostinfo: i.hostinfo,
  };
  if (i.endpoints) Object.assign(r, i.endpoints);
  // A lite update only tells control about us; the peers would be a wasted full netmap.
  if (!i.stream) r.OmitPeers = true;
  return r;
}
