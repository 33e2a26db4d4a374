// The addon's descriptor passing (native/src/fdpass.rs, fd_api.rs) against ordinary Node unix
// socket servers: what the app side (helperExchange) sees for a good reply with descriptors, a
// reply without any, a reply split over several writes, a silent server, a missing socket, a dead
// one, and (as root) a socket it may not open. No network namespace needed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mustRunInCI } from '../../e2e/os/support.js';
import { createServer, type Server, type Socket } from 'node:net';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, existsSync, mkdtempSync, openSync, readSync, rmSync, writeSync, fstatSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonCandidates } from '../../../main/engine/dataplane/native-loader.js';

interface FdApi {
  sendFds(socketFd: number, data: Uint8Array, fds: number[]): void;
  helperExchange(socketPath: string, requestLine: string, timeoutMs: number): Promise<{ reply: string; fds: number[] }>;
  closeFd(fd: number): void;
}

const addonPath = addonCandidates().find((p) => existsSync(p));
if (!addonPath && process.env.CI === 'true') throw new Error('the native addon must be built in CI (npm run build:native)');
if (!addonPath) console.error('\n!!! SKIPPING descriptor-passing tests: native addon not built (npm run build:native) !!!\n');
const api = addonPath ? (createRequire(import.meta.url)(addonPath) as FdApi) : undefined;

/** The server's end of an accepted unix socket connection, as the helper passes it to sendFds. */
const fdOf = (s: Socket): number => (s as unknown as { _handle: { fd: number } })._handle.fd;

const rejection = async (p: Promise<unknown>): Promise<Error & { code?: string }> => {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  assert.fail('expected a rejection');
};

const noAddon = mustRunInCI(api ? false : 'the native addon is not built (npm run build:native)', 'descriptor passing tests');

describe('descriptor passing (sendFds / helperExchange)', { skip: noAddon }, () => {
  let dir: string;
  const servers: Server[] = [];
  before(() => { dir = mkdtempSync(join(tmpdir(), 'mt-fdpass-')); chmodSync(dir, 0o755); });
  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A one-line-request server; `onLine` answers on the accepted socket. */
  const serve = async (name: string, onLine: (s: Socket, line: string) => void): Promise<string> => {
    const path = join(dir, name);
    const srv = createServer((s) => {
      let buf = '';
      s.on('data', (d) => {
        buf += d.toString();
        const i = buf.indexOf('\n');
        if (i >= 0) onLine(s, buf.slice(0, i));
      });
      s.on('error', () => {});
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(path, r));
    return path;
  };

  it('hands the request over and returns the reply line and the descriptors sent with it', async () => {
    // A file the receiver can only know through the passed descriptor (it is deleted at once).
    const file = join(dir, 'secret.txt');
    const wfd = openSync(file, 'w+');
    writeSync(wfd, 'only via the descriptor');
    rmSync(file);
    const r = openSync('/dev/null', 'r');
    let got = '';
    const path = await serve('good.sock', (s, line) => {
      got = line;
      api!.sendFds(fdOf(s), Buffer.from('{"ok":true}\n'), [wfd, r]);
      s.end();
    });
    const res = await api!.helperExchange(path, '{"op":"tun.open"}\n', 5000);
    closeSync(wfd);
    closeSync(r);
    assert.equal(got, '{"op":"tun.open"}', 'the server received the request line');
    assert.equal(res.reply, '{"ok":true}', 'the reply is the first line without its newline');
    assert.equal(res.fds.length, 2);
    const [f, n] = res.fds as [number, number];
    // They are new descriptor numbers in this process that refer to the sender's open files.
    const buf = Buffer.alloc(64);
    const len = readSync(f, buf, 0, 64, 0);
    assert.equal(buf.subarray(0, len).toString(), 'only via the descriptor');
    const devNull = openSync('/dev/null', 'r');
    assert.equal(fstatSync(n).rdev, fstatSync(devNull).rdev, 'the second one is /dev/null');
    closeSync(devNull);
    // Received descriptors are CLOEXEC (a child we spawn must not inherit the TUN).
    const flags = spawnSync('cat', [`/proc/${process.pid}/fdinfo/${f}`], { encoding: 'utf8' }).stdout;
    const m = /flags:\s*(\d+)/.exec(flags);
    assert.ok(m, flags);
    assert.ok((parseInt(m[1]!, 8) & 0o2000000) !== 0, `O_CLOEXEC set on the received descriptor (flags ${m[1]})`);
    api!.closeFd(f);
    api!.closeFd(n);
    assert.throws(() => api!.closeFd(f), (e: Error & { code?: string }) => e.code === 'EBADF', 'closeFd really closed it');
  });

  it('returns an empty descriptor list for a reply that carries none, and joins a line split over writes', async () => {
    const path = await serve('nofds.sock', (s) => {
      s.write('{"ok":false,');
      setTimeout(() => s.end('"error":{"code":"ERR_BAD_REQUEST"}}\nignored second line\n'), 100);
    });
    const res = await api!.helperExchange(path, 'x\n', 5000);
    assert.deepEqual(res, { reply: '{"ok":false,"error":{"code":"ERR_BAD_REQUEST"}}', fds: [] });
  });

  it('rejects with ETIMEDOUT when the helper never answers, after about the timeout', async () => {
    const path = await serve('silent.sock', () => {});
    const t0 = Date.now();
    const e = await rejection(api!.helperExchange(path, 'x\n', 400));
    const took = Date.now() - t0;
    assert.equal(e.code, 'ETIMEDOUT', e.message);
    assert.match(e.message, /reply/);
    assert.ok(took >= 350 && took < 3000, `took ${took} ms`);
  });

  it('rejects with ECONNRESET when the helper closes before a full line', async () => {
    const path = await serve('hangup.sock', (s) => s.end('{"ok":tr'));
    const e = await rejection(api!.helperExchange(path, 'x\n', 5000));
    assert.equal(e.code, 'ECONNRESET', e.message);
  });

  it('rejects with ENOENT for a missing socket and ECONNREFUSED for one nobody listens on', async () => {
    const missing = await rejection(api!.helperExchange(join(dir, 'nope.sock'), 'x\n', 2000));
    assert.equal(missing.code, 'ENOENT');
    assert.match(missing.message, /nope\.sock/);
    // A listener killed with SIGKILL leaves its socket file behind with no one accepting.
    const dead = join(dir, 'dead.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(dead)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.ok(existsSync(dead));
    const refused = await rejection(api!.helperExchange(dead, 'x\n', 2000));
    assert.equal(refused.code, 'ECONNREFUSED', refused.message);
  });

  it('rejects with EACCES when the caller may not open the socket (run as nobody)', { skip: mustRunInCI(process.getuid?.() !== 0 ? 'needs root to switch to uid 65534' : false, 'the EACCES-as-nobody test') }, async () => {
    const path = await serve('private.sock', (s) => s.end('{"ok":true}\n'));
    chmodSync(path, 0o600); // root-only, as the helper's socket is for uids it does not allow
    const script = `const a = require(${JSON.stringify(addonPath)});
      a.helperExchange(${JSON.stringify(path)}, 'x\\n', 2000).then(() => console.log('OK'), (e) => console.log(e.code));`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.stdout.trim(), 'EACCES', r.stderr);
  });

  it('refuses bad arguments with a code instead of crashing', () => {
    const e1 = (() => { try { api!.sendFds(0, new Uint8Array(0), [1]); } catch (e) { return e as { code?: string }; } return undefined; })();
    assert.equal(e1?.code, 'EINVAL', 'descriptors need at least one byte to ride on');
    assert.throws(() => api!.sendFds(-1, Buffer.from('x'), []), (e: { code?: string }) => e.code === 'EBADF');
    assert.throws(() => api!.closeFd(-5), (e: { code?: string }) => e.code === 'EBADF');
    assert.throws(() => void api!.helperExchange('/x', 'x\n', 0), /timeoutMs/);
  });
});
