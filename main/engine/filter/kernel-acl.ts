// The same packet filter compiled for the Linux kernel (iptables chains), so inbound traffic from
// peers is enforced today even though the native data plane has no filter hook (native/README.md
// "No packet filter"). Semantics follow PacketFilter/tailscale filter.go as far as the kernel can:
//   - replies and established flows pass (conntrack ESTABLISHED,RELATED: UDP replies to our own
//     flows, ICMP errors and echo replies), TCP non-SYN passes (tailscale accepts it statelessly);
//   - the destination must be one of our local networks, else drop ("destination not allowed");
//   - TCP/UDP/SCTP need a rule matching source, destination and port; ICMP passes if any rule lets
//     the source reach the destination address; other protocols need a rule listing them with all
//     ports; everything else is dropped and counted by iptables' packet counters.
// Not expressible here: `cap:` sources (need peer capabilities), TSMP (consumed by the engine).
// The router installs these chains and refers to `mt-acl` from its input and forward chains.
import type { FilterRule } from '../netmap/tailcfg.js';
import { parseCIDR, parseRangeEntry, numberToIp4, bigintToIp6 } from '../routes/ip-set.js';
import { DEFAULT_PROTOS } from './filter.js';
import { PROTO } from './packet.js';

export const ACL_CHAIN = 'mt-acl';
const RULES_CHAIN = 'mt-acl-rules';

export interface KernelChain {
  readonly chain: string;
  readonly rules: readonly (readonly string[])[];
}

export interface KernelACL {
  /** Chains in creation order (referenced chains first); the entry point is ACL_CHAIN. */
  readonly v4: readonly KernelChain[];
  readonly v6: readonly KernelChain[];
  /** Entries the kernel cannot express (cap: sources, unparsable), for the log. */
  readonly skipped: readonly string[];
}

/** iptables source/destination match for one filter address entry of one family, or undefined. */
function addrMatch(entry: string, fam: 4 | 6, dir: 'src' | 'dst'): string[] | undefined | 'all' {
  if (entry === '*') return 'all';
  const r = parseRangeEntry(entry);
  if (!r || r.family !== fam) return undefined;
  const text = (v: number | bigint) => (fam === 4 ? numberToIp4(v as number) : bigintToIp6(v as bigint));
  if (entry.includes('-') && !entry.includes('/')) {
    return ['-m', 'iprange', dir === 'src' ? '--src-range' : '--dst-range', `${text(r.start)}-${text(r.end)}`];
  }
  const c = parseCIDR(entry.includes('/') ? entry : `${entry}/${fam === 4 ? 32 : 128}`)!;
  return [dir === 'src' ? '-s' : '-d', c.text];
}

function protoName(p: number, fam: 4 | 6): string {
  if (p === PROTO.TCP) return 'tcp';
  if (p === PROTO.UDP) return 'udp';
  if (p === PROTO.SCTP) return 'sctp';
  if (p === PROTO.ICMP) return fam === 4 ? 'icmp' : '1';
  if (p === PROTO.ICMPV6) return fam === 6 ? 'ipv6-icmp' : '58';
  return String(p);
}

function compileFamily(rules: readonly FilterRule[] | undefined, localNets: readonly string[], fam: 4 | 6, skipped: string[]): KernelChain[] {
  const chains: KernelChain[] = [];
  const dispatch: string[][] = [];
  const icmp = fam === 4 ? 'icmp' : 'ipv6-icmp';
  for (const [i, r] of (rules ?? []).entries()) {
    if ((r.SrcBits && r.SrcBits.length) || (r.DstPorts ?? []).some((d) => d.Bits != null) || !r.DstPorts?.length) continue;
    const protos = r.IPProto && r.IPProto.length ? r.IPProto.filter((p) => p >= 0 && p <= 255) : [...DEFAULT_PROTOS];
    const body: string[][] = [];
    for (const d of r.DstPorts) {
      const dm = addrMatch(d.IP, fam, 'dst');
      if (dm === undefined) continue;
      const dst = dm === 'all' ? [] : dm;
      const allPorts = d.Ports.First === 0 && d.Ports.Last === 65535;
      const ports = allPorts ? [] : ['--dport', d.Ports.First === d.Ports.Last ? String(d.Ports.First) : `${d.Ports.First}:${d.Ports.Last}`];
      for (const p of protos) {
        if (p === PROTO.TCP || p === PROTO.UDP || p === PROTO.SCTP) body.push([...dst, '-p', protoName(p, fam), ...ports, '-j', 'ACCEPT']);
        else if (p === PROTO.ICMP || p === PROTO.ICMPV6) continue; // below: any rule to the address admits ICMP
        else if (allPorts) body.push([...dst, '-p', protoName(p, fam), '-j', 'ACCEPT']);
      }
      // ICMP (echo requests): allowed when any rule lets the source reach the address (runIn4/runIn6).
      body.push([...dst, '-p', icmp, '-j', 'ACCEPT']);
    }
    if (body.length === 0) continue;
    const chain = `mt-acl-r${i}`;
    chains.push({ chain, rules: body });
    for (const s of r.SrcIPs ?? []) {
      if (s.startsWith('cap:')) {
        skipped.push(`rule ${i}: source ${s} (capabilities are not visible to the kernel)`);
        continue;
      }
      const sm = addrMatch(s, fam, 'src');
      if (sm === undefined) {
        if (parseRangeEntry(s) === undefined && s !== '*') skipped.push(`rule ${i}: source ${JSON.stringify(s)} does not parse`);
        continue;
      }
      dispatch.push([...(sm === 'all' ? [] : sm), '-j', chain]);
    }
  }
  chains.push({ chain: RULES_CHAIN, rules: dispatch });
  const entry: string[][] = [
    ['-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
    ['-p', 'tcp', '!', '--syn', '-j', 'ACCEPT'],
  ];
  for (const n of localNets) {
    const c = parseCIDR(n);
    if (!c || c.family !== fam) continue;
    entry.push(['-d', c.text, '-j', RULES_CHAIN]);
    // Local destination but no rule matched: the ACL drop (counted by this rule's counter).
    entry.push(['-d', c.text, '-m', 'comment', '--comment', 'mt-acl-drop', '-j', 'DROP']);
  }
  entry.push(['-m', 'comment', '--comment', 'mt-not-local-drop', '-j', 'DROP']);
  chains.push({ chain: ACL_CHAIN, rules: entry });
  return chains;
}

/**
 * `rules` undefined = no filter yet / shields up: only replies and established flows pass.
 * `localNets`: our addresses and the prefixes we route for others (filter.localNetsFor(...).prefixes()).
 */
export function compileKernelACL(rules: readonly FilterRule[] | undefined, localNets: readonly string[]): KernelACL {
  const skipped: string[] = [];
  const v4 = compileFamily(rules, localNets, 4, skipped);
  const v6 = compileFamily(rules, localNets, 6, []);
  return { v4, v6, skipped };
}

/** Drop counts from `iptables -w -nvxL mt-acl` output (pkts column of our two DROP kinds). */
export function parseACLDrops(listing: string): { acl: number; notLocal: number } {
  let acl = 0;
  let notLocal = 0;
  for (const line of listing.split('\n')) {
    const m = /^\s*(\d+)\s+\d+\s+DROP\b/.exec(line);
    if (!m) continue;
    if (line.includes('mt-acl-drop')) acl += Number(m[1]);
    else if (line.includes('mt-not-local-drop')) notLocal += Number(m[1]);
  }
  return { acl, notLocal };
}
