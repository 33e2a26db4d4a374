// A NAT router that also runs miniupnpd (Debian 12 `miniupnpd-iptables` 2.3.1: NAT-PMP, PCP and
// UPnP IGD v2 in one daemon, rules through libiptc), like a home router with UPnP switched on.
//
// Three things learned setting it up (checked by hand in namespaces before writing this):
//   - miniupnpd refuses to map when its WAN address is private or reserved, and that list includes
//     the lab's TEST-NET ranges ("Reserved / private IP address … Port forwarding is impossible"),
//     so a UPnP router's WAN lives on ROUTABLE_GW's subnet (netns.ts);
//   - it writes with libiptc, i.e. the *legacy* xtables, while the lab's own rules go through
//     iptables-nft: its MINIUPNPD chains are created and hooked with iptables-legacy, and the nft
//     FORWARD chain (policy DROP) accepts connections the legacy DNAT redirected (ctstate DNAT);
//   - each mapping also gets a MINIUPNPD-POSTROUTING MASQUERADE that keeps the source port, so
//     outbound packets from the mapped port leave from the mapped port too.
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runOk } from './exec.js';
import { LabError } from './errors.js';
import { LabProcess, waitFor } from './proc.js';

export const MINIUPNPD = '/usr/sbin/miniupnpd';

export interface UpnpOptions {
  /** Answer NAT-PMP and PCP (default true). */
  natpmp?: boolean;
  /** Answer SSDP and the IGD SOAP calls (default true). */
  upnp?: boolean;
}

export interface UpnpMappingRule {
  proto: 'udp' | 'tcp';
  externalPort: number;
  internalIp: string;
  internalPort: number;
}

/** The legacy-xtables chains miniupnpd manages, hooked the way its iptables_init.sh does. */
export async function prepareUpnpChains(ns: string): Promise<void> {
  const x = (args: string[]) => runOk(['iptables-legacy', '-w', ...args], { ns, timeoutMs: 15_000 });
  await x(['-t', 'nat', '-N', 'MINIUPNPD']);
  await x(['-t', 'nat', '-I', 'PREROUTING', '-i', 'eth0', '-j', 'MINIUPNPD']);
  await x(['-t', 'nat', '-N', 'MINIUPNPD-POSTROUTING']);
  await x(['-t', 'nat', '-I', 'POSTROUTING', '-o', 'eth0', '-j', 'MINIUPNPD-POSTROUTING']);
  await x(['-t', 'filter', '-N', 'MINIUPNPD']);
  await x(['-t', 'filter', '-I', 'FORWARD', '-i', 'eth0', '!', '-o', 'eth0', '-j', 'MINIUPNPD']);
  await x(['-t', 'mangle', '-N', 'MINIUPNPD']);
  await x(['-t', 'mangle', '-I', 'PREROUTING', '-i', 'eth0', '-j', 'MINIUPNPD']);
  // The lab's nft FORWARD policy is DROP: let what miniupnpd's DNAT redirected through.
  await runOk(['iptables', '-w', '-I', 'FORWARD', '1', '-i', 'eth0', '-o', 'lan0', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'ACCEPT'], { ns, timeoutMs: 15_000 });
}

/** miniupnpd on one router namespace; stop()/start() switch the service off and on again. */
export class MiniUpnpd {
  proc: LabProcess | undefined;
  private readonly conf: string;

  constructor(readonly ns: string, readonly lanPrefix: string, readonly dir: string, readonly opts: UpnpOptions = {}) {
    mkdirSync(dir, { recursive: true });
    this.conf = join(dir, 'miniupnpd.conf');
    const lines = [
      'ext_ifname=eth0',
      'listening_ip=lan0',
      'http_port=5000',
      `enable_natpmp=${opts.natpmp === false ? 'no' : 'yes'}`,
      `enable_upnp=${opts.upnp === false ? 'no' : 'yes'}`,
      'secure_mode=yes', // a LAN host may only map ports to itself
      'system_uptime=no',
      `uuid=${randomUUID()}`,
      `allow 1024-65535 ${lanPrefix}.0/24 1024-65535`,
      'deny 0-65535 0.0.0.0/0 0-65535',
    ];
    writeFileSync(this.conf, lines.join('\n') + '\n');
  }

  get logFile(): string {
    return join(this.dir, 'miniupnpd.log');
  }

  async start(): Promise<LabProcess> {
    if (this.proc?.isRunning()) return this.proc;
    const proc = LabProcess.start({
      name: `${this.ns}/miniupnpd`, ns: this.ns, cleanEnv: true, logFile: this.logFile,
      argv: [MINIUPNPD, '-d', '-f', this.conf, '-P', join(this.dir, 'miniupnpd.pid')],
    });
    this.proc = proc;
    const ready = this.opts.natpmp === false ? /HTTP listening on port/ : /Listening for NAT-PMP\/PCP traffic/;
    await waitFor(`${this.ns} miniupnpd`, async () => ready.test(readFileSync(this.logFile, 'utf8')) || 'not listening yet', { timeoutMs: 10_000, proc });
    return proc;
  }

  stop(): void {
    this.proc?.stop(3000);
    this.proc = undefined;
  }

  /**
   * The port forwards miniupnpd has installed: the DNAT rules of its nat chain (`iptables-legacy
   * -t nat -S MINIUPNPD`: protocol and external port; the legacy tool cannot print the DNAT target
   * miniupnpd writes, "[unsupported revision]") paired in order with the ACCEPT rules it adds to its
   * filter chain for the same mappings (internal address and port).
   */
  async mappings(): Promise<UpnpMappingRule[]> {
    const list = async (table: string) => {
      const r = await run(['iptables-legacy', '-w', '-t', table, '-S', 'MINIUPNPD'], { ns: this.ns, timeoutMs: 15_000 });
      if (r.code !== 0) throw new LabError(`cannot list ${table} MINIUPNPD in ${this.ns}: ${r.stderr.trim()}`);
      return r.stdout;
    };
    return parseMiniupnpdRules(await list('nat'), await list('filter'));
  }
}

/**
 * nat:    `-A MINIUPNPD -p udp -m udp --dport 41641 -j DNAT [unsupported revision]`
 * filter: `-A MINIUPNPD -d 10.1.0.10/32 -p udp -m udp --dport 41641 -j ACCEPT`
 */
export function parseMiniupnpdRules(natText: string, filterText: string): UpnpMappingRule[] {
  const nat = [...natText.matchAll(/^-A MINIUPNPD .*-p (udp|tcp)\b.*--dport (\d+)\b.*-j DNAT/gm)];
  const acc = [...filterText.matchAll(/^-A MINIUPNPD -d (\d+\.\d+\.\d+\.\d+)(?:\/32)? -p (udp|tcp)\b.*--dport (\d+)\b.*-j ACCEPT/gm)];
  return nat.map((m, i) => {
    const a = acc[i];
    return { proto: m[1] as 'udp' | 'tcp', externalPort: Number(m[2]), internalIp: a?.[1] ?? '', internalPort: a ? Number(a[3]) : 0 };
  });
}
