// The app's side of the privileged helper: the engine's Router port, implemented by asking the
// helper, plus the TUN/UDP descriptors (received with the native addon: Node cannot take
// SCM_RIGHTS), resolv.conf, and the session connection whose end makes the helper restore.
// Replies are schema-checked too, and errors come back as MeshtrayError with their code.
import { connect, type Socket } from 'node:net';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Router, RouterConfig } from '../../engine/router/router.js';
import type { FilterRule } from '../../engine/netmap/tailcfg.js';
import type { OSDNSConfig } from '../../engine/dns/dns-config.js';
import { HELPER_PROTOCOL_VERSION, HelperReplySchema, type HelperReply, type HelperRequest, type TunOpen } from './helper-contract.js';
import type { NativeFdApi } from './native-fds.js';

/** What tun.open hands over: the caller owns both descriptors (close them, or give them to a DataPlane). */
export interface HelperTunFds {
  tunFd: number;
  udpFd: number;
  name: string;
  port: number;
  offload: boolean;
}

export class HelperClient implements Router {
  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs = 30_000,
    /** The native descriptor functions (only tun.open needs them); loaded on first use. */
    private readonly native?: () => NativeFdApi,
  ) {}

  /**
   * tun.open: the helper creates the TUN and the marked UDP socket and passes both descriptors
   * with its reply. The exchange runs in the addon (helperExchange), which collects them.
   */
  async openTun(o: TunOpen): Promise<HelperTunFds> {
    if (!this.native) throw new MeshtrayError('ERR_INTERNAL', 'no native addon to receive the TUN descriptor');
    const api = this.native();
    let got: { reply: string; fds: number[] };
    try {
      got = await api.helperExchange(this.socketPath, JSON.stringify({ op: 'tun.open', tun: o }) + '\n', this.timeoutMs);
    } catch (e) {
      throw this.connectError(e);
    }
    const closeAll = (): void => got.fds.forEach((fd) => {
      try {
        api.closeFd(fd);
      } catch {
        /* already closed */
      }
    });
    let r: HelperReply;
    try {
      r = parseReply(got.reply.replace(/\n$/, ''));
    } catch (e) {
      closeAll();
      throw e;
    }
    if (!r.ok) {
      closeAll();
      throw MeshtrayError.fromBody(r.error);
    }
    if (!r.tun || got.fds.length !== 2) {
      closeAll();
      throw new MeshtrayError('ERR_INTERNAL', `the Meshtray helper answered tun.open with ${got.fds.length} descriptors instead of 2`);
    }
    return { tunFd: got.fds[0]!, udpFd: got.fds[1]!, ...r.tun };
  }

  async dnsSet(config: OSDNSConfig): Promise<void> {
    await this.request({ op: 'dns.set', config: { nameservers: [...config.nameservers], searchDomains: [...config.searchDomains] } });
  }
  async dnsRestore(): Promise<void> {
    await this.request({ op: 'dns.restore' });
  }
  async dnsBase(): Promise<OSDNSConfig> {
    const r = await this.request({ op: 'dns.base' });
    if (!r.ok || !r.base) throw new MeshtrayError('ERR_INTERNAL', 'the Meshtray helper answered dns.base without a config');
    return r.base;
  }

  /**
   * Opens the session connection and keeps it open until `release()`; `onEnd` fires if the helper
   * closes it (helper restarted: it has restored everything). Resolves once the helper accepted it.
   */
  async holdSession(onEnd: (why: string) => void): Promise<{ release(): void }> {
    return new Promise((resolve, reject) => {
      const s: Socket = connect(this.socketPath);
      let accepted = false;
      let released = false;
      let buf = '';
      s.setEncoding('utf8');
      s.on('connect', () => s.write(JSON.stringify({ op: 'session.hold' }) + '\n'));
      s.on('data', (d: string) => {
        buf += d;
        const i = buf.indexOf('\n');
        if (i < 0 || accepted) return;
        try {
          const r = parseReply(buf.slice(0, i));
          if (!r.ok) throw MeshtrayError.fromBody(r.error);
          accepted = true;
          resolve({ release: () => { released = true; s.destroy(); } });
        } catch (e) {
          s.destroy();
          reject(e);
        }
      });
      s.on('error', (e) => {
        if (!accepted) reject(this.connectError(e));
      });
      s.on('close', () => {
        if (accepted && !released) onEnd('the Meshtray helper closed the session (restarted?)');
        else if (!accepted) reject(new MeshtrayError('ERR_INTERNAL', 'the Meshtray helper closed the connection without a reply'));
      });
    });
  }

  private connectError(e: unknown): Error {
    if (MeshtrayError.is(e)) return e;
    const code = (e as NodeJS.ErrnoException | null)?.code;
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return new MeshtrayError('ERR_NOT_FOUND', `the Meshtray helper is not running (${this.socketPath})`);
    if (code === 'EACCES' || code === 'EPERM') return new MeshtrayError('ERR_FORBIDDEN', `not allowed to use the Meshtray helper (${this.socketPath})`);
    if (code === 'ETIMEDOUT' || /time(d)? ?out/i.test(e instanceof Error ? e.message : '')) return new MeshtrayError('ERR_TIMEOUT', `the Meshtray helper did not answer within ${this.timeoutMs} ms`);
    return e instanceof Error ? e : new Error(String(e));
  }

  async hello(): Promise<number> {
    const r = await this.request({ op: 'hello', version: HELPER_PROTOCOL_VERSION });
    return r.ok && r.version !== undefined ? r.version : 0;
  }
  /**
   * Router.set. A kernel ACL travels as what it was compiled from (acl.source: the netmap's packet
   * filter and our local networks); the helper compiles the chains itself. Chains without their
   * source cannot be sent.
   */
  async set(config: RouterConfig): Promise<void> {
    if (config.acl?.source) return this.setWithFilter(config, config.acl.source);
    if (config.acl) {
      throw new MeshtrayError('ERR_BAD_REQUEST', 'the helper does not take compiled firewall chains; send the packet filter with setWithFilter()');
    }
    await this.request({ op: 'router.set', config: plainConfig(config) });
  }

  async setWithFilter(config: RouterConfig, filter: { rules: readonly FilterRule[]; localNets: readonly string[] }): Promise<void> {
    await this.request({ op: 'router.set', config: plainConfig(config), filter: { rules: [...filter.rules], localNets: [...filter.localNets] } });
  }
  async restore(): Promise<void> {
    await this.request({ op: 'router.restore' });
  }
  async repair(): Promise<void> {
    await this.request({ op: 'router.repair' });
  }

  /** Sends one request on a fresh connection; resolves with an ok reply, throws the helper's error otherwise. */
  async request(req: HelperRequest | Record<string, unknown>): Promise<HelperReply> {
    const line = await new Promise<string>((resolve, reject) => {
      const s: Socket = connect(this.socketPath);
      let buf = '';
      const timer = setTimeout(() => s.destroy(new MeshtrayError('ERR_TIMEOUT', `the Meshtray helper did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      s.setEncoding('utf8');
      s.on('connect', () => s.write(JSON.stringify(req) + '\n'));
      s.on('data', (d: string) => {
        buf += d;
        const i = buf.indexOf('\n');
        if (i >= 0) {
          clearTimeout(timer);
          s.end();
          resolve(buf.slice(0, i));
        }
      });
      s.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (MeshtrayError.is(e)) return reject(e);
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') return reject(new MeshtrayError('ERR_NOT_FOUND', `the Meshtray helper is not running (${this.socketPath})`));
        if (e.code === 'EACCES') return reject(new MeshtrayError('ERR_FORBIDDEN', `not allowed to use the Meshtray helper (${this.socketPath})`));
        reject(e);
      });
      const closedEarly = (): void => {
        clearTimeout(timer);
        if (!buf.includes('\n')) reject(new MeshtrayError('ERR_INTERNAL', 'the Meshtray helper closed the connection without a reply'));
      };
      s.on('end', closedEarly);
      s.on('close', closedEarly);
    });
    const r = parseReply(line);
    if (!r.ok) throw MeshtrayError.fromBody(r.error);
    return r;
  }
}

function parseReply(line: string): HelperReply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    throw new MeshtrayError('ERR_INTERNAL', 'the Meshtray helper sent a reply that is not JSON');
  }
  const r = HelperReplySchema.safeParse(parsed);
  if (!r.success) throw new MeshtrayError('ERR_INTERNAL', 'the Meshtray helper sent a malformed reply');
  return r.data;
}

function plainConfig(c: RouterConfig): Record<string, unknown> {
  return {
    tunName: c.tunName,
    mtu: c.mtu,
    localAddrs: [...c.localAddrs],
    routes: [...c.routes],
    localRoutes: [...c.localRoutes],
    forwarding: { ...c.forwarding },
    netfilter: c.netfilter,
    ...(c.serviceAddrs ? { serviceAddrs: [...c.serviceAddrs] } : {}),
  };
}
