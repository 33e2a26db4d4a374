// Optional fields must be omitted or undefined, not null (napi-rs Option<T> rejects null).
// Hand-written types of the napi-rs addon (src/lib.rs). Keep in sync with the #[napi] items there.

export interface NativeDataPlaneOptions {
  tunName: string;
  mtu: number;
  listenPort: number;
  /** 32-byte node private key (the WireGuard static key). */
  privateKey: Uint8Array;
  /** CIDRs to assign to the TUN: at most one IPv4, any number of IPv6. */
  addresses?: string[];
  /** Datagrams larger than this are dropped as oversized (default 9216). */
  maxDatagram?: number;
  /** Prefixes whose TUN packets go to onIntercept instead of a peer (MagicDNS quad-100). */
  intercept?: string[];
  /** Linux: SO_MARK on the shared socket (Tailscale's bypass mark: 0x80000). */
  fwmark?: number;
  /** Linux: SO_BINDTODEVICE fallback. */
  bindDevice?: string;
  /** Linux TUN offloads (default true; off by itself if the kernel refuses). */
  offload?: boolean;
}

export interface NativePeerOptions {
  publicKey: Uint8Array;
  allowedIps: string[];
  /** "ip:port" / "[ipv6]:port" of the direct path; omit (not null) for none. */
  endpoint?: string;
  /** Also (or only) send this peer's WireGuard packets out through onDerpSend. */
  useDerp: boolean;
  /** WireGuard persistent keep-alive in seconds; Tailscale uses none. */
  keepalive?: number;
}

export interface NativePeerStats {
  publicKey: Buffer;
  endpoint: string | null;
  useDerp: boolean;
  lastHandshakeMs: number | null;
  txBytes: number;
  rxBytes: number;
  lastRxAddr: string | null;
}

export declare class DataPlane {
  constructor(opts: NativeDataPlaneOptions);
  readonly port: number;
  readonly tunName: string;
  /** Whether the TUN runs with Linux offloads. */
  readonly offload: boolean;
  setPeers(peers: NativePeerOptions[]): void;
  injectFromDerp(srcNodeKey: Uint8Array, data: Uint8Array): void;
  sendUdp(addr: string, data: Uint8Array): void;
  onDisco(cb: (srcAddr: string, data: Buffer) => void): void;
  onStun(cb: (srcAddr: string, data: Buffer) => void): void;
  onDerpSend(cb: (dstNodeKey: Buffer, data: Buffer) => void): void;
  /** Fires when a peer's WireGuard packets start arriving from a new address (not per packet). */
  onPeerAddr(cb: (nodeKey: Buffer, addr: string) => void): void;
  onIntercept(cb: (packet: Buffer) => void): void;
  writeToTun(packet: Uint8Array): void;
  /** Flat camelCase counter names to values (see src/counters.rs). */
  counters(): Record<string, number>;
  peerStats(): NativePeerStats[];
  close(): void;
}

export interface NativeAddon {
  DataPlane: typeof DataPlane;
}

export declare const addonPath: string;
