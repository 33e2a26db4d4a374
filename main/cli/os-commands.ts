// The issue-6 verbs: `set` (tailscale's cmd/tailscale/cli/set.go: change prefs without `up`),
// `why <ip|name>` (Meshtray's own: which way a packet to that address goes, from the table the
// engine installed), `debug prefs` (the Prefs JSON, as `tailscale debug prefs`) and the OS lines of
// `debug metrics` (filter drops, MagicDNS counters, route warnings).
import type { Command } from 'commander';
import type { OSMetrics } from '../../common/contract/api.js';
import { MeshtrayError } from '../../common/errors/errors.js';
import type { LocalClient } from '../client/localapi-client.js';
import { FlagError } from './go-flags.js';
import { addPrefFlags, needsCurrentPrefs, prefsFromFlags, type PrefFlagOpts } from './pref-flags.js';

export interface OSCommandIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

export function registerSet(program: Command, client: () => LocalClient): Command {
  const cmd = program.command('set').description('change preferences (routes, exit node, DNS) of a running or stopped node');
  addPrefFlags(cmd);
  cmd.option('--hostname <name>', 'hostname to use instead of the one the OS reports');
  cmd.action(async (o: PrefFlagOpts & { hostname?: string }) => {
    const c = client();
    const mp = prefsFromFlags(o, needsCurrentPrefs(o) ? await c.getPrefs() : undefined);
    if (o.hostname !== undefined) mp.Hostname = o.hostname;
    if (Object.keys(mp).length === 0) throw new FlagError('no flags specified; see "meshtray set --help"');
    await c.editPrefs(mp);
  });
  return cmd;
}

export function registerWhy(program: Command, client: () => LocalClient, io: OSCommandIO): Command {
  return program
    .command('why')
    .description('show which way a packet to this address would go right now (LAN, exit node, subnet router, peer) and why')
    .argument('<ip|name>', 'an IP address or a tailnet name')
    .option('--json', 'print the answer as JSON')
    .action(async (dest: string, o: { json?: boolean }) => {
      const a = await client().call('why', { Dest: dest });
      io.out(o.json ? JSON.stringify(a, null, 2) + '\n' : a.text + '\n');
    });
}

/** `debug prefs` under an existing or new `debug` command. */
export function registerDebugPrefs(debug: Command, client: () => LocalClient, io: OSCommandIO): Command {
  return debug
    .command('prefs')
    .description('print the node\'s preferences as JSON (tailscale debug prefs)')
    .action(async () => {
      io.out(JSON.stringify(await client().getPrefs(), null, 2) + '\n');
    });
}

/** The OS half of `debug metrics`, one `name value` line each; route warnings as comments. */
export function osMetricsLines(m: OSMetrics): string {
  const lines = [
    `filter_dropped_acl ${m.FilterDrops.acl}`,
    `filter_dropped_not_local ${m.FilterDrops.notLocal}`,
    ...Object.entries(m.DNS).map(([k, v]) => `magicdns_${k} ${v}`),
    `os_applies ${m.Applies}`,
    `os_apply_errors ${m.ApplyErrors}`,
    `os_resolver_installed ${m.OSResolverInstalled ? 1 : 0}`,
    `route_warnings ${m.RouteWarnings.length}`,
    ...m.RouteWarnings.map((w) => `# route warning (${w.code}): ${w.message}`),
  ];
  return lines.join('\n') + '\n';
}

/** The OS metrics, or undefined from an engine without an OS integration (ERR_NOT_FOUND). */
export async function fetchOSMetrics(c: LocalClient): Promise<OSMetrics | undefined> {
  try {
    return await c.call('osMetrics', {});
  } catch (e) {
    if (MeshtrayError.is(e) && e.code === 'ERR_NOT_FOUND') return undefined;
    throw e;
  }
}
