// Meshtray in place of tailscaled: `node bin/meshtrayd.js` takes tailscaled's daemon flags and
// `node bin/meshtray.js --socket=…` the tailscale CLI's verbs and flags.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.js';
import { CliPeer, type PeerKind, type PeerOptions } from './peer.js';
import { repoRoot } from './versions.js';

export function meshtrayBins(root = repoRoot()): { daemon: string; cli: string; node: string } {
  return { daemon: join(root, 'bin', 'meshtrayd.js'), cli: join(root, 'bin', 'meshtray.js'), node: process.execPath };
}

/** True when the compiled daemon and CLI exist (bin/*.js import dist/main/{daemon,cli}/main.js). */
export function meshtrayBuilt(root = repoRoot()): boolean {
  return existsSync(join(root, 'dist', 'main', 'daemon', 'main.js')) && existsSync(join(root, 'dist', 'main', 'cli', 'main.js'));
}

export class MeshtraydPeer extends CliPeer {
  readonly kind: PeerKind = 'meshtrayd';
  private readonly bins = meshtrayBins();
  constructor(opts: PeerOptions) {
    super(opts);
    if (!meshtrayBuilt()) throw new LabError('meshtrayd is not built (dist/main/daemon/main.js missing)', 'run `npm run build`');
  }
  protected get daemonLog(): string {
    return join(this.logDir, 'meshtrayd.log');
  }
  protected daemonArgv(): string[] {
    return [
      this.bins.node,
      this.bins.daemon,
      `--statedir=${this.dir}`,
      `--socket=${this.socket}`,
      `--tun=${this.opts.tun ?? 'tailscale0'}`,
      `--port=${this.opts.port ?? 41641}`,
    ];
  }
  protected daemonEnv(): Record<string, string> {
    return {};
  }
  protected cliArgv(): string[] {
    return [this.bins.node, this.bins.cli, `--socket=${this.socket}`];
  }
}
