// The app's side of the privileged helper: the engine's Router port, implemented by asking the
// helper. Replies are schema-checked too, and errors come back as MeshtrayError with their code.
import { connect, type Socket } from 'node:net';
import { MeshtrayError } from '../../../common/errors/errors.js';
import type { Router, RouterConfig } from '../../engine/router/router.js';
import type { FilterRule } from '../../engine/netmap/tailcfg.js';
import { HELPER_PROTOCOL_VERSION, HelperReplySchema, type HelperReply, type HelperRequest } from './helper-contract.js';

export class HelperClient implements Router {
  constructor(
    private readonly socketPath: string,
    private readonly timeoutMs = 30_000,
  ) {}

  async hello(): Promise<number> {
    const r = await this.request({ op: 'hello', version: HELPER_PROTOCOL_VERSION });
    return r.ok && r.version !== undefined ? r.version : 0;
  }
  /** Router.set without a kernel ACL; with one, use setWithFilter (the helper compiles ACLs itself). */
  async set(config: RouterConfig): Promise<void> {
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
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new MeshtrayError('ERR_INTERNAL', 'the Meshtray helper sent a reply that is not JSON');
    }
    const r = HelperReplySchema.safeParse(parsed);
    if (!r.success) throw new MeshtrayError('ERR_INTERNAL', 'the Meshtray helper sent a malformed reply');
    if (!r.data.ok) throw MeshtrayError.fromBody(r.data.error);
    return r.data;
  }
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
