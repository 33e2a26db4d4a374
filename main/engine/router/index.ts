// Picks the OS router. Linux is implemented; macOS and Windows are documented stubs (stub.ts).
import { existsSync, readFileSync } from 'node:fs';
import type { Logger } from '../ports/ports.js';
import { LinuxRouter } from './linux.js';
import { fileRouterState, nodeCommandRunner } from './node-runner.js';
import type { CommandRunner, Router } from './router.js';
import { UnsupportedRouter } from './stub.js';

export * from './router.js';
export { LinuxRouter, type RouterStateStore } from './linux.js';

/** IPv6 usable: the kernel has it and it is not disabled globally (router_linux.go checkIPv6). */
export function linuxIPv6Available(): boolean {
  try {
    if (!existsSync('/proc/sys/net/ipv6/conf/all/disable_ipv6')) return false;
    return readFileSync('/proc/sys/net/ipv6/conf/all/disable_ipv6', 'utf8').trim() === '0';
  } catch {
    return false;
  }
}

export function newOSRouter(o: { stateFile: string; logger?: Logger; runner?: CommandRunner; platform?: NodeJS.Platform; ipv6?: boolean }): Router {
  const platform = o.platform ?? process.platform;
  if (platform !== 'linux') return new UnsupportedRouter(platform);
  return new LinuxRouter({
    runner: o.runner ?? nodeCommandRunner(),
    state: fileRouterState(o.stateFile),
    ipv6: o.ipv6 ?? linuxIPv6Available(),
    ...(o.logger ? { logger: o.logger } : {}),
  });
}
