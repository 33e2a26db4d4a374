// The `meshtray` CLI: tailscale's verbs and flag spellings (cmd/tailscale/cli/{up,down,logout,status,
// ip,whois,exitnode,version}.go) over the daemon's LocalAPI. runCli returns the exit code instead of exiting, so
// tests run it in-process.
import { Command, CommanderError, Option } from 'commander';
import { LocalClient, DEFAULT_SOCKET } from '../client/localapi-client.js';
import { MeshtrayError } from '../../common/errors/errors.js';
import { defaultPrefs, type MaskedPrefs } from '../../common/schemas/prefs.js';
import type { Notify } from '../../common/schemas/notify.js';
import type { ApiResponse } from '../../common/contract/api.js';
import { FlagError, normalizeGoFlags, parseGoDuration } from './go-flags.js';
import { resolveAuthKey } from './auth-key.js';
import { findPeer, formatStatus } from './status-format.js';
import { CliFail, formatExitNodeList, formatSuggestion, suggestExitNode } from './exit-node.js';
import { canonicalIP, formatWhoIs, whoIs, whoIsJSON } from './whois.js';
import { fetchOSMetrics, osMetricsLines, registerDebugPrefs, registerSet, registerWhy } from './os-commands.js';
import { addPrefFlags, needsCurrentPrefs, prefsFromFlags, PREF_BOOL_FLAGS, type PrefFlagOpts } from './pref-flags.js';
import { packageVersion } from './version.js';
import { cmdPing, formatNetcheck } from './ping-netcheck.js';
import { registerDns } from './dns-status.js';
import { registerWeb } from './web.js';

export interface CliIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const BOOL_FLAGS = new Set(['all', 'until-direct', 'tsmp', 'icmp', 'verbose', 'json', 'force-reauth', 'reset', 'peers', 'self', 'active', 'header', 'web', 'browser', '4', '6', '1', ...PREF_BOOL_FLAGS]);

/** Thrown inside actions to finish with an exit code after output was written. */
class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  let args: string[];
  try {
    args = normalizeGoFlags(argv, BOOL_FLAGS);
  } catch (e) {
    io.err(`meshtray: ${(e as Error).message}\n`);
    return 2;
  }
  const program = buildProgram(io);
  try {
    await program.parseAsync(args, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof Exit) return e.code;
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
      // commander already printed its one-line error.
      return e.exitCode || 1;
    }
    if (e instanceof FlagError) {
      io.err(`meshtray: ${e.message}\n`);
      return 2;
    }
    if (e instanceof CliFail) {
      io.err(`${e.message}\n`);
      return 1;
    }
    if (MeshtrayError.is(e)) {
      io.err(`${e.message}\n`);
      return 1;
    }
    io.err(`meshtray: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

function buildProgram(io: CliIO): Command {
  const program = new Command('meshtray');
  const client = (): LocalClient => new LocalClient({ socketPath: (program.opts() as { socket?: string }).socket ?? DEFAULT_SOCKET });
  program
    .description('Meshtray: a Tailscale-compatible mesh VPN client (talks to meshtrayd)')
    .option('--socket <path>', 'path to meshtrayd\'s LocalAPI socket', DEFAULT_SOCKET)
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (s, write) => write(usageErrorLine(program, s)) })
    .showSuggestionAfterError(true)
    .allowExcessArguments(false);

  const up = program
    .command('up')
    .description('connect to the tailnet, logging in if needed')
    .option('--login-server <url>', 'base URL of the control server (e.g. your Headscale)')
    .option('--auth-key <key>', 'node authorization key, or file:PATH to read it from a file')
    .addOption(new Option('--authkey <key>', 'alias of --auth-key').hideHelp())
    .option('--hostname <name>', 'hostname to use instead of the one the OS reports')
    .option('--timeout <duration>', 'maximum time to wait for the node to be Running (Go duration, 0s = forever)', '0s')
    .option('--json', 'print output as JSON (login URL and state)')
    .option('--accept-routes', "accept routes advertised by other nodes")
    .addOption(new Option('--no-accept-routes').hideHelp())
    .option('--accept-dns', 'accept DNS configuration from the control server')
    .addOption(new Option('--no-accept-dns').hideHelp())
    .option('--force-reauth', 'force re-authentication (new node key)')
    .option('--reset', 'reset unspecified settings to their defaults')
    .option('--advertise-tags <tags>', 'comma-separated ACL tags to request (interactive login only on Headscale)')
    .option('--advertise-routes <routes>', 'comma-separated subnet routes to advertise')
    .action(async (o: UpOpts) => {
      throw new Exit(await cmdUp(client(), o, io));
    });
  // The rest of the routing/DNS flags `set` has (--exit-node, --advertise-exit-node, …).
  addPrefFlags(up, new Set(['accept-routes', 'accept-dns', 'advertise-routes']));

  program
    .command('down')
    .description('disconnect from the tailnet (keeps the login)')
    .action(async () => {
      await client().down();
    });

  program
    .command('logout')
    .description('disconnect and expire the current login')
    .action(async () => {
      await client().logout();
    });

  program
    .command('status')
    .description('show the state of this node and its peers')
    .option('--json', 'output in JSON format (tailscale field names)')
    .option('--active', 'only peers with active sessions')
    .option('--self', 'show this machine (default true; --self=false to hide it)')
    .addOption(new Option('--no-self').hideHelp())
    .option('--peers', 'show the peers (default true; --peers=false to hide them)')
    .addOption(new Option('--no-peers').hideHelp())
    .option('--header', 'show column headers in table format')
    // tailscale's web mode: refused with one line rather than silently printing the table.
    .addOption(new Option('--web').hideHelp())
    .addOption(new Option('--listen <addr>').hideHelp())
    .addOption(new Option('--browser').hideHelp())
    .addOption(new Option('--no-browser').hideHelp())
    .action(async (o: StatusOpts) => {
      for (const [flag, v] of [['web', o.web], ['listen', o.listen], ['browser', o.browser]] as const) {
        if (v !== undefined) throw new FlagError(`status --${flag} is not supported: Meshtray has no status web page (use "meshtray status --json")`);
      }
      const st = await client().status();
      if (o.json) {
        // tailscale: --peers=false asks for the status without peers (Peer null); --active drops idle ones.
        const peers = o.peers === false ? null : o.active ? Object.fromEntries(Object.entries(st.Peer ?? {}).filter(([, p]) => p.Active)) : st.Peer;
        // The prefs ride along (ExitNodeID, RouteAll, CorpDNS, AdvertiseRoutes, NoSNAT, …) so one
        // call shows what the node was asked to do beside what it does.
        io.out(JSON.stringify({ ...st, Peer: peers, Prefs: await client().getPrefs() }, null, 2) + '\n');
        return;
      }
      const t = formatStatus(st, { ...(o.self === false ? { self: false } : {}), ...(o.peers === false ? { peers: false } : {}), ...(o.active ? { active: true } : {}), ...(o.header ? { header: true } : {}) });
      (t.exitCode === 0 ? io.out : io.err)(t.text);
      throw new Exit(t.exitCode);
    });

  program
    .command('ip')
    .description("show this node's (or a peer's) Tailscale IP addresses")
    .option('-4', 'only IPv4')
    .option('-6', 'only IPv6')
    .option('-1', 'only one address, preferring IPv4')
    .option('--assert <ip>', "assert that one of this node's IPs is this address (exit 1 if not)")
    .argument('[peer]', 'peer hostname, MagicDNS name or IP')
    .action(async (peer: string | undefined, o: { 4?: boolean; 6?: boolean; 1?: boolean; assert?: string }) => {
      const n = [o[4], o[6], o[1]].filter(Boolean).length;
      if (n > 1) throw new FlagError('-1, -4 and -6 are mutually exclusive');
      const st = await client().status();
      if (o.assert !== undefined) {
        // tailscale ip --assert checks this node's own addresses (cmd/tailscale/cli/ip.go).
        const mine = st.TailscaleIPs ?? [];
        if (mine.some((i) => i === o.assert || canonicalIP(i) === canonicalIP(o.assert!))) return;
        throw new CliFail(`assertion failed: IP ${JSON.stringify(o.assert)} not found among [${mine.join(' ')}]`);
      }
      let ips: string[];
      if (peer) {
        const p = findPeer(st, peer);
        if (!p) {
          io.err(`no such peer "${peer}"\n`);
          throw new Exit(1);
        }
        ips = p.TailscaleIPs;
      } else {
        ips = st.TailscaleIPs ?? [];
        if (ips.length === 0) {
          io.err(`no current Tailscale IPs; state: ${st.BackendState}\n`);
          throw new Exit(1);
        }
      }
      const v4 = ips.filter((i) => !i.includes(':'));
      const v6 = ips.filter((i) => i.includes(':'));
      let out = ips;
      if (o[4]) out = v4;
      if (o[6]) out = v6;
      if (o[1]) out = (v4.length ? v4 : v6).slice(0, 1);
      if (out.length === 0) {
        io.err(`no Tailscale ${o[6] ? 'IPv6' : 'IPv4'} address\n`);
        throw new Exit(1);
      }
      io.out(out.join('\n') + '\n');
    });

  program
    .command('ping')
    .description('ping a peer over the tailnet with disco, showing the path (DERP or direct)')
    .argument('<target>', 'peer IP or name')
    .option('-c, --c <n>', 'max number of pings to send; 0 for infinity', '10')
    .option('--timeout <duration>', 'timeout before giving up on a ping (Go duration)', '5s')
    .option('--until-direct', 'stop once a direct path is established', true)
    .addOption(new Option('--no-until-direct').hideHelp())
    .option('--tsmp', 'do a TSMP-level ping (not supported yet)')
    .option('--icmp', 'do an ICMP-level ping (not supported yet)')
    .option('--verbose', 'verbose output')
    .action(async (target: string, o: { c: string; timeout: string; untilDirect?: boolean; tsmp?: boolean; icmp?: boolean }) => {
      throw new Exit(await cmdPing(client(), target, { c: o.c, timeoutMs: parseGoDuration(o.timeout), untilDirect: o.untilDirect !== false, ...(o.tsmp ? { tsmp: true } : {}), ...(o.icmp ? { icmp: true } : {}) }, io));
    });

  program
    .command('netcheck')
    .description('print an analysis of local network conditions (UDP, public address, NAT, DERP latency)')
    .option('--format <fmt>', 'output format: "" (human), "json" or "json-line"', '')
    .action(async (o: { format: string }) => {
      const r = await client().call('netcheck', {});
      if (o.format === 'json') io.out(JSON.stringify(r.Report, null, '\t') + '\n');
      else if (o.format === 'json-line') io.out(JSON.stringify(r.Report) + '\n');
      else if (o.format === '') io.out(formatNetcheck(r));
      else throw new FlagError(`unknown output format "${o.format}"`);
    });

  program
    .command('whois')
    .description('show the machine and user associated with a tailnet IP (v4 or v6)')
    .argument('<ip[:port]>', 'a tailnet address, optionally with a port, or a node key (nodekey:…)')
    .option('--json', 'output in JSON format')
    .option('--proto <proto>', 'protocol: "tcp", "udp" or "" (both); addresses are matched the same for each')
    .action(async (addr: string, o: { json?: boolean; proto?: string }) => {
      if (o.proto !== undefined && !['', 'tcp', 'udp'].includes(o.proto)) throw new FlagError(`invalid --proto "${o.proto}": want "tcp", "udp" or ""`);
      const w = whoIs(await client().status(), addr);
      io.out(o.json ? JSON.stringify(whoIsJSON(w), null, 2) + '\n' : formatWhoIs(w));
    });

  const exitNode = program.command('exit-node').description('show machines on your tailnet configured as exit nodes');
  exitNode
    .command('list')
    .description('show exit nodes')
    .option('--filter <country>', 'filter exit nodes by country', '')
    .action(async (o: { filter: string }) => {
      io.out(formatExitNodeList(await client().status(), o.filter, Date.now()));
    });
  exitNode
    .command('suggest')
    .description('suggest the online exit node whose home DERP region is nearest (lowest netcheck latency)')
    .action(async () => {
      const c = client();
      const st = await c.status();
      if (st.BackendState !== 'Running') throw new CliFail(`suggest exit node: not running (state: ${st.BackendState})`);
      io.out(formatSuggestion(suggestExitNode(st, await fetchNetcheck(c))));
    });

  registerSet(program, client);
  registerWhy(program, client, io);
  registerDns(program, client, io);
  registerWeb(program, () => (program.opts() as { socket?: string }).socket ?? DEFAULT_SOCKET, io);
  const debug = program.command('debug').description('debugging commands');
  registerDebugPrefs(debug, client, io);
  debug
    .command('metrics')
    .description('print counters as "name value" lines (data path: drops by reason, packets into JS, disco, DERP; packet filter drops, MagicDNS, OS routes)')
    .action(async () => {
      const c = client();
      const dp = await fetchDataPathMetrics(c);
      if (dp) io.out(Object.entries(dp).map(([k, v]) => `${k} ${v}`).join('\n') + '\n');
      const m = await fetchOSMetrics(c);
      if (m) io.out(osMetricsLines(m));
    });

  program
    .command('version')
    .description('print the version')
    .option('--json', 'output as JSON')
    .action((o: { json?: boolean }) => {
      const v = packageVersion();
      io.out(o.json ? JSON.stringify({ short: v, long: v, meshtray: true }, null, 2) + '\n' : `${v}\n`);
    });

  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program).slice(1)) {
    c.exitOverride().configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (s, write) => write(usageErrorLine(c, s)) }).allowExcessArguments(false);
  }
  return program;
}

/**
 * A usage error as one line: what was wrong (commander's message, its "Did you mean" folded in) and
 * where the usage is, e.g. "meshtray status: unknown option '--bogus'; see 'meshtray status --help'".
 */
function usageErrorLine(cmd: Command, msg: string): string {
  const path: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) path.unshift(c.name());
  const what = msg.replace(/^error: /, '').split('\n').map((l) => l.trim()).filter(Boolean).join(' ').replace(/\.$/, '');
  return `${path.join(' ')}: ${what}; see '${path.join(' ')} --help'\n`;
}

interface StatusOpts {
  json?: boolean;
  active?: boolean;
  self?: boolean;
  peers?: boolean;
  header?: boolean;
  web?: boolean;
  listen?: string;
  browser?: boolean;
}

/** A fresh netcheck (region latencies for `exit-node suggest`), or undefined from an engine without one. */
async function fetchNetcheck(c: LocalClient): Promise<ApiResponse<'netcheck'> | undefined> {
  try {
    return await c.call('netcheck', {});
  } catch (e) {
    if (MeshtrayError.is(e) && e.code === 'ERR_NOT_FOUND') return undefined;
    throw e;
  }
}

/** The data path's counters, or undefined from an engine without one (ERR_NOT_FOUND). */
async function fetchDataPathMetrics(c: LocalClient): Promise<Record<string, number> | undefined> {
  try {
    return (await c.call('metrics', {})).Counters;
  } catch (e) {
    if (MeshtrayError.is(e) && e.code === 'ERR_NOT_FOUND') return undefined;
    throw e;
  }
}

interface UpOpts extends PrefFlagOpts {
  loginServer?: string;
  authKey?: string;
  authkey?: string;
  hostname?: string;
  timeout: string;
  json?: boolean;
  forceReauth?: boolean;
  reset?: boolean;
  advertiseTags?: string;
}

function splitList(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}

async function cmdUp(client: LocalClient, o: UpOpts, io: CliIO): Promise<number> {
  const timeoutMs = parseGoDuration(o.timeout);
  if (o.authKey !== undefined && o.authkey !== undefined && o.authKey !== o.authkey) throw new FlagError('--auth-key and --authkey given with different values');
  const authKey = await resolveAuthKey(o.authKey ?? o.authkey);
  let prefs: MaskedPrefs = {};
  if (o.reset) {
    const d = defaultPrefs();
    prefs = { Hostname: d.Hostname, RouteAll: d.RouteAll, CorpDNS: d.CorpDNS, AdvertiseTags: d.AdvertiseTags, AdvertiseRoutes: d.AdvertiseRoutes, ShieldsUp: d.ShieldsUp, ExitNodeID: d.ExitNodeID, ExitNodeIP: d.ExitNodeIP, ExitNodeAllowLANAccess: d.ExitNodeAllowLANAccess, NoSNAT: d.NoSNAT };
  }
  if (o.loginServer !== undefined) {
    try {
      const u = new URL(o.loginServer);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    } catch {
      throw new FlagError(`invalid --login-server URL "${o.loginServer}"`);
    }
    prefs.ControlURL = o.loginServer;
  }
  if (o.hostname !== undefined) prefs.Hostname = o.hostname;
  const tags = splitList(o.advertiseTags);
  if (tags) prefs.AdvertiseTags = tags;
  // Same mapping as `set` (pref-flags.ts); --exit-node is resolved by the engine.
  Object.assign(prefs, prefsFromFlags(o, needsCurrentPrefs(o) && !o.reset ? await client.getPrefs() : undefined));

  const ac = new AbortController();
  let timedOut = false;
  const timer = timeoutMs > 0 ? setTimeout(() => { timedOut = true; ac.abort(); }, timeoutMs) : undefined;
  const watch = client.watch(ac.signal);
  let printedURL = '';
  const showURL = (url: string, state: string): void => {
    if (!url || url === printedURL) return;
    printedURL = url;
    if (o.json) io.out(JSON.stringify({ AuthURL: url, BackendState: state }, null, 2) + '\n');
    else io.err(`\nTo authenticate, visit:\n\n\t${url}\n\n`);
  };
  const succeed = (): number => {
    if (o.json) io.out(JSON.stringify({ BackendState: 'Running' }, null, 2) + '\n');
    else if (printedURL) io.err('Success.\n');
    return 0;
  };
  try {
    await watch.next(); // the snapshot: from before our start, so its State is not an answer
    const req: { Prefs: MaskedPrefs; AuthKey?: string; ForceReauth?: boolean } = { Prefs: prefs };
    if (authKey) req.AuthKey = authKey;
    if (o.forceReauth) req.ForceReauth = true;
    await client.start(req);
    const st = await client.status();
    if (st.BackendState === 'Running') return succeed();
    if (st.AuthURL) showURL(st.AuthURL, st.BackendState);
    let state = st.BackendState as string;
    for await (const n of watch as AsyncIterable<Notify>) {
      if (n.ErrMessage) {
        io.err(`backend error: ${n.ErrMessage}\n`);
        return 1;
      }
      if (n.State) state = n.State;
      if (n.BrowseToURL) showURL(n.BrowseToURL, state);
      if (n.State === 'Running') return succeed();
    }
    if (timedOut) {
      io.err('timeout waiting for Meshtray to enter a Running state; check health with "meshtray status"\n');
      return 1;
    }
    io.err('meshtrayd closed the connection before the node was Running\n');
    return 1;
  } catch (e) {
    if (timedOut) {
      io.err('timeout waiting for Meshtray to enter a Running state; check health with "meshtray status"\n');
      return 1;
    }
    throw e;
  } finally {
    if (timer) clearTimeout(timer);
    ac.abort();
    await watch.return?.();
  }
}
