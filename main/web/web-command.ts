// What `meshtray web` runs (main/cli/web.ts registers the verb; test/lab/cli.ts `up` uses it too):
// the window's web server in front of meshtrayd's LocalAPI socket, in the foreground until
// Ctrl-C, like `tailscale web` (cmd/tailscale/cli/web.go: --listen localhost:8088, port 0 = any).
import { LocalClient } from '../client/localapi-client.js';
import { LineLogger, type LogLevel } from '../engine/log/logger.js';
import type { LogFields, Logger } from '../engine/ports/ports.js';
import type { FetchLike } from '../app/login/server-check.js';
import { WebServer } from './web-server.js';
import { parseListen, type ListenAddress } from './web-security.js';

export const DEFAULT_LISTEN = 'localhost:8088';

export interface WebCommandOptions {
  socketPath: string;
  /** `--listen`; throws (before anything starts) for a non-loopback address. */
  listen: string;
  out: (s: string) => void;
  err: (s: string) => void;
  logLevel?: LogLevel;
  /** The built page (default: found next to this module, see web-server.ts defaultDistDir). */
  distDir?: string;
  /** See WebServerOptions.serverCheckFetch (the lab's meshtrayd lives in another network namespace). */
  serverCheckFetch?: FetchLike;
}

export interface RunningWeb {
  server: WebServer;
  url: string;
  stop(): Promise<void>;
}

/** Starts the server and says where it is; the caller decides how long it runs. */
export async function startWebCommand(o: WebCommandOptions): Promise<RunningWeb> {
  const listen: ListenAddress = parseListen(o.listen);
  const engine = new LocalClient({ socketPath: o.socketPath });
  const log = new QuietRepeats(new LineLogger({ level: o.logLevel ?? 'warn', write: o.err }).child('web'));
  const server = new WebServer({
    engine,
    listen,
    log,
    host: { mode: 'attached', detail: `meshtrayd at ${o.socketPath}` },
    openLoginInPage: true,
    ...(o.distDir ? { distDir: o.distDir } : {}),
    ...(o.serverCheckFetch ? { serverCheckFetch: o.serverCheckFetch } : {}),
    // The server may run as another user than the browser (or as root): it opens nothing itself.
    // The page opens the login link in a new tab (the Log in click lets it) and shows it; the
    // terminal gets it too.
    opener: {
      openExternal: async (url) => o.out(`meshtray web: login link (also shown in the window): ${url}\n`),
    },
  });
  try {
    await server.start();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`meshtray web: ${o.listen} is in use; choose another port with --listen=127.0.0.1:PORT (0 = any free port)`);
    throw e;
  }
  try {
    await engine.status();
  } catch (e) {
    o.err(`meshtray web: meshtrayd does not answer on ${o.socketPath} (${e instanceof Error ? e.message : String(e)}); the window says so until it does\n`);
  }
  return { server, url: server.url, stop: () => server.stop() };
}

/** `meshtray web`: start, print the URL (with this run's token), serve until SIGINT/SIGTERM or `until`. */
export async function runWebCommand(o: WebCommandOptions & { until?: Promise<unknown> }): Promise<void> {
  const web = await startWebCommand(o);
  o.out(`meshtray web: the Meshtray window for meshtrayd at ${o.socketPath}\n`);
  o.out(`Open this URL in a browser on this machine (it carries this run's access token; do not share it):\n\n\t${web.url}\n\nPress Ctrl-C to stop.\n`);
  const stopped = new Promise<void>((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    void o.until?.then(done, done);
  });
  await stopped;
  await web.stop();
}

/**
 * A terminal logger that says a repeated line once: with meshtrayd down, the Notify forwarder
 * retries every second and would otherwise fill the user's terminal with the same warning.
 */
class QuietRepeats implements Logger {
  private last = { value: '' };
  constructor(
    private readonly inner: Logger,
    shared?: { value: string },
  ) {
    if (shared) this.last = shared;
  }
  private once(level: 'debug' | 'info' | 'warn' | 'error', msg: string, f?: LogFields): void {
    const key = `${level} ${msg} ${JSON.stringify(f ?? {})}`;
    if (key === this.last.value) return;
    this.last.value = key;
    this.inner[level](msg, f);
  }
  debug(msg: string, f?: LogFields): void {
    this.once('debug', msg, f);
  }
  info(msg: string, f?: LogFields): void {
    this.once('info', msg, f);
  }
  warn(msg: string, f?: LogFields): void {
    this.once('warn', msg, f);
  }
  error(msg: string, f?: LogFields): void {
    this.once('error', msg, f);
  }
  child(component: string): Logger {
    return new QuietRepeats(this.inner.child(component), this.last);
  }
}
