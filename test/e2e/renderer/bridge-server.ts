// The Chromium harness's stand-in for Electron main: serves the built renderer, and forwards the
// page's calls to the SAME IpcRouter (schemas + sender check) and AppController that Electron main
// uses, in front of a real engine connection (LocalClient to meshtrayd). The page gets
// window.meshtray from harness-shim.ts, built with the preload's own buildBridge().
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { AppController } from '../../../main/app/app-controller.js';
import type { EngineConnection } from '../../../main/app/engine-host/engine-connection.js';
import type { AppState } from '../../../main/app/ipc/app-contract.js';
import { IpcRouter } from '../../../main/app/ipc/router.js';
import { createSenderPolicy } from '../../../main/app/ipc/sender-policy.js';
import { checkControlServer } from '../../../main/app/login/server-check.js';
import type { ExternalOpener } from '../../../main/app/login/login-flow.js';
import type { Updater } from '../../../main/app/updater/update-policy.js';
import { systemClock } from '../../../main/engine/ports/system.js';
import type { Logger } from '../../../main/engine/ports/ports.js';
import { repoRoot } from './paths.js';

export interface BridgeOptions {
  engine: EngineConnection;
  opener: ExternalOpener;
  updater?: Updater;
  log: Logger;
  loginTimeoutMs?: number;
  host?: AppState['host'];
  secretsWarning?: string;
}

const WINDOW_ID = 1;

async function buildShim(): Promise<string> {
  const r = await build({
    entryPoints: [join(repoRoot(), 'test', 'e2e', 'renderer', 'harness-shim.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['chrome130'],
    logLevel: 'warning',
  });
  return r.outputFiles[0]!.text;
}

export class RendererBridge {
  readonly controller: AppController;
  router!: IpcRouter;
  private server: Server | undefined;
  private readonly token = randomBytes(16).toString('hex');
  private shim = '';
  private readonly streams = new Set<ServerResponse>();
  port = 0;

  constructor(private readonly o: BridgeOptions) {
    this.controller = new AppController({
      engine: o.engine,
      host: o.host ?? { mode: 'attached', detail: 'test bridge' },
      opener: o.opener,
      checkServer: (url) => checkControlServer(url, (u, init) => fetch(u, init)),
      updater: o.updater ?? { check: async () => null, download: async () => undefined, quitAndInstall: () => undefined },
      currentVersion: '0.1.0',
      clock: systemClock,
      log: o.log,
      shell: { openWindow: () => undefined, quit: () => undefined, copyText: () => undefined },
      ...(o.loginTimeoutMs !== undefined ? { loginTimeoutMs: o.loginTimeoutMs } : {}),
      updateIntervalMs: 24 * 3_600_000,
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/index.html`;
  }

  async start(): Promise<void> {
    this.shim = await buildShim();
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    // Same policy as Electron main: only "our window" (the token stands in for the webContents id)
    // showing our page (the harness's index.html on this bridge's origin).
    const policy = createSenderPolicy({ trustedWebContents: () => new Set([WINDOW_ID]), allowedUrlPrefixes: [this.url] });
    this.router = new IpcRouter(this.o.engine, this.controller.handlers, policy, this.o.log);
    if (this.o.secretsWarning) this.controller.setSecretsWarning(this.o.secretsWarning);
    this.controller.start();
  }

  async stop(): Promise<void> {
    this.controller.stop();
    for (const s of this.streams) s.end();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${this.port}`);
    const dist = join(repoRoot(), 'dist', 'renderer');
    if (req.method === 'GET' && (url.pathname === '/' || url.pathname === '/index.html')) {
      const html = readFileSync(join(dist, 'index.html'), 'utf8')
        // The harness page talks to this bridge, so it needs connect-src 'self' (Electron's page does not).
        .replace("connect-src 'none'", "connect-src 'self'")
        .replace('<script src="./renderer.js"></script>', `<script src="./harness.js"></script>\n    <script src="./renderer.js"></script>`);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/harness.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(`const MESHTRAY_WINDOW_TOKEN = ${JSON.stringify(this.token)};\n${this.shim}`);
      return;
    }
    if (req.method === 'GET' && (url.pathname === '/renderer.js' || url.pathname === '/styles.css')) {
      const type = url.pathname.endsWith('.js') ? 'text/javascript' : 'text/css';
      res.writeHead(200, { 'content-type': type }).end(readFileSync(join(dist, url.pathname.slice(1))));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/events') {
      if (url.searchParams.get('token') !== this.token) {
        res.writeHead(403).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      this.streams.add(res);
      const send = (v: unknown) => res.write(`data: ${JSON.stringify(v)}\n\n`);
      const stop =
        url.searchParams.get('stream') === 'notify'
          ? this.controller.forwarder.subscribe(send)
          : (send(this.controller.appState), this.controller.onAppState(send));
      req.on('close', () => {
        stop();
        this.streams.delete(res);
      });
      return;
    }
    if (req.method === 'POST' && url.pathname.startsWith('/ipc/')) {
      const channel = decodeURIComponent(url.pathname.slice('/ipc/'.length));
      let payload: unknown;
      try {
        payload = JSON.parse(await readBody(req));
      } catch {
        payload = '(unparsable)';
      }
      const sender = {
        webContentsId: req.headers['x-meshtray-window'] === this.token ? WINDOW_ID : 0,
        frameUrl: String(req.headers.referer ?? ''),
      };
      const envelope = await this.router.handle(channel, sender, payload);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(envelope));
      return;
    }
    res.writeHead(404).end();
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 1 << 20) req.destroy(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
