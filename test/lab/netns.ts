// Lab topology in network namespaces (lab.md section 6): an "internet" bridge namespace per lab
// (198.51.100.0/24, so concurrent labs can reuse the addresses), public hosts on it, NAT routers
// with a LAN behind them, and impairments. Nothing here touches the root namespace.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runOk, type RunResult } from './exec.js';
import { LabError } from './errors.js';
import { prepareUpnpChains, type MiniUpnpd } from './miniupnpd.js';

export const INET_GW = '198.51.100.1';
export const INET_PREFIX_LEN = 24;
/**
 * A second "internet" subnet (TEST-NET-3) on the same bridge, routed by the inet namespace. Hosts
 * that must look far away live here: an exit node treats its own LAN (198.51.100.0/24, via eth0)
 * as "guest wifi"-excluded and rejects forwarding to it (tailscale ipnlocal/local.go
 * updateFilterLocked, shrinkDefaultRoute), so a web host on 198.51.100.0/24 is unreachable through it.
 */
export const FAR_GW = '203.0.113.1';
/**
 * A private server subnet on the same bridge, for the control server. tailscaled treats an http://
 * login server at a PUBLIC IP as having an HTTPS fallback on :443 and, after a failed Noise dial,
 * forces that TLS port for its retries ("forcing port 443 dial due to recent noise dial"), so after a
 * Headscale restart it never came back (seen here). For a private IP it never tries HTTPS
 * (tailscale control/ts2021/client.go NewClient, control/controlhttp/client.go forceNoise443).
 */
export const SERVER_GW = '172.16.0.1';
/**
 * A subnet outside every private/reserved range, for routers running miniupnpd: it refuses to map
 * ports when its WAN address is private or reserved (TEST-NET-2/3 included). Nothing leaves the
 * lab: the inet namespace has no interface but its bridge.
 */
export const ROUTABLE_GW = '11.0.0.1';
export function gatewayFor(ip: string): string {
  if (ip.startsWith('203.0.113.')) return FAR_GW;
  if (ip.startsWith('172.16.0.')) return SERVER_GW;
  if (ip.startsWith('11.0.0.')) return ROUTABLE_GW;
  return INET_GW;
}

/**
 * easy: MASQUERADE (endpoint-independent mapping, keeps the port when free);
 * hard: MASQUERADE --random-fully (new port per destination: symmetric NAT);
 * udp-blocked: easy NAT that drops all forwarded UDP (DERP over TCP still works).
 */
export type NatKind = 'easy' | 'hard' | 'udp-blocked';

export interface RouterInfo {
  ns: string;
  wanIp: string;
  /** e.g. "10.1.0" -> LAN 10.1.0.0/24, router 10.1.0.1 */
  lanPrefix: string;
  nat: NatKind | 'none';
  nextLanPort: number;
  /** miniupnpd on this router (HostSpec.upnp), started by the Lab. */
  upnpd?: MiniUpnpd;
}

export class Topology {
  /** Every namespace this topology created, in creation order (teardown deletes them). */
  readonly namespaces: string[] = [];
  private inetPort = 0;
  private readonly routers = new Map<string, RouterInfo>();
  readonly inet: string;

  constructor(readonly prefix: string) {
    this.inet = `${prefix}inet`;
  }

  ns(short: string): string {
    return `${this.prefix}${short}`;
  }

  /** ip/iptables/sysctl inside a namespace */
  private exec(ns: string, argv: string[]): Promise<RunResult> {
    return runOk(argv, { ns, timeoutMs: 15_000 });
  }

  /** A fresh namespace with lo up and its own resolv.conf (so nothing in it can rewrite the host's). */
  async addNamespace(short: string): Promise<string> {
    const ns = this.ns(short);
    if (ns.length > 64) throw new LabError(`namespace name too long: ${ns}`);
    await runOk(['ip', 'netns', 'add', ns]).catch((e: Error) => {
      throw new LabError(`cannot create namespace ${ns}: ${e.message}`, /File exists/.test(e.message) ? 'a leftover of a killed run: `npm run lab:down`' : 'run as root');
    });
    this.namespaces.push(ns);
    mkdirSync(join('/etc/netns', ns), { recursive: true });
    // Nothing listens on 127.0.0.1:53 in the namespace: lookups fail fast instead of leaking to the host resolver.
    writeFileSync(join('/etc/netns', ns, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    await runOk(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    return ns;
  }

  /**
   * The ISP: a bridge br0 at 198.51.100.1/24 (public hosts, NAT WANs), 203.0.113.1/24 (far hosts)
   * and 172.16.0.1/24 (servers), with no other interface or route, so nothing can leave the lab.
   */
  async addInternet(): Promise<void> {
    await this.addNamespace('inet');
    await runOk(['ip', '-n', this.inet, 'link', 'add', 'br0', 'type', 'bridge']);
    await runOk(['ip', '-n', this.inet, 'addr', 'add', `${INET_GW}/${INET_PREFIX_LEN}`, 'dev', 'br0']);
    await runOk(['ip', '-n', this.inet, 'addr', 'add', `${FAR_GW}/24`, 'dev', 'br0']);
    await runOk(['ip', '-n', this.inet, 'addr', 'add', `${SERVER_GW}/24`, 'dev', 'br0']);
    await runOk(['ip', '-n', this.inet, 'addr', 'add', `${ROUTABLE_GW}/24`, 'dev', 'br0']);
    await runOk(['ip', '-n', this.inet, 'link', 'set', 'br0', 'up']);
    // routes between the two subnets only (it has no other interface, so nothing leaves the lab)
    await runOk(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { ns: this.inet });
  }

  /** eth0 in `ns` plugged into the internet bridge, with `ip`/24 and default route via its subnet's .1 */
  async plugIntoInternet(ns: string, ip: string): Promise<void> {
    const port = `p${++this.inetPort}`; // lives in the inet namespace only, so short names never collide
    await runOk(['ip', '-n', this.inet, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await runOk(['ip', '-n', this.inet, 'link', 'set', port, 'master', 'br0', 'up']);
    await runOk(['ip', '-n', ns, 'addr', 'add', `${ip}/${INET_PREFIX_LEN}`, 'dev', 'eth0']);
    await runOk(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    await runOk(['ip', '-n', ns, 'route', 'add', 'default', 'via', gatewayFor(ip)]);
  }

  /** A host with a public address (no NAT). */
  async addPublicHost(short: string, ip: string): Promise<string> {
    const ns = await this.addNamespace(short);
    await this.plugIntoInternet(ns, ip);
    return ns;
  }

  /** A router with WAN eth0 on the internet and a LAN bridge lan0 at <lanPrefix>.1/24, NAT per `nat`. */
  async addRouter(short: string, wanIp: string, lanPrefix: string, nat: NatKind | 'none', opts: { upnpChains?: boolean } = {}): Promise<RouterInfo> {
    const ns = await this.addNamespace(short);
    await this.plugIntoInternet(ns, wanIp);
    const sh = (argv: string[]) => this.exec(ns, argv);
    await sh(['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0']);
    await runOk(['ip', '-n', ns, 'link', 'add', 'lan0', 'type', 'bridge']);
    await runOk(['ip', '-n', ns, 'addr', 'add', `${lanPrefix}.1/24`, 'dev', 'lan0']);
    await runOk(['ip', '-n', ns, 'link', 'set', 'lan0', 'up']);
    // -w: the xtables lock file is shared by every namespace on the machine (concurrent labs).
    await sh(['iptables', '-w', '-P', 'FORWARD', 'DROP']);
    await sh(['iptables', '-w', '-A', 'FORWARD', '-i', 'lan0', '-o', 'eth0', '-j', 'ACCEPT']);
    await sh(['iptables', '-w', '-A', 'FORWARD', '-i', 'eth0', '-o', 'lan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
    // Like a home router's firewall: unsolicited packets to the router itself are dropped. This is
    // needed for hole punching, not just realism: an early peer packet to our WAN:41641 would
    // otherwise leave a conntrack entry (to INPUT, nobody listening) whose tuple clashes with the
    // host's outbound mapping, so MASQUERADE picks another port and the peers never meet
    // (seen here). A packet dropped in INPUT never gets its conntrack entry confirmed.
    await sh(['iptables', '-w', '-A', 'INPUT', '-i', 'eth0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
    await sh(['iptables', '-w', '-A', 'INPUT', '-i', 'eth0', '-j', 'DROP']);
    const lan = `${lanPrefix}.0/24`;
    if (nat === 'easy' || nat === 'udp-blocked') {
      await sh(['iptables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-s', lan, '-o', 'eth0', '-j', 'MASQUERADE']);
    } else if (nat === 'hard') {
      await sh(['iptables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-s', lan, '-o', 'eth0', '-j', 'MASQUERADE', '--random-fully']);
    }
    if (nat === 'udp-blocked') {
      // DROP, not REJECT: like a real firewall, STUN/WireGuard just time out.
      await sh(['iptables', '-w', '-I', 'FORWARD', '1', '-i', 'lan0', '-o', 'eth0', '-p', 'udp', '-j', 'DROP']);
    }
    if (opts.upnpChains) await prepareUpnpChains(ns);
    const info: RouterInfo = { ns, wanIp, lanPrefix, nat, nextLanPort: 1 };
    this.routers.set(ns, info);
    return info;
  }

  /** A host on the router's LAN at <lanPrefix>.<hostOctet>, default route via the router. */
  async addLanHost(router: RouterInfo, short: string, hostOctet: number): Promise<{ ns: string; ip: string }> {
    const ns = await this.addNamespace(short);
    const port = `l${router.nextLanPort++}`;
    const ip = `${router.lanPrefix}.${hostOctet}`;
    await runOk(['ip', '-n', router.ns, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await runOk(['ip', '-n', router.ns, 'link', 'set', port, 'master', 'lan0', 'up']);
    await runOk(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    await runOk(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    await runOk(['ip', '-n', ns, 'route', 'add', 'default', 'via', `${router.lanPrefix}.1`]);
    return { ns, ip };
  }

  /** Random loss on a router's WAN in both directions (iptables `statistic`; this kernel has no netem). */
  async addLoss(routerNs: string, probability: number): Promise<void> {
    const p = String(probability);
    await this.exec(routerNs, ['iptables', '-w', '-I', 'FORWARD', '1', '-i', 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP']);
    await this.exec(routerNs, ['iptables', '-w', '-I', 'FORWARD', '1', '-o', 'eth0', '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP']);
  }

  /** Egress rate limit with tbf, e.g. rate "20mbit". */
  async addRateLimit(ns: string, dev: string, rate: string, burst = '32kbit', latency = '50ms'): Promise<void> {
    await runOk(['tc', 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', burst, 'latency', latency], { ns });
  }

  /** Forget conntrack state in a router (between cases that must not reuse NAT mappings). */
  async flushConntrack(routerNs: string): Promise<void> {
    await runOk(['conntrack', '-F'], { ns: routerNs }).catch(() => undefined); // exits 1 when the table was empty on some versions
  }

  /** For teardown paths that cannot await: remove the /etc/netns dir of each namespace. */
  removeEtcNetns(): void {
    for (const ns of this.namespaces) rmSync(join('/etc/netns', ns), { recursive: true, force: true });
  }
}
