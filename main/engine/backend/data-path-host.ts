// Keeps one data path (TUN + WireGuard + DERP + magicsock, DataPathPort) for the logged-in node key
// (tailscale: LocalBackend ↔ wgengine.Engine): created with the first netmap of a login, fed every
// netmap after it, replaced when the node key rotates (a new WireGuard identity), closed on
// down/logout/exit. With the OS integration it also runs the route apply and hands the data path
// the resulting AllowedIPs, and closes in the order the OS needs: routes, rules, iptables and
// resolv.conf restored first, then the TUN. Which key, which prefs and when is LocalBackend's call.
import type { Prefs } from '../../../common/schemas/prefs.js';
import type { PrivateKey } from '../keys/keys.js';
import type { NetMap } from '../netmap/netmap.js';
import type { Logger } from '../ports/ports.js';
import type { DataPathFactory, DataPathPort } from './data-path-port.js';
import { netmapWithAllowedIPs, type OSWiring } from './os-wiring.js';

export interface DataPathHostOptions {
  /** Absent: control plane only, never a data path. */
  factory: DataPathFactory | undefined;
  /** Absent: leave the OS alone. */
  os: OSWiring | undefined;
  /** The backend's netmap (read only here). */
  netmap: NetMap;
  discoKey: PrivateKey<'disco'>;
  logger: Logger;
  /** The node key a data path should run as now; undefined when none is wanted (no login, shut down). */
  nodeKey(): PrivateKey<'node'> | undefined;
  /** Prefs.RouteAll, for a data path that decides AllowedIPs itself (no OS integration). */
  routeAll(): boolean;
  /** The data path reported new endpoints or a new home DERP. */
  endpointsChanged(): void;
  /** It could not start (true) or has started (false): the backend's health line. */
  startFailed(failed: boolean): void;
  /** A netmap went in or a path started: time to bring the OS in line (LocalBackend.osApply). */
  wantOSApply(): void;
  /** One was closed: Status changes (TUN, peer paths). */
  closed(): void;
}

interface Running {
  /** Public node key it runs as. */
  key: string;
  path: DataPathPort;
  unsub: () => void;
}

export class DataPathHost {
  private current: Running | undefined;
  private closingP: Promise<void> | undefined;
  private applyingP: Promise<void> | undefined;
  private readonly log: Logger;

  constructor(private readonly o: DataPathHostOptions) {
    this.log = o.logger;
  }

  /** The running data path, if any. */
  get path(): DataPathPort | undefined {
    return this.current?.path;
  }

  /** The last close still under way (OS restore, then the TUN); undefined once it is done. */
  get closing(): Promise<void> | undefined {
    return this.closingP;
  }

  /** The OS apply in flight (or done last), so `why` can wait for the first route table. */
  get osApplying(): Promise<void> | undefined {
    return this.applyingP;
  }

  /** Creates the data path with the first netmap of a login, or hands it the new netmap. */
  sync(): void {
    const nodeKey = this.o.nodeKey();
    if (!this.o.factory || !nodeKey) return;
    const key = nodeKey.public.toString();
    if (this.current && this.current.key !== key) this.close(); // node key rotated: new WireGuard identity
    if (this.current) {
      this.update(this.current);
      this.o.wantOSApply();
      return;
    }
    if (this.closingP) {
      // The previous one is still closing (TUN and port in use): retry once it is gone.
      void this.closingP.then(() => this.sync());
      return;
    }
    try {
      // With the OS integration the route table decides each peer's AllowedIPs (view()), so the data
      // path takes them as given (routeAll).
      const path = this.o.factory({ nodeKey, discoKey: this.o.discoKey, netmap: this.view(), routeAll: this.o.os ? true : this.o.routeAll() });
      const unsub = path.onEndpointsChanged(() => this.o.endpointsChanged());
      this.current = { key, path, unsub };
      this.o.startFailed(false);
      this.log.info('backend: data path started');
      this.o.wantOSApply(); // the TUN exists now: the router can install routes on it
    } catch (e) {
      this.log.error('backend: data path could not start', { err: e });
      this.o.startFailed(true);
    }
  }

  close(): void {
    const d = this.current;
    if (!d) return;
    this.current = undefined;
    d.unsub();
    // The OS first (routes, rules, iptables, resolv.conf back as they were), then the TUN.
    const os = this.o.os;
    const closing: Promise<void> = (os ? os.down() : Promise.resolve())
      .then(() => d.path.close())
      .catch((e: unknown) => this.log.warn('data path close failed', { err: e }))
      .then(() => {
        if (this.closingP === closing) this.closingP = undefined;
      });
    this.closingP = closing;
    this.o.closed();
  }

  /**
   * Runs the OS apply for this netmap and prefs, then gives the data path the new table's
   * AllowedIPs. Only with the OS integration and a running data path (the router needs the TUN).
   * OSIntegration coalesces bursts; failures become health lines (OSWiring.apply never throws).
   */
  applyOS(prefs: Prefs): void {
    const os = this.o.os;
    const d = this.current;
    if (!os || !d) return;
    this.applyingP = os.apply(this.o.netmap, { ...prefs }).then((table) => {
      // A path closed or replaced meanwhile gets nothing: its successor has its own apply coming.
      if (table && d === this.current) this.update(d);
    });
  }

  /** What the data path sees: with the OS integration, peers' AllowedIPs from the route table. */
  private view(): NetMap {
    const os = this.o.os;
    return os ? netmapWithAllowedIPs(this.o.netmap, os.table?.peerAllowedIPs) : this.o.netmap;
  }

  private update(d: Running): void {
    try {
      d.path.update(this.view());
    } catch (e) {
      this.log.error('data path: netmap update failed', { err: e });
    }
  }
}
