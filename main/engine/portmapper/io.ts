// What the port mapper needs from the outside world, injected so the protocol logic runs in unit
// tests against scripted gateways on a fake clock (system.ts has the real ones).

export interface PortmapAddr {
  ip: string;
  port: number;
}

/** One UDP socket on an ephemeral port (tailscale listens on ":0" for every probe/map exchange). */
export interface PortmapUdp {
  send(pkt: Uint8Array, ip: string, port: number): void;
  onMessage(cb: (pkt: Uint8Array, from: PortmapAddr) => void): void;
  close(): void;
}

export interface PortmapHttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export interface PortmapHttpResponse {
  status: number;
  body: string;
}

/** The default gateway and our address on its network (tailscale netmon.LikelyHomeRouterIP). */
export interface GatewayInfo {
  gateway: string;
  self: string;
}

export interface PortmapIO {
  openUdp(): Promise<PortmapUdp>;
  /** Rejects on network errors and timeouts; any HTTP status resolves. */
  http(req: PortmapHttpRequest): Promise<PortmapHttpResponse>;
  /** Undefined when there is no IPv4 default gateway on a private network (nothing to ask). */
  gateway(): GatewayInfo | undefined;
}
