// The Lab: one self-contained tailnet of real peers in network namespaces (lab.md section 6):
// an internet bridge, Headscale, two derpers (regions 900 lab1 / 901 lab2), and hosts behind NAT
// routers running tailscaled or meshtrayd. Teardown kills what it started, deletes its namespaces,
// /etc/netns dirs and run dir; it also runs on process exit, SIGINT and SIGTERM.
import { appendFileSync, cpSync, lstatSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { run, runOk, type RunResult } from './exec.js';
import { LabProcess, waitFor } from './proc.js';
import { LabError } from './errors.js';
import { Derper, type DerpRegion } from './derper.js';
import { Headscale, type HsUser, type PreAuthKeyOptions } from './headscale.js';
import { MeshtraydPeer } from './meshtrayd-peer.js';
import { MiniUpnpd, type UpnpOptions } from './miniupnpd.js';
import { Topology, type NatKind, type RouterInfo } from './netns.js';
import type { Peer, PeerKind } from './peer.js';
import { preflight } from './preflight.js';
import { claimRun, cleanStaleRuns, destroyRun, type RunClaim } from './run-registry.js';
import { killPidsSync } from './sync-sys.js';
import { TailscaledPeer } from './tailscaled-peer.js';
import type { LabBinaries } from './versions.js';

/** Private on purpose: see SERVER_GW in netns.ts (tailscaled's reconnect would force TLS :443 for a public IP). */
export const HS_IP = '172.16.0.10';
export const DERP_IPS = ['198.51.100.30', '198.51.100.31'] as const;

export interface HostSpec {
  /** short name, also the node's hostname, e.g. "a1" */
  name: string;
  /** router in front of the host; 'none' = the host sits on the internet with a public IP. Default 'easy'. */
  nat?: NatKind | 'none';
  /** what runs on it. Default 'tailscaled'. */
  peer?: PeerKind | 'none';
  /** `up` with the lab's reusable pre-auth key right after start. Default true. */
  join?: boolean;
  /** daemon environment knobs, e.g. { TS_DEBUG_ALWAYS_USE_DERP: '1' } */
  env?: Record<string, string>;
  /** extra `up` flags */
  upArgs?: string[];
  /** public address for nat 'none' hosts (default: next free from 198.51.100.50) */
  publicIp?: string;
  /**
   * With nat 'none': the host is also a router for a LAN <prefix>.0/24 (itself at .1) with these
   * plain hosts at .10, .11, … (no NAT; e.g. a subnet router: upArgs ['--advertise-routes=10.20.0.0/24']).
   */
  lan?: { prefix: string; hosts: string[] };
  /** net.ipv4.ip_forward=1 (+ IPv6) on the host itself, e.g. for an exit node */
  ipForward?: boolean;
  /** rp_filter on the host (fresh namespaces have 0; 1 = strict, which Meshtray must cope with, lab.md pitfall 5) */
  rpFilter?: 0 | 1 | 2;
  /**
   * The NAT router (nat 'easy'/'hard'/'udp-blocked') also runs miniupnpd: NAT-PMP + PCP + UPnP IGD,
   * or only some of them. Its WAN address is then on 11.0.0.0/24 (see ROUTABLE_GW in netns.ts).
   * `lab.host(name).router.upnpd` stops/starts it and lists its mappings.
   */
  upnp?: boolean | UpnpOptions;
}

export interface LabOptions {
  /** label for logs and the owner record */
  name?: string;
  /** default: the "basic" topology, a1 and b1 each behind its own easy NAT, tailscaled on both */
  hosts?: HostSpec[];
  /** 1 or 2 DERP regions (default 2: hard-NAT detection needs two STUN IPs, lab.md 4.1) */
  derpRegions?: 1 | 2;
  /** print progress lines to stderr (also always written to <run dir>/lab.log) */
  verbose?: boolean;
}

export interface HostInfo {
  name: string;
  ns: string;
  /** the host's own address (LAN address behind a NAT) */
  ip: string;
  /** the address the internet sees (the router's WAN address, or the host's own) */
  publicIp: string;
  router?: RouterInfo;
  peer?: Peer;
}

export const BASIC_HOSTS: HostSpec[] = [
  { name: 'a1', nat: 'easy' },
  { name: 'b1', nat: 'easy' },
];

const liveLabs = new Set<Lab>();
let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const lab of liveLabs) lab.teardownSync();
  });
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.on(sig, () => {
      if (liveLabs.size) process.stderr.write(`\nlab: ${sig}: tearing down ${liveLabs.size} lab(s)…\n`);
      for (const lab of liveLabs) lab.teardownSync();
      process.exit(code);
    });
  }
}

export class Lab {
  readonly topo: Topology;
  readonly hosts = new Map<string, HostInfo>();
  readonly derpers: Derper[] = [];
  headscale!: Headscale;
  user!: HsUser;
  private reusableKey: string | undefined;
  private natCount = 0;
  private publicCount = 0;
  private tornDown = false;
  private readonly extraProcs: LabProcess[] = [];
  readonly startedAt = Date.now();

  private constructor(
    readonly run: RunClaim,
    readonly bins: LabBinaries,
    readonly opts: LabOptions,
  ) {
    this.topo = new Topology(run.prefix);
  }

  get id(): string {
    return this.run.id;
  }
  get prefix(): string {
    return this.run.prefix;
  }
  get dir(): string {
    return this.run.dir;
  }
  get loginServer(): string {
    return this.headscale.serverUrl;
  }
  /** namespace name of a host/server, e.g. ns('a1') -> "mtab12-a1" */
  ns(short: string): string {
    return this.topo.ns(short);
  }

  log(line: string): void {
    const t = ((Date.now() - this.startedAt) / 1000).toFixed(1).padStart(5);
    appendFileSync(join(this.dir, 'lab.log'), `${t}s ${line}\n`);
    if (this.opts.verbose) process.stderr.write(`lab[${this.prefix}] ${t}s ${line}\n`);
  }

  /**
   * Builds and starts the lab. Any failure tears down everything built so far and rethrows
   * (no half-built topology is left behind).
   */
  static async create(opts: LabOptions = {}): Promise<Lab> {
    const bins = preflight();
    cleanStaleRuns((l) => process.stderr.write(l + '\n'));
    installExitHandlers();
    const lab = new Lab(claimRun(opts.name ?? 'lab'), bins, opts);
    liveLabs.add(lab);
    try {
      await lab.build();
      return lab;
    } catch (e) {
      lab.log(`build failed: ${(e as Error).message}`);
      lab.teardownSync();
      // so a caller (and the bad-input test) can check that nothing of this run is left
      if (e instanceof Error) Object.assign(e, { labPrefix: lab.prefix });
      throw e;
    }
  }

  private async build(): Promise<void> {
    const nRegions = this.opts.derpRegions ?? 2;
    await this.topo.addInternet();
    const hsNs = await this.topo.addPublicHost('hs', HS_IP);
    const derpNs: string[] = [];
    for (let i = 0; i < nRegions; i++) derpNs.push(await this.topo.addPublicHost(`derp${i + 1}`, DERP_IPS[i]!));
    this.log('namespaces: internet, hs, derp ready');

    for (let i = 0; i < nRegions; i++) {
      this.derpers.push(
        new Derper({ ns: derpNs[i]!, ip: DERP_IPS[i]!, regionId: 900 + i, regionCode: `lab${i + 1}`, dir: join(this.dir, `derp${i + 1}`), bin: this.bins.derper }),
      );
    }
    const regions: DerpRegion[] = await Promise.all(this.derpers.map((d) => d.start()));
    this.log(`derpers up: ${regions.map((r) => `${r.regionCode}@${r.ip}`).join(', ')}`);

    this.headscale = new Headscale({ ns: hsNs, ip: HS_IP, dir: join(this.dir, 'hs'), bin: this.bins.headscale, derpRegions: regions });
    await this.headscale.start();
    this.user = await this.headscale.createUser('lab', 'lab@example.com');
    this.log(`headscale up at ${this.headscale.serverUrl}, user lab id ${this.user.id}`);

    await this.addHosts(this.opts.hosts ?? BASIC_HOSTS);
  }

  /** Adds hosts (topology first, then daemons in parallel, then joins in parallel). */
  async addHosts(specs: readonly HostSpec[]): Promise<HostInfo[]> {
    const infos: HostInfo[] = [];
    for (const s of specs) infos.push(await this.addHostTopology(s));
    await Promise.all(
      infos.map(async (h, i) => {
        const s = specs[i]!;
        const kind = s.peer ?? 'tailscaled';
        if (kind === 'none') return;
        h.peer = this.makePeer(kind, h, s.env);
        await h.peer.start();
        this.log(`${h.name}: ${kind} started (pid ${h.peer.pid})`);
        if (s.join ?? true) await this.join(h.peer, { extraArgs: s.upArgs });
      }),
    );
    return infos;
  }

  async addHost(spec: HostSpec): Promise<HostInfo> {
    return (await this.addHosts([spec]))[0]!;
  }

  private async addHostTopology(s: HostSpec): Promise<HostInfo> {
    if (this.hosts.has(s.name)) throw new LabError(`lab host ${s.name} exists already`);
    if (!/^[a-z][a-z0-9-]{0,14}$/.test(s.name)) throw new LabError(`lab host name must be short [a-z0-9-]: ${s.name}`);
    const nat = s.nat ?? 'easy';
    let info: HostInfo;
    if (nat === 'none' && s.lan) {
      const ip = s.publicIp ?? `198.51.100.${49 + ++this.publicCount}`;
      const router = await this.topo.addRouter(s.name, ip, s.lan.prefix, 'none');
      info = { name: s.name, ns: router.ns, ip, publicIp: ip, router };
      let octet = 10;
      for (const lh of s.lan.hosts) {
        if (this.hosts.has(lh)) throw new LabError(`lab host ${lh} exists already`);
        const h = await this.topo.addLanHost(router, lh, octet++);
        this.hosts.set(lh, { name: lh, ns: h.ns, ip: h.ip, publicIp: ip, router });
        this.log(`host ${lh}: LAN host behind ${s.name}, ip ${h.ip}`);
      }
    } else if (nat === 'none') {
      const ip = s.publicIp ?? `198.51.100.${49 + ++this.publicCount}`;
      info = { name: s.name, ns: await this.topo.addPublicHost(s.name, ip), ip, publicIp: ip };
    } else {
      const k = ++this.natCount;
      if (k > 90) throw new LabError('too many NAT hosts in one lab');
      const wan = s.upnp ? `11.0.0.${100 + k}` : `198.51.100.${100 + k}`;
      const router = await this.topo.addRouter(`nat-${s.name}`, wan, `10.${k}.0`, nat, { upnpChains: !!s.upnp });
      if (s.upnp) {
        const d = new MiniUpnpd(router.ns, router.lanPrefix, join(this.dir, `nat-${s.name}`), s.upnp === true ? {} : s.upnp);
        const proc = await d.start();
        this.extraProcs.push(proc);
        router.upnpd = d;
        this.log(`nat-${s.name}: miniupnpd running (pid ${proc.pid})`);
      }
      const h = await this.topo.addLanHost(router, s.name, 10);
      info = { name: s.name, ns: h.ns, ip: h.ip, publicIp: router.wanIp, router };
    }
    if (s.ipForward) {
      await runOk(['sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.conf.all.rp_filter=0'], { ns: info.ns });
    }
    if (s.rpFilter !== undefined) {
      const v = String(s.rpFilter);
      await runOk(['sysctl', '-qw', `net.ipv4.conf.all.rp_filter=${v}`, `net.ipv4.conf.default.rp_filter=${v}`, `net.ipv4.conf.eth0.rp_filter=${v}`], { ns: info.ns });
    }
    this.hosts.set(s.name, info);
    this.log(`host ${s.name}: ns ${info.ns}, ip ${info.ip}, public ${info.publicIp}, nat ${nat}`);
    return info;
  }

  private makePeer(kind: PeerKind, h: HostInfo, env?: Record<string, string>): Peer {
    const opts = { name: h.name, ns: h.ns, dir: join(this.dir, 'n', h.name), ...(env ? { env } : {}) };
    return kind === 'tailscaled' ? new TailscaledPeer(opts, this.bins) : new MeshtraydPeer(opts);
  }

  host(name: string): HostInfo {
    const h = this.hosts.get(name);
    if (!h) throw new LabError(`no lab host ${name} (have: ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  peer(name: string): Peer {
    const p = this.host(name).peer;
    if (!p) throw new LabError(`lab host ${name} runs no peer`);
    return p;
  }

  /** A pre-auth key for the lab user: the shared reusable one by default, or a new one with options. Secret. */
  async authKey(o?: PreAuthKeyOptions): Promise<string> {
    if (o) return this.headscale.createPreAuthKey(o.tags?.length ? undefined : this.user, o);
    this.reusableKey ??= await this.headscale.createPreAuthKey(this.user, { reusable: true, expiration: '24h' });
    return this.reusableKey;
  }

  /** `up` with a pre-auth key and wait for BackendState Running. */
  async join(peer: Peer, o: { authKey?: string; extraArgs?: string[] | undefined; timeoutMs?: number } = {}): Promise<void> {
    const t0 = Date.now();
    await peer.up({
      loginServer: this.loginServer,
      authKey: o.authKey ?? (await this.authKey()),
      hostname: peer.name,
      ...(o.extraArgs ? { extraArgs: o.extraArgs } : {}),
      timeoutMs: o.timeoutMs ?? 60_000,
    });
    await peer.waitStatus('BackendState Running', (s) => s.BackendState === 'Running', o.timeoutMs ?? 30_000);
    this.log(`${peer.name}: joined in ${Date.now() - t0} ms`);
  }

  /**
   * An "internet host" at a public address running an HTTP server that answers every request with
   * the caller's address (lab.md 6.2: shows which NAT/exit node traffic left through). Default
   * address is on the far subnet (see FAR_GW in netns.ts for why).
   */
  async addWebHost(name = 'web', ip = '203.0.113.80'): Promise<HostInfo> {
    const info = await this.addHostTopology({ name, nat: 'none', publicIp: ip, peer: 'none' });
    const script = `require('http').createServer((q,s)=>s.end(q.socket.remoteAddress+'\\n')).listen(80,${JSON.stringify(ip)})`;
    const proc = LabProcess.start({ name: `${name}/http`, ns: info.ns, cleanEnv: true, logFile: join(this.dir, name, 'http.log'), argv: [process.execPath, '-e', script] });
    this.extraProcs.push(proc);
    await waitFor(`${name} HTTP server`, async () => (await run(['curl', '-s', '--max-time', '1', `http://${ip}/`], { ns: info.ns, timeoutMs: 3000 })).code === 0, { timeoutMs: 10_000, proc });
    return info;
  }

  /** Runs a command in a host's namespace (e.g. ping, curl). */
  exec(hostName: string, argv: string[], timeoutMs = 30_000): Promise<RunResult> {
    return run(argv, { ns: this.host(hostName).ns, timeoutMs });
  }

  /** Every peer, server and lab log (no state, keys or sockets) copied under `dest`. */
  collectLogs(dest: string): string[] {
    mkdirSync(dest, { recursive: true });
    const copied: string[] = [];
    cpSync(this.dir, dest, {
      recursive: true,
      filter: (src) => {
        const st = lstatSync(src, { throwIfNoEntry: false });
        if (!st) return false;
        if (st.isDirectory()) return !/\/(certs|gomod)$/.test(src);
        const ok = st.isFile() && /\.(log|txt|yaml)$/.test(src);
        if (ok) copied.push(src.slice(this.dir.length + 1));
        return ok;
      },
    });
    return copied;
  }

  /** Synchronous full teardown; idempotent. */
  teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    liveLabs.delete(this);
    const pids: number[] = [];
    for (const h of this.hosts.values()) if (h.peer?.pid) pids.push(h.peer.pid);
    if (this.headscale?.proc) pids.push(this.headscale.proc.pid);
    for (const d of this.derpers) if (d.proc) pids.push(d.proc.pid);
    for (const p of this.extraProcs) pids.push(p.pid);
    // Peers, Headscale and derpers together: TERM all, wait ≤5 s, KILL leftovers (by PID only).
    killPidsSync(pids);
    // then anything else still inside our namespaces, the namespaces, /etc/netns and the run dir
    destroyRun(this.id, this.topo.namespaces);
  }

  async teardown(): Promise<void> {
    this.teardownSync();
  }
}
