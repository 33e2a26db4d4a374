// tailscaled's flags (cmd/tailscaled/tailscaled.go), as meshtrayd accepts them, parsed with
// commander after Go-style normalisation (-state=x → --state=x).
import { Command, CommanderError, Option } from 'commander';

export const DEFAULT_SOCKET = '/var/run/meshtray/meshtrayd.sock';
export const DEFAULT_STATEDIR = '/var/lib/meshtray';
export const DEFAULT_TUN = 'meshtray0';
/** tailscaled's default UDP port (0 would mean "pick one"). */
export const DEFAULT_PORT = 41641;

export interface DaemonFlags {
  state?: string;
  statedir?: string;
  socket: string;
  tun: string;
  port: number;
  verbose: number;
}

export type FlagsResult = { ok: true; flags: DaemonFlags } | { ok: false; exitCode: number; message?: string; helpShown?: boolean };

function intFlag(name: string, min: number, max: number) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw new Error(`invalid value "${v}" for --${name}: must be an integer`);
    const n = Number(v);
    if (n < min || n > max) throw new Error(`invalid value "${v}" for --${name}: must be in ${min}..${max}`);
    return n;
  };
}

export function parseDaemonFlags(argv: readonly string[], write: { out: (s: string) => void; err: (s: string) => void }): FlagsResult {
  const args = argv.map((a) => (/^-[A-Za-z][A-Za-z0-9-]+(=.*)?$/.test(a) ? '-' + a : a));
  const p = new Command('meshtrayd')
    .description(
      'meshtrayd: the Meshtray engine host (tailscaled-compatible flags).\n' +
        'It creates the TUN device named by --tun and the WireGuard/disco UDP socket on --port\n' +
        'once logged in.',
    )
    .option('--state <path>', 'state file path, or "mem:" to keep state only in memory')
    .option('--statedir <dir>', `directory for the state file (default ${DEFAULT_STATEDIR} when --state is not given)`)
    .option('--socket <path>', 'LocalAPI unix socket path', DEFAULT_SOCKET)
    .option('--tun <name>', 'TUN device name, or "userspace-networking" (control plane only for now)', DEFAULT_TUN)
    .addOption(new Option('--port <n>', 'UDP port for WireGuard and peer traffic; 0 = automatic').argParser(intFlag('port', 0, 65535)).default(DEFAULT_PORT))
    .addOption(new Option('--verbose <n>', 'log verbosity (0 = info, 1+ = debug)').argParser(intFlag('verbose', 0, 100)).default(0))
    .option('--no-logs-no-support', 'accepted for tailscaled compatibility; Meshtray never uploads logs')
    .exitOverride()
    .allowExcessArguments(false)
    .configureOutput({ writeOut: write.out, writeErr: write.err, outputError: (s, w) => w(s.split('\n')[0] + '\n') });
  try {
    p.parse(args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return { ok: false, exitCode: 0, helpShown: true };
      return { ok: false, exitCode: 2 };
    }
    write.err(`meshtrayd: ${(e as Error).message}\n`);
    return { ok: false, exitCode: 2 };
  }
  const o = p.opts() as { state?: string; statedir?: string; socket: string; tun: string; port: number; verbose: number };
  if (o.state === '') {
    write.err('meshtrayd: --state must not be empty\n');
    return { ok: false, exitCode: 2 };
  }
  const flags: DaemonFlags = { socket: o.socket, tun: o.tun, port: o.port, verbose: o.verbose };
  if (o.state) flags.state = o.state;
  if (o.statedir) flags.statedir = o.statedir;
  if (!flags.state && !flags.statedir) flags.statedir = DEFAULT_STATEDIR;
  return { ok: true, flags };
}
