// `meshtray dns status [--all] [--json]`: tailscale's `dns status` (cmd/tailscale/cli/dns-status.go:
// the same sections, lines and order, so a reader of one reads the other; `--json` has the same field
// names, tsdnsjsonv0.StatusResponse) plus one section tailscale does not print: what Meshtray itself
// configured here — the resolver it wrote into the OS, where MagicDNS (quad-100) forwards each
// suffix, and which suffixes it answers itself.
import { Option, type Command } from 'commander';
import type { DNSResolverInfo, DNSStatus } from '../../common/contract/api.js';
import type { LocalClient } from '../client/localapi-client.js';

export interface DNSStatusIO {
  out: (s: string) => void;
}

export function registerDns(program: Command, client: () => LocalClient, io: DNSStatusIO): Command {
  const dns = program.command('dns').description('diagnose the DNS configuration of this device (MagicDNS, split DNS, the OS resolver)');
  dns
    .command('status')
    .description('print the current DNS status and configuration')
    .option('--all', 'also print fallback resolvers, certificate domains, extra records, the exit node filtered set, match domains and every reverse zone')
    // `--all=false` arrives as `--no-all` (go-flags.ts).
    .addOption(new Option('--no-all').hideHelp())
    .option('--json', 'output in JSON format (tailscale dns status --json field names, plus "Meshtray")')
    .action(async (o: { all?: boolean; json?: boolean }) => {
      const s = await client().call('dnsStatus', {});
      io.out(o.json ? JSON.stringify(s, null, 2) + '\n' : formatDNSStatus(s, o.all === true));
    });
  return dns;
}

const pad = (s: string, n: number): string => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function resolverLine(r: DNSResolverInfo): string {
  return r.Addr + (r.BootstrapResolution?.length ? ` (bootstrap: [${r.BootstrapResolution.join(' ')}])` : '');
}

/** The text of `dns status`, as tailscale's formatDNSStatusText lays it out (meshtray's verbs in the hints). */
export function formatDNSStatus(d: DNSStatus, all: boolean): string {
  const L: string[] = [];
  const p = (s = ''): void => {
    L.push(s);
  };
  p();
  p("=== 'Use Tailscale DNS' status ===");
  p();
  if (d.TailscaleDNS) {
    p('Tailscale DNS: enabled.');
    p();
    p('Meshtray is configured to handle DNS queries on this device.');
    p("Run 'meshtray set --accept-dns=false' to revert to your system default DNS resolver.");
  } else {
    p('Tailscale DNS: disabled.');
    p();
    p("(Run 'meshtray set --accept-dns=true' to start sending DNS queries to the Tailscale DNS resolver)");
  }
  p();
  p('=== MagicDNS configuration ===');
  p();
  p('This is the DNS configuration provided by the coordination server to this device.');
  p();
  const t = d.CurrentTailnet;
  if (!t) {
    p("No tailnet information available; make sure you're logged in to a tailnet.");
    return L.join('\n') + '\n';
  }
  if (t.MagicDNSEnabled) {
    p(`MagicDNS: enabled tailnet-wide (suffix = ${t.MagicDNSSuffix ?? ''})`);
    p();
    p(`Other devices in your tailnet can reach this device at ${t.SelfDNSName ?? ''}`);
  } else {
    p('MagicDNS: disabled tailnet-wide.');
  }
  p();
  p('Resolvers (in preference order):');
  if (!d.Resolvers?.length) p("  (no resolvers configured, system default will be used: see 'System DNS configuration' below)");
  for (const r of d.Resolvers ?? []) p(`  - ${resolverLine(r)}`);
  p();
  p('Split DNS Routes:');
  const routes = d.SplitDNSRoutes ?? {};
  const suffixes = Object.keys(routes).sort();
  if (suffixes.length === 0) p('  (no routes configured: split DNS disabled)');
  for (const k of suffixes) {
    // One line per resolver, as tailscale prints them.
    for (const r of routes[k]!) p(`  - ${pad(k, 30)} -> ${resolverLine(r)}`);
  }
  p();
  if (all) {
    p('Fallback Resolvers:');
    if (!d.FallbackResolvers?.length) p('  (no fallback resolvers configured)');
    (d.FallbackResolvers ?? []).forEach((r, i) => p(`  ${i}: ${resolverLine(r)}`));
    p();
  }
  p('Search Domains:');
  if (!d.SearchDomains?.length) p('  (no search domains configured)');
  for (const s of d.SearchDomains ?? []) p(`  - ${s}`);
  p();
  if (all) {
    p('Certificate Domains:');
    if (!d.CertDomains?.length) p('  (no certificate domains are configured)');
    for (const s of d.CertDomains ?? []) p(`  - ${s}`);
    p();
    p('Additional DNS Records:');
    if (!d.ExtraRecords?.length) p('  (no extra records are configured)');
    for (const r of d.ExtraRecords ?? []) p(r.Type ? `  - [${r.Type}] ${pad(r.Name, 50)} -> ${r.Value}` : `  - ${pad(r.Name, 50)} -> ${r.Value}`);
    p();
    p('Filtered suffixes when forwarding DNS queries as an exit node:');
    if (!d.ExitNodeFilteredSet?.length) p('  (no suffixes are filtered)');
    for (const s of d.ExitNodeFilteredSet ?? []) p(`  - ${s}`);
    p();
  }
  meshtraySection(d, all, p);
  p('=== System DNS configuration ===');
  p();
  p("This is the DNS configuration that Meshtray believes your operating system is using (from before");
  p('Meshtray changed it). MagicDNS forwards names outside the tailnet to it when the coordination server');
  p('provides no resolvers.');
  p();
  if (d.SystemDNSError) {
    if (/not supported/.test(d.SystemDNSError)) p('  (reading the system DNS configuration is not supported on this host)');
    else p(`  (failed to read system DNS configuration: ${d.SystemDNSError})`);
  } else if (!d.SystemDNS) {
    p('  (no OS DNS configuration available)');
  } else {
    p('Nameservers:');
    if (d.SystemDNS.Nameservers.length === 0) p('  (no nameservers found, DNS queries might fail\nunless the coordination server is providing a nameserver)');
    for (const n of d.SystemDNS.Nameservers) p(`  - ${n}`);
    p();
    p('Search domains:');
    if (d.SystemDNS.SearchDomains.length === 0) p('  (no search domains found)');
    for (const s of d.SystemDNS.SearchDomains) p(`  - ${s}`);
    if (all) {
      p();
      p('Match domains:');
      if (d.SystemDNS.MatchDomains.length === 0) p('  (no match domains found)');
      for (const m of d.SystemDNS.MatchDomains) p(`  - ${m}`);
    }
  }
  p();
  return L.join('\n') + '\n';
}

/** Meshtray's own section: what it wrote into the OS and what quad-100 does with each name. */
function meshtraySection(d: DNSStatus, all: boolean, p: (s?: string) => void): void {
  p('=== Meshtray on this device ===');
  p();
  const m = d.Meshtray;
  if (!m) {
    p("(nothing configured: the node is not running; run 'meshtray up')");
    p();
    return;
  }
  if (m.OSResolverInstalled && m.OSResolver) {
    p('OS resolver: set by Meshtray (/etc/resolv.conf)');
    p('Nameservers:');
    for (const n of m.OSResolver.Nameservers) p(`  - ${n}`);
    p('Search domains:');
    if (m.OSResolver.SearchDomains.length === 0) p('  (none)');
    for (const s of m.OSResolver.SearchDomains) p(`  - ${s}`);
  } else {
    p(`OS resolver: not changed by Meshtray (${m.OSResolverReason ?? 'not installed'})`);
  }
  p();
  p('MagicDNS (100.100.100.100) forwards:');
  const fw = Object.keys(m.Routes).sort((a, b) => (a === '.' ? 1 : b === '.' ? -1 : a.localeCompare(b)));
  if (fw.length === 0) p('  (nothing: names outside the tailnet get SERVFAIL from 100.100.100.100)');
  for (const k of fw) p(`  - ${pad(k === '.' ? '(everything else)' : k, 30)} -> ${m.Routes[k]!.map((r) => r.Addr).join(', ')}`);
  p();
  p('MagicDNS answers itself (never forwarded):');
  const reverse = m.LocalDomains.filter((s) => s.endsWith('.arpa.'));
  const shown = all ? m.LocalDomains : m.LocalDomains.filter((s) => !s.endsWith('.arpa.'));
  // Without --accept-dns quad-100 still answers the tailnet's own names; it is just not authoritative for a suffix.
  if (m.LocalDomains.length === 0) p("  (no whole suffix; only the tailnet's own names)");
  for (const s of shown) p(`  - ${s}`);
  if (!all && reverse.length) p(`  (and ${reverse.length} reverse DNS zone${reverse.length === 1 ? '' : 's'}; --all lists them)`);
  p();
}
