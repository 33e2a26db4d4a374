// A small namespace lab for the netcheck e2e test (lab.md §6.2 shapes, our own commands): an
// "internet" bridge 198.51.100.0/24, public hosts on it, NAT routers (easy = MASQUERADE,
// hard = MASQUERADE --random-fully, udp-blocked) with one LAN host each. Only namespaces it
// created are touched; teardown kills the processes it started by PID and deletes its namespaces.
import { execFileSync, spawn } from 'node:child_process';
import { rmSync, mkdirSync, writeFileSync } from 'node:fs';

export type Nat = 'easy' | 'hard' | 'udp-blocked';

function sh(argv: string[]): string {
  return execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 });
}

export class MiniLab {
  readonly namespaces: string[] = [];
  private port = 0;
  readonly inet: string;
  private lanPorts = 0;

  constructor(readonly prefix: string) {
    this.inet = `${prefix}inet`;
  }

  /** Removes namespaces left by a crashed earlier run with the same prefix. */
  static cleanStale(prefix: string): void {
    const list = sh(['ip', 'netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix));
    for (const ns of list) new MiniLab(prefix).deleteNs(ns);
  }

  addNs(short: string): string {
    const ns = this.prefix + short;
    sh(['ip', 'netns', 'add', ns]);
    this.namespaces.push(ns);
    sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    mkdirSync(`/etc/netns/${ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ns}/resolv.conf`, 'nameserver 127.0.0.1\n');
    return ns;
  }

  up(): void {
    this.addNs('inet');
    sh(['ip', '-n', this.inet, 'link', 'add', 'br0', 'type', 'bridge']);
    sh(['ip', '-n', this.inet, 'addr', 'add', '198.51.100.1/24', 'dev', 'br0']);
    sh(['ip', '-n', this.inet, 'link', 'set', 'br0', 'up']);
  }

  /** A namespace with eth0 on the internet bridge at `ip`. */
  publicHost(short: string, ip: string): string {
    const ns = this.addNs(short);
    this.plug(ns, ip);
    return ns;
  }

  private plug(ns: string, ip: string): void {
    const p = `p${++this.port}`;
    sh(['ip', '-n', this.inet, 'link', 'add', p, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    sh(['ip', '-n', this.inet, 'link', 'set', p, 'master', 'br0', 'up']);
    sh(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', ns, 'route', 'add', 'default', 'via', '198.51.100.1']);
  }

  /** Router `short` (WAN ip) with NAT kind and a LAN host `host` at <lan>.10; returns the host ns. */
  natHost(short: string, wanIp: string, lan: string, nat: Nat, host: string): string {
    const r = this.addNs(short);
    this.plug(r, wanIp);
    const x = (argv: string[]): string => sh(['ip', 'netns', 'exec', r, ...argv]);
    x(['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    sh(['ip', '-n', r, 'link', 'add', 'lan0', 'type', 'bridge']);
    sh(['ip', '-n', r, 'addr', 'add', `${lan}.1/24`, 'dev', 'lan0']);
    sh(['ip', '-n', r, 'link', 'set', 'lan0', 'up']);
    x(['iptables', '-P', 'FORWARD', 'DROP']);
    x(['iptables', '-A', 'FORWARD', '-i', 'lan0', '-o', 'eth0', '-j', 'ACCEPT']);
    x(['iptables', '-A', 'FORWARD', '-i', 'eth0', '-o', 'lan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT']);
    const masq = ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', `${lan}.0/24`, '-o', 'eth0', '-j', 'MASQUERADE'];
    x(nat === 'hard' ? [...masq, '--random-fully'] : masq);
    if (nat === 'udp-blocked') x(['iptables', '-I', 'FORWARD', '1', '-i', 'lan0', '-o', 'eth0', '-p', 'udp', '-j', 'DROP']);
    const h = this.addNs(host);
    const lp = `l${++this.lanPorts}`;
    sh(['ip', '-n', r, 'link', 'add', lp, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h]);
    sh(['ip', '-n', r, 'link', 'set', lp, 'master', 'lan0', 'up']);
    sh(['ip', '-n', h, 'addr', 'add', `${lan}.10/24`, 'dev', 'eth0']);
    sh(['ip', '-n', h, 'link', 'set', 'eth0', 'up']);
    sh(['ip', '-n', h, 'route', 'add', 'default', 'via', `${lan}.1`]);
    return h;
  }

  /** Runs argv in `ns`, collecting stdout; rejects on non-zero exit or timeout (the child is killed by PID). */
  run(ns: string, argv: string[], timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const p = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() });
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
      p.on('exit', (code) => {
        clearTimeout(t);
        if (code === 0) resolve(out);
        else reject(new Error(`${argv.join(' ')} in ${ns} exited ${code}: ${err}${out}`));
      });
    });
  }

  deleteNs(ns: string): void {
    let pids: string[] = [];
    try {
      pids = sh(['ip', 'netns', 'pids', ns]).split('\n').filter(Boolean);
    } catch { /* gone */ }
    for (const pid of pids) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* exited */ }
    }
    try { sh(['ip', 'netns', 'del', ns]); } catch { /* already gone */ }
    rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
  }

  down(): void {
    for (const ns of [...this.namespaces].reverse()) this.deleteNs(ns);
    this.namespaces.length = 0;
  }
}
