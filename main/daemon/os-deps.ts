// What meshtrayd gives the backend to drive the OS (issue 6): the Linux router (routes in table 52,
// policy rules, iptables incl. the kernel ACL, state file for crash repair), the resolv.conf
// manager (backup next to our state, never in /etc: several daemons may share one /etc under
// `ip netns exec`), and the DNS upstream. None with --tun=userspace-networking, off Linux, or
// without root: then the OS is left alone and why/osMetrics answer "not supported".
import { dirname } from 'node:path';
import { osStatePaths, type OSDeps } from '../engine/backend/os-wiring.js';
import { nodeResolvFS } from '../engine/dns/node-resolv-fs.js';
import { DirectResolvConf } from '../engine/dns/resolv-conf.js';
import { nodeUpstream } from '../engine/dns/upstream.js';
import type { Logger } from '../engine/ports/ports.js';
import { newOSRouter } from '../engine/router/index.js';
import type { DaemonFlags } from './flags.js';

/** Where router-state.json and the resolv.conf backup live. */
export function osStateDir(flags: Pick<DaemonFlags, 'state' | 'statedir'>): string {
  if (flags.statedir) return flags.statedir;
  if (flags.state && flags.state !== 'mem:' && !flags.state.startsWith('mem:')) return dirname(flags.state);
  // State in memory: the crash-repair record still needs a disk (it must outlive the process).
  return '/run/meshtray';
}

export function osDepsFor(flags: DaemonFlags, log: Logger, env: { platform: NodeJS.Platform; uid: number | undefined } = { platform: process.platform, uid: process.getuid?.() }): OSDeps | undefined {
  if (flags.tun === 'userspace-networking') return undefined;
  if (env.platform !== 'linux') {
    log.warn('os: routes/DNS are only managed on Linux in this build; leaving the OS alone', { platform: env.platform });
    return undefined;
  }
  if (env.uid !== 0) {
    log.warn('os: not root; routes, DNS and the packet filter are not managed');
    return undefined;
  }
  const p = osStatePaths(osStateDir(flags));
  return {
    router: newOSRouter({ stateFile: p.routerState, logger: log.child('router') }),
    osDNS: new DirectResolvConf({ fs: nodeResolvFS, backupPath: p.resolvBackup }),
    upstream: nodeUpstream,
    tunName: flags.tun,
    // quad-100 as a loopback service address with real UDP+TCP sockets (router README).
    quad100: 'local',
  };
}
