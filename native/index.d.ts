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
  /** Linux: adopt this TUN descriptor (e.g. from the privileged helper via helperExchange) instead
   *  of creating one; `tunName` is then only a label (the real name comes from TUNGETIFF) and no
   *  MTU/addresses are configured. Owned by the DataPlane from the constructor call on: closed by
   *  close(), or at once if the constructor throws. */
  tunFd?: number;
  /** Linux: adopt this bound UDP socket (dual-stack IPv6 or IPv4, as openUdpFd makes) instead of
   *  binding; `listenPort`, `fwmark`, `bindDevice` are ignored and `port` reports its real port.
   *  Owned like `tunFd`. */
  udpFd?: number;
  /** Whether `tunFd` was opened with IFF_VNET_HDR. `true` is refused: tun-rs cannot adopt an
   *  offload descriptor (open it with `offload: false`). */
  tunOffload?: boolean;
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

// Descriptor passing (issue 7: a root helper opens the TUN and the marked UDP socket and hands them
// to the unprivileged app). Linux only; elsewhere each throws an Error with code 'ENOTSUP'
// ("… is unsupported on <os>"). Errors carry the errno name in `err.code` (ENOENT, EACCES, …).

/** Root: creates (or opens) TUN `name`, MTU, addresses (CIDRs, ≤1 IPv4 + any IPv6), brings it up;
 *  returns a descriptor the CALLER owns (not closed by anything in the addon), with the name the
 *  kernel gave it. `offload` defaults to false (a DataPlane cannot adopt an offload descriptor). */
export declare function openTunFd(o: { name: string; mtu: number; addresses?: string[]; offload?: boolean }): { fd: number; name: string; offload: boolean };
/** A dual-stack (or v4-only fallback) UDP socket bound to `port` (0 = any), SO_MARK = fwmark when
 *  given (needs CAP_NET_ADMIN), buffers forced to 7 MiB where allowed, non-blocking, CLOEXEC; the
 *  caller owns the descriptor. */
export declare function openUdpFd(o: { port: number; fwmark?: number }): { fd: number; port: number };
/** sendmsg(2) `data` (non-empty) with SCM_RIGHTS `fds` on a connected unix stream socket
 *  descriptor (e.g. a Node net.Socket's `_handle.fd`); on EAGAIN it polls up to 5 s. The sender
 *  keeps its copies of `fds` (close them with closeFd when done). */
export declare function sendFds(socketFd: number, data: Uint8Array, fds: number[]): void;
/** Client side of one helper exchange, on a worker thread: connect to `socketPath`, write
 *  `requestLine`, read until the first "\n" collecting SCM_RIGHTS descriptors (CLOEXEC, now owned
 *  by the caller). `reply` is that first line WITHOUT its "\n". Rejects with err.code ETIMEDOUT /
 *  ECONNREFUSED / ENOENT / EACCES / ECONNRESET (closed before a full line) / EPROTO; descriptors
 *  received before a failure are closed. */
export declare function helperExchange(socketPath: string, requestLine: string, timeoutMs: number): Promise<{ reply: string; fds: number[] }>;
export declare function closeFd(fd: number): void;

export interface NativeAddon {
  DataPlane: typeof DataPlane;
  openTunFd: typeof openTunFd;
  openUdpFd: typeof openUdpFd;
  sendFds: typeof sendFds;
  helperExchange: typeof helperExchange;
  closeFd: typeof closeFd;
}

export declare const addonPath: string;
