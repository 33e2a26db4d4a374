// `meshtray web`: the desktop window in a browser (tailscale has `tailscale web`). It serves the
// built renderer plus a prebuilt browser shim (browser/web-shim.ts: window.meshtray built with the
// preload's own buildBridge(), over fetch + EventSource), and forwards the page's calls to the SAME
// IpcRouter (schemas, sender check) and AppController that Electron main uses, in front of an
// engine connection (the LocalAPI client to meshtrayd, or an in-process engine).
//
// Security (web-security.ts): loopback only, a random per-run token on every call and stream
// (URL fragment once, then a header and an HttpOnly SameSite=Strict cookie), Host must be ours
// (DNS rebinding), POSTs must come from our origin (CSRF), the window's CSP as a header, no CORS
// (no Access-Control-* header is ever sent, so other origins can neither read answers nor send
// the token header: a custom header needs a preflight we never grant).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppController, type ShellActions } from '../app/app-controller.js';
import type { EngineConnection } from '../app/engine-host/engine-connection.js';
import type { AppState } from '../app/ipc/app-contract.js';
import { IpcRouter } from '../app/ipc/router.js';
import type { IpcEnvelope } from '../app/ipc/envelope.js';
import { createSenderPolicy } from '../app/ipc/sender-policy.js';
import { checkControlServer } from '../app/login/server-check.js';
import type { ExternalOpener } from '../app/login/login-flow.js';
import type { FetchLike } from '../app/login/server-check.js';
import type { Updater } from '../app/updater/update-policy.js';
import { systemClock } from '../engine/ports/system.js';
import type { Logger } from '../engine/ports/ports.js';
import { MESHTRAY_VERSION } from '../../common/version.js';
import {
  allowedHosts,
  cookieValue,
  hostRefusal,
  originRefusal,
  parseListen,
  securityHeaders,
  tokenMatches,
  TOKEN_COOKIE,
  TOKEN_HEADER,
  type ListenAddress,
} from './web-security.js';

export interface WebServerOptions {
  engine: EngineConnection;
  /** Where the AuthURL goes besides the page (which shows it as a link). */
  opener: ExternalOpener;
  log: Logger;
  /** `--listen`: loopback only; default 127.0.0.1 on any free port. */
  listen?: string | ListenAddress;
  host?: AppState['host'];
  updater?: Updater;
  loginTimeoutMs?: number;
  secretsWarning?: string;
  /** The built files (dist/); default: the dist/ this module was compiled into, or <repo>/dist under tsx. */
  distDir?: string;
  /** Fixed token (tests); default 32 random bytes per run. */
  token?: string;
  /**
   * The page opens a new login link in a new tab itself (`meshtray web`: the server may not open
   * a browser for the user). Off for the test harness, whose tests drive the "system browser".
   */
  openLoginInPage?: boolean;
  /**
   * How the sign-in screen's server check reaches a login server: from where the engine runs.
   * Default: this process's fetch (right when the engine is on this machine's network).
   */
  serverCheckFetch?: FetchLike;
}

export interface WebStats {
  refusedHost: number;
  refusedToken: number;
  refusedOrigin: number;
}

/** The webContents id the router's sender policy trusts: "a caller holding this run's token". */
const WINDOW_ID = 1;
const MAX_BODY = 1 << 20;

/** dist/ holding renderer/ and web/: next to this compiled file, or the repo's when run from source. */
export function defaultDistDir(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, 'web', 'web-shim.js')) && existsSync(join(d, 'renderer', 'renderer.js'))) return d;
    if (existsSync(join(d, 'package.json'))) return join(d, 'dist');
    const up = resolve(d, '..');
    if (up === d) throw new Error('meshtray web: the built renderer (dist/) was not found; run `npm run build`');
    d = up;
  }
}

const STATIC: Record<string, { dir: 'web' | 'renderer'; file: string; type: string }> = {
  '/': { dir: 'web', file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { dir: 'web', file: 'index.html', type: 'text/html; charset=utf-8' },
  '/web-shim.js': { dir: 'web', file: 'web-shim.js', type: 'text/javascript; charset=utf-8' },
  '/renderer.js': { dir: 'renderer', file: 'renderer.js', type: 'text/javascript; charset=utf-8' },
  '/styles.css': { dir: 'renderer', file: 'styles.css', type: 'text/css; charset=utf-8' },
};

export class WebServer {
  readonly controller: AppController;
  router!: IpcRouter;
  readonly token: string;
  readonly stats: WebStats = { refusedHost: 0, refusedToken: 0, refusedOrigin: 0 };
  port = 0;
  private server: Server | undefined;
  private hosts = new Set<string>();
  private readonly listen: ListenAddress;
  private readonly dist: string;
  private readonly streams = new Set<ServerResponse>();

  constructor(private readonly o: WebServerOptions) {
    this.listen = typeof o.listen === 'string' ? parseListen(o.listen) : (o.listen ?? { host: '127.0.0.1', port: 0 });
    this.token = o.token ?? randomBytes(32).toString('base64url');
    this.dist = o.distDir ?? defaultDistDir();
    // No clipboard, window or quit on the server side: the page copies with the browser's own
    // clipboard (web-shim.ts), and the server's life is the CLI's (Ctrl-C).
    const shell: ShellActions = { openWindow: () => undefined, quit: () => undefined, copyText: () => undefined };
    this.controller = new AppController({
      engine: o.engine,
      host: o.host ?? { mode: 'attached', detail: 'meshtray web' },
      opener: o.opener,
      checkServer: (url) => checkControlServer(url, o.serverCheckFetch ?? ((u, init) => fetch(u, init))),
      // The browser page is not an installed app: nothing to update.
      updater: o.updater ?? { check: async () => null, download: async () => undefined, quitAndInstall: () => undefined },
      currentVersion: MESHTRAY_VERSION,
      clock: systemClock,
      log: o.log,
      shell,
      ...(o.loginTimeoutMs !== undefined ? { loginTimeoutMs: o.loginTimeoutMs } : {}),
      updateIntervalMs: 24 * 3_600_000,
    });
  }

  /** The origin the page is served from (IPv6 loopback in brackets). */
  get origin(): string {
    return `http://${this.listen.host === '::1' ? '[::1]' : '127.0.0.1'}:${this.port}`;
  }

  /** The URL to open once: the token rides in the fragment, which browsers never send to a server. */
  get url(): string {
    return `${this.origin}/#token=${this.token}`;
  }

  /** Per-port cookie name: cookies are not port-scoped, and two servers on 127.0.0.1 must not clash. */
  get cookieName(): string {
    return `${TOKEN_COOKIE}_${this.port}`;
  }

  async start(): Promise<void> {
    for (const f of Object.values(STATIC)) {
      const p = join(this.dist, f.dir, f.file);
      if (!existsSync(p)) throw new Error(`meshtray web: ${p} is missing; run \`npm run build\``);
    }
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.o.log.error('web: request failed', { err: e instanceof Error ? e.message : String(e) });
        if (!res.headersSent) res.writeHead(500, securityHeaders()).end();
        else res.end();
      });
    });
    await new Promise<void>((ok, fail) => {
      this.server!.once('error', fail);
      this.server!.listen(this.listen.port, this.listen.host, () => {
        this.server!.off('error', fail);
        ok();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
    this.hosts = allowedHosts(this.listen, this.port);
    // Electron main's policy, with the token standing in for our webContents id and our own
    // origin(s) for the window's file:// URL.
    const prefixes = [...this.hosts].map((h) => `http://${h}/`);
    const policy = createSenderPolicy({ trustedWebContents: () => new Set([WINDOW_ID]), allowedUrlPrefixes: prefixes });
    this.router = new IpcRouter(this.o.engine, this.controller.handlers, policy, this.o.log);
    if (this.o.secretsWarning) this.controller.setSecretsWarning(this.o.secretsWarning);
    this.controller.start();
    this.o.log.info('web: listening', { origin: this.origin });
  }

  async stop(): Promise<void> {
    this.controller.stop();
    for (const s of this.streams) s.end();
    this.streams.clear();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private refuse(res: ServerResponse, kind: keyof WebStats, reason: string, req: IncomingMessage): void {
    this.stats[kind]++;
    this.o.log.warn('web: refused request', { method: req.method, path: (req.url ?? '').split('?')[0], reason });
    res.writeHead(403, { ...securityHeaders(), 'content-type': 'text/plain; charset=utf-8' }).end(`Forbidden: ${reason}\n`);
  }

  /** The token from the header (calls) or our cookie (streams, page reloads); never from the URL. */
  private hasToken(req: IncomingMessage): boolean {
    const h = req.headers[TOKEN_HEADER];
    if (typeof h === 'string') return tokenMatches(h, this.token);
    return tokenMatches(cookieValue(req.headers.cookie, this.cookieName), this.token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const hostBad = hostRefusal(req.headers.host, this.hosts);
    if (hostBad) return this.refuse(res, 'refusedHost', hostBad, req);
    const url = new URL(req.url ?? '/', this.origin);
    const path = url.pathname;

    const asset = STATIC[path];
    if (asset) {
      // The page and bundles hold no secret; every call and stream they make needs the token.
      if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { ...securityHeaders(), allow: 'GET' }).end();
      const body = readFileSync(join(this.dist, asset.dir, asset.file));
      res.writeHead(200, { ...securityHeaders(), 'content-type': asset.type }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }

    if (path === '/session') {
      // The page trades the fragment's token for an HttpOnly cookie (EventSource cannot send headers).
      if (req.method !== 'POST') return void res.writeHead(405, { ...securityHeaders(), allow: 'POST' }).end();
      if (!this.hasToken(req)) return this.refuse(res, 'refusedToken', 'missing or wrong token', req);
      const originBad = this.originCheck(req);
      if (originBad) return this.refuse(res, 'refusedOrigin', originBad, req);
      res
        .writeHead(200, {
          ...securityHeaders(),
          'content-type': 'application/json',
          'set-cookie': `${this.cookieName}=${this.token}; Path=/; HttpOnly; SameSite=Strict`,
        })
        .end(JSON.stringify({ openLoginInPage: this.o.openLoginInPage === true }));
      return;
    }

    if (path === '/events') {
      if (req.method !== 'GET') return void res.writeHead(405, { ...securityHeaders(), allow: 'GET' }).end();
      if (!this.hasToken(req)) return this.refuse(res, 'refusedToken', 'missing or wrong token', req);
      return this.stream(req, res, url.searchParams.get('stream') === 'notify' ? 'notify' : 'app');
    }

    if (path.startsWith('/ipc/')) {
      if (req.method !== 'POST') return void res.writeHead(405, { ...securityHeaders(), allow: 'POST' }).end();
      const channel = decodeURIComponent(path.slice('/ipc/'.length));
      const authorized = this.hasToken(req);
      if (authorized) {
        const originBad = this.originCheck(req);
        if (originBad) return this.refuse(res, 'refusedOrigin', originBad, req);
      } else this.stats.refusedToken++;
      let payload: unknown;
      try {
        payload = JSON.parse(await readBody(req));
      } catch {
        payload = '(unparsable)'; // the router's schema check refuses it with its reason
      }
      // A caller without the token still goes to the router, as an unknown window: it is refused
      // there with the same reason, log line and count as a foreign Electron sender.
      // The Referer plays Electron's senderFrame.url: our page always sends it (Referrer-Policy
      // same-origin), and one naming another page is refused. A token holder that sends none (a
      // script) is taken as our page: the token, not the Referer, is what proves the caller.
      const frameUrl = req.headers.referer ?? `http://${req.headers.host ?? ''}/`;
      const sender = { webContentsId: authorized ? WINDOW_ID : 0, frameUrl };
      const envelope: IpcEnvelope = await this.router.handle(channel, sender, payload);
      res.writeHead(authorized ? 200 : 403, { ...securityHeaders(), 'content-type': 'application/json' }).end(JSON.stringify(envelope));
      return;
    }
    res.writeHead(404, securityHeaders()).end();
  }

  private originCheck(req: IncomingMessage): string | undefined {
    const sfs = req.headers['sec-fetch-site'];
    return originRefusal({ host: req.headers.host, origin: req.headers.origin, secFetchSite: typeof sfs === 'string' ? sfs : undefined });
  }

  private stream(req: IncomingMessage, res: ServerResponse, kind: 'notify' | 'app'): void {
    res.writeHead(200, { ...securityHeaders(), 'content-type': 'text/event-stream', connection: 'keep-alive' });
    this.streams.add(res);
    const send = (v: unknown): void => void res.write(`data: ${JSON.stringify(v)}\n\n`);
    const stop = kind === 'notify' ? this.controller.forwarder.subscribe(send) : (send(this.controller.appState), this.controller.onAppState(send));
    req.on('close', () => {
      stop();
      this.streams.delete(res);
    });
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}
