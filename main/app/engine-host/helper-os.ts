// The in-process engine's OS ports, backed by the privileged helper: the Router (routes, rules,
// firewall chains with the kernel ACL compiled by the helper from the packet filter) and the
// resolv.conf manager. The router waits for the TUN: the backend creates the data path and applies
// routes right after, but the TUN only exists once the helper's tun.open has answered.
import type { OSResolverConfigurator } from '../../engine/dns/resolv-conf.js';
import type { OSDNSConfig } from '../../engine/dns/dns-config.js';
import type { Router, RouterConfig } from '../../engine/router/router.js';
import type { HelperClient } from '../helper/helper-client.js';

export class HelperResolvConf implements OSResolverConfigurator {
  constructor(private readonly helper: Pick<HelperClient, 'dnsSet' | 'dnsRestore' | 'dnsBase'>) {}

  baseConfig(): Promise<OSDNSConfig> {
    return this.helper.dnsBase();
  }
  async set(cfg: OSDNSConfig | undefined): Promise<void> {
    if (!cfg || cfg.nameservers.length === 0) return this.helper.dnsRestore();
    return this.helper.dnsSet(cfg);
  }
  async restore(): Promise<'restored'> {
    await this.helper.dnsRestore();
    return 'restored';
  }
  /** The helper repairs a crashed run's resolv.conf itself when it starts. */
  async repair(): Promise<'nothing'> {
    return 'nothing';
  }
}

export class HelperRouter implements Router {
  constructor(
    private readonly helper: Pick<HelperClient, 'set' | 'restore' | 'repair'>,
    /** Resolves once the TUN of the current data path exists (rejects if it never will). */
    private readonly tunReady: () => Promise<void>,
  ) {}

  async set(cfg: RouterConfig): Promise<void> {
    await this.tunReady();
    return this.helper.set(cfg);
  }
  restore(): Promise<void> {
    return this.helper.restore();
  }
  repair(): Promise<void> {
    return this.helper.repair();
  }
}
