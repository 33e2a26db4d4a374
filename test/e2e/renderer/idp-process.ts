// Runs test/lab/oidc/idp.mjs (the lab's OpenID Provider) as a child process on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoopbackHeadscale } from '../control/headscale-loopback.js';
import { repoRoot } from './paths.js';
import { freeLoopbackPort } from '../support/free-port.js';
import { oidcConfigBlock } from './sso-steps.js';

export const IDP_CLIENT_SECRET = 'lab-secret';

export class IdpProcess {
  private constructor(
    readonly issuer: string,
    private readonly proc: ChildProcess,
    readonly output: string[],
  ) {}

  /** On loopback by default; `netns` + `issuer` run it inside a lab namespace (lab.md §7.1). */
  static async start(redirectUris: string[], where: { netns: string; issuer: string } | undefined = undefined): Promise<IdpProcess> {
    const issuer = where?.issuer ?? `http://127.0.0.1:${await freeLoopbackPort()}`;
    const script = join(repoRoot(), 'test', 'lab', 'oidc', 'idp.mjs');
    // `ip netns exec` execs the program itself, so the child PID is node's and SIGTERM reaches it.
    const [cmd, args] = where ? ['ip', ['netns', 'exec', where.netns, process.execPath, script]] : [process.execPath, [script]];
    const proc = spawn(cmd, args, {
      cwd: repoRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ISSUER: issuer, REDIRECT_URIS: redirectUris.join(','), CLIENT_SECRET: IDP_CLIENT_SECRET },
    });
    const output: string[] = [];
    const idp = new IdpProcess(issuer, proc, output);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`idp did not start:\n${output.join('')}`)), 20_000);
      proc.stdout!.on('data', (d: Buffer) => {
        output.push(d.toString());
        if (output.join('').includes(`idp ready ${issuer}`)) {
          clearTimeout(t);
          resolve();
        }
      });
      proc.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
      proc.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`idp exited (${code}):\n${output.join('')}`));
      });
    });
    return idp;
  }

  stop(): void {
    this.proc.kill('SIGTERM');
  }
}

/** Adds Headscale's oidc: block for this IdP and restarts Headscale on the same database (before any user exists). */
export async function enableHeadscaleOidc(hs: LoopbackHeadscale, idp: IdpProcess, allowedUsers: string[]): Promise<void> {
  appendFileSync(hs.configPath, oidcConfigBlock(idp.issuer, IDP_CLIENT_SECRET, allowedUsers));
  await hs.restart();
}
