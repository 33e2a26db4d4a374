// DataPlane backed by the native addon: converts typed keys to bytes, turns addon errors into
// MeshtrayError, and keeps a throwing engine callback from escaping into the addon's callback
// queue (where it would become an uncaught exception).
import { MeshtrayError } from '../../../common/errors/errors.js';
import { PublicKey } from '../keys/keys.js';
import type { Logger } from '../ports/ports.js';
import { groupCounters, RawCountersSchema, type DataPlane, type DataPlaneCounters, type DataPlaneOptions, type PeerConfig, type PeerStats } from './data-plane.js';
import { loadNativeDataPlane, type NativeDataPlaneHandle } from './native-loader.js';

function wrapError(what: string, e: unknown): MeshtrayError {
  if (MeshtrayError.is(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  // The addon reports argument problems with napi's InvalidArg status.
  const code = (e as { code?: string } | null)?.code === 'InvalidArg' ? 'ERR_BAD_REQUEST' : 'ERR_INTERNAL';
  return new MeshtrayError(code, `${what}: ${msg}`, undefined, { cause: e });
}

export function openNativeDataPlane(opts: DataPlaneOptions, logger?: Logger): DataPlane {
  const Ctor = loadNativeDataPlane();
  let h: NativeDataPlaneHandle;
  try {
    // napi-rs maps an absent optional to `undefined` only (null is a type error), so leave them out.
    h = new Ctor({
      tunName: opts.tunName, mtu: opts.mtu, listenPort: opts.listenPort, privateKey: opts.privateKey,
      ...(opts.addresses ? { addresses: opts.addresses } : {}),
      ...(opts.maxDatagram !== undefined ? { maxDatagram: opts.maxDatagram } : {}),
      ...(opts.intercept ? { intercept: opts.intercept } : {}),
      ...(opts.fwmark !== undefined ? { fwmark: opts.fwmark } : {}),
      ...(opts.bindDevice !== undefined ? { bindDevice: opts.bindDevice } : {}),
      ...(opts.offload !== undefined ? { offload: opts.offload } : {}),
      ...(opts.tunFd !== undefined ? { tunFd: opts.tunFd } : {}),
      ...(opts.udpFd !== undefined ? { udpFd: opts.udpFd } : {}),
      ...(opts.tunOffload !== undefined ? { tunOffload: opts.tunOffload } : {}),
    });
  } catch (e) {
    throw wrapError('opening the data plane', e);
  }
  return new NativeDataPlane(h, logger?.child('dataplane'));
}

class NativeDataPlane implements DataPlane {
  constructor(private readonly h: NativeDataPlaneHandle, private readonly log: Logger | undefined) {}

  get port(): number { return this.h.port; }
  get tunName(): string { return this.h.tunName; }
  get offload(): boolean { return this.h.offload; }

  setPeers(peers: readonly PeerConfig[]): void {
    try {
      this.h.setPeers(peers.map((p) => ({
        publicKey: p.publicKey.raw, allowedIps: [...p.allowedIps], useDerp: p.useDerp,
        ...(p.endpoint !== null ? { endpoint: p.endpoint } : {}),
        ...(p.keepalive !== undefined ? { keepalive: p.keepalive } : {}),
      })));
    } catch (e) {
      throw wrapError('setting data-plane peers', e);
    }
  }

  injectFromDerp(src: PublicKey<'node'>, bytes: Uint8Array): void {
    try { this.h.injectFromDerp(src.raw, bytes); } catch (e) { throw wrapError('injecting a DERP packet', e); }
  }

  sendUdp(addr: string, bytes: Uint8Array): void {
    try { this.h.sendUdp(addr, bytes); } catch (e) { throw wrapError(`sending UDP to ${addr}`, e); }
  }

  onDerpSend(cb: (dst: PublicKey<'node'>, bytes: Uint8Array) => void): void {
    this.h.onDerpSend((dst, data) => this.safely('onDerpSend', () => cb(PublicKey.fromRaw('node', dst), data)));
  }

  onDisco(cb: (srcAddr: string, bytes: Uint8Array) => void): void {
    this.h.onDisco((src, data) => this.safely('onDisco', () => cb(src, data)));
  }

  onStun(cb: (srcAddr: string, bytes: Uint8Array) => void): void {
    this.h.onStun((src, data) => this.safely('onStun', () => cb(src, data)));
  }

  onPeerAddr(cb: (peer: PublicKey<'node'>, addr: string) => void): void {
    this.h.onPeerAddr((key, addr) => this.safely('onPeerAddr', () => cb(PublicKey.fromRaw('node', key), addr)));
  }

  onIntercept(cb: (packet: Uint8Array) => void): void {
    this.h.onIntercept((packet) => this.safely('onIntercept', () => cb(packet)));
  }

  writeToTun(packet: Uint8Array): void {
    try { this.h.writeToTun(packet); } catch (e) { throw wrapError('writing to the TUN', e); }
  }

  counters(): DataPlaneCounters {
    return groupCounters(RawCountersSchema.parse(this.h.counters()));
  }

  peerStats(): PeerStats[] {
    try {
      return this.h.peerStats().map((p) => ({ ...p, publicKey: PublicKey.fromRaw('node', p.publicKey) }));
    } catch (e) {
      throw wrapError('reading peer stats', e);
    }
  }

  close(): void {
    this.h.close();
  }

  private safely(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      this.log?.error(`${what} handler threw`, { error: e instanceof Error ? e.message : String(e) });
    }
  }
}
