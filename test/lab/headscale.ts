// A real Headscale (v0.29.2) in its own namespace, driven through its own CLI over the unix
// socket (lab.md section 3). The CLI works from any namespace: the socket is a file path.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { run, runOk } from './exec.js';
import { LabError } from './errors.js';
import { renderDerpMap, renderHeadscaleConfig } from './headscale-config.js';
import type { DerpRegion } from './derper.js';
import { LabProcess, waitFor } from './proc.js';

export interface HeadscaleOptions {
  ns: string;
  ip: string;
  port?: number;
  dir: string;
  bin: string;
  derpRegions: readonly DerpRegion[];
  timeoutMs?: number;
}

// The CLI marshals protobuf structs with encoding/json: snake_case keys, omitempty (so `online`
// is absent when false), uint64 ids as numbers (hs: cmd/headscale/cli/utils.go, gen/go/.../node.pb.go).
export const HsUserSchema = z.looseObject({ id: z.coerce.number(), name: z.string() });
export type HsUser = z.infer<typeof HsUserSchema>;
export const HsNodeSchema = z.looseObject({
  id: z.coerce.number(),
  name: z.string(),
  given_name: z.string().optional(),
  ip_addresses: z.array(z.string()).optional().default([]),
  user: HsUserSchema.optional(),
  online: z.boolean().optional().default(false),
  approved_routes: z.array(z.string()).optional().default([]),
  available_routes: z.array(z.string()).optional().default([]),
  subnet_routes: z.array(z.string()).optional().default([]),
  tags: z.array(z.string()).optional().default([]),
  register_method: z.number().optional(),
});
export type HsNode = z.infer<typeof HsNodeSchema>;
const PreAuthKeySchema = z.looseObject({ key: z.string().min(1) });

export interface PreAuthKeyOptions {
  reusable?: boolean;
  ephemeral?: boolean;
  tags?: string[];
  /** e.g. "24h" (headscale's default is 1h) */
  expiration?: string;
}

export class Headscale {
  proc: LabProcess | undefined;
  readonly configPath: string;
  readonly port: number;

  constructor(readonly opts: HeadscaleOptions) {
    this.port = opts.port ?? 8080;
    this.configPath = join(opts.dir, 'config.yaml');
  }

  /** What clients use as --login-server (AuthURLs are built from it). */
  get serverUrl(): string {
    return `http://${this.opts.ip}:${this.port}`;
  }
  get logFile(): string {
    return join(this.opts.dir, 'headscale.log');
  }

  writeConfig(): void {
    mkdirSync(this.opts.dir, { recursive: true });
    const derpMapPath = join(this.opts.dir, 'derp.yaml');
    writeFileSync(derpMapPath, renderDerpMap(this.opts.derpRegions));
    writeFileSync(this.configPath, renderHeadscaleConfig({ dir: this.opts.dir, listenIp: this.opts.ip, port: this.port, derpMapPath }));
  }

  /** Starts `headscale serve` (on the existing DB if any) and waits for `headscale health` and /health from its namespace. */
  async start(): Promise<void> {
    if (this.proc?.isRunning()) return;
    this.writeConfig();
    this.proc = LabProcess.start({
      name: 'headscale',
      ns: this.opts.ns,
      cleanEnv: true,
      logFile: this.logFile,
      argv: [this.opts.bin, '-c', this.configPath, 'serve'],
    });
    await waitFor(
      `headscale at ${this.serverUrl}`,
      async () => {
        const h = await this.cliRaw(['health'], 3000);
        if (h.code !== 0) return `headscale health: ${(h.stderr || h.stdout).trim().split('\n').pop()}`;
        const r = await run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '1', `${this.serverUrl}/health`], { ns: this.opts.ns, timeoutMs: 3000 });
        return r.stdout === '200' ? true : `GET /health: ${r.stdout || `curl exit ${r.code}`}`;
      },
      { timeoutMs: this.opts.timeoutMs ?? 30_000, proc: this.proc },
    );
  }

  stop(): void {
    this.proc?.stop();
  }

  /** Stop and start again on the same database and keys (control-client reconnect tests). */
  async restart(): Promise<void> {
    this.stop();
    await this.start();
  }

  private cliRaw(args: string[], timeoutMs = 15_000) {
    return run([this.opts.bin, '-c', this.configPath, ...args], { cleanEnv: true, timeoutMs });
  }

  /** Runs the headscale CLI; non-zero exit throws. */
  async cli(args: string[], timeoutMs = 15_000): Promise<string> {
    const r = await runOk([this.opts.bin, '-c', this.configPath, ...args], { cleanEnv: true, timeoutMs });
    return r.stdout;
  }

  private async cliJson(args: string[]): Promise<unknown> {
    const out = await this.cli([...args, '-o', 'json']);
    try {
      return JSON.parse(out);
    } catch {
      throw new LabError(`headscale ${args.join(' ')} -o json printed no JSON: ${out.slice(0, 200)}`);
    }
  }

  async health(): Promise<boolean> {
    return (await this.cliRaw(['health'], 5000)).code === 0;
  }

  async createUser(name: string, email?: string): Promise<HsUser> {
    return HsUserSchema.parse(await this.cliJson(['users', 'create', name, ...(email ? ['--email', email] : [])]));
  }

  async listUsers(): Promise<HsUser[]> {
    return z.array(HsUserSchema).parse((await this.cliJson(['users', 'list'])) ?? []);
  }

  /** A pre-auth key (secret: never log it). `--user` takes the numeric user id (hs: cli/preauthkeys.go). */
  async createPreAuthKey(user: HsUser | number | undefined, o: PreAuthKeyOptions = {}): Promise<string> {
    const args = ['preauthkeys', 'create', '--expiration', o.expiration ?? '24h'];
    if (user !== undefined) args.push('--user', String(typeof user === 'number' ? user : user.id));
    if (o.reusable) args.push('--reusable');
    if (o.ephemeral) args.push('--ephemeral');
    if (o.tags?.length) args.push('--tags', o.tags.join(','));
    return PreAuthKeySchema.parse(await this.cliJson(args)).key;
  }

  async listNodes(): Promise<HsNode[]> {
    return z.array(HsNodeSchema).parse((await this.cliJson(['nodes', 'list'])) ?? []);
  }

  async nodeByName(hostname: string): Promise<HsNode | undefined> {
    return (await this.listNodes()).find((n) => n.name === hostname || n.given_name === hostname);
  }

  async approveRoutes(nodeId: number, routes: readonly string[]): Promise<void> {
    await this.cli(['nodes', 'approve-routes', '-i', String(nodeId), '-r', routes.join(',')]);
  }

  /** Registers a node that is waiting on an interactive AuthURL (…/register/<AUTH_ID>); user by NAME. */
  async registerAuthId(authId: string, userName: string): Promise<void> {
    await this.cli(['auth', 'register', '--auth-id', authId, '--user', userName]);
  }

  async expireNode(nodeId: number): Promise<void> {
    await this.cli(['nodes', 'expire', '-i', String(nodeId)]);
  }

  async deleteNode(nodeId: number): Promise<void> {
    await this.cli(['nodes', 'delete', '-i', String(nodeId), '--force']);
  }

  /** Stores a HuJSON policy (database mode; validated by headscale, an invalid one throws). */
  async setPolicy(hujson: string): Promise<void> {
    const f = join(this.opts.dir, `policy-${Date.now()}.hujson`);
    writeFileSync(f, hujson);
    await this.cli(['policy', 'set', '-f', f]);
  }

  async getPolicy(): Promise<string> {
    return this.cli(['policy', 'get']);
  }
}

/** The AUTH_ID of a Headscale AuthURL: its last path segment (hs: hscontrol/handlers.go RegisterURL). */
export function authIdFromUrl(authUrl: string): string {
  const seg = new URL(authUrl).pathname.split('/').filter(Boolean).pop();
  if (!seg) throw new LabError(`not a Headscale AuthURL: ${authUrl}`);
  return seg;
}
