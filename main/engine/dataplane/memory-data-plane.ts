// An in-memory DataPlane for engine tests that need no root, TUN or addon (the wireguard-go
// `conn/bindtest` + `tun/tuntest` idea): it records what the engine asks for and lets a test
// play the network side. Argument checks mirror the native addon's so engine code that passes
// here does not fail there.
import { isIP } from 'node:net';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { PublicKey } from '../keys/keys.js';
import { groupCounters, type DataPlane, type DataPlaneCounters, type PeerConfig, type PeerStats } from './data-plane.js';

export function validPrefix(p: string): boolean {
  const [addr, len, ...rest] = p.split('/');
  if (rest.length || !addr) return false;
  const fam = isIP(addr);
  if (!fam) return false;
  if (len === undefined) return true;
  if (!/^\d{1,3}$/.test(len)) return false;
  return Number(len) <= (fam === 4 ? 32 : 128);
}

export function validEndpoint(e: string): boolean {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(e);
  if (!m) return false;
  const host = m[1] ?? m[2] ?? '';
  const fam = isIP(host);
  return (m[1] ? fam === 6 : fam === 4) && Number(m[3]) <= 65535;
}

export class MemoryDataPlane implements DataPlane {
  readonly tunName: string;
  readonly offload = false;
  peers: PeerConfig[] = [];
  readonly sentUdp: { addr: string; bytes: Uint8Array }[] = [];
  readonly injected: { src: PublicKey<'node'>; bytes: Uint8Array }[] = [];
  readonly tunWrites: Uint8Array[] = [];
  closed = false;
  private raw: Record<string, number> = {};
  private discoCb: ((src: string, b: Uint8Array) => void) | undefined;
  private stunCb: ((src: string, b: Uint8Array) => void) | undefined;
  private derpCb: ((dst: PublicKey<'node'>, b: Uint8Array) => void) | undefined;
  private peerAddrCb: ((peer: PublicKey<'node'>, addr: string) => void) | undefined;
  private interceptCb: ((packet: Uint8Array) => void) | undefined;

  constructor(readonly port = 41641, tunName = 'memtun0') {
    this.tunName = tunName;
  }

  setPeers(peers: readonly PeerConfig[]): void {
    this.live();
    for (const p of peers) {
      for (const a of p.allowedIps) if (!validPrefix(a)) throw new MeshtrayError('ERR_BAD_REQUEST', `setting data-plane peers: invalid IP prefix "${a}"`);
      if (p.endpoint !== null && !validEndpoint(p.endpoint)) throw new MeshtrayError('ERR_BAD_REQUEST', `setting data-plane peers: invalid address "${p.endpoint}"`);
    }
    this.peers = [...peers];
  }

  injectFromDerp(src: PublicKey<'node'>, bytes: Uint8Array): void {
    this.live();
    if (!this.peers.some((p) => p.publicKey.equals(src))) this.bump('dropUnknownPeer');
    else { this.bump('derpRxPackets'); this.bump('derpRxBytes', bytes.length); }
    this.injected.push({ src, bytes: Uint8Array.from(bytes) });
  }

  sendUdp(addr: string, bytes: Uint8Array): void {
    this.live();
    if (!validEndpoint(addr)) throw new MeshtrayError('ERR_BAD_REQUEST', `sending UDP to ${addr}: invalid address`);
    this.bump('udpSendFromJs');
    this.sentUdp.push({ addr, bytes: Uint8Array.from(bytes) });
  }

  onDerpSend(cb: (dst: PublicKey<'node'>, bytes: Uint8Array) => void): void { this.derpCb = cb; }
  onDisco(cb: (srcAddr: string, bytes: Uint8Array) => void): void { this.discoCb = cb; }
  onStun(cb: (srcAddr: string, bytes: Uint8Array) => void): void { this.stunCb = cb; }

  onPeerAddr(cb: (peer: PublicKey<'node'>, addr: string) => void): void { this.peerAddrCb = cb; }
  onIntercept(cb: (packet: Uint8Array) => void): void { this.interceptCb = cb; }

  writeToTun(packet: Uint8Array): void {
    this.live();
    const v = packet[0] === undefined ? 0 : packet[0] >> 4;
    if (!((v === 4 && packet.length >= 20) || (v === 6 && packet.length >= 40))) {
      throw new MeshtrayError('ERR_BAD_REQUEST', 'writing to the TUN: writeToTun: not an IPv4/IPv6 packet');
    }
    this.bump('tunFromJs');
    this.tunWrites.push(Uint8Array.from(packet));
  }

  /** WireGuard proved that `peer` now sends from `addr`. */
  emitPeerAddr(peer: PublicKey<'node'>, addr: string): void {
    if (!this.peerAddrCb) return;
    this.bump('jsPeerAddr');
    this.peerAddrCb(peer, addr);
  }

  /** The TUN side: a packet to an intercepted destination (e.g. a DNS query to quad-100). */
  emitIntercept(packet: Uint8Array): void {
    if (!this.interceptCb) return this.bump('dropNoHandler');
    this.bump('jsIntercept');
    this.interceptCb(packet);
  }

  /** The network side: a disco datagram arrives on the shared socket. */
  receiveDisco(src: string, bytes: Uint8Array): void {
    if (!this.discoCb) return this.bump('dropNoHandler');
    this.bump('jsDisco');
    this.discoCb(src, bytes);
  }

  receiveStun(src: string, bytes: Uint8Array): void {
    if (!this.stunCb) return this.bump('dropNoHandler');
    this.bump('jsStun');
    this.stunCb(src, bytes);
  }

  /** The WireGuard side: an encrypted packet for `dst` must leave over DERP. */
  emitDerpSend(dst: PublicKey<'node'>, bytes: Uint8Array): void {
    const peer = this.peers.find((p) => p.publicKey.equals(dst));
    if (!peer?.useDerp) return this.bump('dropNoPath');
    if (!this.derpCb) return this.bump('dropNoHandler');
    this.bump('jsDerpSend'); this.bump('derpTxPackets'); this.bump('derpTxBytes', bytes.length);
    this.derpCb(dst, bytes);
  }

  counters(): DataPlaneCounters {
    return groupCounters(this.raw);
  }

  peerStats(): PeerStats[] {
    return this.peers.map((p) => ({
      publicKey: p.publicKey, endpoint: p.endpoint, useDerp: p.useDerp, lastHandshakeMs: null, txBytes: 0, rxBytes: 0, lastRxAddr: null,
    }));
  }

  close(): void { this.closed = true; }

  private live(): void {
    if (this.closed) throw new MeshtrayError('ERR_INTERNAL', 'data plane is closed');
  }

  private bump(k: string, n = 1): void {
    this.raw[k] = (this.raw[k] ?? 0) + n;
  }
}
