// The privileged helper's server: a root-owned 0600 unix socket, SO_PEERCRED checked (root or the
// one desktop user it serves), one schema-checked JSON request per line, handled one at a time by
// the engine's Router. A bad line gets a reply with the reason and changes nothing; it never
// crashes the helper.
import { createServer, type Server, type Socket } from 'node:net';
import { chmod, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Logger } from '../../engine/ports/ports.js';
import type { Router } from '../../engine/router/router.js';
import { compileKernelACL } from '../../engine/filter/kernel-acl.js';
import { peerCred, type PeerCred } from '../../engine/localapi/peercred.js';
import { describeIssues } from '../ipc/router.js';
import { HELPER_MAX_LINE, HELPER_PROTOCOL_VERSION, HelperRequestSchema, type HelperReply, type HelperRequest } from './helper-contract.js';

export interface HelperServerOptions {
  socketPath: string;
  router: Router;
  log: Logger;
  /** uids allowed besides root (the installing desktop user). */
  allowUids: readonly number[];
  /** Test seam for SO_PEERCRED. */
  credOf?: (s: Socket) => PeerCred | undefined;
}

export interface HelperStats {
  handled: number;
  rejected: number;
  refusedPeers: number;
}

export class HelperServer {
  private server: Server | undefined;
  private queue: Promise<void> = Promise.resolve();
  readonly stats: HelperStats = { handled: 0, rejected: 0, refusedPeers: 0 };

  constructor(private readonly o: HelperServerOptions) {}

  async listen(): Promise<void> {
    await mkdir(dirname(this.o.socketPath), { recursive: true, mode: 0o755 });
    await unlink(this.o.socketPath).catch(() => undefined);
    this.server = createServer((s) => this.accept(s));
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.server!.once('error', reject);
        this.server!.listen(this.o.socketPath, () => resolve());
      });
    } finally {
      process.umask(old);
    }
    await chmod(this.o.socketPath, 0o600);
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await unlink(this.o.socketPath).catch(() => undefined);
  }

  private accept(s: Socket): void {
    const cred = (this.o.credOf ?? peerCred)(s);
    if (!cred || (cred.uid !== 0 && !this.o.allowUids.includes(cred.uid))) {
      this.stats.refusedPeers++;
      this.o.log.warn('helper: refused peer', { uid: cred?.uid ?? null });
      s.end(JSON.stringify({ ok: false, error: { code: 'ERR_FORBIDDEN', message: 'not allowed to use the Meshtray helper' } }) + '\n');
      // Keep reading (and discarding) so the peer's EOF is seen and the socket is freed.
      s.resume();
      return;
    }
    let buf = '';
    s.setEncoding('utf8');
    s.on('data', (chunk: string) => {
      buf += chunk;
      if (buf.length > HELPER_MAX_LINE && !buf.includes('\n')) {
        this.stats.rejected++;
        s.end(JSON.stringify({ ok: false, error: { code: 'ERR_BAD_REQUEST', message: 'request line too long' } }) + '\n');
        buf = '';
        return;
      }
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) this.enqueue(s, line);
      }
    });
    s.on('error', () => undefined);
  }

  /** One request at a time across all connections: the Router is not re-entrant. */
  private enqueue(s: Socket, line: string): void {
    this.queue = this.queue.then(async () => {
      const reply = await this.handle(line);
      if (s.writable) s.write(JSON.stringify(reply) + '\n');
    });
  }

  async handle(line: string): Promise<HelperReply> {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.stats.rejected++;
      this.o.log.warn('helper: request is not JSON');
      return { ok: false, error: { code: 'ERR_BAD_REQUEST', message: 'request is not JSON' } };
    }
    const p = HelperRequestSchema.safeParse(raw);
    if (!p.success) {
      this.stats.rejected++;
      const reason = describeIssues(p.error.issues);
      this.o.log.warn('helper: request failed its schema', { reason });
      return { ok: false, error: { code: 'ERR_BAD_REQUEST', message: `invalid helper request: ${reason}` } };
    }
    try {
      await this.run(p.data);
      this.stats.handled++;
      return p.data.op === 'hello' ? { ok: true, version: HELPER_PROTOCOL_VERSION } : { ok: true };
    } catch (e) {
      const body = MeshtrayError.is(e) ? e.toBody() : { code: 'ERR_INTERNAL' as const, message: e instanceof Error ? e.message : String(e) };
      this.o.log.error('helper: request failed', { op: p.data.op, code: body.code, message: body.message });
      return { ok: false, error: body };
    }
  }

  private async run(req: HelperRequest): Promise<void> {
    switch (req.op) {
      case 'hello':
        return;
      case 'router.set':
        // The kernel ACL is compiled here, from the filter rules, never taken ready-made from the app.
        return this.o.router.set(req.filter ? { ...req.config, acl: compileKernelACL(req.filter.rules, req.filter.localNets) } : req.config);
      case 'router.restore':
        return this.o.router.restore();
      case 'router.repair':
        return this.o.router.repair();
    }
  }
}
