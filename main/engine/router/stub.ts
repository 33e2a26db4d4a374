// macOS and Windows routers are not written yet. What they must do is in os-integration.md §7–8:
// macOS (utun): `ifconfig utunN inet A A`, `route -n add -inet[6] P -iface utunN`, no policy routing
// (sockets bound with IP_BOUND_IF instead of a fwmark; LAN access needs NetworkExtension excluded
// routes). Windows (Wintun): IP Helper API on the adapter LUID, routes with metric 0, LAN access and
// kill switch via firewall rules, sockets with IP_UNICAST_IF.
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Router } from './router.js';

export class UnsupportedRouter implements Router {
  constructor(private readonly os: string) {}
  private fail(): never {
    throw new MeshtrayError('ERR_INTERNAL', `the OS router is not implemented on this OS (${this.os}); use userspace networking`);
  }
  async set(): Promise<void> {
    this.fail();
  }
  /** Nothing was installed, so there is nothing to restore. */
  async restore(): Promise<void> {}
  async repair(): Promise<void> {}
}
