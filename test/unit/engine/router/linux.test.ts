import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshtrayError } from '../../../../common/errors/errors.js';
import { LinuxRouter, type RouterStateStore } from '../../../../main/engine/router/linux.js';
import { newOSRouter, routerConfigFromTable, type CommandRunner, type RouterConfig } from '../../../../main/engine/router/index.js';
import { computeRouteTable } from '../../../../main/engine/routes/route-table.js';
import { EXIT_ID, IFACES, prefs, tailnet } from '../routes/fixtures.js';

/** Records every command; answers `ip -j rule show` from `rules`, `sysctl -n` from `sysctls`. */
class FakeRunner implements CommandRunner {
  log: string[] = [];
  rules: { priority: number }[] = [{ priority: 0 }, { priority: 32766 }];
  sysctls = new Map([['net.ipv4.ip_forward', '0'], ['net.ipv6.conf.all.forwarding', '0']]);
  failOn: RegExp | undefined;
  failWith = 'RTNETLINK answers: Operation not permitted';
  async run(argv: readonly string[]) {
    const cmd = argv.join(' ');
    this.log.push(cmd);
    if (this.failOn?.test(cmd)) return { code: 2, stdout: '', stderr: this.failWith };
    if (/^ip -[46] -j rule show$/.test(cmd)) return { code: 0, stdout: JSON.stringify(this.rules), stderr: '' };
    if (/^ip -j link show dev /.test(cmd)) return { code: 0, stdout: JSON.stringify([{ ifname: argv[5], mtu: 1500, flags: ['POINTOPOINT', 'NOARP'] }]), stderr: '' };
    if (argv[0] === 'sysctl' && argv[1] === '-n') return { code: 0, stdout: (this.sysctls.get(argv[2]!) ?? '') + '\n', stderr: '' };
    return { code: 0, stdout: '', stderr: '' };
  }
  take(): string[] {
    const l = this.log;
    this.log = [];
    return l;
  }
}
class MemState implements RouterStateStore {
  text: string | undefined;
  async load() {
    return this.text;
  }
  async save(t: string) {
    this.text = t;
  }
  async clear() {
    this.text = undefined;
  }
}

const BASE: RouterConfig = {
  tunName: 'meshtray0',
  mtu: 1280,
  localAddrs: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'],
  routes: ['100.64.0.2/32', '100.100.100.100/32', 'fd7a:115c:a1e0::/48'],
  localRoutes: [],
  forwarding: { enabled: false, snat: true, statefulFiltering: false },
  netfilter: 'on',
};

function router(r = new FakeRunner(), s = new MemState(), ipv6 = true) {
  return { r, s, router: new LinuxRouter({ runner: r, state: s, ipv6 }) };
}

test('first set: exact commands (link, addrs, rules 5210/5230/5250/5270 for v4+v6, table 52 routes, our chains)', async () => {
  const { r, router: rt } = router();
  await rt.set(BASE);
  const log = r.take();
  assert.deepEqual(log.slice(0, 18), [
    'ip -j link show dev meshtray0',
    'ip link set dev meshtray0 mtu 1280 up',
    'ip -4 addr replace 100.64.0.1/32 dev meshtray0',
    'ip -6 addr replace fd7a:115c:a1e0::1/128 dev meshtray0',
    'ip -4 -j rule show',
    'ip -6 -j rule show',
    'ip -4 rule add pref 5210 fwmark 0x80000/0xff0000 table main',
    'ip -4 rule add pref 5230 fwmark 0x80000/0xff0000 table default',
    'ip -4 rule add pref 5250 fwmark 0x80000/0xff0000 unreachable',
    'ip -4 rule add pref 5270 table 52',
    'ip -6 rule add pref 5210 fwmark 0x80000/0xff0000 table main',
    'ip -6 rule add pref 5230 fwmark 0x80000/0xff0000 table default',
    'ip -6 rule add pref 5250 fwmark 0x80000/0xff0000 unreachable',
    'ip -6 rule add pref 5270 table 52',
    'ip -4 route replace 100.64.0.2/32 dev meshtray0 table 52',
    'ip -4 route replace 100.100.100.100/32 dev meshtray0 table 52',
    'ip -6 route replace fd7a:115c:a1e0::/48 dev meshtray0 table 52',
    'iptables -w -t filter -N mt-input',
  ]);
  assert.deepEqual(log.filter((c) => c.startsWith('iptables -w -t filter')), [
    'iptables -w -t filter -N mt-input',
    'iptables -w -t filter -I INPUT 1 -j mt-input',
    'iptables -w -t filter -A mt-input -i lo -s 100.64.0.1 -j ACCEPT',
    'iptables -w -t filter -A mt-input -i meshtray0 -j ACCEPT',
    'iptables -w -t filter -A mt-input ! -i meshtray0 -s 100.115.92.0/23 -j RETURN',
    'iptables -w -t filter -A mt-input ! -i meshtray0 -s 100.64.0.0/10 -j DROP',
  ]);
  assert.ok(!log.some((c) => c.includes('mt-forward') || c.includes('MASQUERADE') || c.startsWith('sysctl')), 'no forwarding for a plain client');
});

test('exit node with allow-LAN: default routes + throw routes, from the computed route table', async () => {
  const t = computeRouteTable({ netmap: tailnet(), prefs: prefs({ ExitNodeID: String(EXIT_ID), ExitNodeAllowLANAccess: true }), interfaces: IFACES, tunName: 'meshtray0' });
  const { r, router: rt } = router();
  await rt.set(routerConfigFromTable(t, { tunName: 'meshtray0' }));
  const log = r.take();
  for (const c of [
    'ip -4 route replace 0.0.0.0/0 dev meshtray0 table 52',
    'ip -6 route replace ::/0 dev meshtray0 table 52',
    'ip -4 route replace throw 192.168.1.0/24 table 52',
    'ip -4 route replace throw 127.0.0.0/8 table 52',
    'ip -6 route replace throw 2001:db8:1::/64 table 52',
  ]) assert.ok(log.includes(c), c);
});

test('subnet router / exit node side: forwarding sysctls, mark+accept, SNAT, MSS clamp; NoSNAT and stateful filtering', async () => {
  const { r, router: rt } = router();
  await rt.set({ ...BASE, forwarding: { enabled: true, snat: true, statefulFiltering: false } });
  const log = r.take();
  for (const c of [
    'sysctl -qw net.ipv4.ip_forward=1',
    'sysctl -qw net.ipv6.conf.all.forwarding=1',
    'iptables -w -t filter -I FORWARD 1 -j mt-forward',
    'iptables -w -t filter -A mt-forward -i meshtray0 -j MARK --set-xmark 0x40000/0xff0000',
    'iptables -w -t filter -A mt-forward -m mark --mark 0x40000/0xff0000 -j ACCEPT',
    'iptables -w -t filter -A mt-forward -o meshtray0 -s 100.64.0.0/10 -j DROP',
    'iptables -w -t filter -A mt-forward -o meshtray0 -j ACCEPT',
    'iptables -w -t nat -I POSTROUTING 1 -j mt-postrouting',
    'iptables -w -t nat -A mt-postrouting -m mark --mark 0x40000/0xff0000 -j MASQUERADE',
    'ip6tables -w -t nat -A mt-postrouting -m mark --mark 0x40000/0xff0000 -j MASQUERADE',
    'iptables -w -t mangle -A mt-mss -o meshtray0 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
    'iptables -w -t mangle -A mt-mss -i meshtray0 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
  ]) assert.ok(log.includes(c), c);
  // --snat-subnet-routes=false + --stateful-filtering: MASQUERADE chain removed exactly, conntrack drop added
  await rt.set({ ...BASE, forwarding: { enabled: true, snat: false, statefulFiltering: true } });
  const log2 = r.take();
  for (const c of [
    'iptables -w -t filter -F mt-forward',
    'iptables -w -t filter -A mt-forward -o meshtray0 -m conntrack ! --ctstate ESTABLISHED,RELATED -j DROP',
    'iptables -w -t nat -D POSTROUTING -j mt-postrouting',
    'iptables -w -t nat -F mt-postrouting',
    'iptables -w -t nat -X mt-postrouting',
  ]) assert.ok(log2.includes(c), c);
  assert.ok(!log2.some((c) => c.includes('-N mt-input')), 'unchanged chains are not rebuilt');
  // stop advertising: forwarding chains gone, sysctls back to their old values
  await rt.set(BASE);
  const log3 = r.take();
  assert.ok(log3.includes('sysctl -qw net.ipv6.conf.all.forwarding=0'));
  assert.ok(log3.includes('sysctl -qw net.ipv4.ip_forward=0'));
  assert.ok(log3.includes('iptables -w -t filter -X mt-forward'));
});

test('forwarding already on: left alone, not "restored" to 0 later', async () => {
  const { r, router: rt } = router();
  r.sysctls.set('net.ipv4.ip_forward', '1');
  await rt.set({ ...BASE, forwarding: { enabled: true, snat: true, statefulFiltering: false } });
  await rt.restore();
  const log = r.take();
  assert.ok(!log.includes('sysctl -qw net.ipv4.ip_forward=1'));
  assert.ok(!log.includes('sysctl -qw net.ipv4.ip_forward=0'));
  assert.ok(log.includes('sysctl -qw net.ipv6.conf.all.forwarding=0'));
});

test('update: adds first, then removes only what is no longer wanted', async () => {
  const { r, router: rt } = router();
  await rt.set(BASE);
  r.take();
  await rt.set({ ...BASE, routes: ['100.64.0.3/32', '100.100.100.100/32', 'fd7a:115c:a1e0::/48'] });
  const log = r.take();
  const add = log.indexOf('ip -4 route replace 100.64.0.3/32 dev meshtray0 table 52');
  const del = log.indexOf('ip -4 route del 100.64.0.2/32 dev meshtray0 table 52');
  assert.ok(add >= 0 && del > add, log.join('\n'));
  assert.ok(!log.some((c) => c.includes('rule add')), 'rules are installed once');
  assert.ok(!log.some((c) => c.includes('route del 100.100.100.100')));
});

test('restore removes exactly what was added, in reverse; idempotent; state cleared', async () => {
  const { r, s, router: rt } = router();
  await rt.set({ ...BASE, localRoutes: ['192.168.1.0/24'] });
  r.take();
  await rt.restore();
  const log = r.take();
  assert.deepEqual(log.filter((c) => c.startsWith('ip ')), [
    'ip -4 route del throw 192.168.1.0/24 table 52',
    'ip -4 route del 100.64.0.2/32 dev meshtray0 table 52',
    'ip -4 route del 100.100.100.100/32 dev meshtray0 table 52',
    'ip -6 route del fd7a:115c:a1e0::/48 dev meshtray0 table 52',
    'ip -6 rule del pref 5270 table 52',
    'ip -6 rule del pref 5250 fwmark 0x80000/0xff0000 unreachable',
    'ip -6 rule del pref 5230 fwmark 0x80000/0xff0000 table default',
    'ip -6 rule del pref 5210 fwmark 0x80000/0xff0000 table main',
    'ip -4 rule del pref 5270 table 52',
    'ip -4 rule del pref 5250 fwmark 0x80000/0xff0000 unreachable',
    'ip -4 rule del pref 5230 fwmark 0x80000/0xff0000 table default',
    'ip -4 rule del pref 5210 fwmark 0x80000/0xff0000 table main',
    'ip -4 addr del 100.64.0.1/32 dev meshtray0',
    'ip -6 addr del fd7a:115c:a1e0::1/128 dev meshtray0',
    'ip link set dev meshtray0 mtu 1500 down',
  ]);
  assert.ok(log.includes('iptables -w -t filter -D INPUT -j mt-input'));
  assert.ok(log.includes('ip6tables -w -t mangle -X mt-connmark-out'));
  assert.equal(s.text, undefined);
  await rt.restore();
  assert.deepEqual(r.take(), [], 'second restore does nothing');
});

test('a killed process: the next router repairs from the state file, ignoring what is already gone', async () => {
  const s = new MemState();
  const a = router(new FakeRunner(), s);
  a.r.failOn = /mt-forward/; // crash mid-way: pretend the process died at the forward chain
  await assert.rejects(a.router.set({ ...BASE, forwarding: { enabled: true, snat: true, statefulFiltering: false } }));
  assert.ok(s.text && s.text.includes('mt-forward'), 'the chain being created was recorded first (write-ahead)');
  const b = router(new FakeRunner(), s);
  b.r.failOn = /route del 100\.64\.0\.2/; // already gone, e.g. the TUN vanished with the process
  b.r.failWith = 'RTNETLINK answers: No such process';
  await b.router.repair();
  const log = b.r.take();
  assert.ok(log.includes('ip -4 rule del pref 5270 table 52'));
  assert.ok(log.includes('iptables -w -t filter -X mt-forward'));
  assert.ok(log.includes('sysctl -qw net.ipv4.ip_forward=0'));
  assert.equal(s.text, undefined);
});

test('restore failures keep the state for the next try and are reported', async () => {
  const s = new MemState();
  const { r, router: rt } = router(new FakeRunner(), s);
  await rt.set(BASE);
  r.failOn = /rule del pref 5270/;
  await assert.rejects(rt.restore(), (e: unknown) => MeshtrayError.is(e) && /restore incomplete: .*`ip -4 rule del pref 5270 table 52`: RTNETLINK answers: Operation not permitted/.test(e.message));
  assert.ok(s.text);
});

test('rules at our priorities owned by someone else (tailscaled): refuse, touch nothing', async () => {
  const { r, s, router: rt } = router();
  r.rules.push({ priority: 5270 });
  await assert.rejects(rt.set(BASE), /priorities 5270 already exist and are not ours \(is tailscaled running\?\)/);
  assert.ok(!r.log.some((c) => c.includes('rule add') || c.includes('rule del')));
  await rt.restore();
  assert.ok(!r.log.some((c) => c.includes('rule del')));
  assert.ok(s.text === undefined || !JSON.parse(s.text).rules.length);
});

test('no IPv6: v6 addresses, routes, rules and ip6tables skipped; netfilter off: no iptables at all', async () => {
  const { r, router: rt } = router(new FakeRunner(), new MemState(), false);
  await rt.set({ ...BASE, netfilter: 'off' });
  const log = r.take();
  assert.ok(!log.some((c) => c.includes(' -6 ') || c.startsWith('ip6tables') || c.startsWith('iptables')), log.join('\n'));
});

test('bad prefixes are refused before anything runs', async () => {
  const { r, router: rt } = router();
  await assert.rejects(rt.set({ ...BASE, routes: ['10.0.0.1/8'] }), /route "10.0.0.1\/8" is not a canonical prefix/);
  assert.ok(!r.log.some((c) => c.includes('route replace')));
});

test('other OSes: documented stub that refuses set() and has nothing to restore', async () => {
  const rt = newOSRouter({ stateFile: '/nonexistent', platform: 'darwin' });
  await assert.rejects(rt.set(BASE), /not implemented on this OS \(darwin\)/);
  await rt.restore();
});

test('service addresses (quad-100 on the loopback) are added, recorded and removed', async () => {
  const { r, router: rt } = router();
  await rt.set({ ...BASE, serviceAddrs: ['100.100.100.100/32', 'fd7a:115c:a1e0::53/128'] });
  const log = r.take();
  assert.ok(log.includes('ip -4 addr replace 100.100.100.100/32 dev lo'));
  assert.ok(log.includes('ip -6 addr replace fd7a:115c:a1e0::53/128 dev lo'));
  await rt.set({ ...BASE, serviceAddrs: ['100.100.100.100/32'] });
  assert.ok(r.take().includes('ip -6 addr del fd7a:115c:a1e0::53/128 dev lo'));
  await rt.restore();
  assert.ok(r.take().includes('ip -4 addr del 100.100.100.100/32 dev lo'));
});
