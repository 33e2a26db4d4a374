// The netmap's packet filter compiled into a per-packet matcher (tailscale wgengine/filter:
// tailcfg.go MatchesFromFilterRules, match.go, filter.go pre/runIn4/runIn6/RunOut). Pure: the
// clock is injected (flow expiry), no I/O; the data plane calls `inbound` on each decrypted packet
// before the TUN write and `outbound` on each packet read from the TUN.
//
// Stateful part: outbound UDP/SCTP packets record the reversed 5-tuple so replies pass, like
// tailscale's flowtrack LRU (512 entries). Tailscale never expires entries by time; we also drop
// an entry after `flowIdleMs` without outbound traffic (default 5 min, longer than common UDP NAT
// timeouts), so a long-gone flow cannot be used to slip packets in later.
import type { Clock } from '../ports/ports.js';
import type { FilterRule } from '../netmap/tailcfg.js';
import { bigintToIp6, IPSet } from '../routes/ip-set.js';
import { isICMPResponseOrError, parsePacket, PROTO, TCP_ACK, TCP_SYN, type ParsedPacket } from './packet.js';

export const DEFAULT_PROTOS: readonly number[] = [PROTO.TCP, PROTO.UDP, PROTO.ICMP, PROTO.ICMPV6];

export interface CompiledMatch {
  readonly protos: ReadonlySet<number>;
  readonly srcs: IPSet;
  readonly srcCaps: readonly string[];
  readonly dsts: readonly { readonly set: IPSet; readonly first: number; readonly last: number }[];
}

export interface CompileResult {
  readonly matches: readonly CompiledMatch[];
  /** Entries that did not parse (dropped, the rest kept — as tailscale does), for the log. */
  readonly errors: readonly string[];
}

const ALL = IPSet.from(['0.0.0.0/0', '::/0']).set;

function parseSet(entries: readonly string[], errors: string[], what: string): IPSet {
  const plain: string[] = [];
  let all = false;
  for (const e of entries) {
    if (e === '*') all = true;
    else plain.push(e);
  }
  if (all) return ALL;
  const { set, bad } = IPSet.from(plain);
  for (const b of bad) errors.push(`${what} ${JSON.stringify(b)} is not an IP, CIDR or range`);
  return set;
}

/** MatchesFromFilterRules: rules with SrcBits/Bits are rejected entirely (pre-2021 form). */
export function compileFilterRules(rules: readonly FilterRule[]): CompileResult {
  const errors: string[] = [];
  const matches: CompiledMatch[] = [];
  for (const [i, r] of rules.entries()) {
    if ((r.SrcBits && r.SrcBits.length > 0) || (r.DstPorts ?? []).some((d) => d.Bits != null)) {
      errors.push(`rule ${i}: obsolete SrcBits/Bits fields; rule ignored`);
      continue;
    }
    if (!r.DstPorts || r.DstPorts.length === 0) continue; // CapGrant-only rules grant no packets
    const protos = new Set((r.IPProto && r.IPProto.length > 0 ? r.IPProto : DEFAULT_PROTOS).filter((p) => p >= 0 && p <= 255));
    const caps = (r.SrcIPs ?? []).filter((s) => s.startsWith('cap:')).map((s) => s.slice(4));
    const srcs = parseSet((r.SrcIPs ?? []).filter((s) => !s.startsWith('cap:')), errors, `rule ${i}: SrcIPs`);
    const dsts = r.DstPorts.map((d) => ({
      set: parseSet([d.IP], errors, `rule ${i}: DstPorts.IP`),
      first: d.Ports.First,
      last: d.Ports.Last,
    })).filter((d) => !d.set.isEmpty && d.first <= d.last);
    if (dsts.length === 0) continue;
    matches.push({ protos, srcs, srcCaps: caps, dsts });
  }
  return { matches, errors };
}

export const DropReasons = ['too-short', 'unknown-protocol', 'multicast', 'link-local', 'not-local', 'acl', 'shields-up', 'malformed'] as const;
export type DropReason = (typeof DropReasons)[number];

export type Verdict = { readonly accept: true; readonly why: string } | { readonly accept: false; readonly reason: DropReason; readonly why: string };

export interface FilterCounters {
  readonly inAccepted: number;
  readonly outAccepted: number;
  readonly drops: Readonly<Record<DropReason, number>>;
  readonly flows: number;
}

export interface PacketFilterOptions {
  readonly clock: Clock;
  /**
   * Destinations this node accepts for (its own addresses, service IPs, advertised routes; for an
   * exit node 0/0 minus its own LAN plus its host IPs — see localNetsFor).
   */
  readonly localNets: IPSet;
  /** `cap:` sources: does the peer at this address hold the capability? (default: no) */
  readonly srcHasCap?: (src: string, cap: string) => boolean;
  readonly flowCapacity?: number;
  readonly flowIdleMs?: number;
}

const MULTICAST4_START = 0xe0000000;
const MULTICAST4_END = 0xefffffff;
const LINKLOCAL4_START = 0xa9fe0000; // 169.254.0.0/16
const LINKLOCAL4_END = 0xa9feffff;
const METADATA4 = 0xa9fea9fe; // 169.254.169.254, allowed (isAllowedLinkLocal)
const MULTICAST6 = 0xffn << 120n;
const LINKLOCAL6_MASK = 0xffc0n << 112n; // fe80::/10
const LINKLOCAL6 = 0xfe80n << 112n;

function flowKey(proto: number, aFam: number, a: number | bigint, ap: number, b: number | bigint, bp: number): string {
  return `${proto}|${aFam}|${a}|${ap}|${b}|${bp}`;
}

export class PacketFilter {
  private readonly matches: readonly CompiledMatch[];
  private readonly shieldsUp: boolean;
  private readonly flows = new Map<string, number>(); // key -> last outbound ms; Map order = LRU order
  private readonly capacity: number;
  private readonly idleMs: number;
  private inAccepted = 0;
  private outAccepted = 0;
  private readonly drops: Record<DropReason, number> = Object.fromEntries(DropReasons.map((r) => [r, 0])) as Record<DropReason, number>;
  readonly compileErrors: readonly string[];

  /**
   * `rules` undefined = no netmap yet or --shields-up: only the stateful exceptions pass (tailscale
   * behaves as shields-up until it has a filter). `[]` = deny all new inbound.
   */
  constructor(rules: readonly FilterRule[] | undefined, private readonly opts: PacketFilterOptions) {
    const c = compileFilterRules(rules ?? []);
    this.matches = c.matches;
    this.compileErrors = c.errors;
    this.shieldsUp = rules === undefined;
    this.capacity = opts.flowCapacity ?? 512;
    this.idleMs = opts.flowIdleMs ?? 300_000;
  }

  /** Hands over flow state (and counters) when the rules change, so replies keep passing. */
  static replacing(old: PacketFilter | undefined, rules: readonly FilterRule[] | undefined, opts: PacketFilterOptions): PacketFilter {
    const f = new PacketFilter(rules, opts);
    if (old) {
      for (const [k, v] of old.flows) f.flows.set(k, v);
      f.inAccepted = old.inAccepted;
      f.outAccepted = old.outAccepted;
      for (const r of DropReasons) f.drops[r] = old.drops[r];
    }
    return f;
  }

  counters(): FilterCounters {
    return { inAccepted: this.inAccepted, outAccepted: this.outAccepted, drops: { ...this.drops }, flows: this.flows.size };
  }

  private drop(reason: DropReason, why: string): Verdict {
    this.drops[reason]++;
    return { accept: false, reason, why };
  }

  private pre(b: Uint8Array): ParsedPacket | Verdict {
    if (b.length === 0) return { accept: true, why: 'keepalive' };
    const p = parsePacket(b);
    if (p === 'too-short') return this.drop('too-short', 'too short');
    if (typeof p === 'string') return this.drop('malformed', p);
    if (p.family === 4) {
      const d = p.dst as number;
      if (d >= MULTICAST4_START && d <= MULTICAST4_END) return this.drop('multicast', 'multicast');
      if (d >= LINKLOCAL4_START && d <= LINKLOCAL4_END && d !== METADATA4) return this.drop('link-local', 'link-local unicast');
    } else {
      const d = p.dst as bigint;
      if (d >> 120n === MULTICAST6 >> 120n) return this.drop('multicast', 'multicast');
      if ((d & LINKLOCAL6_MASK) === LINKLOCAL6) return this.drop('link-local', 'link-local unicast');
    }
    if (p.laterFragment) return { accept: true, why: 'fragment' };
    return p;
  }

  /** A packet from a peer (after WireGuard decryption), before it is written to the TUN. */
  inbound(b: Uint8Array): Verdict {
    const p = this.pre(b);
    if ('accept' in p) {
      if (p.accept) this.inAccepted++;
      return p;
    }
    const local = p.family === 4 ? this.opts.localNets.has4(p.dst as number) : this.opts.localNets.has6(p.dst as bigint);
    if (!local) return this.drop('not-local', 'destination not allowed');
    const ok = (why: string): Verdict => {
      this.inAccepted++;
      return { accept: true, why };
    };
    const denied = (): Verdict => (this.shieldsUp ? this.drop('shields-up', 'shields up') : this.drop('acl', 'no rules matched'));
    switch (p.proto) {
      case PROTO.ICMP:
      case PROTO.ICMPV6:
        if (isICMPResponseOrError(p)) return ok('icmp response ok');
        if (this.matchIPsOnly(p)) return ok('icmp ok');
        return denied();
      case PROTO.TCP:
        // Non-SYN segments pass (established flows in either direction); only a new inbound
        // connection (SYN without ACK) needs a rule.
        if ((p.tcpFlags & (TCP_SYN | TCP_ACK)) !== TCP_SYN) return ok('tcp non-syn');
        if (this.match(p)) return ok('tcp ok');
        return denied();
      case PROTO.UDP:
      case PROTO.SCTP: {
        const k = flowKey(p.proto, p.family, p.src, p.srcPort, p.dst, p.dstPort);
        const seen = this.flows.get(k);
        if (seen !== undefined) {
          if (this.opts.clock.now() - seen <= this.idleMs) return ok('cached');
          this.flows.delete(k);
        }
        if (this.match(p)) return ok('ok');
        return denied();
      }
      case PROTO.TSMP:
        return ok('tsmp ok');
      default:
        if (this.matchProtoAllPorts(p)) return ok('other-portless ok');
        return this.drop('unknown-protocol', `unknown proto ${p.proto}`);
    }
  }

  /** A packet read from the TUN, going to a peer: always passes the pre-checks' survivors; opens UDP flows. */
  outbound(b: Uint8Array): Verdict {
    const p = this.pre(b);
    if ('accept' in p) {
      if (p.accept) this.outAccepted++;
      return p;
    }
    if (p.proto === PROTO.TSMP) return this.drop('unknown-protocol', 'TSMP from the OS');
    if (p.proto === PROTO.UDP || p.proto === PROTO.SCTP) {
      // The reply's tuple: from their address/port to ours.
      const k = flowKey(p.proto, p.family, p.dst, p.dstPort, p.src, p.srcPort);
      this.flows.delete(k);
      this.flows.set(k, this.opts.clock.now());
      if (this.flows.size > this.capacity) this.flows.delete(this.flows.keys().next().value!);
    }
    this.outAccepted++;
    return { accept: true, why: 'outbound' };
  }

  private srcMatches(m: CompiledMatch, p: ParsedPacket): boolean {
    if (p.family === 4 ? m.srcs.has4(p.src as number) : m.srcs.has6(p.src as bigint)) return true;
    if (m.srcCaps.length && this.opts.srcHasCap) {
      const src = addrText(p.family, p.src);
      return m.srcCaps.some((c) => this.opts.srcHasCap!(src, c));
    }
    return false;
  }

  private match(p: ParsedPacket): boolean {
    for (const m of this.matches) {
      if (!m.protos.has(p.proto) || !this.srcMatches(m, p)) continue;
      for (const d of m.dsts) {
        if (p.dstPort < d.first || p.dstPort > d.last) continue;
        if (p.family === 4 ? d.set.has4(p.dst as number) : d.set.has6(p.dst as bigint)) return true;
      }
    }
    return false;
  }

  private matchIPsOnly(p: ParsedPacket): boolean {
    for (const m of this.matches) {
      if (!this.srcMatches(m, p)) continue;
      for (const d of m.dsts) if (p.family === 4 ? d.set.has4(p.dst as number) : d.set.has6(p.dst as bigint)) return true;
    }
    return false;
  }

  private matchProtoAllPorts(p: ParsedPacket): boolean {
    for (const m of this.matches) {
      if (!m.protos.has(p.proto) || !this.srcMatches(m, p)) continue;
      for (const d of m.dsts) {
        if (d.first !== 0 || d.last !== 65535) continue;
        if (p.family === 4 ? d.set.has4(p.dst as number) : d.set.has6(p.dst as bigint)) return true;
      }
    }
    return false;
  }
}

function addrText(family: 4 | 6, v: number | bigint): string {
  if (family === 4) {
    const n = v as number;
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  return bigintToIp6(v as bigint);
}

/**
 * The filter's "local networks" (ipnlocal updateFilterLocked): our addresses, plus advertised routes;
 * an advertised /0 becomes "everything except this machine's own LAN subnets, plus its host IPs"
 * (shrinkDefaultRoute), so exit-node users reach the internet but not the exit node's LAN unless
 * it is advertised explicitly.
 */
export function localNetsFor(selfAddrs: readonly string[], advertised: readonly string[], lanPrefixes: readonly string[], hostIPs: readonly string[]): IPSet {
  let set = IPSet.from([...selfAddrs]).set;
  const lan = IPSet.from([...lanPrefixes]).set;
  const hosts = IPSet.from([...hostIPs]).set;
  for (const r of advertised) {
    if (r === '0.0.0.0/0' || r === '::/0') {
      const route = IPSet.from([r]).set;
      const hostsInRoute = hosts.minus(hosts.minus(route));
      set = set.union(route.minus(lan).union(hostsInRoute));
    } else set = set.union(IPSet.from([r]).set);
  }
  return set;
}
