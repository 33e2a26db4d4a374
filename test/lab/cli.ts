// `npm run lab:up` / `node dist/test/lab/cli.js up|down`
//   up                      the embedded default tailnet: Headscale, two DERP regions, two tailscaled
//                           peers (a1, b1) behind NATs, and — when meshtrayd is built and starts — a
//                           Meshtray node m1 joined with a pre-auth key. Foreground until Ctrl-C.
//   up --login-server=URL   no lab: runs meshtrayd on this machine and `meshtray up --login-server=URL`,
//                           printing the AuthURL to open. Foreground until Ctrl-C.
//   down                    removes what a killed `up` (or test run) left behind.
// Both `up` forms also serve the Meshtray window for the Meshtray node on loopback (main/web, as
// `meshtray web` does) and print its URL ("window: http://127.0.0.1:PORT/#token=…").
import { appendFileSync, mkdirSync } from 'node:fs';
import { startWebCommand, type RunningWeb } from '../../main/web/web-command.js';
import type { FetchLike } from '../../main/app/login/server-check.js';
import { join, relative } from 'node:path';
import { LabError } from './errors.js';
import { Lab } from './lab.js';
import { MeshtraydPeer, meshtrayBuilt } from './meshtrayd-peer.js';
import { peerByHostName } from './peer-output.js';
import type { Peer } from './peer.js';
import { cleanStaleRuns, RUN_ROOT } from './run-registry.js';
import { netnsList } from './sync-sys.js';
import { repoRoot } from './versions.js';
import { readdirSync, readFileSync } from 'node:fs';

const say = (s: string) => process.stdout.write(s + '\n');

function usage(): never {
  process.stderr.write('usage: cli.js up [--login-server=URL] [--verbose] | down\n');
  process.exit(2);
}

function flag(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${name}`) return args[i + 1] ?? '';
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
  }
  return undefined;
}

async function describePeer(p: Peer): Promise<string> {
  try {
    const st = await p.status();
    const peers = Object.values(st.Peer)
      .map((x) => `${x.HostName}${x.Online ? '' : '(offline)'}`)
      .join(', ');
    return `${p.name.padEnd(4)} ${p.kind.padEnd(10)} ${st.BackendState.padEnd(10)} ${(st.Self?.TailscaleIPs ?? []).join(' ').padEnd(36)} peers: ${peers || '-'}`;
  } catch (e) {
    return `${p.name.padEnd(4)} ${p.kind.padEnd(10)} status failed: ${(e as Error).message}`;
  }
}

/**
 * The window for a meshtrayd, as `meshtray web` serves it: on 127.0.0.1:8088 (tailscale web's
 * port) or, when that is taken, any free port. Its log lines go to a file, not over the table.
 */
async function startWindow(socketPath: string, logFile: string, serverCheckFetch?: FetchLike): Promise<RunningWeb | undefined> {
  const err = (s: string): void => appendFileSync(logFile, s);
  for (const listen of ['127.0.0.1:8088', '127.0.0.1:0']) {
    try {
      return await startWebCommand({ socketPath, listen, out: err, err, ...(serverCheckFetch ? { serverCheckFetch } : {}) });
    } catch (e) {
      if (listen.endsWith(':0') || !/in use/.test((e as Error).message)) {
        say(`lab: the window did not start: ${(e as Error).message}`);
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * The window is served here, but m1 (and its Headscale) live in the lab's namespaces: the sign-in
 * screen's "is this a control server" check must ask from m1's namespace, where the engine is.
 */
function fetchFromHost(lab: Lab, host: string): FetchLike {
  return async (url) => {
    const r = await lab.exec(host, ['curl', '-sS', '-L', '--max-time', '5', '-o', '-', '-w', '\n%{http_code}', url], 10_000);
    if (r.code !== 0) throw new Error(r.stderr.trim().replace(/^curl: \(\d+\) /, '') || `curl exited ${r.code}`);
    const i = r.stdout.lastIndexOf('\n');
    const body = r.stdout.slice(0, i);
    return { status: Number(r.stdout.slice(i + 1)), text: async () => body };
  };
}

function forever(): Promise<never> {
  // Ctrl-C / SIGTERM are handled by the lab's signal handlers (teardown, then exit).
  return new Promise(() => setInterval(() => {}, 1 << 30));
}

async function upLab(verbose: boolean): Promise<void> {
  const t0 = Date.now();
  say('lab: building the embedded tailnet (Headscale, DERP lab1+lab2, tailscaled a1 + b1 behind NATs)…');
  const lab = await Lab.create({ name: 'lab:up', verbose });
  say(`lab: up in ${((Date.now() - t0) / 1000).toFixed(1)} s, namespaces ${lab.prefix}*, run dir ${lab.dir}`);
  let m1: Peer | undefined;
  if (!meshtrayBuilt()) {
    say('lab: Meshtray node skipped: meshtrayd is not built (dist/main/daemon/main.js missing; run `npm run build`)');
  } else {
    try {
      const h = await lab.addHost({ name: 'm1', nat: 'easy', peer: 'meshtrayd', join: false });
      m1 = h.peer!;
      if (!(m1 instanceof MeshtraydPeer)) throw new LabError('m1 is not a meshtrayd peer');
      await lab.join(m1);
    } catch (e) {
      say(`lab: Meshtray node m1 did not come up: ${(e as Error).message.split('\n')[0]}`);
      say(`lab:   its log: ${join(lab.dir, 'n', 'm1', 'logs', 'meshtrayd.log')}`);
    }
  }
  // Headscale batches "online" changes (~1 s): wait (bounded) until a1 sees everyone online, so the table is current.
  const names = [...lab.hosts.values()].filter((h) => h.peer && h.name !== 'a1' && (h.name !== 'm1' || m1)).map((h) => h.name);
  await lab
    .peer('a1')
    .waitStatus('sees every node online', (s) => names.every((n) => peerByHostName(s, n)?.Online === true), 10_000)
    .catch(() => undefined);
  say('');
  say('node kind       state      tailnet IPs                          sees');
  for (const h of lab.hosts.values()) if (h.peer) say(await describePeer(h.peer));
  say('');
  const rel = relative(process.cwd(), repoRoot()) || '.';
  if (m1) {
    say('Meshtray status against the lab node (as root, in another terminal):');
    say(`  ip netns exec ${m1.ns} node ${join(rel, 'bin', 'meshtray.js')} --socket=${m1.socket} status`);
    // The socket is a file, so the window can be served here in the root namespace, where a
    // browser on this machine reaches 127.0.0.1.
    const web = await startWindow(m1.socket, join(lab.dir, 'web.log'), fetchFromHost(lab, 'm1'));
    if (web) say(`The Meshtray window for m1 (open it in a browser on this machine):\n  window: ${web.url}`);
  }
  const ts = lab.bins.tailscale;
  say('The reference peers:');
  for (const n of ['a1', 'b1']) say(`  ip netns exec ${lab.ns(n)} ${ts} --socket=${lab.peer(n).socket} status`);
  say(`Headscale: ${lab.bins.headscale} -c ${lab.headscale.configPath} nodes list`);
  say('Logs are under the run dir. Press Ctrl-C to tear everything down.');
  await forever();
}

async function upOwnServer(loginServer: string, verbose: boolean): Promise<void> {
  if (!meshtrayBuilt()) throw new LabError('meshtrayd is not built (dist/main/daemon/main.js missing)', 'run `npm run build`');
  // No namespace: this joins THIS machine to the user's tailnet, which is what was asked for.
  const dir = join(process.env.MESHTRAY_STATE_DIR ?? '/var/lib/meshtray');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const peer = new MeshtraydPeer({ name: 'local', ns: '', dir });
  process.on('exit', () => peer.stop());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  await peer.start();
  say(`meshtrayd running (pid ${peer.pid}), state in ${dir}, log ${join(peer.logDir, 'meshtrayd.log')}`);
  const web = await startWindow(peer.socket, join(peer.logDir, 'web.log'));
  if (web) say(`The Meshtray window (open it in a browser on this machine; it shows the login link too):\n  window: ${web.url}`);
  const { authUrl, done } = await peer.upInteractive({ loginServer, hostname: (await import('node:os')).hostname(), timeoutMs: 600_000 });
  say(`\nTo authenticate, visit:\n\n\t${authUrl}\n`);
  void done.then(async (r) => {
    say(r.code === 0 ? 'Logged in.' : `meshtray up exited ${r.code}: ${r.stderr.trim()}`);
    if (r.code === 0) say(await describePeer(peer));
    say(`meshtray status: node ${join(relative(process.cwd(), repoRoot()) || '.', 'bin', 'meshtray.js')} --socket=${peer.socket} status`);
    say('Press Ctrl-C to stop meshtrayd.');
  });
  if (verbose) say(`socket: ${peer.socket}`);
  await forever();
}

function down(): void {
  const removed = cleanStaleRuns((l) => say(l));
  let live: string[] = [];
  try {
    live = readdirSync(RUN_ROOT).filter((id) => netnsList().some((n) => n.startsWith(`mt${id}-`)));
  } catch {
    /* no runs */
  }
  for (const id of live) {
    let owner = '?';
    try {
      owner = String((JSON.parse(readFileSync(join(RUN_ROOT, id, 'owner.json'), 'utf8')) as { pid: number }).pid);
    } catch {
      /* unknown */
    }
    say(`lab: mt${id}- is still in use by a running process (pid ${owner}); stop that one with Ctrl-C or \`kill ${owner}\``);
  }
  say(removed.length ? `lab: removed ${removed.length} leftover run(s)` : 'lab: nothing left over to remove');
}

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  const verbose = args.includes('--verbose') || args.includes('-v');
  if (cmd === 'up') {
    const ls = flag(args, 'login-server');
    if (ls !== undefined) {
      if (!/^https?:\/\/./.test(ls)) throw new LabError(`--login-server must be an http(s) URL, got "${ls}"`);
      await upOwnServer(ls, verbose);
    } else await upLab(verbose);
  } else if (cmd === 'down') down();
  else usage();
}

main().catch((e: unknown) => {
  process.stderr.write(`lab: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
