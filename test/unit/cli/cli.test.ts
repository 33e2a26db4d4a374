import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../main/cli/cli.js';
import { normalizeGoFlags, parseGoDuration, FlagError } from '../../../main/cli/go-flags.js';
import { formatStatus, findPeer } from '../../../main/cli/status-format.js';
import { parseDaemonFlags } from '../../../main/daemon/flags.js';
import { LocalApiServer } from '../../../main/engine/localapi/server.js';
import { memoryLogger } from '../../../main/engine/log/logger.js';
import { FakeLocalApiBackend, emptyStatus } from '../../doubles/fake-localapi-backend.js';
import type { Status, PeerStatus } from '../../../common/schemas/status.js';

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

async function daemon(t: import('node:test').TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'meshtray-cli-'));
  const socket = join(dir, 's.sock');
  const backend = new FakeLocalApiBackend();
  const server = new LocalApiServer({ socketPath: socket, backend, logger: memoryLogger().logger });
  await server.listen();
  t.after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, socket, backend };
}

function peer(over: Partial<PeerStatus>): PeerStatus {
  return {
    ID: '2', PublicKey: 'nodekey:' + '2'.repeat(64), HostName: 'b1', DNSName: 'b1.tailnet.test.', OS: 'linux', UserID: 1,
    TailscaleIPs: ['100.64.0.2', 'fd7a:115c:a1e0::2'], CurAddr: '', Relay: 'lab1', RxBytes: 0, TxBytes: 0,
    Created: '2026-11-23T10:00:00Z', LastHandshake: '0001-01-01T00:00:00Z', Online: true, ExitNode: false, ExitNodeOption: false,
    Active: false, InNetworkMap: true, InMagicSock: false, InEngine: false, ...over,
  };
}

function runningStatus(): Status {
  const self = peer({ ID: '1', HostName: 'm1', DNSName: 'm1.tailnet.test.', TailscaleIPs: ['100.64.0.1', 'fd7a:115c:a1e0::1'], PublicKey: 'nodekey:' + '1'.repeat(64) });
  const b1 = peer({});
  const c1 = peer({ ID: '3', HostName: 'c1', DNSName: 'c1.tailnet.test.', TailscaleIPs: ['100.64.0.3'], Online: false, OS: 'windows', PublicKey: 'nodekey:' + '3'.repeat(64) });
  return emptyStatus({
    BackendState: 'Running', HaveNodeKey: true, Self: self, TailscaleIPs: self.TailscaleIPs, MagicDNSSuffix: 'tailnet.test',
    Peer: { [b1.PublicKey]: b1, [c1.PublicKey]: c1 }, User: { '1': { ID: 1, LoginName: 'lab@', DisplayName: 'lab' } },
  });
}

test('Go-style flags: -json, --bool=false, bad boolean; Go durations', () => {
  const B = new Set(['json', 'accept-dns']);
  assert.deepEqual(normalizeGoFlags(['-json', '--accept-dns=false', '--accept-dns=true', '-socket=/x', '-4', '--', '-json'], B), ['--json', '--no-accept-dns', '--accept-dns', '--socket=/x', '-4', '--', '-json']);
  assert.throws(() => normalizeGoFlags(['--accept-dns=maybe'], B), FlagError);
  assert.equal(parseGoDuration('60s'), 60_000);
  assert.equal(parseGoDuration('1m30s'), 90_000);
  assert.equal(parseGoDuration('1.5h'), 5_400_000);
  assert.equal(parseGoDuration('250ms'), 250);
  assert.equal(parseGoDuration('0s'), 0);
  assert.equal(parseGoDuration('0'), 0);
  for (const bad of ['', '5', '5x', 's', '-1s', '1s2']) assert.throws(() => parseGoDuration(bad), FlagError, bad);
});

test('a bad flag, a bad value or an unknown verb: exactly one line on stderr and a non-zero exit', async () => {
  for (const args of [['up', '--bogus'], ['frob'], ['up', '--accept-dns=maybe'], ['up', '--timeout=10x'], ['status', 'extra'], ['ip', '-4', '-6'], ['up', '--login-server=ftp://x']]) {
    const r = await cli(['--socket=/nonexistent/s.sock', ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.equal(r.out, '', args.join(' '));
    assert.equal(r.err.split('\n').filter(Boolean).length, 1, `${args.join(' ')} → ${JSON.stringify(r.err)}`);
  }
  const nod = await cli(['--socket=/nonexistent/s.sock', 'status']);
  assert.equal(nod.code, 1);
  assert.match(nod.err, /is meshtrayd running\?/);
});

test('up sends tailscale flags as prefs: --login-server, --authkey (and file:), --hostname, --accept-routes, --accept-dns=false', async (t) => {
  const { socket, backend, dir } = await daemon(t);
  backend.statusValue = emptyStatus({ BackendState: 'Running' });
  const r = await cli([`--socket=${socket}`, 'up', '--login-server=http://hs:8080', '--authkey=hskey-auth-a-b', '--hostname=box', '--accept-routes', '--accept-dns=false', '--timeout=5s']);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(backend.calls.find((c) => c.name === 'start')!.req, {
    Prefs: { ControlURL: 'http://hs:8080', Hostname: 'box', RouteAll: true, CorpDNS: false },
    AuthKey: 'hskey-auth-a-b',
  });
  const keyFile = join(dir, 'key');
  await writeFile(keyFile, 'hskey-auth-from-file\n');
  backend.calls = [];
  const r2 = await cli(['up', `-socket=${socket}`, `--auth-key=file:${keyFile}`, '--force-reauth']);
  assert.equal(r2.code, 0, r2.err);
  assert.deepEqual(backend.calls.find((c) => c.name === 'start')!.req, { Prefs: {}, AuthKey: 'hskey-auth-from-file', ForceReauth: true });
  const r3 = await cli([`--socket=${socket}`, 'up', `--auth-key=file:${join(dir, 'missing')}`]);
  assert.notEqual(r3.code, 0);
  assert.match(r3.err, /reading auth key/);
});

test('interactive up prints the AuthURL the tailscale way and exits 0 once Running; --json prints objects', async (t) => {
  const { socket, backend } = await daemon(t);
  const url = 'http://hs:8080/register/hskey-authreq-ABCDEFGHIJKLMNOPQRSTUVWX';
  const drive = async (): Promise<void> => {
    while (!backend.calls.some((c) => c.name === 'start')) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    backend.publish({ State: 'NeedsLogin' });
    backend.publish({ BrowseToURL: url });
    await new Promise((r) => setTimeout(r, 20));
    backend.publish({ State: 'Starting' });
    backend.publish({ State: 'Running' });
  };
  const [r] = await Promise.all([cli([`--socket=${socket}`, 'up', '--login-server=http://hs:8080', '--timeout=10s']), drive()]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, `\nTo authenticate, visit:\n\n\t${url}\n\nSuccess.\n`);
  backend.calls = [];
  const [j] = await Promise.all([cli([`--socket=${socket}`, 'up', '--json']), drive()]);
  assert.equal(j.code, 0, j.err);
  const objs = j.out.trim().split(/\n(?=\{)/).map((s) => JSON.parse(s) as Record<string, unknown>);
  assert.deepEqual(objs, [{ AuthURL: url, BackendState: 'NeedsLogin' }, { BackendState: 'Running' }]);
});

test('up reports a backend error and a timeout with a non-zero exit', async (t) => {
  const { socket, backend } = await daemon(t);
  const drive = async (): Promise<void> => {
    while (!backend.calls.some((c) => c.name === 'start')) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    backend.publish({ ErrMessage: 'invalid authkey' });
  };
  const [r] = await Promise.all([cli([`--socket=${socket}`, 'up', '--auth-key=x']), drive()]);
  assert.equal(r.code, 1);
  assert.equal(r.err, 'backend error: invalid authkey\n');
  const t0 = Date.now();
  const to = await cli([`--socket=${socket}`, 'up', '--timeout=300ms']);
  assert.equal(to.code, 1);
  assert.match(to.err, /^timeout waiting for Meshtray to enter a Running state/);
  assert.ok(Date.now() - t0 < 5000);
});

test('status --json prints the daemon Status with tailscale field names; text table; ip verbs', async (t) => {
  const { socket, backend } = await daemon(t);
  backend.statusValue = runningStatus();
  const j = await cli([`--socket=${socket}`, 'status', '--json']);
  assert.equal(j.code, 0);
  const { Prefs: shownPrefs, ...st } = JSON.parse(j.out) as Status & { Prefs: unknown };
  assert.deepEqual(st, backend.statusValue);
  assert.deepEqual(shownPrefs, await backend.getPrefs(), 'status --json mirrors the prefs');
  const txt = await cli([`--socket=${socket}`, 'status']);
  assert.equal(txt.code, 0);
  assert.deepEqual(txt.out.trimEnd().split('\n').map((l) => l.split(/\s+/)), [
    ['100.64.0.1', 'm1', 'lab@', 'linux', '-'],
    ['100.64.0.2', 'b1', 'lab@', 'linux', '-'],
    ['100.64.0.3', 'c1', 'lab@', 'windows', 'offline'],
  ]);
  assert.equal((await cli([`--socket=${socket}`, 'ip'])).out, '100.64.0.1\nfd7a:115c:a1e0::1\n');
  assert.equal((await cli([`--socket=${socket}`, 'ip', '-4'])).out, '100.64.0.1\n');
  assert.equal((await cli([`--socket=${socket}`, 'ip', '-6'])).out, 'fd7a:115c:a1e0::1\n');
  assert.equal((await cli([`--socket=${socket}`, 'ip', '-1', 'b1'])).out, '100.64.0.2\n');
  assert.equal((await cli([`--socket=${socket}`, 'ip', 'c1.tailnet.test'])).out, '100.64.0.3\n');
  const nope = await cli([`--socket=${socket}`, 'ip', 'zz']);
  assert.equal(nope.code, 1);
  assert.equal(nope.err, 'no such peer "zz"\n');
  const v6none = await cli([`--socket=${socket}`, 'ip', '-6', 'c1']);
  assert.equal(v6none.code, 1);
  // down / logout reach the daemon; logout's error code comes back as one line.
  assert.equal((await cli([`--socket=${socket}`, 'down'])).code, 0);
  assert.ok(backend.calls.some((c) => c.name === 'down'));
  const lo = await cli([`--socket=${socket}`, 'logout']);
  assert.equal(lo.code, 1);
  assert.equal(lo.err, 'not logged in\n');
  const v = await cli(['version']);
  assert.match(v.out, /^\d+\.\d+\.\d+\n$/);
});

test('status text for states other than Running (exit 1, tailscale wording)', () => {
  assert.deepEqual(formatStatus(emptyStatus({ BackendState: 'Stopped' })), { text: 'Meshtray is stopped.\n', exitCode: 1 });
  assert.deepEqual(formatStatus(emptyStatus({ BackendState: 'NeedsLogin', AuthURL: 'http://x/register/y' })), { text: 'Logged out.\n\nLog in at: http://x/register/y\n', exitCode: 1 });
  assert.equal(formatStatus(emptyStatus({ BackendState: 'NeedsLogin' })).text, 'Logged out.\n');
  const st = runningStatus();
  assert.equal(findPeer(st, '100.64.0.2')?.HostName, 'b1');
  assert.equal(findPeer(st, 'B1.tailnet.test.')?.HostName, 'b1');
  assert.equal(findPeer(st, 'nobody'), undefined);
});

test('meshtrayd flags: tailscaled spellings, defaults, --no-logs-no-support no-op, bad flag one line + non-zero', () => {
  const w = () => {
    const o = { out: '', err: '' };
    return { o, io: { out: (s: string) => (o.out += s), err: (s: string) => (o.err += s) } };
  };
  const a = w();
  const r = parseDaemonFlags(['--statedir=/var/lib/x', '--socket', '/run/x.sock', '--tun=userspace-networking', '--port=0', '--no-logs-no-support', '-verbose=2'], a.io);
  assert.ok(r.ok);
  assert.deepEqual(r.flags, { statedir: '/var/lib/x', socket: '/run/x.sock', tun: 'userspace-networking', port: 0, verbose: 2 });
  const d = parseDaemonFlags([], w().io);
  assert.ok(d.ok);
  assert.equal(d.flags.statedir, '/var/lib/meshtray');
  assert.equal(d.flags.port, 41641);
  const m = parseDaemonFlags(['--state=mem:'], w().io);
  assert.ok(m.ok);
  assert.equal(m.flags.state, 'mem:');
  assert.equal(m.flags.statedir, undefined);
  for (const bad of [['--bogus'], ['--port=70000'], ['--port=abc'], ['--verbose=x'], ['extra'], ['--state=']]) {
    const b = w();
    const res = parseDaemonFlags(bad, b.io);
    assert.equal(res.ok, false, bad.join(' '));
    if (!res.ok) assert.notEqual(res.exitCode, 0);
    assert.equal(b.o.err.split('\n').filter(Boolean).length, 1, `${bad} → ${JSON.stringify(b.o.err)}`);
  }
  const h = w();
  const help = parseDaemonFlags(['--help'], h.io);
  assert.ok(!help.ok && help.exitCode === 0);
  assert.match(h.o.out, /creates the TUN device named by --tun and the WireGuard\/disco UDP socket on\s+--port/);
});
