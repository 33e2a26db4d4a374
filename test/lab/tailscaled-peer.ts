// The reference peer: real tailscaled + tailscale CLI in a namespace (flags per lab.md section 5;
// tailscale cmd/tailscaled/tailscaled.go).
import { join } from 'node:path';
import { CliPeer, type PeerKind, type PeerOptions } from './peer.js';

export class TailscaledPeer extends CliPeer {
  readonly kind: PeerKind = 'tailscaled';
  constructor(opts: PeerOptions, private readonly bins: { tailscaled: string; tailscale: string }) {
    super(opts);
  }
  protected get daemonLog(): string {
    return join(this.logDir, 'tailscaled.log');
  }
  protected daemonArgv(): string[] {
    return [
      this.bins.tailscaled,
      `--statedir=${this.dir}`,
      `--socket=${this.socket}`,
      `--tun=${this.opts.tun ?? 'tailscale0'}`,
      // always explicit: tailscaled's --port default comes from env PORT
      `--port=${this.opts.port ?? 41641}`,
      '--no-logs-no-support',
      '--verbose=1',
    ];
  }
  protected daemonEnv(): Record<string, string> {
    return {
      // per-node log dir; without it every node shares /var/lib/tailscale (logpolicy)
      TS_LOGS_DIR: this.logDir,
      TS_NO_LOGS_NO_SUPPORT: 'true',
      TS_DISABLE_PORTMAPPER: '1',
    };
  }
  protected cliArgv(): string[] {
    return [this.bins.tailscale, `--socket=${this.socket}`];
  }
}
