// The backend's DataPathFactory is synchronous, but in the desktop app the TUN comes from the
// privileged helper (an exchange over its socket, so a Promise). This port stands in for the data
// path from the moment the backend asks for it: it answers "nothing yet" (no endpoints, no DERP
// home) until the real one is built, then hands it the latest netmap and forwards everything.
// If building fails, `ready` rejects and the failure is reported once through onFailed.
import type { DataPathPing, DataPathPort } from '../../engine/backend/data-path-port.js';
import type { NetcheckReport } from '../../engine/netcheck/report.js';
import type { NetMap, NetNode } from '../../engine/netmap/netmap.js';
import type { PeerExtras } from '../../engine/netmap/status.js';

export class DeferredDataPath implements DataPathPort {
  readonly ready: Promise<void>;
  private path: DataPathPort | undefined;
  private failure: Error | undefined;
  private latest: NetMap;
  private closed = false;
  private readonly endpointListeners = new Set<() => void>();

  constructor(open: () => Promise<DataPathPort>, netmap: NetMap, onFailed: (e: Error) => void) {
    this.latest = netmap;
    this.ready = open().then(
      async (p) => {
        if (this.closed) {
          // Down or logout came first: nobody wants this TUN any more.
          await p.close();
          throw new Error('the data path was closed before it was up');
        }
        this.path = p;
        p.update(this.latest);
        p.onEndpointsChanged(() => this.endpointListeners.forEach((f) => f()));
        // The backend asked for endpoints while we had none: tell it they exist now.
        this.endpointListeners.forEach((f) => f());
      },
      (e: unknown) => {
        this.failure = e instanceof Error ? e : new Error(String(e));
        if (!this.closed) onFailed(this.failure);
        throw this.failure;
      },
    );
    this.ready.catch(() => undefined);
  }

  /** Why the data path is not running, if building it failed. */
  get failed(): Error | undefined {
    return this.failure;
  }

  update(netmap: NetMap): void {
    this.latest = netmap;
    this.path?.update(netmap);
  }

  endpointFields(): { Endpoints: string[]; EndpointTypes: number[] } {
    return this.path?.endpointFields() ?? { Endpoints: [], EndpointTypes: [] };
  }

  netInfo(): { PreferredDERP: number; WorkingUDP: boolean | null; MappingVariesByDestIP: boolean | null } {
    return this.path?.netInfo() ?? { PreferredDERP: 0, WorkingUDP: null, MappingVariesByDestIP: null };
  }

  onEndpointsChanged(cb: () => void): () => void {
    this.endpointListeners.add(cb);
    return () => this.endpointListeners.delete(cb);
  }

  async ping(target: string, timeoutMs: number): Promise<DataPathPing> {
    await this.ready.catch(() => undefined);
    if (!this.path) return { IP: target, Err: `the data path is not running: ${this.failure?.message ?? 'closed'}` };
    return this.path.ping(target, timeoutMs);
  }

  peerExtras(n: NetNode): PeerExtras {
    return this.path?.peerExtras(n) ?? {};
  }

  selfExtras(): { Addrs?: string[]; Relay?: string } {
    return this.path?.selfExtras() ?? {};
  }

  metrics(): Record<string, number> {
    return this.path?.metrics() ?? {};
  }

  async netcheck(): Promise<NetcheckReport | undefined> {
    await this.ready.catch(() => undefined);
    return this.path?.netcheck();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.endpointListeners.clear();
    const p = this.path;
    this.path = undefined;
    await p?.close();
  }
}
