// The privileged helper's server: a root-owned unix socket, SO_PEERCRED checked (root or the
// desktop users it serves), one schema-checked JSON request per line, handled one at a time. A bad
// line gets a reply with the reason and changes nothing; it never crashes the helper.
// The helper remembers what it created (its TUN) and, when the app's session connection ends (the
// app quit or was killed), puts routes, rules, firewall chains and resolv.conf back and removes it.
import { createServer, type Server, type Socket } from 'node:net';
import { chmod, chown, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Logger } from '../../engine/ports/ports.js';
import type { Router } from '../../engine/router/router.js';
import type { OSResolverConfigurator } from '../../engine/dns/resolv-conf.js';
import { compileKernelACL } from '../../engine/filter/kernel-acl.js';
import { peerCred, type PeerCred } from '../../engine/localapi/peercred.js';
import { describeIssues } from '../ipc/router.js';
import { HELPER_MAX_LINE, HELPER_PROTOCOL_VERSION, HelperRequestSchema, type HelperReply, type HelperRequest, type TunOpen } from './helper-contract.js';

/** The descriptor work (native addon on Linux; a double in unit tests). */
export interface HelperTun {
  /** Opens the TUN and a UDP socket with the bypass mark; the helper owns both descriptors. */
  open(o: TunOpen): { tunFd: number; udpFd: number; name: string; port: number; offload: boolean };
  /** Writes `line` on the accepted connection with `fds` attached (SCM_RIGHTS). */
  send(s: Socket, line: string, fds: number[]): void;
  close(fd: number): void;
  /** Removes the TUN if it still exists (a non-persistent TUN vanishes with its last descriptor). */
  remove(name: string): Promise<void>;
}

export interface HelperServerOptions {
  socketPath: string;
  router: Router;
  /** resolv.conf manager; absent: dns.* requests are refused (ERR_NOT_FOUND). */
  dns?: OSResolverConfigurator;
  /** TUN/UDP descriptors; absent: tun.open is refused (ERR_NOT_FOUND). */
  tun?: HelperTun;
  log: Logger;
  /** uids allowed besides root (the installing desktop user). */
  allowUids: readonly number[];
  /**
   * The packages' way (--socket-group): the socket is root:<gid> 0660 and members of the group
   * (primary gid, or listed in /etc/group) are allowed besides root and allowUids.
   */
  socketGroup?: { gid: number; isMember(cred: PeerCred): boolean };
  /** Test seam for SO_PEERCRED. */
  credOf?: (s: Socket) => PeerCred | undefined;
}

export interface HelperStats {
  handled: number;
  rejected: number;
  refusedPeers: number;
  /** Times everything was restored because the app's session ended. */
  sessionRestores: number;
}

interface Outcome {
  reply: HelperReply;
  fds?: number[];
}

export class HelperServer {
  private server: Server | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly holders = new Set<Socket>();
  /** The TUN this helper opened last (removed on restoreAll). */
  private tunName: string | undefined;
  readonly stats: HelperStats = { handled: 0, rejected: 0, refusedPeers: 0, sessionRestores: 0 };

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
    if (this.o.socketGroup) {
      // The kernel keeps everyone outside the group away at connect(); SO_PEERCRED checks again.
      await chown(this.o.socketPath, 0, this.o.socketGroup.gid);
      await chmod(this.o.socketPath, 0o660);
    } else {
      // Root only, unless desktop users are allowed: then anyone may connect and SO_PEERCRED
      // decides (tailscaled's socket works the same way), since a file mode cannot name uids.
      await chmod(this.o.socketPath, this.o.allowUids.length ? 0o666 : 0o600);
    }
  }

  async close(): Promise<void> {
    for (const s of this.holders) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    await unlink(this.o.socketPath).catch(() => undefined);
  }

  /** Wait for the requests already queued (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  private accept(s: Socket): void {
    const cred = (this.o.credOf ?? peerCred)(s);
    if (!cred || (cred.uid !== 0 && !this.o.allowUids.includes(cred.uid) && !this.o.socketGroup?.isMember(cred))) {
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
    s.on('close', () => {
      if (!this.holders.delete(s) || this.holders.size > 0) return;
      // The app that held the session is gone (quit, crash, kill -9): nothing may outlive it.
      this.o.log.info('helper: the app session ended; restoring routes, DNS and the TUN');
      this.queue = this.queue.then(async () => {
        this.stats.sessionRestores++;
        await this.restoreAll();
      });
    });
  }

  /** One request at a time across all connections: the Router is not re-entrant. */
  private enqueue(s: Socket, line: string): void {
    this.queue = this.queue.then(async () => {
      const out = await this.process(line, s);
      const text = JSON.stringify(out.reply) + '\n';
      if (!out.fds) {
        if (s.writable) s.write(text);
        return;
      }
      try {
        if (!s.writable) throw new Error('the requester hung up');
        this.o.tun!.send(s, text, out.fds);
      } catch (e) {
        this.o.log.warn('helper: could not hand the descriptors over', { err: e instanceof Error ? e.message : String(e) });
      } finally {
        // Our copies: the app owns the TUN and the socket now (or nobody, if the send failed).
        for (const fd of out.fds) this.o.tun!.close(fd);
      }
    });
  }

  async handle(line: string): Promise<HelperReply> {
    const out = await this.process(line, undefined);
    for (const fd of out.fds ?? []) this.o.tun?.close(fd);
    return out.reply;
  }

  private async process(line: string, s: Socket | undefined): Promise<Outcome> {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      this.stats.rejected++;
      this.o.log.warn('helper: request is not JSON');
      return { reply: { ok: false, error: { code: 'ERR_BAD_REQUEST', message: 'request is not JSON' } } };
    }
    const p = HelperRequestSchema.safeParse(raw);
    if (!p.success) {
      this.stats.rejected++;
      const reason = describeIssues(p.error.issues);
      this.o.log.warn('helper: request failed its schema', { reason });
      return { reply: { ok: false, error: { code: 'ERR_BAD_REQUEST', message: `invalid helper request: ${reason}` } } };
    }
    try {
      const out = await this.run(p.data, s);
      this.stats.handled++;
      return out;
    } catch (e) {
      const body = MeshtrayError.is(e) ? e.toBody() : { code: 'ERR_INTERNAL' as const, message: e instanceof Error ? e.message : String(e) };
      this.o.log.error('helper: request failed', { op: p.data.op, code: body.code, message: body.message });
      return { reply: { ok: false, error: body } };
    }
  }

  private async run(req: HelperRequest, s: Socket | undefined): Promise<Outcome> {
    const ok: Outcome = { reply: { ok: true } };
    switch (req.op) {
      case 'hello':
        return { reply: { ok: true, version: HELPER_PROTOCOL_VERSION } };
      case 'router.set':
        // The kernel ACL is compiled here, from the filter rules, never taken ready-made from the app.
        await this.o.router.set(req.filter ? { ...req.config, acl: compileKernelACL(req.filter.rules, req.filter.localNets) } : req.config);
        return ok;
      case 'router.restore':
        await this.o.router.restore();
        return ok;
      case 'router.repair':
        await this.o.router.repair();
        return ok;
      case 'tun.open': {
        const tun = this.o.tun;
        if (!tun) throw new MeshtrayError('ERR_NOT_FOUND', 'this helper cannot open a TUN (no native addon)');
        if (!s) throw new MeshtrayError('ERR_BAD_REQUEST', 'tun.open needs a connection to carry the descriptors');
        const r = tun.open(req.tun);
        this.tunName = r.name;
        this.o.log.info('helper: opened the TUN and the marked UDP socket', { tun: r.name, port: r.port, offload: r.offload });
        return { reply: { ok: true, tun: { name: r.name, port: r.port, offload: r.offload } }, fds: [r.tunFd, r.udpFd] };
      }
      case 'dns.set':
        await this.dns().set(req.config);
        return ok;
      case 'dns.restore':
        await this.dns().restore();
        return ok;
      case 'dns.base':
        return { reply: { ok: true, base: await this.dns().baseConfig().then((b) => ({ nameservers: [...b.nameservers], searchDomains: [...b.searchDomains] })) } };
      case 'session.hold':
        if (s) this.holders.add(s);
        return ok;
    }
  }

  private dns(): OSResolverConfigurator {
    if (!this.o.dns) throw new MeshtrayError('ERR_NOT_FOUND', 'this helper does not manage DNS');
    return this.o.dns;
  }

  /**
   * Routes, rules, chains, resolv.conf and the TUN back as they were before the app came: on the
   * end of the app's session and on helper exit. Every part runs even if another fails.
   */
  async restoreAll(): Promise<void> {
    const steps: [string, () => Promise<unknown>][] = [
      ['router', () => this.o.router.restore()],
      ['dns', () => this.o.dns?.restore() ?? Promise.resolve()],
      ['tun', async () => {
        if (this.tunName && this.o.tun) await this.o.tun.remove(this.tunName);
        this.tunName = undefined;
      }],
    ];
    for (const [what, f] of steps) {
      try {
        await f();
      } catch (e) {
        this.o.log.error(`helper: restoring the ${what} failed`, { err: e instanceof Error ? e.message : String(e) });
      }
    }
  }
}
