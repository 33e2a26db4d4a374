// The helper's protocol-2 operations against the real HelperServer and HelperClient over a unix
// socket (no root: the descriptor work and the resolv.conf file are doubles): tun.open hands two
// descriptors and closes the helper's copies, dns.* drive a DirectResolvConf, session end restores
// everything, and every bad request is refused with a reason and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mustRunInCI } from '../../e2e/os/support.js';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HelperServer, type HelperTun } from '../../../main/app/helper/helper-server.js';
import { HelperClient } from '../../../main/app/helper/helper-client.js';
import type { NativeFdApi } from '../../../main/app/helper/native-fds.js';
import type { TunOpen } from '../../../main/app/helper/helper-contract.js';
import { DirectResolvConf } from '../../../main/engine/dns/resolv-conf.js';
import { compileKernelACL } from '../../../main/engine/filter/kernel-acl.js';
import type { Router, RouterConfig } from '../../../main/engine/router/router.js';
import { MeshtrayError } from '../../../common/errors/errors.js';
import { MemResolvFS } from '../../doubles/mem-resolv-fs.js';
import { MemLogger } from './fixtures.js';

class RecordingRouter implements Router {
  calls: { op: string; cfg?: RouterConfig }[] = [];
  async set(cfg: RouterConfig) { this.calls.push({ op: 'set', cfg }); }
  async restore() { this.calls.push({ op: 'restore' }); }
  async repair() { this.calls.push({ op: 'repair' }); }
}

/** Descriptor work on paper: numbered "descriptors", sends recorded, closes recorded. */
class FakeTun implements HelperTun {
  opened: TunOpen[] = [];
  sent: number[][] = [];
  closed: number[] = [];
  removed: string[] = [];
  private next = 100;
  open(o: TunOpen) {
    this.opened.push(o);
    return { tunFd: this.next++, udpFd: this.next++, name: o.name, port: o.port || 41641, offload: false };
  }
  send(s: Socket, line: string, fds: number[]) {
    this.sent.push(fds);
    s.write(line);
  }
  close(fd: number) { this.closed.push(fd); }
  async remove(name: string) { this.removed.push(name); }
}

/** helperExchange as the addon does it, minus SCM_RIGHTS: the "descriptors" come from FakeTun's record. */
function fakeNative(tun: FakeTun, closedByApp: number[]): () => NativeFdApi {
  const api: NativeFdApi = {
    openTunFd: () => { throw new Error('not in the app'); },
    openUdpFd: () => { throw new Error('not in the app'); },
    sendFds: () => { throw new Error('not in the app'); },
    closeFd: (fd) => void closedByApp.push(fd),
    helperExchange: (path, line) => new Promise((resolve, reject) => {
      const s = connect(path);
      let buf = '';
      s.setEncoding('utf8');
      s.on('connect', () => s.write(line));
      s.on('data', (d: string) => {
        buf += d;
        const i = buf.indexOf('\n');
        if (i >= 0) {
          s.destroy();
          resolve({ reply: buf.slice(0, i + 1), fds: tun.sent.shift() ?? [] });
        }
      });
      s.on('error', reject);
    }),
  };
  return () => api;
}

const RESOLV = '/etc/resolv.conf';
const ORIGINAL = '# the lab\'s own\nnameserver 192.0.2.53\nsearch lan.example\noptions edns0\n';

async function setup(o: { tun?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mt-helper-ops-'));
  const router = new RecordingRouter();
  const fs = new MemResolvFS();
  fs.setText(RESOLV, ORIGINAL, 0o644);
  const dns = new DirectResolvConf({ fs, path: RESOLV, backupPath: join(dir, 'resolv.conf.pre-meshtray') });
  const tun = new FakeTun();
  const log = new MemLogger();
  const server = new HelperServer({ socketPath: join(dir, 'helper.sock'), router, dns, ...(o.tun === false ? {} : { tun }), log, allowUids: [1000], credOf: () => ({ pid: 1, uid: 1000, gid: 1000 }) });
  await server.listen();
  const closedByApp: number[] = [];
  const client = new HelperClient(join(dir, 'helper.sock'), 5_000, fakeNative(tun, closedByApp));
  return { dir, router, fs, tun, log, server, client, closedByApp, done: async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); } };
}

const TUN_REQ: TunOpen = { name: 'meshtray0', mtu: 1280, addresses: ['100.64.0.5/32', 'fd7a:115c:a1e0::5/128'], port: 0 };

test('helper tun.open: two descriptors with the reply (TUN, then UDP), the helper closes its own copies', async () => {
  const h = await setup();
  try {
    const got = await h.client.openTun(TUN_REQ);
    assert.deepEqual(got, { tunFd: 100, udpFd: 101, name: 'meshtray0', port: 41641, offload: false });
    assert.deepEqual(h.tun.opened, [TUN_REQ]);
    await h.server.idle();
    assert.deepEqual(h.tun.closed, [100, 101], 'the helper keeps no copy: the app owns the TUN and the socket');
    assert.deepEqual(h.closedByApp, [], 'the app keeps what it received');
  } finally {
    await h.done();
  }
});

test('helper tun.open: bad requests are refused with the reason and open nothing', async () => {
  const h = await setup();
  try {
    for (const [bad, reason] of [
      [{ ...TUN_REQ, name: 'eth0' }, /only manages interfaces named meshtray/],
      [{ ...TUN_REQ, name: 'meshtray0; reboot' }, /interface names/],
      [{ ...TUN_REQ, port: 53 }, /below 1024/],
      [{ ...TUN_REQ, addresses: ['100.64.0.5/32', '100.64.0.6/32'] }, /one IPv4/],
      [{ ...TUN_REQ, addresses: ['100.64.0.5/33'] }, /IP prefix/],
      [{ ...TUN_REQ, mtu: 100 }, /mtu/],
      [{ ...TUN_REQ, extra: 1 }, /extra|unrecognized/i],
    ] as const) {
      await assert.rejects(h.client.request({ op: 'tun.open', tun: bad }), (e) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST' && reason.test(e.message), JSON.stringify(bad));
    }
    // The router port is held to the helper's own interfaces too.
    await assert.rejects(
      h.client.request({ op: 'router.set', config: { tunName: 'eth0', mtu: 1280, localAddrs: [], routes: ['0.0.0.0/0'], localRoutes: [], forwarding: { enabled: false, snat: false, statefulFiltering: false }, netfilter: 'off' } }),
      (e) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST' && /meshtray/.test(e.message),
    );
    assert.deepEqual(h.tun.opened, []);
    assert.deepEqual(h.router.calls, []);
  } finally {
    await h.done();
  }
});

test('helper tun.open: a helper without the native addon says so; the client closes descriptors of a failed reply', async () => {
  const h = await setup({ tun: false });
  try {
    await assert.rejects(h.client.openTun(TUN_REQ), (e) => MeshtrayError.is(e) && e.code === 'ERR_NOT_FOUND' && /cannot open a TUN/.test(e.message));
  } finally {
    await h.done();
  }
  // An ok reply with one descriptor instead of two: the one received is closed, not leaked.
  const h2 = await setup();
  try {
    h2.tun.send = (s, line) => {
      h2.tun.sent.push([7]);
      s.write(line);
    };
    await assert.rejects(h2.client.openTun(TUN_REQ), (e) => MeshtrayError.is(e) && /1 descriptors instead of 2/.test(e.message));
    assert.deepEqual(h2.closedByApp, [7]);
  } finally {
    await h2.done();
  }
});

test('helper dns.*: set writes resolv.conf, base reads the original from the backup, restore is byte for byte', async () => {
  const h = await setup();
  try {
    assert.deepEqual(await h.client.dnsBase(), { nameservers: ['192.0.2.53'], searchDomains: ['lan.example'] });
    await h.client.dnsSet({ nameservers: ['100.100.100.100'], searchDomains: ['tail.example', 'lan.example'] });
    assert.match(h.fs.text(RESOLV), /^nameserver 100\.100\.100\.100$/m);
    assert.match(h.fs.text(RESOLV), /^search tail\.example lan\.example$/m);
    // While ours is installed, the base is still the original (from the backup).
    assert.deepEqual(await h.client.dnsBase(), { nameservers: ['192.0.2.53'], searchDomains: ['lan.example'] });
    await h.client.dnsRestore();
    assert.equal(h.fs.text(RESOLV), ORIGINAL);
  } finally {
    await h.done();
  }
});

test('helper dns.set: anything that could smuggle a line into resolv.conf is refused; the file is untouched', async () => {
  const h = await setup();
  try {
    for (const config of [
      { nameservers: ['192.0.2.1\noptions ndots:15'], searchDomains: [] },
      { nameservers: ['100.100.100.100'], searchDomains: ['tail.example\nnameserver 203.0.113.66'] },
      { nameservers: ['100.100.100.100'], searchDomains: ['two words'] },
      { nameservers: ['not-an-ip'], searchDomains: [] },
      { nameservers: Array(9).fill('100.100.100.100'), searchDomains: [] },
    ]) {
      await assert.rejects(h.client.request({ op: 'dns.set', config }), (e) => MeshtrayError.is(e) && e.code === 'ERR_BAD_REQUEST', JSON.stringify(config));
    }
    assert.equal(h.fs.text(RESOLV), ORIGINAL);
    assert.equal(h.server.stats.rejected, 5);
  } finally {
    await h.done();
  }
});

test('helper session: when the app\'s session connection ends, routes, resolv.conf and the TUN are restored', async () => {
  const h = await setup();
  try {
    let ended = '';
    const session = await h.client.holdSession((why) => (ended = why));
    await h.client.openTun(TUN_REQ);
    await h.client.set({ tunName: 'meshtray0', mtu: 1280, localAddrs: ['100.64.0.5/32'], routes: ['100.64.0.0/10'], localRoutes: [], forwarding: { enabled: false, snat: false, statefulFiltering: false }, netfilter: 'off' });
    await h.client.dnsSet({ nameservers: ['100.100.100.100'], searchDomains: ['tail.example'] });
    assert.notEqual(h.fs.text(RESOLV), ORIGINAL);
    // Another connection closing is not the session ending.
    await h.server.idle();
    assert.equal(h.server.stats.sessionRestores, 0);
    session.release(); // what a killed app's kernel does to its sockets
    for (let i = 0; i < 50 && h.server.stats.sessionRestores === 0; i++) await new Promise((r) => setTimeout(r, 20));
    await h.server.idle();
    assert.equal(h.server.stats.sessionRestores, 1);
    assert.deepEqual(h.router.calls.map((c) => c.op), ['set', 'restore']);
    assert.equal(h.fs.text(RESOLV), ORIGINAL);
    assert.deepEqual(h.tun.removed, ['meshtray0']);
    assert.equal(ended, '', 'the app released it; no "helper went away" report');
  } finally {
    await h.done();
  }
});

test('helper session: the app hears when the helper ends the session', async () => {
  const h = await setup();
  let ended = '';
  await h.client.holdSession((why) => (ended = why));
  await h.done();
  for (let i = 0; i < 50 && !ended; i++) await new Promise((r) => setTimeout(r, 20));
  assert.match(ended, /closed the session/);
});

test('helper router.set: a kernel ACL travels as its source (filter rules + local nets) and the helper compiles it', async () => {
  const h = await setup();
  try {
    const rules = [{ SrcIPs: ['100.64.0.2'], DstPorts: [{ IP: '*', Ports: { First: 22, Last: 22 } }] }];
    const localNets = ['100.64.0.5/32'];
    const acl = { ...compileKernelACL(rules, localNets), source: { rules, localNets } };
    await h.client.set({ tunName: 'meshtray0', mtu: 1280, localAddrs: ['100.64.0.5/32'], routes: [], localRoutes: [], forwarding: { enabled: false, snat: false, statefulFiltering: false }, netfilter: 'on', acl });
    const got = h.router.calls[0]?.cfg?.acl;
    assert.deepEqual(got && { v4: got.v4, v6: got.v6 }, { v4: acl.v4, v6: acl.v6 });
  } finally {
    await h.done();
  }
});

test('helper restoreAll: a failing router restore does not keep resolv.conf or the TUN from being put back', async () => {
  const h = await setup();
  try {
    await h.client.openTun(TUN_REQ);
    await h.client.dnsSet({ nameservers: ['100.100.100.100'], searchDomains: [] });
    h.router.restore = async () => { throw new Error('RTNETLINK answers: Operation not permitted'); };
    await h.server.restoreAll();
    assert.equal(h.fs.text(RESOLV), ORIGINAL);
    assert.deepEqual(h.tun.removed, ['meshtray0']);
    assert.ok(h.log.lines.some((l) => l.level === 'error' && /restoring the router failed/.test(l.msg)), 'the failure is logged');
  } finally {
    await h.done();
  }
});

test('--socket-group: group(5)/passwd(5) parsing; members are the primary gid or listed users, read fresh each time', async () => {
  const { parseGroupFile, socketGroup, userNameOf } = await import('../../../main/app/helper/group-membership.js');
  let groupFile = 'root:x:0:\n# comment\nmeshtray:x:998:alice,bob\nnogroup:x:65534:\n';
  const passwd = 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\ncarol:x:1002:1002::/home/carol:/bin/sh\n';
  const files: Record<string, () => string> = { '/etc/group': () => groupFile, '/etc/passwd': () => passwd };
  assert.deepEqual(parseGroupFile(groupFile).map((g) => [g.name, g.gid, g.members]), [['root', 0, []], ['meshtray', 998, ['alice', 'bob']], ['nogroup', 65534, []]]);
  assert.equal(userNameOf(passwd, 1002), 'carol');
  const g = socketGroup('meshtray', (p) => files[p]!());
  assert.equal(g.gid, 998);
  assert.equal(g.isMember({ uid: 1000, gid: 1000 }), true, 'alice is listed');
  assert.equal(g.isMember({ uid: 1002, gid: 1002 }), false, 'carol is not');
  assert.equal(g.isMember({ uid: 1002, gid: 998 }), true, 'primary gid');
  groupFile = groupFile.replace('alice,bob', 'alice,bob,carol');
  assert.equal(g.isMember({ uid: 1002, gid: 1002 }), true, 'added later: no restart needed');
  assert.equal(socketGroup('998', (p) => files[p]!()).name, 'meshtray');
  assert.throws(() => socketGroup('nosuch', (p) => files[p]!()), /no group "nosuch"/);
});

test('helper with a socket group: socket root:<gid> 0660; a member is served, anyone else refused', { skip: mustRunInCI(process.getuid?.() !== 0 ? 'chown to a group needs root' : false, 'the helper socket-group test') }, async () => {
  const { statSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'mt-helper-grp-'));
  let cred = { pid: 1, uid: 1000, gid: 65534 };
  const server = new HelperServer({
    socketPath: join(dir, 'helper.sock'), router: new RecordingRouter(), log: new MemLogger(), allowUids: [],
    socketGroup: { gid: 65534, isMember: (c) => c.gid === 65534 }, credOf: () => cred,
  });
  await server.listen();
  try {
    const st = statSync(join(dir, 'helper.sock'));
    assert.equal(st.uid, 0);
    assert.equal(st.gid, 65534);
    assert.equal(st.mode & 0o777, 0o660);
    const client = new HelperClient(join(dir, 'helper.sock'));
    assert.equal(await client.hello(), 2);
    cred = { pid: 1, uid: 1001, gid: 1001 };
    await assert.rejects(client.hello(), (e) => MeshtrayError.is(e) && e.code === 'ERR_FORBIDDEN');
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
