// Real electron-updater (DebUpdater / NsisUpdater, the classes the packaged app uses on Linux and
// Windows) running under plain Node against an update feed served on loopback. Only the two
// Electron-bound pieces are replaced: the app adapter (version, cache folder) and the HTTP
// transport (electron.net → node:http, same ElectronHttpExecutor download path and checksum
// checks). For NSIS, Windows' Authenticode check (PowerShell Get-AuthenticodeSignature) is stood in
// for by a verifier with the same contract (publisher names from app-update.yml, null = trusted).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppUpdaterLike } from '../../../main/app/updater/electron-updater-adapter.js';

const require = createRequire(import.meta.url);
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
const { DebUpdater } = require('electron-updater/out/DebUpdater.js') as { DebUpdater: new (o: unknown, app: unknown) => Any };
const { NsisUpdater } = require('electron-updater/out/NsisUpdater.js') as { NsisUpdater: new (o: unknown, app: unknown) => Any };
const { ElectronHttpExecutor } = require('electron-updater/out/electronHttpExecutor.js') as { ElectronHttpExecutor: new () => Any };

/** ElectronHttpExecutor with node:http under it (electron.net is not available in Node). */
class NodeNetExecutor extends ElectronHttpExecutor {
  createRequest(options: http.RequestOptions, callback: (res: http.IncomingMessage) => void): http.ClientRequest {
    return http.request(options, callback);
  }
  addRedirectHandlers(): void {
    /* node:http does not follow redirects; the feed has none */
  }
}

export const sha512 = (b: Uint8Array): string => createHash('sha512').update(b).digest('base64');

export interface FeedOptions {
  kind: 'deb' | 'nsis';
  version: string;
  /** The installer bytes the server sends. */
  body: Uint8Array;
  /** The checksum the feed claims (defaults to the body's real one). */
  claimedSha512?: string;
}

/** An update feed (latest*.yml + the installer) on 127.0.0.1; counts what was fetched. */
export class UpdateFeed {
  private server: http.Server | undefined;
  readonly fetched: string[] = [];
  port = 0;
  constructor(private readonly o: FeedOptions) {}

  get file(): string {
    return `Meshtray-${this.o.version}.${this.o.kind === 'deb' ? 'deb' : 'exe'}`;
  }

  async start(): Promise<void> {
    const claimed = this.o.claimedSha512 ?? sha512(this.o.body);
    const yml = [`version: ${this.o.version}`, 'files:', `  - url: ${this.file}`, `    sha512: ${claimed}`, `    size: ${this.o.body.length}`, `path: ${this.file}`, `sha512: ${claimed}`, "releaseDate: '2026-11-23T00:00:00.000Z'", ''].join('\n');
    this.server = http.createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0]!;
      this.fetched.push(path);
      if (/^\/latest(-linux)?\.yml$/.test(path)) return void res.end(yml);
      if (path === `/${this.file}`) {
        res.setHeader('content-length', String(this.o.body.length));
        return void res.end(Buffer.from(this.o.body));
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

export interface RealUpdater {
  updater: AppUpdaterLike & Any;
  cacheDir: string;
  /** Every file electron-updater left in its cache (a verified download would be here). */
  cachedFiles(): string[];
  /** Installers electron-updater tried to run. */
  installs: string[];
  /** Publisher names the NSIS signature check was asked about. */
  signatureChecks: string[][];
  cleanup(): void;
}

/**
 * A packaged-app updater as electron-builder configures it (app-update.yml: generic provider,
 * updaterCacheDirName; publisherName for NSIS from win.signtoolOptions).
 * `signedBy` is the publisher the downloaded NSIS installer carries.
 */
export function realUpdater(kind: 'deb' | 'nsis', feedUrl: string, opts: { currentVersion?: string; signedBy?: string; publisherName?: string } = {}): RealUpdater {
  const dir = mkdtempSync(join(tmpdir(), 'mt-updater-'));
  mkdirSync(join(dir, 'cache'));
  const cfg = ['provider: generic', `url: ${feedUrl}`, 'updaterCacheDirName: meshtray-updater', ...(kind === 'nsis' ? [`publisherName:`, `  - ${opts.publisherName ?? 'Meshtray'}`] : []), ''].join('\n');
  writeFileSync(join(dir, 'app-update.yml'), cfg);
  const installs: string[] = [];
  const signatureChecks: string[][] = [];
  const app = {
    version: opts.currentVersion ?? '0.1.0',
    name: 'Meshtray',
    isPackaged: true,
    appUpdateConfigPath: join(dir, 'app-update.yml'),
    userDataPath: dir,
    baseCachePath: join(dir, 'cache'),
    whenReady: () => Promise.resolve(),
    relaunch: () => undefined,
    quit: () => undefined,
    onQuit: () => undefined,
  };
  const u = kind === 'deb' ? new DebUpdater(undefined, app) : new NsisUpdater(undefined, app);
  u.httpExecutor = new NodeNetExecutor();
  u.logger = null;
  // Nothing may really be installed by a test: record instead of running dpkg / the installer.
  u.doInstall = (o: unknown) => {
    installs.push(String(u.installerPath ?? ''));
    void o;
    return false;
  };
  if (kind === 'nsis') {
    u.verifyUpdateCodeSignature = async (publisherNames: string[]) => {
      signatureChecks.push(publisherNames);
      return publisherNames.includes(opts.signedBy ?? '') ? null : `the installer is signed by "${opts.signedBy ?? 'nobody'}", expected ${publisherNames.join(' or ')}`;
    };
  }
  const cacheDir = join(dir, 'cache', 'meshtray-updater');
  return {
    updater: u,
    cacheDir,
    cachedFiles: () => {
      try {
        return (readdirSync(cacheDir, { recursive: true }) as string[]).filter((f) => /\.(deb|exe)$/.test(f));
      } catch {
        return [];
      }
    },
    installs,
    signatureChecks,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
