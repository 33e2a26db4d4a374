// The engine's view of the data plane: a port implemented by the native addon (native/) and, in
// tests, by doubles. WireGuard on the direct path stays inside the implementation; the engine
// sees only what it must decide on (disco, STUN, DERP traffic) and counters.
// See shared/spec/dependencies.md §5 "Keeping direct UDP in native code".
import { z } from 'zod';
import type { PublicKey } from '../keys/keys.js';

export interface DataPlaneOptions {
  /** Interface name to create, e.g. "meshtray0". */
  tunName: string;
  /** TUN MTU; Tailscale uses 1280 (net/tstun/mtu.go `safeTUNMTU`). */
  mtu: number;
  /** UDP port shared by WireGuard, disco and STUN; 0 = any. */
  listenPort: number;
  /** The node private key's raw 32 bytes (node key = WireGuard static key). */
  privateKey: Uint8Array;
  /** CIDRs for the TUN, at most one IPv4 (e.g. ["100.64.0.1/32", "fd7a:115c:a1e0::1/128"]). */
  addresses?: string[];
  /** Datagrams above this size are dropped as oversized (default 9216). */
  maxDatagram?: number;
  /** Destinations whose TUN packets go to onIntercept instead of a peer, e.g. quad-100 for
   * MagicDNS (tailscale net/tstun/wrap.go intercepts 100.100.100.100 the same way). */
  intercept?: string[];
  /** Linux: SO_MARK on the shared socket so policy rules keep it out of the tunnel
   * (Tailscale's bypass mark is 0x80000, shared/spec/os-integration.md §1.4). */
  fwmark?: number;
  /** Linux: SO_BINDTODEVICE, the fallback when marks are unavailable. */
  bindDevice?: string;
  /** Linux TUN offloads (default true; off by itself if the kernel refuses). */
  offload?: boolean;
  /** Linux: a TUN descriptor opened by the privileged helper (issue 7), adopted instead of creating
   * a device: `tunName` is then only a label (the real name is read back), no MTU/addresses are set.
   * The data plane owns it from the constructor call on (closed by close(), or at once on failure). */
  tunFd?: number;
  /** Linux: a bound UDP socket from the helper (dual-stack or IPv4, SO_MARK already set), adopted
   * instead of binding: `listenPort`, `fwmark` and `bindDevice` are ignored; `port` is its real port. */
  udpFd?: number;
  /** Whether `tunFd` has IFF_VNET_HDR offloads; true is refused (the helper opens without them). */
  tunOffload?: boolean;
}

export interface PeerConfig {
  publicKey: PublicKey<'node'>;
  /** Prefixes routed to this peer and accepted from it (cryptokey routing). */
  allowedIps: string[];
  /** Current direct path "ip:port" / "[ipv6]:port", or null when there is none. */
  endpoint: string | null;
  /** Send this peer's WireGuard packets through onDerpSend (in addition to a direct endpoint, if set). */
  useDerp: boolean;
  /** WireGuard persistent keep-alive seconds; Tailscale never sets it (dataplane.md §5). */
  keepalive?: number;
}

export interface PathCounters { rxPackets: number; rxBytes: number; txPackets: number; txBytes: number }

export const DropReasons = [
  'garbage', 'truncated', 'oversized', 'unknownPeer', 'decrypt', 'replay', 'noSession',
  'disallowedSource', 'noRoute', 'noPath', 'invalidIpPacket', 'jsQueueFull', 'noHandler',
  'sendError', 'tunWriteError', 'internalError',
] as const;
export type DropReason = (typeof DropReasons)[number];

export interface DataPlaneCounters {
  direct: PathCounters;
  derp: PathCounters;
  tun: PathCounters;
  /** Packets that crossed from native code into JavaScript, by kind. */
  toJs: { disco: number; stun: number; derpSend: number; peerAddr: number; intercept: number; total: number };
  /** Datagrams the engine sent out of the shared socket (disco, STUN). */
  udpSendFromJs: number;
  /** IP packets the engine wrote into the TUN. */
  tunFromJs: number;
  drops: Record<DropReason, number>;
}

export interface PeerStats {
  publicKey: PublicKey<'node'>;
  endpoint: string | null;
  useDerp: boolean;
  /** Milliseconds since the last completed WireGuard handshake, null if none yet. */
  lastHandshakeMs: number | null;
  txBytes: number;
  rxBytes: number;
  /** Where the last direct WireGuard packet from this peer came from. */
  lastRxAddr: string | null;
}

export interface DataPlane {
  /** The UDP port actually bound. */
  readonly port: number;
  readonly tunName: string;
  /** Whether the TUN runs with Linux offloads (GSO super-packets read in one go). */
  readonly offload: boolean;
  /** Replaces the peer set; peers whose key stays keep their WireGuard sessions. */
  setPeers(peers: readonly PeerConfig[]): void;
  /** A WireGuard packet that arrived over DERP from `src`. */
  injectFromDerp(src: PublicKey<'node'>, bytes: Uint8Array): void;
  /** Sends disco or STUN bytes out of the shared WireGuard socket. */
  sendUdp(addr: string, bytes: Uint8Array): void;
  onDerpSend(cb: (dst: PublicKey<'node'>, bytes: Uint8Array) => void): void;
  onDisco(cb: (srcAddr: string, bytes: Uint8Array) => void): void;
  onStun(cb: (srcAddr: string, bytes: Uint8Array) => void): void;
  /** A peer's WireGuard packets now come from `addr` (fires on change only). */
  onPeerAddr(cb: (peer: PublicKey<'node'>, addr: string) => void): void;
  /** An IP packet from the TUN to an intercepted destination. */
  onIntercept(cb: (packet: Uint8Array) => void): void;
  /** Writes an IP packet into the TUN (e.g. a MagicDNS answer). */
  writeToTun(packet: Uint8Array): void;
  counters(): DataPlaneCounters;
  peerStats(): PeerStats[];
  close(): void;
}

/** The addon's flat counter object (native/src/counters.rs, camelCased). */
export const RawCountersSchema = z.record(z.string(), z.number().nonnegative());

export function groupCounters(raw: Record<string, number>): DataPlaneCounters {
  const n = (k: string): number => raw[k] ?? 0;
  const path = (p: string): PathCounters => ({
    rxPackets: n(`${p}RxPackets`), rxBytes: n(`${p}RxBytes`), txPackets: n(`${p}TxPackets`), txBytes: n(`${p}TxBytes`),
  });
  const drops = Object.fromEntries(
    DropReasons.map((r) => [r, n('drop' + r[0]!.toUpperCase() + r.slice(1))]),
  ) as Record<DropReason, number>;
  const disco = n('jsDisco'), stun = n('jsStun'), derpSend = n('jsDerpSend'), peerAddr = n('jsPeerAddr'), intercept = n('jsIntercept');
  return {
    direct: path('direct'), derp: path('derp'), tun: path('tun'),
    toJs: { disco, stun, derpSend, peerAddr, intercept, total: disco + stun + derpSend + peerAddr + intercept },
    udpSendFromJs: n('udpSendFromJs'),
    tunFromJs: n('tunFromJs'),
    drops,
  };
}
