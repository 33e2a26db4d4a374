// The Linux router (tailscale wgengine/router/osrouter/router_linux.go + util/linuxfw/iptables_runner.go,
// described in os-integration.md §1), driven through `ip`, `iptables`/`ip6tables` and `sysctl` by an
// injected CommandRunner so unit tests check the exact commands and the e2e runs them in a netns.
//
// Exactness of cleanup: every object we create is written to a state file BEFORE it is created
// (write-ahead), and removed from it only after it is gone. `restore` deletes exactly the recorded
// objects (rules by full selector, routes by prefix+table, our own iptables chains, addresses we
// added, sysctls put back to their recorded old values), so a killed process's leftovers are
// repaired on the next start and nothing belonging to anyone else is touched. Firewall rules live
// only in our own chains (mt-*), hooked by one jump rule each, so removal is exact.
import { z } from 'zod';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Logger } from '../ports/ports.js';
import { ACL_CHAIN, parseACLDrops } from '../filter/kernel-acl.js';
import { parseCIDR } from '../routes/ip-set.js';
import {
  BYPASS_MARK,
  FWMARK_MASK,
  ROUTE_TABLE,
  RULE_PRIORITIES,
  SUBNET_ROUTE_MARK,
  type CommandRunner,
  type Router,
  type RouterConfig,
} from './router.js';

const hex = (n: number) => '0x' + n.toString(16);
const MARK = `${hex(BYPASS_MARK)}/${hex(FWMARK_MASK)}`;
const SUBNET_MARK = `${hex(SUBNET_ROUTE_MARK)}/${hex(FWMARK_MASK)}`;

type Fam = 4 | 6;

/** One policy rule, as the argv tail after `ip -N rule add|del`. */
export function policyRules(): { pref: number; spec: string[] }[] {
  const p = RULE_PRIORITIES;
  return [
    { pref: p.bypassMain, spec: ['pref', String(p.bypassMain), 'fwmark', MARK, 'table', 'main'] },
    { pref: p.bypassDefault, spec: ['pref', String(p.bypassDefault), 'fwmark', MARK, 'table', 'default'] },
    { pref: p.bypassUnreachable, spec: ['pref', String(p.bypassUnreachable), 'fwmark', MARK, 'unreachable'] },
    { pref: p.table52, spec: ['pref', String(p.table52), 'table', String(ROUTE_TABLE)] },
  ];
}

export interface ChainSpec {
  readonly fam: Fam;
  readonly table: 'filter' | 'nat' | 'mangle';
  readonly chain: string;
  /** Built-in chain our jump rule goes into (inserted at position 1); '' = only referenced by our chains. */
  readonly hook: string;
  readonly rules: readonly (readonly string[])[];
}

const CHAIN = { input: 'mt-input', forward: 'mt-forward', post: 'mt-postrouting', mssFwd: 'mt-mss', connPre: 'mt-connmark-pre', connOut: 'mt-connmark-out' } as const;

/** Our chains and their rules for a config (os-integration.md §1.5, with MSS clamping for routers). */
export function desiredChains(cfg: RouterConfig, ipv6: boolean): ChainSpec[] {
  if (cfg.netfilter === 'off') return [];
  const tun = cfg.tunName;
  const out: ChainSpec[] = [];
  for (const fam of ipv6 ? ([4, 6] as const) : ([4] as const)) {
    // Our tailnet addresses and service addresses (quad-100 on lo) talking to themselves over lo
    // must pass before the anti-spoofing drop (100.100.100.100 is inside 100.64.0.0/10).
    const own = [...cfg.localAddrs, ...(cfg.serviceAddrs ?? [])].filter((a) => (fam === 6) === a.includes(':')).map((a) => a.split('/')[0]!);
    const acl = cfg.acl ? (fam === 4 ? cfg.acl.v4 : cfg.acl.v6) : undefined;
    // ACL chains first: they must exist before the chains that jump to them (and go last on removal).
    for (const c of acl ?? []) out.push({ fam, table: 'filter', chain: c.chain, hook: '', rules: c.rules });
    const input: string[][] = own.map((ip) => ['-i', 'lo', '-s', ip, '-j', 'ACCEPT']);
    if (acl) input.push(['-i', tun, '-j', ACL_CHAIN]);
    input.push(['-i', tun, '-j', 'ACCEPT']);
    if (fam === 4) {
      // Anti-spoofing: tailnet source addresses only ever arrive through the tunnel (ChromeOS VMs excepted).
      input.push(['!', '-i', tun, '-s', '100.115.92.0/23', '-j', 'RETURN']);
      input.push(['!', '-i', tun, '-s', '100.64.0.0/10', '-j', 'DROP']);
    }
    out.push({ fam, table: 'filter', chain: CHAIN.input, hook: 'INPUT', rules: input });
    // Replies to the engine's bypass-marked connections must survive strict rp_filter when table 52
    // would route their source into the tunnel (exit node): restore the mark from the connmark.
    out.push({ fam, table: 'mangle', chain: CHAIN.connPre, hook: 'PREROUTING', rules: [['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-m', 'connmark', '!', '--mark', `0x0/${hex(FWMARK_MASK)}`, '-j', 'CONNMARK', '--restore-mark', '--nfmask', hex(FWMARK_MASK), '--ctmask', hex(FWMARK_MASK)]] });
    out.push({ fam, table: 'mangle', chain: CHAIN.connOut, hook: 'OUTPUT', rules: [['-m', 'conntrack', '--ctstate', 'NEW', '-m', 'mark', '!', '--mark', `0x0/${hex(FWMARK_MASK)}`, '-j', 'CONNMARK', '--save-mark', '--nfmask', hex(FWMARK_MASK), '--ctmask', hex(FWMARK_MASK)]] });
    if (!cfg.forwarding.enabled) continue;
    const fwd: string[][] = [['-i', tun, '-j', 'MARK', '--set-xmark', SUBNET_MARK]];
    if (acl) fwd.push(['-i', tun, '-j', ACL_CHAIN]);
    fwd.push(['-m', 'mark', '--mark', SUBNET_MARK, '-j', 'ACCEPT']);
    if (fam === 4) fwd.push(['-o', tun, '-s', '100.64.0.0/10', '-j', 'DROP']);
    if (cfg.forwarding.statefulFiltering) fwd.push(['-o', tun, '-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'DROP']);
    fwd.push(['-o', tun, '-j', 'ACCEPT']);
    out.push({ fam, table: 'filter', chain: CHAIN.forward, hook: 'FORWARD', rules: fwd });
    if (cfg.forwarding.snat) out.push({ fam, table: 'nat', chain: CHAIN.post, hook: 'POSTROUTING', rules: [['-m', 'mark', '--mark', SUBNET_MARK, '-j', 'MASQUERADE']] });
    // MSS clamping both ways: the tunnel's MTU (1280) is below the LAN's, and PMTU discovery across
    // a subnet router often fails (ICMP filtered), which stalls TCP.
    out.push({
      fam,
      table: 'mangle',
      chain: CHAIN.mssFwd,
      hook: 'FORWARD',
      rules: [
        ['-o', tun, '-p', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', '--clamp-mss-to-pmtu'],
        ['-i', tun, '-p', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', '--clamp-mss-to-pmtu'],
      ],
    });
  }
  return out;
}

// ---- state file ------------------------------------------------------------------------------

const StateSchema = z.object({
  version: z.literal(1),
  tun: z.string(),
  addrs: z.array(z.string()),
  routes: z.array(z.string()),
  throws: z.array(z.string()),
  rules: z.array(z.object({ fam: z.union([z.literal(4), z.literal(6)]), spec: z.array(z.string()) })),
  chains: z.array(
    z.object({ fam: z.union([z.literal(4), z.literal(6)]), table: z.enum(['filter', 'nat', 'mangle']), chain: z.string(), hook: z.string(), rules: z.array(z.array(z.string())) }),
  ),
  sysctls: z.array(z.object({ key: z.string(), old: z.string() })),
  /** Service addresses we put on the loopback. */
  svcAddrs: z.array(z.string()).default([]),
  /** The TUN's MTU and up/down state before we changed them (undefined: not touched yet). */
  link: z.object({ mtu: z.number().int(), up: z.boolean() }).optional(),
});
export type RouterState = z.infer<typeof StateSchema>;

export interface RouterStateStore {
  load(): Promise<string | undefined>;
  save(text: string): Promise<void>;
  clear(): Promise<void>;
}

const emptyState = (tun: string): RouterState => ({ version: 1, tun, addrs: [], routes: [], throws: [], rules: [], chains: [], sysctls: [], svcAddrs: [] });

export interface LinuxRouterOptions {
  readonly runner: CommandRunner;
  readonly state: RouterStateStore;
  /** IPv6 usable on this host (tailscale skips v6 entirely when it is disabled). */
  readonly ipv6: boolean;
  readonly logger?: Logger;
}

/** Errors that mean "already gone": fine while removing. */
const GONE = /No such (file|process|device)|Cannot find device|does not exist|No chain\/target\/match|Bad rule|not found|RTNETLINK answers: No such|Cannot assign requested address|doesn't exist/i;

export class LinuxRouter implements Router {
  private st: RouterState | undefined;
  private repaired = false;

  constructor(private readonly o: LinuxRouterOptions) {}

  private async run(argv: string[]): Promise<void> {
    const r = await this.o.runner.run(argv);
    if (r.code !== 0) throw new MeshtrayError('ERR_INTERNAL', `\`${argv.join(' ')}\` failed: ${(r.stderr || r.stdout).trim()}`, { argv });
  }

  /** For removals: ignore "already gone", collect the rest. */
  private async runDel(argv: string[], errors: string[]): Promise<void> {
    const r = await this.o.runner.run(argv);
    if (r.code !== 0 && !GONE.test(r.stderr + r.stdout)) errors.push(`\`${argv.join(' ')}\`: ${(r.stderr || r.stdout).trim()}`);
  }

  private async save(): Promise<void> {
    await this.o.state.save(JSON.stringify(this.st));
  }

  private async loadState(): Promise<RouterState | undefined> {
    const text = await this.o.state.load();
    if (!text) return undefined;
    try {
      const r = StateSchema.safeParse(JSON.parse(text));
      if (r.success) return r.data;
      this.o.logger?.warn('router: state file unreadable; cannot repair leftovers', { reason: r.error.message });
    } catch (e) {
      this.o.logger?.warn('router: state file is not JSON; cannot repair leftovers', { err: String(e) });
    }
    return undefined;
  }

  async repair(): Promise<void> {
    this.repaired = true;
    const left = await this.loadState();
    if (!left) return;
    this.o.logger?.info('router: repairing what a previous run left', { routes: left.routes.length, rules: left.rules.length, chains: left.chains.length });
    this.st = left;
    await this.restore();
  }

  private fams(): Fam[] {
    return this.o.ipv6 ? [4, 6] : [4];
  }

  private famOf(prefix: string): Fam {
    return prefix.includes(':') ? 6 : 4;
  }

  async set(cfg: RouterConfig): Promise<void> {
    if (!this.repaired) await this.repair();
    if (this.st && this.st.tun !== cfg.tunName) await this.restore();
    this.st ??= emptyState(cfg.tunName);
    const st = this.st;
    const use = (p: string) => this.o.ipv6 || this.famOf(p) === 4;
    const validate = (list: readonly string[], what: string) => {
      for (const p of list) {
        const c = parseCIDR(p);
        if (!c || !c.masked || !p.includes('/')) throw new MeshtrayError('ERR_BAD_REQUEST', `router: ${what} ${JSON.stringify(p)} is not a canonical prefix`);
      }
    };
    validate(cfg.localAddrs.map((a) => (parseCIDR(a)?.family === 4 ? a.split('/')[0] + '/32' : a.split('/')[0] + '/128')), 'address');
    validate(cfg.routes, 'route');
    validate(cfg.localRoutes, 'local route');
    validate(cfg.serviceAddrs ?? [], 'service address');

    if (!st.link) {
      const r = await this.o.runner.run(['ip', '-j', 'link', 'show', 'dev', cfg.tunName]);
      if (r.code !== 0) throw new MeshtrayError('ERR_INTERNAL', `router: no interface ${cfg.tunName}: ${r.stderr.trim()}`);
      const l = (JSON.parse(r.stdout || '[]') as { mtu?: number; flags?: string[] }[])[0];
      st.link = { mtu: l?.mtu ?? cfg.mtu, up: (l?.flags ?? []).includes('UP') };
      await this.save();
    }
    await this.run(['ip', 'link', 'set', 'dev', cfg.tunName, 'mtu', String(cfg.mtu), 'up']);

    // Addresses: add first, then remove, so the interface never has none (router_linux.go Set).
    const wantAddrs = cfg.localAddrs.filter(use);
    for (const a of wantAddrs) {
      if (!st.addrs.includes(a)) {
        st.addrs.push(a);
        await this.save();
      }
      await this.run(['ip', `-${this.famOf(a)}`, 'addr', 'replace', a, 'dev', cfg.tunName]);
    }

    const wantSvc = (cfg.serviceAddrs ?? []).filter(use);
    for (const a of wantSvc) {
      if (!st.svcAddrs.includes(a)) {
        st.svcAddrs.push(a);
        await this.save();
      }
      await this.run(['ip', `-${this.famOf(a)}`, 'addr', 'replace', a, 'dev', 'lo']);
    }

    // Policy rules, once; refuse to take over rules someone else (e.g. tailscaled) installed.
    if (st.rules.length === 0) {
      for (const fam of this.fams()) {
        const list = await this.o.runner.run(['ip', `-${fam}`, '-j', 'rule', 'show']);
        if (list.code === 0) {
          const prefs = new Set(Object.values(RULE_PRIORITIES));
          const taken = (JSON.parse(list.stdout || '[]') as { priority?: number }[]).filter((r) => r.priority !== undefined && prefs.has(r.priority as never));
          if (taken.length) {
            throw new MeshtrayError('ERR_INTERNAL', `router: IPv${fam} policy rules at priorities ${taken.map((r) => r.priority).join(', ')} already exist and are not ours (is tailscaled running?); not touching them`);
          }
        }
      }
      for (const fam of this.fams()) {
        for (const r of policyRules()) {
          st.rules.push({ fam, spec: r.spec });
          await this.save();
          await this.run(['ip', `-${fam}`, 'rule', 'add', ...r.spec]);
        }
      }
    }

    // Routes and throw routes in table 52.
    const wantRoutes = cfg.routes.filter(use);
    const wantThrows = cfg.localRoutes.filter(use);
    for (const p of wantRoutes) {
      if (!st.routes.includes(p)) {
        st.routes.push(p);
        await this.save();
      }
      await this.run(['ip', `-${this.famOf(p)}`, 'route', 'replace', p, 'dev', cfg.tunName, 'table', String(ROUTE_TABLE)]);
    }
    for (const p of wantThrows) {
      if (!st.throws.includes(p)) {
        st.throws.push(p);
        await this.save();
      }
      await this.run(['ip', `-${this.famOf(p)}`, 'route', 'replace', 'throw', p, 'table', String(ROUTE_TABLE)]);
    }

    // Forwarding sysctls (only while routing for others; old values recorded and put back).
    if (cfg.forwarding.enabled) {
      const keys = ['net.ipv4.ip_forward', ...(this.o.ipv6 ? ['net.ipv6.conf.all.forwarding'] : [])];
      for (const key of keys) {
        if (st.sysctls.some((s) => s.key === key)) continue;
        const r = await this.o.runner.run(['sysctl', '-n', key]);
        const old = r.stdout.trim();
        if (r.code !== 0 || old === '1') continue;
        st.sysctls.push({ key, old });
        await this.save();
        await this.run(['sysctl', '-qw', `${key}=1`]);
      }
    }

    // Firewall chains: (re)build a chain only when its rules changed; hook it once.
    const want = desiredChains(cfg, this.o.ipv6);
    const key = (c: { fam: Fam; table: string; chain: string }) => `${c.fam}/${c.table}/${c.chain}`;
    for (const c of want) {
      const have = st.chains.find((h) => key(h) === key(c));
      if (have && JSON.stringify(have.rules) === JSON.stringify(c.rules)) continue;
      const ipt = c.fam === 4 ? 'iptables' : 'ip6tables';
      if (!have) {
        st.chains.push({ fam: c.fam, table: c.table, chain: c.chain, hook: c.hook, rules: c.rules.map((r) => [...r]) });
        await this.save();
        await this.run([ipt, '-w', '-t', c.table, '-N', c.chain]);
        if (c.hook) await this.run([ipt, '-w', '-t', c.table, '-I', c.hook, '1', '-j', c.chain]);
      } else {
        have.rules = c.rules.map((r) => [...r]);
        await this.save();
        await this.run([ipt, '-w', '-t', c.table, '-F', c.chain]);
      }
      for (const r of c.rules) await this.run([ipt, '-w', '-t', c.table, '-A', c.chain, ...r]);
    }

    // Now remove what is no longer wanted.
    const errors: string[] = [];
    // Newest first: a chain goes only after the chains that jump to it were rebuilt or removed.
    for (const h of [...st.chains].reverse()) {
      if (want.some((c) => key(c) === key(h))) continue;
      await this.removeChain(h, errors);
      st.chains = st.chains.filter((x) => x !== h);
      await this.save();
    }
    if (!cfg.forwarding.enabled && st.sysctls.length) {
      for (const s of [...st.sysctls].reverse()) await this.runDel(['sysctl', '-qw', `${s.key}=${s.old}`], errors);
      st.sysctls = [];
      await this.save();
    }
    for (const p of st.routes.filter((x) => !wantRoutes.includes(x))) {
      await this.runDel(['ip', `-${this.famOf(p)}`, 'route', 'del', p, 'dev', cfg.tunName, 'table', String(ROUTE_TABLE)], errors);
      st.routes = st.routes.filter((x) => x !== p);
      await this.save();
    }
    for (const p of st.throws.filter((x) => !wantThrows.includes(x))) {
      await this.runDel(['ip', `-${this.famOf(p)}`, 'route', 'del', 'throw', p, 'table', String(ROUTE_TABLE)], errors);
      st.throws = st.throws.filter((x) => x !== p);
      await this.save();
    }
    for (const a of st.svcAddrs.filter((x) => !wantSvc.includes(x))) {
      await this.runDel(['ip', `-${this.famOf(a)}`, 'addr', 'del', a, 'dev', 'lo'], errors);
      st.svcAddrs = st.svcAddrs.filter((x) => x !== a);
      await this.save();
    }
    for (const a of st.addrs.filter((x) => !wantAddrs.includes(x))) {
      await this.runDel(['ip', `-${this.famOf(a)}`, 'addr', 'del', a, 'dev', cfg.tunName], errors);
      st.addrs = st.addrs.filter((x) => x !== a);
      await this.save();
    }
    if (errors.length) throw new MeshtrayError('ERR_INTERNAL', `router: could not remove: ${errors.join('; ')}`);
  }

  private async removeChain(h: RouterState['chains'][number], errors: string[]): Promise<void> {
    const ipt = h.fam === 4 ? 'iptables' : 'ip6tables';
    if (h.hook) await this.runDel([ipt, '-w', '-t', h.table, '-D', h.hook, '-j', h.chain], errors);
    await this.runDel([ipt, '-w', '-t', h.table, '-F', h.chain], errors);
    await this.runDel([ipt, '-w', '-t', h.table, '-X', h.chain], errors);
  }

  /** Packets the kernel ACL dropped so far (both families), by reason; zeros when no ACL is installed. */
  async aclDrops(): Promise<{ acl: number; notLocal: number }> {
    const out = { acl: 0, notLocal: 0 };
    for (const c of this.st?.chains ?? []) {
      if (c.chain !== ACL_CHAIN) continue;
      const r = await this.o.runner.run([c.fam === 4 ? 'iptables' : 'ip6tables', '-w', '-t', 'filter', '-nvxL', ACL_CHAIN]);
      if (r.code !== 0) continue;
      const d = parseACLDrops(r.stdout);
      out.acl += d.acl;
      out.notLocal += d.notLocal;
    }
    return out;
  }

  async restore(): Promise<void> {
    const st = this.st ?? (await this.loadState());
    if (!st) return;
    const errors: string[] = [];
    for (const h of [...st.chains].reverse()) await this.removeChain(h, errors);
    for (const s of [...st.sysctls].reverse()) await this.runDel(['sysctl', '-qw', `${s.key}=${s.old}`], errors);
    for (const p of st.throws) await this.runDel(['ip', `-${this.famOf(p)}`, 'route', 'del', 'throw', p, 'table', String(ROUTE_TABLE)], errors);
    for (const p of st.routes) await this.runDel(['ip', `-${this.famOf(p)}`, 'route', 'del', p, 'dev', st.tun, 'table', String(ROUTE_TABLE)], errors);
    for (const r of [...st.rules].reverse()) await this.runDel(['ip', `-${r.fam}`, 'rule', 'del', ...r.spec], errors);
    for (const a of st.addrs) await this.runDel(['ip', `-${this.famOf(a)}`, 'addr', 'del', a, 'dev', st.tun], errors);
    for (const a of st.svcAddrs) await this.runDel(['ip', `-${this.famOf(a)}`, 'addr', 'del', a, 'dev', 'lo'], errors);
    if (st.link) {
      await this.runDel(['ip', 'link', 'set', 'dev', st.tun, 'mtu', String(st.link.mtu), ...(st.link.up ? [] : ['down'])], errors);
    }
    if (errors.length) {
      // Keep the state file: the next start tries again.
      this.st = st;
      throw new MeshtrayError('ERR_INTERNAL', `router: restore incomplete: ${errors.join('; ')}`);
    }
    this.st = undefined;
    await this.o.state.clear();
  }
}
