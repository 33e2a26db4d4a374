// The routing/DNS preference flags `up` and `set` share, with tailscale's spellings and meanings
// (cmd/tailscale/cli/up.go and set.go): each flag maps onto one ipn.Prefs field; only flags the
// user typed change anything. --exit-node is resolved by the engine (it has the netmap): the CLI
// sends the name or IP as given and the engine stores the peer's StableID, or answers a clear error.
import { Option, type Command } from 'commander';
import type { MaskedPrefs, Prefs } from '../../common/schemas/prefs.js';
import { FlagError } from './go-flags.js';

/** Boolean flags of this file, for Go-style `--flag=false` normalisation. */
export const PREF_BOOL_FLAGS = ['accept-routes', 'accept-dns', 'exit-node-allow-lan-access', 'advertise-exit-node', 'snat-subnet-routes', 'shields-up'] as const;

export interface PrefFlagOpts {
  acceptRoutes?: boolean;
  acceptDns?: boolean;
  exitNode?: string;
  exitNodeAllowLanAccess?: boolean;
  advertiseRoutes?: string;
  advertiseExitNode?: boolean;
  snatSubnetRoutes?: boolean;
  shieldsUp?: boolean;
}

/** tailscale's exit routes (tsaddr.AllIPv4/AllIPv6), added by --advertise-exit-node. */
export const EXIT_ROUTES = ['0.0.0.0/0', '::/0'] as const;

/** Adds the routing/DNS flags to a command. `skip` leaves out flags the command already defines. */
export function addPrefFlags(cmd: Command, skip: ReadonlySet<string> = new Set()): Command {
  const add = (flag: string, o: Option): void => {
    if (!skip.has(flag)) cmd.addOption(o);
  };
  add('accept-routes', new Option('--accept-routes', 'accept routes advertised by other nodes (subnet routers)'));
  add('accept-routes', new Option('--no-accept-routes').hideHelp());
  add('accept-dns', new Option('--accept-dns', 'use MagicDNS (100.100.100.100) as this machine\'s resolver'));
  add('accept-dns', new Option('--no-accept-dns').hideHelp());
  add('exit-node', new Option('--exit-node <name|ip>', 'send all internet traffic through this peer; "" (--exit-node=) to stop'));
  add('exit-node-allow-lan-access', new Option('--exit-node-allow-lan-access', 'keep the local LAN reachable directly while using an exit node'));
  add('exit-node-allow-lan-access', new Option('--no-exit-node-allow-lan-access').hideHelp());
  add('advertise-routes', new Option('--advertise-routes <routes>', 'comma-separated subnet routes to offer to the tailnet ("" to stop)'));
  add('advertise-exit-node', new Option('--advertise-exit-node', 'offer this machine as an exit node'));
  add('advertise-exit-node', new Option('--no-advertise-exit-node').hideHelp());
  add('snat-subnet-routes', new Option('--snat-subnet-routes', 'masquerade traffic forwarded to advertised routes (default true)'));
  add('snat-subnet-routes', new Option('--no-snat-subnet-routes').hideHelp());
  add('shields-up', new Option('--shields-up', "don't allow incoming connections"));
  add('shields-up', new Option('--no-shields-up').hideHelp());
  return cmd;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** tailscale's calcAdvertiseRoutes checks: a prefix, canonical (no host bits), not /0 (that is --advertise-exit-node). */
export function parseAdvertiseRoutes(s: string): string[] {
  const out: string[] = [];
  for (const raw of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = V4.exec(raw);
    if (m) {
      const oct = m.slice(1, 5).map(Number);
      const bits = Number(m[5]);
      if (oct.some((o) => o > 255) || bits > 32) throw new FlagError(`"${raw}" is not a valid IP address or CIDR prefix`);
      const n = ((oct[0]! << 24) | (oct[1]! << 16) | (oct[2]! << 8) | oct[3]!) >>> 0;
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      if ((n & mask) >>> 0 !== n) {
        const c = (n & mask) >>> 0;
        throw new FlagError(`${raw} has non-address bits set; expected ${[c >>> 24, (c >>> 16) & 255, (c >>> 8) & 255, c & 255].join('.')}/${bits}`);
      }
    } else if (!/^[0-9a-fA-F:]+\/\d{1,3}$/.test(raw) || Number(raw.split('/')[1]) > 128) {
      throw new FlagError(`"${raw}" is not a valid IP address or CIDR prefix`);
    }
    if (raw === '0.0.0.0/0' || raw === '::/0') throw new FlagError(`${raw} is the exit node route; use --advertise-exit-node instead`);
    out.push(raw);
  }
  return out;
}

/**
 * The prefs edit for the given flags. `current` is needed when only one of --advertise-routes /
 * --advertise-exit-node is given (the other half of AdvertiseRoutes is kept).
 */
export function prefsFromFlags(o: PrefFlagOpts, current?: Pick<Prefs, 'AdvertiseRoutes'>): MaskedPrefs {
  const mp: MaskedPrefs = {};
  if (o.acceptRoutes !== undefined) mp.RouteAll = o.acceptRoutes;
  if (o.acceptDns !== undefined) mp.CorpDNS = o.acceptDns;
  if (o.exitNodeAllowLanAccess !== undefined) mp.ExitNodeAllowLANAccess = o.exitNodeAllowLanAccess;
  if (o.snatSubnetRoutes !== undefined) mp.NoSNAT = !o.snatSubnetRoutes;
  if (o.shieldsUp !== undefined) mp.ShieldsUp = o.shieldsUp;
  if (o.exitNode !== undefined) {
    // The engine resolves the name/IP against its netmap and stores the StableID (ExitNodeID).
    mp.ExitNodeIP = o.exitNode.trim();
    mp.ExitNodeID = '';
  }
  if (o.advertiseRoutes !== undefined || o.advertiseExitNode !== undefined) {
    const cur = current?.AdvertiseRoutes ?? [];
    const curExit = EXIT_ROUTES.every((r) => cur.includes(r));
    const subnets = o.advertiseRoutes !== undefined ? parseAdvertiseRoutes(o.advertiseRoutes) : cur.filter((r) => !(EXIT_ROUTES as readonly string[]).includes(r));
    const exit = o.advertiseExitNode ?? curExit;
    mp.AdvertiseRoutes = [...subnets, ...(exit ? EXIT_ROUTES : [])];
  }
  return mp;
}

export function needsCurrentPrefs(o: PrefFlagOpts): boolean {
  return (o.advertiseRoutes === undefined) !== (o.advertiseExitNode === undefined);
}
