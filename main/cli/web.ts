// `meshtray web [--listen=localhost:8088]`: the Meshtray window in a browser, served on loopback
// from meshtrayd's LocalAPI (main/web). Flags as tailscale's (cmd/tailscale/cli/web.go); the ones
// that make no sense here (CGI, reverse-proxy prefix/origin, read-only mode) are refused with a line.
import { Option, type Command } from 'commander';
import { FlagError } from './go-flags.js';

export interface WebIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

interface WebOpts {
  listen: string;
  cgi?: unknown;
  prefix?: unknown;
  readonly?: unknown;
  origin?: unknown;
}

const REFUSED: Record<'cgi' | 'prefix' | 'readonly' | 'origin', string> = {
  cgi: 'meshtray web runs only as its own server on loopback, not as a CGI script',
  prefix: 'meshtray web is not meant to sit behind a reverse proxy (it serves loopback only)',
  origin: 'meshtray web is not meant to sit behind a reverse proxy (it serves loopback only)',
  readonly: 'meshtray web has no read-only mode yet',
};

export function registerWeb(program: Command, socketPath: () => string, io: WebIO): Command {
  return program
    .command('web')
    .description('serve the Meshtray window on this machine (loopback only) for a browser; runs until Ctrl-C')
    .option('--listen <addr>', 'listen address, loopback only; port 0 for automatic', 'localhost:8088')
    .addOption(new Option('--cgi [bool]').hideHelp())
    .addOption(new Option('--prefix <path>').hideHelp())
    .addOption(new Option('--readonly [bool]').hideHelp())
    .addOption(new Option('--origin <url>').hideHelp())
    .action(async (o: WebOpts) => {
      for (const flag of ['cgi', 'prefix', 'readonly', 'origin'] as const) {
        if (o[flag] !== undefined) throw new FlagError(`web --${flag} is not supported: ${REFUSED[flag]}`);
      }
      // Loaded only for this verb: the other verbs need none of the window's modules.
      const { runWebCommand } = await import('../web/web-command.js');
      const { parseListen } = await import('../web/web-security.js');
      try {
        parseListen(o.listen);
      } catch (e) {
        throw new FlagError((e as Error).message);
      }
      await runWebCommand({ socketPath: socketPath(), listen: o.listen, out: io.out, err: io.err });
    });
}
